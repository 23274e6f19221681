package parquet

import (
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unsafe"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/weirflow/weir/internal/base"
)

// Times. parquet-go turns a timestamp into a time.Time through nanoseconds
// since 1970 (time.Unix(0, v*unit)), which wraps outside 1677-09-21 to
// 2262-04-11: a year-1 timestamp(microsecond) reads as 1754. The readers
// here convert every unit exactly instead: the column decoder for its
// fields, and after GenericReader for the time.Time fields at fixed
// offsets; rows whose other time values (in lists, maps, behind pointers)
// GenericReader would get wrong become dead letters. The writer of
// timestamp(nanosecond) has the same limit (UnixNano): the sink refuses a
// time it cannot hold rather than write another one.

// Nanosecond timestamps hold 1677-09-21T00:12:43.145224192Z to
// 2262-04-11T23:47:16.854775807Z.
var (
	minNanoTime = time.Unix(0, math.MinInt64).UTC()
	maxNanoTime = time.Unix(0, math.MaxInt64).UTC()
)

const nanoRange = "1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z"

// timeLeaf is a time.Time of T, at any depth, and its column.
type timeLeaf struct {
	path      []string
	col       string  // dotted path
	offset    uintptr // from the start of T, when direct
	direct    bool    // reached through struct fields only: one value a row at offset
	route     []step  // how reflection reaches it from a T
	unitNanos int64   // of T's column
}

type stepKind uint8

const (
	stepField stepKind = iota
	stepDeref
	stepElems
	stepMapKeys
	stepMapValues
)

// step is one move of a route from a value to the times inside it.
type step struct {
	kind  stepKind
	field int
}

// timeLeavesOf lists the time.Time values of T that have a timestamp
// column in schema (T's), following parquet-go's naming: tag or field
// name, embedded structs inlined, "list" tags adding list.element, maps
// key_value.key and key_value.value.
func timeLeavesOf(t reflect.Type, schema *pq.Schema) []timeLeaf {
	var out []timeLeaf
	var walk func(t reflect.Type, path []string, route []step, off uintptr, direct bool, depth int)
	walk = func(t reflect.Type, path []string, route []step, off uintptr, direct bool, depth int) {
		if depth > 32 { // recursive types
			return
		}
		switch k := t.Kind(); {
		case t == timeType:
			leaf, ok := schema.Lookup(path...)
			if !ok || leaf.Node == nil {
				return
			}
			unit := timestampUnit(leaf.Node.Type().LogicalType())
			if unit == 0 {
				return
			}
			out = append(out, timeLeaf{path: path, col: strings.Join(path, "."), offset: off,
				direct: direct && leaf.MaxRepetitionLevel == 0, route: route, unitNanos: unit})
		case k == reflect.Pointer:
			walk(t.Elem(), path, with(route, step{kind: stepDeref}), 0, false, depth+1)
		case k == reflect.Struct:
			for i := range t.NumField() {
				f := t.Field(i)
				tag := f.Tag.Get("parquet")
				name, opts, _ := strings.Cut(tag, ",")
				if name == "-" && tag != "-," {
					continue
				}
				r := with(route, step{kind: stepField, field: i})
				if f.Anonymous {
					if f.Type.Kind() == reflect.Struct {
						walk(f.Type, path, r, off+f.Offset, direct, depth+1)
					}
					continue
				}
				if !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if f.Type.Kind() == reflect.Slice && hasTagWord(opts, "list") {
					walk(f.Type.Elem(), with(path, name, "list", "element"), with(r, step{kind: stepElems}), 0, false, depth+1)
					continue
				}
				walk(f.Type, with(path, name), r, off+f.Offset, direct, depth+1)
			}
		case (k == reflect.Slice || k == reflect.Array) && t.Elem().Kind() != reflect.Uint8:
			walk(t.Elem(), path, with(route, step{kind: stepElems}), 0, false, depth+1)
		case k == reflect.Map:
			walk(t.Key(), with(path, "key_value", "key"), with(route, step{kind: stepMapKeys}), 0, false, depth+1)
			walk(t.Elem(), with(path, "key_value", "value"), with(route, step{kind: stepMapValues}), 0, false, depth+1)
		}
	}
	walk(t, nil, nil, 0, true, 0)
	return out
}

// with returns a new slice of s and x.
func with[E any](s []E, x ...E) []E { return slices.Concat(s, x) }

// timestampUnit is the length of one unit of a timestamp logical type in
// nanoseconds, or 0 if lt is not a timestamp.
func timestampUnit(lt *format.LogicalType) int64 {
	if lt == nil {
		return 0
	}
	ts, ok := lt.Value.(*format.TimestampType)
	if !ok || ts.Unit.Value == nil {
		return 0
	}
	return ts.Unit.Value.Duration().Nanoseconds()
}

