//go:build !unix

package sessiontest

// Freeze needs SIGSTOP, which this platform does not have: the test is
// skipped.
func (s *Server) Freeze() {
	s.t.Helper()
	s.t.Skip("freezing a redis-server needs SIGSTOP")
}

// Thaw has nothing to undo here.
func (s *Server) Thaw() {}
