// Package gen is `weir gen`: it finds //weir:record types and
// //weir:transform functions in Go packages and writes one weir_gen.go per
// package with their codecs and batch kernels.
//
// # What it owns
//
// Loading packages with type information (golang.org/x/tools/go/packages),
// reading the annotations, checking what they mark, and rendering the
// generated file with jennifer. Annotations sit in the doc comment with no
// space after the slashes, like //go:generate:
//
//	//weir:record
//	type Txn struct { ... At time.Time `weir:"eventtime"` }
//
//	//weir:transform
//	func Large(t Txn) bool { return t.Amount > 1000 }
//
// For a record (a struct type) it generates binary and JSON codecs,
// a stable hash, the key encoding (the binary encoding, which is canonical)
// and the event-time accessor of the field tagged weir:"eventtime" (a
// time.Time; an int64 of epoch milliseconds or microseconds is tagged
// weir:"eventtime,unixmilli" or weir:"eventtime,unixmicro", and every value
// of it is a time, 0 the epoch), and registers them with
// sdk.RegisterRecord. Field types may be bool, any
// integer or float, string, []byte, time.Time, time.Duration, struct types
// declared in the same package (marked //weir:record or not; unmarked ones
// get codecs but no registration), slices, maps with string, integer or
// float keys, pointers to any of these, and named types over them. Arrays,
// anonymous structs, struct types of other packages, interfaces, channels,
// funcs and complex numbers are errors. JSON names come from the json tag
// (only the name: options such as omitempty are ignored); json:"-" and
// unexported fields are left out of JSON but kept in the binary form.
// Embedded fields are ordinary fields named after their type (not
// flattened as encoding/json does). Values must be trees: a pointer cycle
// makes encoding loop forever. JSON has a single null for a nil pointer,
// so a non-nil pointer to a nil pointer decodes as nil.
//
// Each registration carries the record's shape as weir gen saw it: one
// line per field, "Struct.Field Type tags", for the record and the structs
// of the package it reaches (shape.go). sdk.RegisterRecord computes the
// same lines from the compiled type, once, and a job whose record changed
// without rerunning go generate (a field added, removed, retyped or
// renamed in JSON) refuses to start with one line naming the type and the
// change, instead of silently dropping the field from every row. Parquet
// tags are not part of the shape: generated code does not depend on them.
//
// For a transform it generates batch kernels by signature: func(I) bool
// gets a filter and a map kernel, func(I) O a map kernel, func(I, func(O))
// a flat-map kernel. A kernel is a plain loop calling the function, so the
// compiler can inline it.
//
// Errors are collected with file:line and reported together. Output is
// deterministic: declarations sorted by name, gofmt'd, no timestamps and no
// absolute paths. The weir_gen.go being replaced is never read: it is
// overlaid with an empty file while loading, so a stale one cannot break
// generation.
//
// # Who calls it
//
// cmd/weir (`weir gen [-check] [packages]`) through [Main]; tests through
// [Generate] and [Run].
//
// # Goroutines
//
// None of its own; go/packages runs the go command.
package gen
