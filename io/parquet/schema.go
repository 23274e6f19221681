package parquet

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strings"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/weirflow/weir/sdk"
)

// recordInfo is what a source knows about T: its Parquet schema, which
// columns a file must have, and its event-time column.
type recordInfo struct {
	schema   *pq.Schema
	fast     []fastField // nil if T needs parquet-go's GenericReader
	times    []timeLeaf  // T's time.Time values with a timestamp column
	timeName string      // Parquet name of the weir:"eventtime" field; "" if none
	timeUnit int64       // nanoseconds per unit of a plain INT64 event-time column
	err      error       // T cannot be read from Parquet
}

func recordOf[T any]() *recordInfo {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return &recordInfo{err: fmt.Errorf("parquet: record type %s must be a struct with parquet tags", t)}
	}
	ri := &recordInfo{}
	if err := protect(func() error { ri.schema = pq.SchemaOf(new(T)); return nil }); err != nil {
		return &recordInfo{err: fmt.Errorf("parquet: record type %s has no Parquet schema: %v", t, err)}
	}
	ri.fast = fastFieldsOf(t, ri.schema)
	ri.times = timeLeavesOf(t, ri.schema)
	for _, f := range reflect.VisibleFields(t) {
		if len(f.Index) != 1 || !f.IsExported() || !hasTagWord(f.Tag.Get("weir"), "eventtime") {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		if name == "-" {
			break
		}
		if name == "" {
			name = f.Name
		}
		ri.timeName = name
		if hasTagWord(f.Tag.Get("weir"), "unixmilli") {
			ri.timeUnit = 1_000_000
		}
		break
	}
	return ri
}

func hasTagWord(tag, word string) bool {
	for _, w := range strings.Split(tag, ",") {
		if strings.TrimSpace(w) == word {
			return true
		}
	}
	return false
}

// check compares a file's schema with T's: every column of T must be in the
// file with the same physical type. It returns the dead-letter reason, or "".
func (ri *recordInfo) check(path string, file *pq.Schema) string {
	for _, col := range ri.schema.Columns() {
		want, _ := ri.schema.Lookup(col...)
		got, ok := file.Lookup(col...)
		name := strings.Join(col, ".")
		if !ok || got.Node == nil {
			return fmt.Sprintf("parquet: %s: column %q missing", path, name)
		}
		if wk, gk := want.Node.Type().Kind(), got.Node.Type().Kind(); wk != gk {
			return fmt.Sprintf("parquet: %s: column %s: want %s, got %s", path, name, wk, gk)
		}
	}
	return ""
}

// timeColumn finds the event-time column in a file: its leaf index and the
// length of one unit of its values in nanoseconds (timestamp logical types;
// a plain INT64 counts microseconds, like sdk.Timestamp, or milliseconds
// for a field tagged weir:"eventtime,unixmilli"). col is -1 when there is
// no usable column.
func (ri *recordInfo) timeColumn(file *pq.Schema) (col int, unitNanos int64) {
	if ri.timeName == "" {
		return -1, 0
	}
	leaf, ok := file.Lookup(ri.timeName)
	if !ok || leaf.Node == nil || leaf.Node.Type().Kind() != pq.Int64 {
		return -1, 0
	}
	unitNanos = 1000
	if ri.timeUnit != 0 {
		unitNanos = ri.timeUnit
	}
	if lt := leaf.Node.Type().LogicalType(); lt != nil {
		if ts, ok := lt.Value.(*format.TimestampType); ok && ts.Unit.Value != nil {
			unitNanos = ts.Unit.Value.Duration().Nanoseconds()
		}
	}
	return leaf.ColumnIndex, unitNanos
}

type statistics = format.Statistics

// minTime decodes the minimum of an INT64 column chunk's statistics and
// converts it to microseconds, rounding down.
func minTime(st *statistics, numValues int64, unitNanos int64) (sdk.Timestamp, bool) {
	raw := st.MinValue
	if raw == nil {
		raw = st.Min // deprecated, signed order: right for INT64
	}
	if len(raw) != 8 || numValues <= 0 || st.NullCount >= numValues || unitNanos <= 0 {
		return 0, false
	}
	v := int64(binary.LittleEndian.Uint64(raw))
	switch {
	case unitNanos == 1000:
		return sdk.Timestamp(v), true
	case unitNanos > 1000:
		m := unitNanos / 1000
		if v > math.MaxInt64/m || v < math.MinInt64/m {
			return 0, false
		}
		return sdk.Timestamp(v * m), true
	default:
		d := 1000 / unitNanos
		q := v / d
		if v%d != 0 && v < 0 {
			q--
		}
		return sdk.Timestamp(q), true
	}
}
