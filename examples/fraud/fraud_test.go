package fraud_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/io/jsonl"
	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/sdk"
)

// sizes returns the number of transactions and users of the end-to-end
// tests: hundreds of thousands of events, fewer under -short.
func sizes() (rows, users int) {
	if testing.Short() {
		return 20_000, 2_000
	}
	return 300_000, 5_000
}

// genOptions is the data of the on-time tests: disorder within the 30s
// bound, so no event is late whatever the read order.
func genOptions() fraudgen.Options {
	rows, users := sizes()
	return fraudgen.Options{Rows: rows, Users: users, Partitions: 5, Span: 2 * time.Hour, Disorder: 25 * time.Second, Seed: 42}
}

// loopTotals is the pipeline computed with a plain Go loop, for data with
// no late events: keep amounts over 1000, group by user and the 5-minute
// window containing the event time, sum and count.
func loopTotals(parts [][]fraud.Txn) []string {
	type key struct {
		user  string
		start int64
	}
	const size = int64(5 * time.Minute / time.Microsecond)
	acc := map[key][2]int64{}
	for _, part := range parts {
		for _, t := range part {
			if t.Amount <= 1000 {
				continue
			}
			us := t.At.UnixMicro()
			start := us / size * size
			if us < 0 && us%size != 0 {
				start -= size
			}
			a := acc[key{t.UserID, start}]
			acc[key{t.UserID, start}] = [2]int64{a[0] + t.Amount, a[1] + 1}
		}
	}
	var rows []string
	for k, a := range acc {
		rows = append(rows, rowString(fraud.UserTotal{
			UserID:      k.user,
			WindowStart: time.UnixMicro(k.start).UTC(),
			WindowEnd:   time.UnixMicro(k.start + size).UTC(),
			Total:       a[0],
			Count:       a[1],
		}))
	}
	slices.Sort(rows)
	return rows
}

func rowString(r fraud.UserTotal) string {
	return fmt.Sprintf("%s %s %s %d %d", r.UserID, r.WindowStart.UTC().Format(time.RFC3339Nano),
		r.WindowEnd.UTC().Format(time.RFC3339Nano), r.Total, r.Count)
}

func rowStrings(rows []fraud.UserTotal) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = rowString(r)
	}
	slices.Sort(out)
	return out
}

// shuffled returns parts in an order drawn from seed, so that file names
// and the order files are written in do not follow the partitions.
func shuffled(parts [][]fraud.Txn, seed uint64) [][]fraud.Txn {
	out := slices.Clone(parts)
	r := rand.New(rand.NewPCG(seed, seed))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func rowsPerGroup() int {
	if testing.Short() {
		return 1_500
	}
	return 8_000
}

// run runs the pipeline in process from src into dir and returns the
// metrics.
func run(t *testing.T, src sdk.Source[fraud.Txn], dir string, o runner.Options) *graph.Metrics {
	t.Helper()
	p := sdk.NewPipeline(sdk.JobName("fraud"))
	fraud.Build(p, src,
		jsonl.NewSink[fraud.UserTotal](dir, jsonl.SinkOptions{}),
		jsonl.NewSink[fraud.Txn](filepath.Join(dir, "late"), jsonl.SinkOptions{}),
		fraud.Options{})
	o.Metrics = new(graph.Metrics)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := runner.Run(ctx, p, o); err != nil {
		t.Fatalf("run: %v", err)
	}
	return o.Metrics
}

// readLines returns the lines of the *.jsonl files directly in dir.
func readLines(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				lines = append(lines, l)
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return lines
}

// readTotals decodes the output rows in dir, checking the JSON shape of
// every line: exactly the five fields, times in RFC 3339 UTC with Z.
func readTotals(t *testing.T, dir string) []string {
	t.Helper()
	var rows []fraud.UserTotal
	for i, l := range readLines(t, dir) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("output line %d %q: %v", i, l, err)
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"count", "total", "user_id", "window_end", "window_start"}; !slices.Equal(keys, want) {
			t.Fatalf("output line %q: fields %v, want %v", l, keys, want)
		}
		for _, f := range []string{"window_start", "window_end"} {
			var s string
			if err := json.Unmarshal(m[f], &s); err != nil || !strings.HasSuffix(s, "Z") {
				t.Fatalf("output line %q: %s is %s, want an RFC 3339 UTC time ending in Z", l, f, m[f])
			}
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				t.Fatalf("output line %q: %s: %v", l, f, err)
			}
		}
		var r fraud.UserTotal
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rowStrings(rows)
}

func diffRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	missing, extra := 0, 0
	g := map[string]bool{}
	for _, r := range got {
		g[r] = true
	}
	w := map[string]bool{}
	for _, r := range want {
		w[r] = true
		if !g[r] && missing < 5 {
			t.Errorf("  missing %s", r)
			missing++
		}
	}
	for _, r := range got {
		if !w[r] && extra < 5 {
			t.Errorf("  extra   %s", r)
			extra++
		}
	}
}

func TestBackfillParquetMatchesLoop(t *testing.T) {
	parts := fraudgen.Generate(genOptions())
	want := loopTotals(parts)
	if len(want) < 1000 {
		t.Fatalf("only %d expected rows; the data is too small to test anything", len(want))
	}
	// Reference rows of the package's own reference implementation agree
	// with the plain loop when nothing is late.
	ref, late := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second)
	if late != 0 {
		t.Fatalf("fraudgen.Expected: %d late events in on-time data", late)
	}
	diffRows(t, "fraudgen.Expected", rowStrings(ref), want)

	in := t.TempDir()
	if _, err := fraudgen.WriteParquet(in, shuffled(parts, 1), rowsPerGroup()); err != nil {
		t.Fatal(err)
	}
	glob := filepath.Join(in, "*.parquet")
	// workers > 1: the tasks spread over workers joined by the network
	// exchange give the same rows.
	for _, tc := range []struct{ par, workers int }{{1, 0}, {4, 0}, {4, 2}, {3, 3}} {
		t.Run(fmt.Sprintf("parallelism=%d workers=%d", tc.par, tc.workers), func(t *testing.T) {
			out := t.TempDir()
			m := run(t, parquet.NewSource[fraud.Txn](glob, parquet.SourceOptions{}), out,
				runner.Options{Parallelism: tc.par, NetworkWorkers: tc.workers})
			diffRows(t, "output", readTotals(t, out), want)
			rows, _ := sizes()
			if got := m.RowsIn.Load(); got != int64(rows) {
				t.Errorf("rows in = %d, want %d", got, rows)
			}
			if got := m.RowsTotal.Load(); got != int64(rows) {
				t.Errorf("rows total (from footers) = %d, want %d", got, rows)
			}
			if m.Late.Load() != 0 || m.DeadLettered.Load() != 0 {
				t.Errorf("late %d, dead-lettered %d; want 0, 0", m.Late.Load(), m.DeadLettered.Load())
			}
			if got := len(readLines(t, filepath.Join(out, "late"))); got != 0 {
				t.Errorf("%d late rows written, want 0", got)
			}
		})
	}
}

// TestBackfillFileOrder writes the same partitions under other file names:
// the files are listed and read in another order, the rows are the same.
func TestBackfillFileOrder(t *testing.T) {
	parts := fraudgen.Generate(genOptions())
	want := loopTotals(parts)
	for _, seed := range []uint64{2, 3} {
		in := t.TempDir()
		order := shuffled(parts, seed)
		slices.Reverse(order)
		if _, err := fraudgen.WriteParquet(in, order, rowsPerGroup()); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		run(t, parquet.NewSource[fraud.Txn](filepath.Join(in, "*.parquet"), parquet.SourceOptions{}), out, runner.Options{Parallelism: 2})
		diffRows(t, fmt.Sprintf("order %d", seed), readTotals(t, out), want)
	}
}

