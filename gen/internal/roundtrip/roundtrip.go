// Package roundtrip holds records that cover every field type weir gen
// supports. Its weir_gen.go is generated and committed; gen's tests check
// that it is fresh, and this package's tests fuzz the generated codecs.
package roundtrip

import (
	"strings"
	"time"
)

// Label is a named string type.
type Label string

// Blob is a named byte slice.
type Blob []byte

// Millis is a named duration.
type Millis time.Duration

// Point is a struct without //weir:record, reached from All: it gets
// codecs but no registration.
type Point struct {
	X, Y float64
}

// Inner is a nested record.
//
//weir:record
type Inner struct {
	Name  string         `json:"name"`
	Tags  []string       `json:"tags"`
	Score map[string]int `json:"score"`
	Next  *Inner         `json:"next"`
}

// All covers every supported field type.
//
//weir:record
type All struct {
	B     bool          `json:"b"`
	I     int           `json:"i"`
	I8    int8          `json:"i8"`
	I16   int16         `json:"i16"`
	I32   int32         `json:"i32"`
	I64   int64         `json:"i64"`
	U     uint          `json:"u"`
	U8    uint8         `json:"u8"`
	U16   uint16        `json:"u16"`
	U32   uint32        `json:"u32"`
	U64   uint64        `json:"u64"`
	F32   float32       `json:"f32"`
	F64   float64       `json:"f64"`
	S     string        `json:"s"`
	Raw   []byte        `json:"raw"`
	At    time.Time     `json:"at" weir:"eventtime"`
	T2    time.Time     `json:"t2"`
	D     time.Duration `json:"d"`
	L     Label         `json:"l"`
	Bl    Blob          `json:"bl"`
	Ms    Millis        `json:"ms"`
	In    Inner         `json:"in"`
	InP   *Inner        `json:"in_p"`
	Ins   []Inner       `json:"ins"`
	Pts   []Point       `json:"pts"`
	IntP  *int64        `json:"int_p"`
	StrPP **string      `json:"str_pp"`
	TimeP *time.Time    `json:"time_p"`
	Ints  []int32       `json:"ints"`
	Grid  [][]uint16    `json:"grid"`
	ByU   map[uint8]Label
	ByI   map[int64][]string `json:"by_i"`
	ByF   map[float64]bool   `json:"by_f"`
	ByL   map[Label]*Point   `json:"by_l"`
	Hid   string             `json:"-"`
	priv  int
}

// Embeds has embedded fields: ordinary fields named after their type.
//
//weir:record
type Embeds struct {
	Point
	*Inner
	Label `json:"label"`
	note  Blob
}

// Words splits an Inner's name into words.
//
//weir:transform
func Words(in Inner, emit func(string)) {
	for _, w := range strings.Fields(in.Name) {
		emit(w)
	}
}

// Positive keeps records with a positive I.
//
//weir:transform
func Positive(a All) bool { return a.I > 0 }

// NameOf is the name of the inner record.
//
//weir:transform
func NameOf(a All) Label { return Label(a.In.Name) }

// Click has its event time in epoch milliseconds.
//
//weir:record
type Click struct {
	User string `json:"user"`
	TS   int64  `json:"ts" weir:"eventtime,unixmilli"`
}

// Micros is epoch microseconds.
type Micros int64

// View has its event time in epoch microseconds, in a defined type.
//
//weir:record
type View struct {
	Page string `json:"page"`
	At   Micros `json:"at" weir:"eventtime,unixmicro"`
}
