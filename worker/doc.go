// Package worker is a weir worker: it registers with the coordinators,
// heartbeats, and runs the job attempts the leader assigns to it as child
// processes, one process per job attempt: the whole attempt, or this
// worker's share of an attempt spread over workers (Assignment.Process of
// Processes; the child then gets WEIR_PROCESS, WEIR_PROCESSES and
// WEIR_DATA_HOST, the host of the worker's own address, where it listens
// for its peers, and the worker's TLS certificate and key as WEIR_TLS_CERT
// and WEIR_TLS_KEY, if it has them).
//
// # What it owns
//
// A data directory: binaries/<sha256> (job binaries fetched from the
// coordinators, verified, mode 0700), logs/<job>.log (each attempt's
// stdout and stderr, 0600, after a "--- attempt N started TIME" line) and
// worker-id (the stable id, "w-" and 8 hex digits, made once). And the
// child processes:
//
//	BINARY run ARGS... --name=NAME --checkpoint-dir=CD --savepoint-dir=SD [--from-savepoint=FS] --progress=never
//
// with WEIR_JOB_ID, WEIR_ATTEMPT, WEIR_COORDINATORS and WEIR_TOKEN_FILE
// in their environment, each in its own process group and, on Linux,
// killed by the kernel when the worker dies (Pdeathsig).
//
// # What it does
//
// The heartbeat's answer is the leader's desired state. [Plan], a pure
// function, turns it and the child table into actions: start what is
// assigned and not running, SIGTERM once what is assigned with Stop (the
// job writes a savepoint and exits 0), SIGKILL what runs and is no longer
// assigned. A binary is re-hashed before every exec; one altered on disk
// is not run and its attempt exits Permanent. Every exit is reported in
// every heartbeat until the leader acknowledges it. When no heartbeat has
// succeeded for a lease, the worker kills every child (their jobs may run
// elsewhere by now) and reports them with the reason "worker lost its
// lease" once it reaches a coordinator again. A leader that does not know
// the worker (Unknown) makes it register again.
//
// It serves GET /v1/logs/{job} on its own HTTP address (the URL it
// registers), with the cluster's bearer token, compared in constant time.
//
// # Who calls it
//
// `weir worker` (cmd/weir) and `weir dev`, which runs one in its process:
//
//	w, err := worker.New(worker.Config{Coordinators: urls, TokenFile: tf, DataDir: dir})
//	...
//	err = w.Run(ctx) // until ctx is done; then its children are killed
//
// # Goroutines
//
// Run's goroutine is the loop: it alone owns the child table, the
// assignments and the lease. Around it: one launcher per child (fetch,
// verify, exec, wait; it sends a started event and then exactly one exit
// event on a channel), at most one heartbeat call at a time (it sends its
// outcome on a channel), and the HTTP server. Run cancels them all and
// waits for them before it returns. There are no locks.
package worker
