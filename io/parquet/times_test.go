package parquet_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go/deprecated"

	"github.com/weirflow/weir/io/iotest"
	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/sdk"
)

// Raw timestamps: int64 fields with a timestamp type write any value.
type rawMillis struct {
	UserID   string `parquet:"user_id"`
	Amount   int64  `parquet:"amount"`
	Merchant string `parquet:"merchant"`
	At       int64  `parquet:"ts,timestamp(millisecond)"`
}

type rawMicros struct {
	UserID   string `parquet:"user_id"`
	Amount   int64  `parquet:"amount"`
	Merchant string `parquet:"merchant"`
	At       int64  `parquet:"ts,timestamp(microsecond)"`
}

type rawNanos struct {
	UserID   string `parquet:"user_id"`
	Amount   int64  `parquet:"amount"`
	Merchant string `parquet:"merchant"`
	At       int64  `parquet:"ts,timestamp(nanosecond)"`
}

var (
	year1    = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC) // the zero time.Time: a missing event time
	year9999 = time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
)

// readBoth reads path into T with the column decoder and with
// GenericReader, 3 rows a batch.
func readBoth[T any](t *testing.T, path string, check func(t *testing.T, rows []T, dead []sdk.DeadLetter)) {
	t.Helper()
	for _, generic := range []bool{false, true} {
		t.Run(fmt.Sprintf("GenericReader=%v", generic), func(t *testing.T) {
			chunks, err := iotest.ReadAll[T](context.Background(), parquet.NewSource[T](path, parquet.SourceOptions{GenericReader: generic}), 3)
			if err != nil {
				t.Fatal(err)
			}
			var rows []T
			var dead []sdk.DeadLetter
			for _, c := range chunks {
				rows = append(rows, c.Rows...)
				dead = append(dead, c.Dead...)
			}
			check(t, rows, dead)
		})
	}
}

// TestTimesAtTheExtremes reads every timestamp unit at the ends of the
// event-time range (0001-9999) and of nanosecond timestamps (1677-2262),
// with both readers, into time.Time fields of the file's unit and of
// another: every value reads exactly; an event time outside 0001-9999 is
// a dead letter naming its row.
func TestTimesAtTheExtremes(t *testing.T) {
	dir := t.TempDir()
	type tc struct {
		unit   time.Duration
		raw    []int64 // the file's values
		want   []time.Time
		badRow []int // rows that are dead letters (event time out of range)
	}
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	us := func(t time.Time) int64 { return t.UnixMicro() }
	nanoMin, nanoMax := time.Unix(0, math.MinInt64).UTC(), time.Unix(0, math.MaxInt64).UTC()
	cases := []tc{
		{
			unit: time.Millisecond,
			raw: []int64{ms(year1) + 1, ms(nanoMin) - 1, ms(nanoMax) + 1, ms(year9999), 0,
				ms(year1) - 1, ms(year9999) + 1, math.MaxInt64, math.MinInt64},
			want: []time.Time{year1.Add(time.Millisecond), nanoMin.Add(-time.Millisecond).Truncate(time.Millisecond),
				nanoMax.Truncate(time.Millisecond).Add(time.Millisecond), year9999.Truncate(time.Millisecond), time.Unix(0, 0)},
			badRow: []int{5, 6, 7, 8},
		},
		{
			unit: time.Microsecond,
			raw: []int64{us(year1) + 1, us(nanoMin) - 1, us(nanoMax) + 1, us(year9999), -1,
				us(year1) - 1, us(year9999) + 1, math.MaxInt64, math.MinInt64},
			want: []time.Time{year1.Add(time.Microsecond), nanoMin.Add(-time.Microsecond).Truncate(time.Microsecond),
				nanoMax.Truncate(time.Microsecond).Add(time.Microsecond), year9999.Truncate(time.Microsecond), time.Unix(0, -1000)},
			badRow: []int{5, 6, 7, 8},
		},
		{
			unit: time.Nanosecond,
			raw:  []int64{math.MinInt64, math.MaxInt64, -1},
			want: []time.Time{nanoMin, nanoMax, time.Unix(0, -1)},
		},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%v.parquet", c.unit)
		path := filepath.Join(dir, name)
		switch c.unit {
		case time.Millisecond:
			var rows []rawMillis
			for i, v := range c.raw {
				rows = append(rows, rawMillis{fmt.Sprint("u", i), 5000, "m", v})
			}
			mustWrite(t, path, rows, 4)
		case time.Microsecond:
			var rows []rawMicros
			for i, v := range c.raw {
				rows = append(rows, rawMicros{fmt.Sprint("u", i), 5000, "m", v})
			}
			mustWrite(t, path, rows, 4)
		default:
			var rows []rawNanos
			for i, v := range c.raw {
				rows = append(rows, rawNanos{fmt.Sprint("u", i), 5000, "m", v})
			}
			mustWrite(t, path, rows, 4)
		}
		check := func(t *testing.T, got []time.Time, dead []sdk.DeadLetter) {
			t.Helper()
			if len(got) != len(c.want) {
				t.Fatalf("%d rows, want %d (%d dead letters: %v)", len(got), len(c.want), len(dead), dead)
			}
			for i := range got {
				if !got[i].Equal(c.want[i]) {
					t.Errorf("row %d: %s, want %s", i, got[i].Format(time.RFC3339Nano), c.want[i].Format(time.RFC3339Nano))
				}
			}
			if len(dead) != len(c.badRow) {
				t.Fatalf("dead letters %v, want rows %v", dead, c.badRow)
			}
			for i, d := range dead {
				row := c.badRow[i]
				src := fmt.Sprintf("%s row group %d row %d", path, row/4, row%4)
				if d.Source != src || !strings.HasPrefix(d.Reason, "event time (ts) ") ||
					!strings.HasSuffix(d.Reason, " is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z") ||
					!strings.Contains(string(d.Record), fmt.Sprintf("u%d", row)) {
					t.Errorf("dead letter %d: %s: %s: %s; want source %s", i, d.Source, d.Reason, d.Record, src)
				}
			}
		}
		t.Run(name+"/same unit", func(t *testing.T) {
			switch c.unit {
			case time.Millisecond:
				readBoth(t, path, func(t *testing.T, rows []txnMillis, dead []sdk.DeadLetter) {
					var got []time.Time
					for _, r := range rows {
						got = append(got, r.At)
					}
					check(t, got, dead)
				})
			case time.Nanosecond:
				readBoth(t, path, func(t *testing.T, rows []txnNanos, dead []sdk.DeadLetter) {
					var got []time.Time
					for _, r := range rows {
						got = append(got, r.At)
					}
					check(t, got, dead)
				})
			}
		})
		t.Run(name+"/into microseconds", func(t *testing.T) {
			readBoth(t, path, func(t *testing.T, rows []txn, dead []sdk.DeadLetter) {
				var got []time.Time
				for _, r := range rows {
					got = append(got, r.At)
				}
				check(t, got, dead)
			})
		})
	}
}

