package codec

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// ErrTruncated is wrapped by errors for binary input that ends too early.
var ErrTruncated = errors.New("codec: truncated input")

// ErrCorrupt is wrapped by errors for binary input that is not a valid
// encoding (an overlong varint, nanoseconds out of range).
var ErrCorrupt = errors.New("codec: corrupt input")

// AppendBool appends b as one byte.
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendInt appends v as a zigzag varint.
func AppendInt(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

// AppendUint appends v as a uvarint.
func AppendUint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }

// AppendFloat32 appends the bits of f, little-endian.
func AppendFloat32(dst []byte, f float32) []byte {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(f))
}

// AppendFloat64 appends the bits of f, little-endian.
func AppendFloat64(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

// AppendString appends a uvarint length and the bytes of s.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendBytes appends b as a length+1 prefix (0 for nil) and its bytes.
func AppendBytes(dst []byte, b []byte) []byte {
	if b == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

// AppendLen appends the length prefix of a slice or map: 0 for nil, n+1
// otherwise.
func AppendLen(dst []byte, n int, isNil bool) []byte {
	if isNil {
		return append(dst, 0)
	}
	return binary.AppendUvarint(dst, uint64(n)+1)
}

// AppendTime appends t as Unix seconds and nanoseconds; the location and
// monotonic reading are not kept.
func AppendTime(dst []byte, t time.Time) []byte {
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

// AppendDuration appends d as a zigzag varint of nanoseconds.
func AppendDuration(dst []byte, d time.Duration) []byte {
	return binary.AppendVarint(dst, int64(d))
}

// SortedKeys returns the keys of m in ascending order, for deterministic
// encoding of maps.
func SortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Reader decodes the binary format from a byte slice with a sticky error.
// The zero Reader reads an empty input.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader returns a Reader over src.
func NewReader(src []byte) Reader { return Reader{buf: src} }

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Done returns the bytes consumed and the first error, the results of a
// generated DecodeBinary.
func (r *Reader) Done() (int, error) { return r.off, r.err }

func (r *Reader) fail(base error, what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w reading %s at offset %d", base, what, r.off)
	}
}

// Bool reads one byte; anything but 0 is true.
func (r *Reader) Bool() bool {
	if r.err != nil {
		return false
	}
	if r.off >= len(r.buf) {
		r.fail(ErrTruncated, "bool")
		return false
	}
	b := r.buf[r.off]
	r.off++
	return b != 0
}

// Int reads a zigzag varint.
func (r *Reader) Int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.buf[r.off:])
	if n <= 0 {
		r.varintErr(n, "int")
		return 0
	}
	r.off += n
	return v
}

// Uint reads a uvarint.
func (r *Reader) Uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf[r.off:])
	if n <= 0 {
		r.varintErr(n, "uint")
		return 0
	}
	r.off += n
	return v
}

func (r *Reader) varintErr(n int, what string) {
	if n == 0 {
		r.fail(ErrTruncated, what)
	} else {
		r.fail(ErrCorrupt, what)
	}
}

// Float32 reads 4 little-endian bytes.
func (r *Reader) Float32() float32 {
	if r.err != nil {
		return 0
	}
	if len(r.buf)-r.off < 4 {
		r.fail(ErrTruncated, "float32")
		return 0
	}
	v := binary.LittleEndian.Uint32(r.buf[r.off:])
	r.off += 4
	return math.Float32frombits(v)
}

// Float64 reads 8 little-endian bytes.
func (r *Reader) Float64() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.buf)-r.off < 8 {
		r.fail(ErrTruncated, "float64")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.buf[r.off:])
	r.off += 8
	return math.Float64frombits(v)
}

// String reads a length-prefixed string.
func (r *Reader) String() string {
	n := r.Uint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.buf)-r.off) {
		r.fail(ErrTruncated, "string")
		return ""
	}
	s := string(r.buf[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

// Bytes reads a []byte written by [AppendBytes] into a new slice (nil for
// a nil slice).
func (r *Reader) Bytes() []byte {
	n := r.Len()
	if n < 0 {
		return nil
	}
	b := make([]byte, n)
	copy(b, r.buf[r.off:])
	r.off += n
	return b
}

// Len reads the length prefix of a slice or map: -1 for nil (or after an
// error). A length larger than the remaining input is an error (each
// element takes at least a byte, except structs without fields, which
// therefore cannot be slice or map elements), so a caller may allocate n
// elements.
func (r *Reader) Len() int {
	v := r.Uint()
	if r.err != nil || v == 0 {
		return -1
	}
	if v-1 > uint64(len(r.buf)-r.off) {
		r.fail(ErrTruncated, "length "+strconv.FormatUint(v-1, 10))
		return -1
	}
	return int(v - 1)
}

// Time reads a time.Time written by [AppendTime], in UTC.
func (r *Reader) Time() time.Time {
	s := r.Int()
	ns := r.Uint()
	if r.err != nil {
		return time.Time{}
	}
	if ns >= 1e9 {
		r.fail(ErrCorrupt, "time")
		return time.Time{}
	}
	return time.Unix(s, int64(ns)).UTC()
}

// Duration reads a time.Duration.
func (r *Reader) Duration() time.Duration { return time.Duration(r.Int()) }
