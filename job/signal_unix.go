//go:build unix

package job

import (
	"os"
	"syscall"
)

// savepointSignals ask a running job for a savepoint (kill -USR1 PID).
var savepointSignals = []os.Signal{syscall.SIGUSR1}