// TestNestedTimes: GenericReader reads time.Time fields of nested structs
// exactly too; a time in a list that it would read wrong makes its row a
// dead letter instead.
func TestNestedTimes(t *testing.T) {
	type stamp struct {
		At time.Time `parquet:"at,timestamp(microsecond)"`
	}
	type rec struct {
		ID    string    `parquet:"id"`
		At    time.Time `parquet:"ts,timestamp(millisecond)" weir:"eventtime"`
		Inner stamp     `parquet:"inner"`
		List  []stamp   `parquet:"list"`
	}
	early := time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)
	late := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := []rec{
		{"a", early, stamp{late}, []stamp{{now}}},
		{"b", late, stamp{early}, nil},
		{"c", now, stamp{now}, []stamp{{now}, {early}}},
		{"d", now, stamp{now}, []stamp{{now}, {now}}},
	}
	path := filepath.Join(t.TempDir(), "nested.parquet")
	mustWrite(t, path, rows, 0)
	chunks, err := iotest.ReadAll[rec](context.Background(), parquet.NewSource[rec](path, parquet.SourceOptions{}), 3)
	if err != nil {
		t.Fatal(err)
	}
	got, dead := chunks[0].Rows, chunks[0].Dead
	if len(got) != 3 || got[0].ID != "a" || got[1].ID != "b" || got[2].ID != "d" {
		t.Fatalf("rows %v, want a, b and d", got)
	}
	for i, w := range []rec{rows[0], rows[1], rows[3]} {
		if !got[i].At.Equal(w.At) || !got[i].Inner.At.Equal(w.Inner.At) {
			t.Errorf("row %s: %v %v, want %v %v", w.ID, got[i].At, got[i].Inner.At, w.At, w.Inner.At)
		}
	}
	if len(dead) != 1 || dead[0].Source != path+" row group 0 row 2" ||
		!strings.Contains(dead[0].Reason, "parquet: column list.at: time 0001-01-01T00:00:01Z is outside 1677-09-21") {
		t.Errorf("dead letters %v", dead)
	}
}

// TestInt96 keeps reporting an INT96 timestamp column honestly: the row
// groups are dead letters naming the column.
func TestInt96(t *testing.T) {
	type int96Txn struct {
		UserID   string           `parquet:"user_id"`
		Amount   int64            `parquet:"amount"`
		Merchant string           `parquet:"merchant"`
		At       deprecated.Int96 `parquet:"ts"`
	}
	path := filepath.Join(t.TempDir(), "int96.parquet")
	mustWrite(t, path, []int96Txn{{"a", 1, "m", deprecated.Int64ToInt96(5)}}, 0)
	readBoth(t, path, func(t *testing.T, rows []txn, dead []sdk.DeadLetter) {
		if len(rows) != 0 || len(dead) != 1 || !strings.HasSuffix(dead[0].Reason, "column ts: want INT64, got INT96") {
			t.Errorf("rows %v, dead letters %v", rows, dead)
		}
	})
}

