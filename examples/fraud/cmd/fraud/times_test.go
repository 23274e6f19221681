package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/io/iotest"
	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/sdk/codec"
)

// deadLetters reads the dead-letter lines of dir, sorted by source.
func deadLetters(t *testing.T, dir string) []struct{ Record, Reason, Source string } {
	t.Helper()
	var out []struct{ Record, Reason, Source string }
	for _, l := range readLines(t, dir) {
		var d struct{ Record, Reason, Source string }
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("dead letter %q: %v", l, err)
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b struct{ Record, Reason, Source string }) int { return strings.Compare(a.Source, b.Source) })
	return out
}

// rawTotals reads the result lines of dir as text fields (window_end may
// have an expanded year, which encoding/json does not read), sorted.
func rawTotals(t *testing.T, dir string) []string {
	t.Helper()
	var rows []string
	for _, l := range readLines(t, dir) {
		var r struct {
			UserID      string `json:"user_id"`
			WindowStart string `json:"window_start"`
			WindowEnd   string `json:"window_end"`
			Total       int64  `json:"total"`
			Count       int64  `json:"count"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		rows = append(rows, fmt.Sprintf("%s %s %s %d %d", r.UserID, r.WindowStart, r.WindowEnd, r.Total, r.Count))
	}
	slices.Sort(rows)
	return rows
}

// The windows of events at both ends of the event-time range: the end of
// the last window of 9999 is in year 10000, written with an expanded year.
var extremeTotals = []string{
	"first 0001-01-01T00:00:00Z 0001-01-01T00:05:00Z 3000 2",
	"last 9999-12-31T23:55:00Z +10000-01-01T00:00:00Z 7000 2",
	"mid 2024-01-01T00:00:00Z 2024-01-01T00:05:00Z 5000 1",
}

// TestJSONLDeadLetterPositions runs a JSON Lines input with a record
// without event time, one with trailing data, one truncated and events at
// both ends of the event-time range through the binary: each bad line is
// a dead letter with its text, the reason and "line N"; the good ones
// give windows in years 0001 and 9999.
func TestJSONLDeadLetterPositions(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	lines := []string{
		`{"user_id":"first","amount":1500,"merchant":"m","ts":"0001-01-01T00:00:00.000001Z"}`,
		`{"user_id":"first","amount":1500,"merchant":"m","ts":"0001-01-01T00:04:59.999999Z"}`,
		`{"user_id":"mid","amount":5000,"merchant":"m","ts":"2024-01-01T00:00:00Z"}`,
		`{"user_id":"zero","amount":5000,"merchant":"m","ts":"0001-01-01T00:00:00Z"}`,
		`{"user_id":"garbage","amount":5000,"merchant":"m","ts":"2024-01-01T00:01:00Z"} true`,
		`{"user_id":"brace","amount":5000,"merchant":"m","ts":"2024-01-01T00:01:00Z"}}`,
		`{"user_id":"cut","amount":5000,"merchant":"m","ts":"2024-01-01T00:01:00Z"`,
		`{"user_id":"year0","amount":5000,"merchant":"m","ts":"0000-12-31T23:59:59Z"}`,
		`{"user_id":"year10000","amount":5000,"merchant":"m","ts":"+10000-01-01T00:00:00Z"}`,
		`{"user_id":"last","amount":3000,"merchant":"m","ts":"9999-12-31T23:55:00Z"}`,
		`{"user_id":"last","amount":4000,"merchant":"m","ts":"9999-12-31T23:59:59.999999Z"}`,
	}
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(in, "txns.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := execCLI(t, "run", "--mode=batch", "--in=jsonl:"+path, "--out=jsonl:"+out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	oneLine(t, "summary", r.stderr, "rows in 11", "late 0, dead-lettered 6")
	sameRows(t, rawTotals(t, out), extremeTotals)

	want := []struct {
		line   int
		reason string
	}{
		{4, "missing event time (ts)"},
		{5, "json: unexpected data after the JSON object at offset 79"},
		{6, "json: unexpected data after the JSON object at offset 76"},
		{7, "json: field ts: unexpected end of input (truncated JSON?) at offset 73"},
		{8, "event time (ts) 0000-12-31T23:59:59Z is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"},
		{9, "event time (ts) 10000-01-01T00:00:00Z is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"},
	}
	got := deadLetters(t, filepath.Join(out, "dead-letter"))
	if len(got) != len(want) {
		t.Fatalf("dead letters %+v, want %d", got, len(want))
	}
	for i, w := range want {
		d := got[i]
		if d.Source != fmt.Sprintf("%s line %d", path, w.line) || d.Record != lines[w.line-1] || d.Reason != w.reason {
			t.Errorf("dead letter %d:\n got %q %q %q\nwant %q %q %q", i, d.Source, d.Reason, d.Record,
				fmt.Sprintf("%s line %d", path, w.line), w.reason, lines[w.line-1])
		}
	}
}

// rawTxn is fraud.Txn with its event time as raw microseconds, to write
// times beyond the range.
type rawTxn struct {
	UserID   string `parquet:"user_id"`
	Amount   int64  `parquet:"amount"`
	Merchant string `parquet:"merchant"`
	At       int64  `parquet:"ts,timestamp(microsecond)"`
}

// TestParquetExtremeTimes backfills Parquet events at both ends of the
// event-time range: windows in years 0001 and 9999 (the last one ending in
// year 10000); a zero time (a missing event time) and a time in year 10000
// are dead letters naming their row. The results written as Parquet read
// back with the same times through both Parquet readers.
func TestParquetExtremeTimes(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	us := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMicro()
	}
	rows := []rawTxn{ // in time order: nothing is late
		{"first", 1500, "m", us("0001-01-01T00:00:00.000001Z")},
		{"zero", 5000, "m", us("0001-01-01T00:00:00Z")},
		{"first", 1500, "m", us("0001-01-01T00:04:59.999999Z")},
		{"mid", 5000, "m", us("2024-01-01T00:00:00Z")},
		{"last", 3000, "m", us("9999-12-31T23:55:00Z")},
		{"year10000", 5000, "m", us("9999-12-31T23:59:59.999999Z") + 1},
		{"last", 4000, "m", us("9999-12-31T23:59:59.999999Z")},
	}
	path := filepath.Join(in, "txns.parquet")
	if err := parquet.WriteFile(path, rows, 4); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	r := execCLI(t, "run", "--mode=batch", "--in=parquet:"+path, "--out=jsonl:"+out, "--parallelism=2")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	oneLine(t, "summary", r.stderr, "rows in 7", "late 0, dead-lettered 2")
	sameRows(t, rawTotals(t, out), extremeTotals)
	got := deadLetters(t, filepath.Join(out, "dead-letter"))
	if len(got) != 2 ||
		got[0].Source != path+" row group 0 row 1" || got[0].Reason != "missing event time (ts)" ||
		!strings.Contains(got[0].Record, `"user_id":"zero"`) ||
		got[1].Source != path+" row group 1 row 1" ||
		got[1].Reason != "event time (ts) 10000-01-01T00:00:00Z is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z" ||
		!strings.Contains(got[1].Record, `"ts":"+10000-01-01T00:00:00Z"`) {
		t.Errorf("dead letters %+v", got)
	}

	// Results as Parquet: window_end in year 10000 reads back exactly.
	pqOut := filepath.Join(dir, "pq")
	if r := runCLI(t, "run", "--mode=batch", "--in=parquet:"+path, "--out=parquet:"+pqOut); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, generic := range []bool{false, true} {
		src := parquet.NewSource[fraud.UserTotal](filepath.Join(pqOut, "*.parquet"), parquet.SourceOptions{EventTimeColumn: "-", GenericReader: generic})
		chunks, err := iotest.ReadAll[fraud.UserTotal](context.Background(), src, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range chunks {
			if len(c.Dead) != 0 {
				t.Errorf("GenericReader=%v: dead letters %v", generic, c.Dead)
			}
			for _, r := range c.Rows {
				got = append(got, fmt.Sprintf("%s %s %s %d %d", r.UserID, codec.AppendJSONTime(nil, r.WindowStart),
					codec.AppendJSONTime(nil, r.WindowEnd), r.Total, r.Count))
			}
		}
		slices.Sort(got)
		var want []string
		for _, w := range extremeTotals {
			f := strings.Fields(w)
			want = append(want, fmt.Sprintf("%s %q %q %s %s", f[0], f[1], f[2], f[3], f[4]))
		}
		if !slices.Equal(got, want) {
			t.Errorf("GenericReader=%v: Parquet results\n%s\nwant\n%s", generic, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
