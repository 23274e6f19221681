// Command weir is weir's one command-line tool.
//
//	weir gen [-check] [packages]   generate codecs and kernels (weir_gen.go)
//	weir help                      list the commands
//
// `weir gen` is what `//go:generate go run github.com/weirflow/weir/cmd/weir gen`
// runs; `weir gen -check ./...` exits 1 when a generated file is stale, and
// CI runs it.
//
// The cluster commands of the design (dev, coordinator, worker, submit,
// jobs, cancel, savepoint) are not built yet: each says so on one line and
// exits 2. A job binary such as examples/fraud/cmd/fraud runs its pipeline
// locally with its own `run` command.
//
// # Goroutines
//
// None of its own; `gen` runs on the main goroutine.
package main