// TestSinkTimes writes the times of a window of the last minutes of 9999
// and of year 1 as timestamp(microsecond) and reads them back with both
// readers; a time timestamp(nanosecond) cannot hold is an error, not
// another time.
func TestSinkTimes(t *testing.T) {
	type total struct {
		UserID string    `parquet:"user_id"`
		Start  time.Time `parquet:"window_start,timestamp(microsecond)"`
		End    time.Time `parquet:"window_end,timestamp(microsecond)"`
	}
	dir := t.TempDir()
	want := []total{
		{"a", time.Date(9999, 12, 31, 23, 55, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"b", year1, year1.Add(5 * time.Minute)},
	}
	writeSink(t, parquet.NewSink[total](dir, parquet.SinkOptions{}), want)
	readBoth(t, filepath.Join(dir, "*.parquet"), func(t *testing.T, rows []total, dead []sdk.DeadLetter) {
		if len(rows) != 2 || len(dead) != 0 {
			t.Fatalf("rows %v, dead letters %v", rows, dead)
		}
		for i := range want {
			if !rows[i].Start.Equal(want[i].Start) || !rows[i].End.Equal(want[i].End) {
				t.Errorf("row %d: %v, want %v", i, rows[i], want[i])
			}
		}
	})

	type nanos struct {
		ID string    `parquet:"id"`
		At time.Time `parquet:"at"` // nanoseconds, parquet-go's default
	}
	w, err := parquet.NewSink[nanos](t.TempDir(), parquet.SinkOptions{}).Open(sdk.SinkContext{Context: context.Background()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b := sdk.NewBatch[nanos](2)
	b.Values = append(b.Values, nanos{"ok", time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)}, nanos{"far", year9999})
	err = w.Write(context.Background(), b)
	if err == nil || !strings.Contains(err.Error(), "column at: time 9999-12-31T23:59:59.999999999Z does not fit timestamp(nanosecond) (1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z); tag the field timestamp(microsecond)") {
		t.Errorf("write of year 9999 as nanoseconds: %v", err)
	}
	if err := parquet.WriteFile(filepath.Join(t.TempDir(), "x.parquet"), b.Values, 0); err == nil {
		t.Error("WriteFile wrote year 9999 as nanoseconds")
	}
}

// writeSink writes rows through one task of s and commits them.
func writeSink[T any](t *testing.T, s sdk.Sink[T], rows []T) {
	t.Helper()
	w, err := s.Open(sdk.SinkContext{Context: context.Background()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b := sdk.NewBatch[T](len(rows))
	b.Values = append(b.Values, rows...)
	if err := w.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := w.PreCommit(1); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(1); err != nil {
		t.Fatal(err)
	}
}

// TestDescribeRecord: the runner's dead letters for a row the reader
// returned (a null event time) get the row as JSON and its position, also
// after rows the reader dropped itself.
func TestDescribeRecord(t *testing.T) {
	type optTxn struct {
		UserID   string `parquet:"user_id"`
		Amount   int64  `parquet:"amount"`
		Merchant string `parquet:"merchant"`
		At       *int64 `parquet:"ts,timestamp(microsecond),optional"`
	}
	at := func(v int64) *int64 { return &v }
	rows := []optTxn{
		{"a", 1, "m", at(1)},
		{"b", 2, "m", at(math.MaxInt64)}, // dropped: year 294247
		{"c", 3, "m", nil},               // returned with the zero time
		{"d", 4, "m", at(4)},
		{"e", 5, "m", nil},
	}
	path := filepath.Join(t.TempDir(), "opt.parquet")
	mustWrite(t, path, rows, 0)
	for _, generic := range []bool{false, true} {
		src := parquet.NewSource[txn](path, parquet.SourceOptions{GenericReader: generic})
		splits, err := src.Splits(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r, err := src.Open(context.Background(), splits[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		d, ok := r.(interface {
			DescribeRecord(i int, v *txn) ([]byte, string)
		})
		if !ok {
			t.Fatal("the reader does not describe its records")
		}
		b := sdk.NewBatch[txn](5)
		dead, err := r.ReadBatch(context.Background(), b, 5)
		r.Close()
		if err != nil && !errors.Is(err, sdk.ErrEndOfSplit) {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].Source != path+" row group 0 row 1" {
			t.Errorf("GenericReader=%v: dead letters %v, want row 1", generic, dead)
		}
		wantRows := []int{0, 2, 3, 4}
		if len(b.Values) != len(wantRows) {
			t.Fatalf("GenericReader=%v: %d values, want %d", generic, len(b.Values), len(wantRows))
		}
		for i, row := range wantRows {
			rec, source := d.DescribeRecord(i, &b.Values[i])
			if source != fmt.Sprintf("%s row group 0 row %d", path, row) || !strings.Contains(string(rec), `"UserID":"`+rows[row].UserID+`"`) {
				t.Errorf("GenericReader=%v: value %d: %s %s, want row %d", generic, i, rec, source, row)
			}
		}
		if !b.Values[1].At.IsZero() || !b.Values[3].At.IsZero() {
			t.Errorf("GenericReader=%v: null event times read as %v and %v, want the zero time", generic, b.Values[1].At, b.Values[3].At)
		}
	}
}
