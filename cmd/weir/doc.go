// Command weir is weir's one command-line tool.
//
//	weir gen [-check] [packages]   generate codecs and kernels (weir_gen.go)
//	weir dev [flags]               the development broker and a one-node cluster
//	weir topic create|produce|consume [flags] TOPIC
//	weir coordinator [flags]       one node of the cluster's Raft group
//	weir worker [flags]            run the job attempts a cluster assigns
//	weir submit [flags] BINARY -- JOB-FLAGS
//	weir jobs | status JOB | cancel JOB | savepoint [--stop] JOB | logs JOB | workers
//	weir help                      list the commands
//
// `weir gen` is what `//go:generate go tool weir gen` runs in a module that
// lists cmd/weir as a tool (`go get -tool github.com/weirflow/weir/cmd/weir`,
// which survives `go mod tidy`), and `//go:generate go run
// github.com/weirflow/weir/cmd/weir gen` inside weir's own module;
// `weir gen -check ./...` exits 1 when a generated file is stale, and CI
// runs it.
//
// `weir dev` serves internal/devbroker, a one-node coordinator and a
// worker until SIGINT or SIGTERM, with their data under --data-dir
// (kafka/, coordinator/, worker/, checkpoints/ and the token file); its
// lines (what it skipped, a warning for a broker address other machines
// can reach, where things are, the export line for WEIR_COORDINATORS and
// WEIR_TOKEN_FILE) go to standard error. `weir topic` works against any
// broker; a topic name or partition count Kafka would refuse is a bad
// command line (exit 2) before any connection.
//
// `weir coordinator` and `weir worker` run the cluster's processes (the
// packages coordinator and worker); the client commands speak the /v1/ API
// of docs/api.md through coordinator/api, print one line on failure, and
// take --json on jobs, status and workers. Exit codes: 0 ok, 1 failed, 2 a
// bad command line.
//
// # Goroutines
//
// `gen`, `topic` and the client commands run on the main goroutine. `dev`
// runs the worker's loop there until the signal while the broker's and the
// coordinator's goroutines run; they all write standard error through one
// mutex (syncWriter). `coordinator` waits there for the signal.
package main
