// Package alltypes has a record with every supported field type.
package alltypes

import "time"

type (
	Label  string
	Blob   []byte
	Millis time.Duration
	Count  uint16
)

// Embedded is embedded in All; it is an ordinary field named Embedded.
type Embedded struct{ E int }

//weir:record
type All struct {
	B       bool
	I       int     `json:"i"`
	I8      int8    `json:"i8,omitempty"`
	I16     int16   `json:",omitempty"`
	I32     int32   `json:"i32"`
	I64     int64   `json:"i64"`
	U       uint    `json:"u"`
	U8      uint8   `json:"u8"`
	U16     uint16  `json:"u16"`
	U32     uint32  `json:"u32"`
	U64     uint64  `json:"u64"`
	F32     float32 `json:"f32"`
	F64     float64 `json:"f64"`
	S       string  `json:"s"`
	Raw     []byte  `json:"raw"`
	Bytes8  []uint8
	At      time.Time     `json:"at" weir:"eventtime"`
	D       time.Duration `json:"d"`
	L       Label         `json:"l"`
	Bl      Blob          `json:"bl"`
	Ms      Millis        `json:"ms"`
	C       Count         `json:"c"`
	Skipped string        `json:"-"`
	Dash    string        `json:"-,"`
	private int
	Embedded
}
