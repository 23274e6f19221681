//go:build !unix

package job

import "os"

// savepointSignals ask a running job for a savepoint: none here.
var savepointSignals []os.Signal