// timeOf converts v, in units of unitNanos since 1970, exactly.
func timeOf(v, unitNanos int64) time.Time {
	switch unitNanos {
	case 1e6:
		return time.UnixMilli(v).UTC()
	case 1e3:
		return time.UnixMicro(v).UTC()
	default:
		return time.Unix(0, v).UTC()
	}
}

// eventRange is [base.MinEventTime, base.MaxEventTime] in units of
// unitNanos: the values of an event-time column that are kept.
func eventRange(unitNanos int64) (lo, hi int64) {
	switch unitNanos {
	case 1e6:
		return base.FloorDiv(int64(base.MinEventTime)+999, 1000), base.FloorDiv(int64(base.MaxEventTime), 1000)
	case 1e3:
		return int64(base.MinEventTime), int64(base.MaxEventTime)
	default:
		return math.MinInt64, math.MaxInt64 // 1677-2262: all inside
	}
}

// eventTimeReason is the dead-letter reason of an event time outside the
// range, as the runner words it.
func eventTimeReason(col string, t time.Time) string {
	return fmt.Sprintf("event time (%s) %s is outside %s", col, t.Format("2006-01-02T15:04:05.999999999Z07:00"), base.EventTimeRange)
}

// fitsNanos reports whether v, in units of unitNanos, is a nanosecond
// timestamp: what parquet-go reads right.
func fitsNanos(v, unitNanos int64) bool {
	return unitNanos <= 1 || v <= math.MaxInt64/unitNanos && v >= math.MinInt64/unitNanos
}

// badRow is a row of the batch being read that becomes a dead letter.
type badRow struct {
	i      int
	reason string
}

// scanTimes reads a whole column chunk of a time column GenericReader
// fills (in a list, a map, behind a pointer) and returns the rows holding
// a value it would read wrong, with the reason.
func scanTimes(chunk pq.ColumnChunk, leaf timeLeaf, unitNanos int64) (map[int64]string, error) {
	pages := chunk.Pages()
	defer pages.Close()
	var bad map[int64]string
	buf := make([]pq.Value, 512)
	row := int64(-1)
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return bad, nil
		}
		if err != nil {
			return nil, err
		}
		vr := p.Values()
		for {
			n, err := vr.ReadValues(buf)
			for _, v := range buf[:n] {
				if v.RepetitionLevel() == 0 {
					row++
				}
				if v.IsNull() || fitsNanos(v.Int64(), unitNanos) {
					continue
				}
				if bad == nil {
					bad = map[int64]string{}
				}
				if _, ok := bad[row]; !ok {
					bad[row] = fmt.Sprintf("parquet: column %s: time %s is outside %s, which parquet-go cannot read into a time.Time in a list, map or pointer; make it a field of the record or of a struct in it",
						leaf.col, timeOf(v.Int64(), unitNanos).Format(time.RFC3339Nano), nanoRange)
				}
			}
			if errors.Is(err, io.EOF) || n == 0 && err == nil {
				break
			}
			if err != nil {
				pq.Release(p)
				return nil, err
			}
		}
		pq.Release(p)
	}
}

// checkNanos returns an error for a time in a timestamp(nanosecond)
// column of v that the column cannot hold (parquet-go would write another
// time).
func checkNanos[T any](leaves []timeLeaf, v *T) error {
	for _, l := range leaves {
		if l.direct {
			t := *(*time.Time)(unsafe.Add(unsafe.Pointer(v), l.offset))
			if err := fitsNanoColumn(l, t); err != nil {
				return err
			}
			continue
		}
		var err error
		visitTimes(reflect.ValueOf(v).Elem(), l.route, func(t time.Time) bool {
			err = fitsNanoColumn(l, t)
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func fitsNanoColumn(l timeLeaf, t time.Time) error {
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		return fmt.Errorf("column %s: time %s does not fit timestamp(nanosecond) (%s); tag the field timestamp(microsecond)",
			l.col, t.UTC().Format(time.RFC3339Nano), nanoRange)
	}
	return nil
}

// visitTimes calls fn with every time.Time route leads to from v, until
// fn returns false.
func visitTimes(v reflect.Value, route []step, fn func(time.Time) bool) bool {
	if len(route) == 0 {
		if v.Type() == timeType {
			return fn(v.Interface().(time.Time))
		}
		return true
	}
	s, rest := route[0], route[1:]
	switch s.kind {
	case stepField:
		return visitTimes(v.Field(s.field), rest, fn)
	case stepDeref:
		if v.IsNil() {
			return true
		}
		return visitTimes(v.Elem(), rest, fn)
	case stepElems:
		for i := range v.Len() {
			if !visitTimes(v.Index(i), rest, fn) {
				return false
			}
		}
	case stepMapKeys, stepMapValues:
		it := v.MapRange()
		for it.Next() {
			x := it.Value()
			if s.kind == stepMapKeys {
				x = it.Key()
			}
			if !visitTimes(x, rest, fn) {
				return false
			}
		}
	}
	return true
}
