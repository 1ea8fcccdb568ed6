//go:build unix

package sessiontest

import "syscall"

// Freeze stops the server's process (SIGSTOP) until Thaw: the kernel still
// accepts its connections, and nothing answers on them, as when a server
// hangs in a long fork or script or its machine stalls.
func (s *Server) Freeze() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatalf("freezing redis-server: %v", err)
	}
	// A test that fails while the server is frozen must not leave the
	// cleanups that talk to it hanging.
	s.t.Cleanup(s.Thaw)
}

// Thaw lets a frozen server run again.
func (s *Server) Thaw() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
}