func TestBackfillJSONLMatchesParquet(t *testing.T) {
	parts := fraudgen.Generate(genOptions())
	want := loopTotals(parts)
	inJ, inP := t.TempDir(), t.TempDir()
	if _, err := fraudgen.WriteJSONL(inJ, parts); err != nil {
		t.Fatal(err)
	}
	if _, err := fraudgen.WriteParquet(inP, parts, rowsPerGroup()); err != nil {
		t.Fatal(err)
	}
	outJ, outP := t.TempDir(), t.TempDir()
	run(t, jsonl.NewSource[fraud.Txn](filepath.Join(inJ, "*.jsonl"), jsonl.SourceOptions{}), outJ, runner.Options{Parallelism: 3})
	run(t, parquet.NewSource[fraud.Txn](filepath.Join(inP, "*.parquet"), parquet.SourceOptions{}), outP, runner.Options{Parallelism: 3})
	gotJ, gotP := readTotals(t, outJ), readTotals(t, outP)
	diffRows(t, "jsonl vs parquet", gotJ, gotP)
	diffRows(t, "jsonl vs loop", gotJ, want)
}

// TestBackfillLate reads partitions with deliberately late events, as
// JSONL files and as Parquet files of one row group (one split each, as
// fraudgen.Expected models them), at parallelism 1, 2 and 4, in batch and
// stream mode. A record is
// late iff its own split's watermark before it has passed its window, so
// the late count and the output rows equal the reference's exactly,
// whatever the parallelism, batching or which task reads which split; and
// every large transaction is either in a window's count or in the late
// output.
func TestBackfillLate(t *testing.T) {
	rows, users := sizes()
	o := fraudgen.Options{Rows: rows / 4, Users: users, Partitions: 3, Span: 2 * time.Hour,
		Disorder: 20 * time.Second, LateFraction: 0.01, Seed: 9}
	parts := fraudgen.Generate(o)
	want, wantLate := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second)
	if wantLate == 0 {
		t.Fatal("no late events generated")
	}
	large := 0
	for _, part := range parts {
		for _, tx := range part {
			if fraud.Large(tx) {
				large++
			}
		}
	}
	inJ, inP := t.TempDir(), t.TempDir()
	if _, err := fraudgen.WriteJSONL(inJ, parts); err != nil {
		t.Fatal(err)
	}
	if _, err := fraudgen.WriteParquet(inP, parts, o.Rows); err != nil { // one row group per file
		t.Fatal(err)
	}
	sources := []struct {
		name string
		src  func() sdk.Source[fraud.Txn]
	}{
		{"jsonl", func() sdk.Source[fraud.Txn] {
			return jsonl.NewSource[fraud.Txn](filepath.Join(inJ, "*.jsonl"), jsonl.SourceOptions{})
		}},
		{"parquet", func() sdk.Source[fraud.Txn] {
			return parquet.NewSource[fraud.Txn](filepath.Join(inP, "*.parquet"), parquet.SourceOptions{})
		}},
	}
	type mode struct {
		name string
		mode runner.Mode
	}
	for _, sc := range sources {
		for _, md := range []mode{{"batch", runner.Batch}, {"stream", runner.Stream}} {
			for _, par := range []int{1, 2, 4} {
				t.Run(fmt.Sprintf("%s/%s/parallelism=%d", sc.name, md.name, par), func(t *testing.T) {
					out := t.TempDir()
					m := run(t, sc.src(), out, runner.Options{Parallelism: par, Mode: md.mode})
					got := readTotals(t, out)
					lateRows := readLines(t, filepath.Join(out, "late"))
					for _, l := range lateRows {
						var tx fraud.Txn
						if err := json.Unmarshal([]byte(l), &tx); err != nil || tx.Amount <= fraud.Threshold {
							t.Fatalf("late row %q: %v (amount must be over the threshold)", l, err)
						}
					}
					if m.Late.Load() != int64(len(lateRows)) {
						t.Errorf("late counter %d, late rows written %d", m.Late.Load(), len(lateRows))
					}
					counted := 0
					for _, r := range got {
						var c int
						fmt.Sscanf(r[strings.LastIndexByte(r, ' ')+1:], "%d", &c)
						counted += c
					}
					if counted+len(lateRows) != large {
						t.Errorf("%d counted in windows + %d late = %d, want every one of %d large transactions",
							counted, len(lateRows), counted+len(lateRows), large)
					}
					diffRows(t, "output", got, rowStrings(want))
					if len(lateRows) != wantLate {
						t.Errorf("%d late, want %d", len(lateRows), wantLate)
					}
				})
			}
		}
	}
}
