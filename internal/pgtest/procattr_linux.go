package pgtest

import "syscall"

// serverProcAttr runs the server as cred and has the kernel stop it if the test process dies
// without shutting it down (a crash, a timeout's SIGKILL).
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
}
