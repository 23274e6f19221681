// Command weir is weir's one command-line tool.
//
//	weir gen [-check] [packages]   generate codecs and kernels (weir_gen.go)
//	weir dev [flags]               run the development Kafka-protocol broker
//	weir topic create|produce|consume [flags] TOPIC
//	weir help                      list the commands
//
// `weir gen` is what `//go:generate go tool weir gen` runs in a module that
// lists cmd/weir as a tool (`go get -tool github.com/weirflow/weir/cmd/weir`,
// which survives `go mod tidy`), and `//go:generate go run
// github.com/weirflow/weir/cmd/weir gen` inside weir's own module;
// `weir gen -check ./...` exits 1 when a generated file is stale, and CI
// runs it.
//
// `weir dev` serves internal/devbroker until SIGINT or SIGTERM; its lines
// (what it skipped from --data-dir, a warning for an address other machines
// can reach, what it serves) go to standard error. `weir topic` works
// against any broker; a topic name or partition count Kafka would refuse is
// a bad command line (exit 2) before any connection.
//
// The cluster commands of the design (coordinator, worker, submit, jobs,
// cancel, savepoint) are not built yet: each says so on one line and exits
// 2. A job binary such as examples/fraud/cmd/fraud runs its pipeline
// locally with its own `run` command.
//
// # Goroutines
//
// `gen` and `topic` run on the main goroutine. `dev` waits there for the
// signal while the broker's goroutines run; they and runDev write standard
// error through one mutex.
package main
