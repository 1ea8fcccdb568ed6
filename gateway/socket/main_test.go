package socket

import (
	"testing"

	"go.uber.org/goleak"
)

// Every writer, reader and ping timer a test starts is gone when it ends.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
