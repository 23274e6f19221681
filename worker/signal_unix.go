//go:build unix

package worker

import (
	"os"
	"syscall"
)

// killGroup sends SIGKILL to the child's process group.
func killGroup(p *os.Process) error { return signalGroup(p.Pid, syscall.SIGKILL) }

// termGroup sends SIGTERM to the child's process group.
func termGroup(pid int) error { return signalGroup(pid, syscall.SIGTERM) }

func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	if err := syscall.Kill(-pid, sig); err != nil {
		// Not (yet) a group leader: signal the process alone.
		return syscall.Kill(pid, sig)
	}
	return nil
}
