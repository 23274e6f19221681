// Package errors has every kind of problem weir gen reports; all of them
// must be reported in one run.
package errors

import (
	"sync"
	"time"
)

//weir:record
type Bad struct {
	C    chan int
	F    func()
	I    interface{ M() }
	X    complex128
	Anon struct{ A int }
	Mu   sync.Mutex
	BM   map[bool]int
	P    uintptr
	Ok   string
	Arr  [4]byte
	Deep []map[string]*chan int
}

//weir:record
type BadTime struct {
	When string    `weir:"eventtime"`
	T1   time.Time `weir:"eventtime"`
	T2   time.Time `weir:"eventtime"`
	Tag  int       `weir:"key"`
	A    int       `json:"a"`
	B    int       `json:"a"`
}

//weir:record
type BadEpoch struct {
	S  string        `json:"s" weir:"eventtime,unixmilli"`
	D  time.Duration `json:"d" weir:"eventtime,unixmicro"`
	U  int64         `json:"u" weir:"eventtime,unixnano"`
	F  float64       `json:"f" weir:"eventtime,unixmilli"`
	Ok int64         `json:"ok" weir:"eventtime,unixmilli"`
}

//weir:record
type NotStruct int

//weir:record
type Generic[T any] struct{ V T }

//weir:record
var notAType = 1

//weir:transform
type NotAFunc struct{}

//weir:transform
func TwoResults(b Bad) (int, error) { return 0, nil }

//weir:transform
func NoArgs() int { return 0 }

//weir:transform
func Variadic(xs ...int) int { return 0 }

//weir:transform
func BadEmit(s string, emit func(string) bool) {}

//weir:transform
func GenericFn[T any](v T) T { return v }

//weir:transform
func (b Bad) Method(x int) int { return x }

//weir:transfrom
func Misspelled(x int) int { return x }

// weir:transform
func Spaced(x int) int { return x }

// weir:record
type SpacedRecord struct{}
