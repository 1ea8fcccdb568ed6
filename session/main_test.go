package session

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when goroutines outlive them: every
// goroutine the Service, its Hub, feeds and batcher start must be gone once
// the tests have closed what they started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
