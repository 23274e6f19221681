package parquet

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unsafe"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// The column decoder: for a flat T (top-level fields of a few plain types),
// each needed column's pages are decoded into the fields directly, without
// parquet-go's row assembly and reflection. Other types use GenericReader.

type fieldKind uint8

const (
	kString fieldKind = iota + 1
	kBytes
	kInt64
	kInt
	kInt32
	kFloat64
	kFloat32
	kBool
	kTime
)

// fastField is one field of T and the column it is read from.
type fastField struct {
	name   string
	offset uintptr
	kind   fieldKind
}

var timeType = reflect.TypeFor[time.Time]()

// fastFieldsOf lists T's fields for the column decoder, or nil if T does
// not qualify (nested, repeated or other types).
func fastFieldsOf(t reflect.Type, schema *pq.Schema) []fastField {
	var out []fastField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		if name == "-" {
			continue
		}
		if !f.IsExported() {
			if f.Anonymous {
				return nil
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		var k fieldKind
		switch {
		case f.Type == timeType:
			k = kTime
		case f.Type.Kind() == reflect.String:
			k = kString
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8:
			k = kBytes
		case f.Type.Kind() == reflect.Int64:
			k = kInt64
		case f.Type.Kind() == reflect.Int:
			k = kInt
		case f.Type.Kind() == reflect.Int32:
			k = kInt32
		case f.Type.Kind() == reflect.Float64:
			k = kFloat64
		case f.Type.Kind() == reflect.Float32:
			k = kFloat32
		case f.Type.Kind() == reflect.Bool:
			k = kBool
		default:
			return nil
		}
		if _, ok := schema.Lookup(name); !ok {
			return nil
		}
		out = append(out, fastField{name: name, offset: f.Offset, kind: k})
	}
	if len(out) != len(schema.Columns()) {
		return nil
	}
	return out
}

// fastColumn reads one column chunk's values.
type fastColumn struct {
	fastField
	unitNanos int64 // kTime: the file's unit
	event     bool  // kTime: the event-time column, whose values must lie in lo..hi
	lo, hi    int64
	pages     pq.Pages
	page      pq.Page
	values    pq.ValueReader
	buf       []pq.Value
	off, n    int
}

// planFast prepares the column decoder for a row group, or returns nil when
// the file's columns do not allow it (repeated, or a time.Time field over a
// column without a timestamp type). The values of column event (if any)
// must be event times in range.
func planFast(fields []fastField, rec, file *pq.Schema, rg pq.RowGroup, event string) []*fastColumn {
	if fields == nil {
		return nil
	}
	chunks := rg.ColumnChunks()
	cols := make([]*fastColumn, len(fields))
	for i, f := range fields {
		leaf, ok := file.Lookup(f.name)
		if !ok || leaf.MaxRepetitionLevel > 0 || leaf.ColumnIndex >= len(chunks) {
			return nil
		}
		c := &fastColumn{fastField: f}
		kind := leaf.Node.Type().Kind()
		want := map[fieldKind]pq.Kind{
			kString: pq.ByteArray, kBytes: pq.ByteArray, kInt64: pq.Int64, kInt: pq.Int64,
			kInt32: pq.Int32, kFloat64: pq.Double, kFloat32: pq.Float, kBool: pq.Boolean, kTime: pq.Int64,
		}[f.kind]
		if kind != want {
			return nil
		}
		if f.kind != kTime {
			// Same annotation (string, int(64, true), timestamp unit...),
			// or GenericReader converts.
			mine, _ := rec.Lookup(f.name)
			if logicalName(mine.Node.Type().LogicalType()) != logicalName(leaf.Node.Type().LogicalType()) {
				return nil
			}
		}
		if f.kind == kTime {
			lt := leaf.Node.Type().LogicalType()
			if lt == nil {
				return nil
			}
			if c.unitNanos = timestampUnit(lt); c.unitNanos == 0 {
				return nil
			}
			if f.name == event {
				c.event = true
				c.lo, c.hi = eventRange(c.unitNanos)
			}
		}
		c.pages = chunks[leaf.ColumnIndex].Pages()
		cols[i] = c
	}
	return cols
}

func (c *fastColumn) seek(row int64) error { return c.pages.SeekToRow(row) }

// avail returns up to max buffered values of the column, reading the next
// page when the buffer is used up. The values are valid until the next call.
func (c *fastColumn) avail(max int) ([]pq.Value, error) {
	for c.off == c.n {
		if c.values == nil {
			p, err := c.pages.ReadPage()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil, io.ErrUnexpectedEOF
				}
				return nil, err
			}
			c.page, c.values = p, p.Values()
		}
		if c.buf == nil {
			c.buf = make([]pq.Value, 512)
		}
		n, err := c.values.ReadValues(c.buf)
		c.off, c.n = 0, n
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if n == 0 || errors.Is(err, io.EOF) {
			// The page is done once its buffered values are used; byte
			// arrays point into it, so it is released only then.
			if n == 0 {
				c.release()
			} else {
				c.values = eofReader{}
			}
		}
	}
	end := min(c.n, c.off+max)
	v := c.buf[c.off:end]
	c.off = end
	return v, nil
}

