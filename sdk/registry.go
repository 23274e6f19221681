package sdk

import (
	"fmt"
	"reflect"
	"sync"
)

// RecordCodec is what `weir gen` generates for a //weir:record type: codecs,
// key hashing and the event-time accessor. Generated init functions pass it
// to [RegisterRecord]. Every function works on a pointer so large records are
// never copied.
type RecordCodec[T any] struct {
	// Name is the package-qualified type name, as in "fraud.Txn".
	Name string
	// AppendBinary appends the binary encoding of *v to dst.
	AppendBinary func(dst []byte, v *T) []byte
	// DecodeBinary decodes one value from the front of src into *v and
	// returns the number of bytes consumed.
	DecodeBinary func(src []byte, v *T) (int, error)
	// AppendJSON appends *v as one JSON object (no newline) to dst.
	AppendJSON func(dst []byte, v *T) []byte
	// DecodeJSON decodes one JSON object into *v. A missing event-time field
	// is an error; other missing fields keep their zero values.
	DecodeJSON func(src []byte, v *T) error
	// Hash hashes *v for use as a shuffle key (stable across processes).
	Hash func(v *T) uint64
	// AppendKey appends a canonical binary key encoding of *v, for state keys.
	AppendKey func(dst []byte, v *T) []byte
	// EventTime returns the event time from the weir:"eventtime" field;
	// ok is false when the field is unset. Nil when the type has none.
	EventTime func(v *T) (ts Timestamp, ok bool)
	// EventTimeField names the event-time field for messages ("ts").
	EventTimeField string
	// Shape is T's fields as weir gen saw them (see recordShape: one
	// "Struct.Field Type tags" line per field of T and of the structs of
	// its package T reaches). RegisterRecord compares it with the compiled
	// type once; when they differ the codec is stale: [CodecOf] returns a
	// [StaleCodecError] and a pipeline using T refuses to run. Nil (a
	// hand-written codec) skips the check.
	Shape []string
}

// recordEntry is a registered codec, or why it cannot be used.
type recordEntry struct {
	codec any   // *RecordCodec[T]
	stale error // StaleCodecError when T changed since its code was generated
}

var registry struct {
	mu       sync.RWMutex
	records  map[reflect.Type]recordEntry
	kernels  map[kernelKey]any // typed kernel funcs
	runners  map[string]Runner
	defaultR string
}

type kernelKind uint8

const (
	kindMap kernelKind = iota
	kindFilter
	kindFlatMap
)

type kernelKey struct {
	kind kernelKind
	pc   uintptr
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// RegisterRecord registers the generated codec of T. It is called from
// generated init functions; registering a type twice panics (init-time only).
// With c.Shape set, it checks once, by reflection on the type (never per
// record), that T has not changed since the code was generated.
func RegisterRecord[T any](c RecordCodec[T]) {
	t := typeOf[T]()
	e := recordEntry{codec: &c}
	if c.Shape != nil && t.Kind() == reflect.Struct {
		name := c.Name
		if name == "" {
			name = typeName[T]()
		}
		if change := shapeChange(t.Name(), c.Shape, recordShape(t)); change != "" {
			e.stale = StaleCodecError{Type: name, Change: change}
		}
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.records == nil {
		registry.records = map[reflect.Type]recordEntry{}
	}
	if _, dup := registry.records[t]; dup {
		panic(fmt.Sprintf("sdk: record %s registered twice", t))
	}
	registry.records[t] = e
}

// CodecOf returns the registered codec of T, or an error that names the type
// and says how to generate one: [NoCodecError] when it has none,
// [StaleCodecError] when T changed since its code was generated.
func CodecOf[T any]() (*RecordCodec[T], error) {
	registry.mu.RLock()
	e, ok := registry.records[typeOf[T]()]
	registry.mu.RUnlock()
	switch {
	case !ok:
		return nil, NoCodecError{Type: typeName[T]()}
	case e.stale != nil:
		return nil, e.stale
	}
	return e.codec.(*RecordCodec[T]), nil
}

// staleRecord returns the StaleCodecError of t, or nil when t is not a
// registered record or its generated code is fresh.
func staleRecord(t reflect.Type) error {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	return registry.records[t].stale
}

// NoCodecError says that a type needs a generated codec it does not have.
type NoCodecError struct{ Type string }

// Error says which type lacks a codec and how to generate one.
func (e NoCodecError) Error() string {
	return fmt.Sprintf("sdk: type %s has no codec; mark it //weir:record and run \"go generate ./...\"", e.Type)
}

func funcPC(fn any) uintptr { return reflect.ValueOf(fn).Pointer() }

func registerKernel(kind kernelKind, fn, kernel any) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.kernels == nil {
		registry.kernels = map[kernelKey]any{}
	}
	registry.kernels[kernelKey{kind, funcPC(fn)}] = kernel
}

func lookupKernel(kind kernelKind, fn any) any {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	return registry.kernels[kernelKey{kind, funcPC(fn)}]
}

// MapKernel is a generated batch loop for a func(I) O: it appends fn(v) for
// every row of in to out, carrying the event times.
type MapKernel[I, O any] func(in *Batch[I], out *Batch[O])

// FilterKernel is a generated batch loop for a func(T) bool: it appends the
// rows of in for which fn is true to out.
type FilterKernel[T any] func(in *Batch[T], out *Batch[T])

// FlatMapKernel is a generated batch loop for a func(I, func(O)).
type FlatMapKernel[I, O any] func(in *Batch[I], out *Batch[O])

// RegisterMap registers the generated kernel of fn; called from generated init.
func RegisterMap[I, O any](fn func(I) O, k MapKernel[I, O]) { registerKernel(kindMap, fn, k) }

// RegisterFilter registers the generated filter kernel of fn.
func RegisterFilter[T any](fn func(T) bool, k FilterKernel[T]) {
	registerKernel(kindFilter, fn, k)
}

// RegisterFlatMap registers the generated kernel of fn.
func RegisterFlatMap[I, O any](fn func(I, func(O)), k FlatMapKernel[I, O]) {
	registerKernel(kindFlatMap, fn, k)
}

// HasKernel reports whether a generated kernel is registered for fn used as
// a map, filter or flat map; tests and benchmarks use it.
func HasKernel(fn any) bool {
	return lookupKernel(kindMap, fn) != nil || lookupKernel(kindFilter, fn) != nil || lookupKernel(kindFlatMap, fn) != nil
}

func typeName[T any]() string {
	t := typeOf[T]()
	if t.Name() != "" && t.PkgPath() != "" {
		return t.String()
	}
	return t.String()
}
