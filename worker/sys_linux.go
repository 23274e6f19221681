package worker

import "syscall"

// sysProcAttr puts a child in its own process group (so signals reach
// what it starts too, and a terminal's Ctrl-C reaches only the worker)
// and has the kernel SIGKILL it when the worker dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