func (c *fastColumn) release() {
	if c.page != nil {
		pq.Release(c.page)
	}
	c.page, c.values = nil, nil
}

type eofReader struct{}

func (eofReader) ReadValues([]pq.Value) (int, error) { return 0, io.EOF }

func (c *fastColumn) close() {
	c.release()
	c.pages.Close()
}

// decode fills n values of the column into the records at base, stride
// bytes apart, and appends to bad the rows whose value is not a record's
// (an event time out of range).
func (c *fastColumn) decode(base unsafe.Pointer, stride uintptr, n int, bad *[]badRow) error {
	// p0 is the field in the first record; the field of record r is at
	// p0 + r*stride (never computed past the last record: checkptr).
	p0 := unsafe.Add(base, c.offset)
	for row := 0; row < n; {
		vals, err := c.avail(n - row)
		if err != nil {
			return fmt.Errorf("column %s: %w", c.name, err)
		}
		switch c.kind {
		case kString:
			for i := range vals {
				p := unsafe.Add(p0, uintptr(row+i)*stride)
				if vals[i].IsNull() {
					*(*string)(p) = ""
				} else {
					*(*string)(p) = string(vals[i].ByteArray())
				}
			}
		case kBytes:
			for i := range vals {
				p := unsafe.Add(p0, uintptr(row+i)*stride)
				if vals[i].IsNull() {
					*(*[]byte)(p) = nil
				} else {
					*(*[]byte)(p) = append([]byte(nil), vals[i].ByteArray()...)
				}
			}
		case kInt64:
			for i := range vals {
				p := unsafe.Add(p0, uintptr(row+i)*stride)
				*(*int64)(p) = vals[i].Int64()
			}
		case kInt:
			for i := range vals {
				p := unsafe.Add(p0, uintptr(row+i)*stride)
				*(*int)(p) = int(vals[i].Int64())
			}
		case kInt32:
			for i := range vals {
				p := unsafe.Add(p0, uintptr(row+i)*stride)
				*(*int32)(p) = vals[i].Int32()
			}
		case kFloat64:
			for i := range vals {
				p := unsafe.Add(p0, uintptr(row+i)*stride)
				*(*float64)(p) = vals[i].Double()
			}
		case kFloat32:
			for i := range vals {
				p := unsafe.Add(p0, uintptr(row+i)*stride)
				*(*float32)(p) = vals[i].Float()
			}
		case kBool:
			for i := range vals {
				p := unsafe.Add(p0, uintptr(row+i)*stride)
				*(*bool)(p) = vals[i].Boolean()
			}
		case kTime:
			c.decodeTimes(vals, p0, stride, row, bad)
		}
		row += len(vals)
	}
	return nil
}

// decodeTimes converts vals, the values of rows row..., exactly (see
// times.go); a null is the zero time.Time.
func (c *fastColumn) decodeTimes(vals []pq.Value, p0 unsafe.Pointer, stride uintptr, row int, bad *[]badRow) {
	for i := range vals {
		p := (*time.Time)(unsafe.Add(p0, uintptr(row+i)*stride))
		if vals[i].IsNull() {
			*p = time.Time{}
			continue
		}
		v := vals[i].Int64()
		switch c.unitNanos {
		case 1e3:
			*p = time.UnixMicro(v).UTC()
		case 1e6:
			*p = time.UnixMilli(v).UTC()
		default:
			*p = timeOf(v, c.unitNanos)
		}
		if c.event && (v < c.lo || v > c.hi) {
			*bad = append(*bad, badRow{i: row + i, reason: eventTimeReason(c.name, *p)})
		}
	}
}

func logicalName(lt *format.LogicalType) string {
	if lt == nil || lt.Value == nil {
		return ""
	}
	return lt.Value.String()
}
