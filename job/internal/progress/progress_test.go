package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/graph"
)

func TestGroup(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {271739, "271,739"},
		{1234567, "1,234,567"}, {-1234, "-1,234"},
	} {
		if got := Group(tc.n); got != tc.want {
			t.Errorf("Group(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestETA(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
		ok          bool
	}{
		{0, 100, time.Second, "", false},
		{50, 0, time.Second, "", false},
		{50, 100, 0, "", false},
		{50, 100, 4 * time.Second, "4s", true},
		{100, 100, 4 * time.Second, "0s", true},
		{10, 100, 15 * time.Second, "2m15s", true},
		{1, 100, time.Minute, "1h39m", true},
	} {
		got, ok := ETA(tc.done, tc.total, tc.elapsed)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ETA(%d, %d, %v) = %q, %v; want %q, %v", tc.done, tc.total, tc.elapsed, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       Snapshot
		elapsed time.Duration
		want    string
	}{
		{
			name:    "one sink",
			s:       Snapshot{RowsIn: 500000, RowsOut: 4213, DeadLettered: 3, Sinks: []SinkRows{{"results", 4213}}},
			elapsed: 1840 * time.Millisecond,
			want:    "fraud: done: rows in 500000, rows out 4213, late 0, dead-lettered 3, 1.84 s, 271,739 rows/s",
		},
		{
			name:    "two sinks and skipped",
			s:       Snapshot{RowsIn: 1000, RowsOut: 12, Late: 2, Skipped: 5, Sinks: []SinkRows{{"late", 2}, {"results", 10}}},
			elapsed: 2 * time.Second,
			want:    "fraud: done: rows in 1000, rows out 12 (late 2, results 10), late 2, dead-lettered 0, skipped 5, 2.00 s, 500 rows/s",
		},
		{
			name: "no time",
			s:    Snapshot{},
			want: "fraud: done: rows in 0, rows out 0, late 0, dead-lettered 0, 0.00 s, 0 rows/s",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summary("fraud", tc.s, tc.elapsed); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestBarLine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       Snapshot
		elapsed time.Duration
		want    string
	}{
		{
			name:    "known total",
			s:       Snapshot{RowsIn: 1_750_000, RowsTotal: 5_000_000},
			elapsed: 2 * time.Second,
			want:    "fraud: [#######.............]  35%  1,750,000/5,000,000 rows  875,000 rows/s  ETA 4s",
		},
		{
			name:    "start",
			s:       Snapshot{RowsTotal: 10},
			elapsed: 0,
			want:    "fraud: [....................]   0%  0/10 rows  0 rows/s",
		},
		{
			name:    "more than total",
			s:       Snapshot{RowsIn: 12, RowsTotal: 10},
			elapsed: time.Second,
			want:    "fraud: [####################] 100%  12/10 rows  12 rows/s  ETA 0s",
		},
		{
			name:    "unknown total",
			s:       Snapshot{RowsIn: 4000, RowsTotal: -1},
			elapsed: 2 * time.Second,
			want:    "fraud: 4,000 rows  2,000 rows/s",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := BarLine("fraud", tc.s, tc.elapsed, 20); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestPlainLine(t *testing.T) {
	got := PlainLine("fraud", Snapshot{RowsIn: 1_750_000, RowsTotal: 5_000_000}, 2*time.Second)
	want := "fraud: read 1,750,000 of 5,000,000 rows (35%), 875,000 rows/s"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	got = PlainLine("fraud", Snapshot{RowsIn: 10, RowsTotal: 0}, time.Second)
	want = "fraud: read 10 rows, 10 rows/s"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestTake(t *testing.T) {
	var m graph.Metrics
	m.RowsIn.Store(10)
	m.RowsTotal.Store(20)
	m.RowsOut.Store(3)
	m.Late.Store(1)
	m.DeadLettered.Store(2)
	m.Skipped.Store(4)
	m.SinkRows("results").Store(2)
	m.SinkRows("late").Store(1)
	s := Take(&m)
	if s.RowsIn != 10 || s.RowsTotal != 20 || s.RowsOut != 3 || s.Late != 1 || s.DeadLettered != 2 || s.Skipped != 4 {
		t.Errorf("counters: %+v", s)
	}
	if len(s.Sinks) != 2 || s.Sinks[0] != (SinkRows{"late", 1}) || s.Sinks[1] != (SinkRows{"results", 2}) {
		t.Errorf("sinks: %+v", s.Sinks)
	}
}

// syncBuffer is a writer the reporting goroutine and the test share. Each
// Write is also signalled on wrote, so a test can wait for a redraw.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{wrote: make(chan struct{}, 100)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrote <- struct{}{}
	return s.b.Write(p)
}

// waitWrite waits for one write, failing the test after a deadline.
func (s *syncBuffer) waitWrite(t *testing.T) {
	t.Helper()
	select {
	case <-s.wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("no write within 10s")
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeClock advances by step on every reading.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

func TestReporterBar(t *testing.T) {
	var m graph.Metrics
	m.RowsTotal.Store(100)
	w := newSyncBuffer()
	ticks := make(chan time.Time)
	clk := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	r := New(w, &m, Options{Name: "fraud", Mode: Bar, Width: 10, Now: clk.Now, Ticks: ticks})
	r.Start()
	m.RowsIn.Store(50)
	ticks <- time.Time{}
	w.waitWrite(t)
	m.RowsIn.Store(100)
	m.RowsOut.Store(7)
	m.SinkRows("results").Store(7)
	ticks <- time.Time{}
	w.waitWrite(t)
	r.Summary()
	r.Stop() // idempotent
	got := w.String()
	// Clock readings: start 0, tick 1s, tick 2s, summary 3s.
	bar1 := "fraud: [#####.....]  50%  50/100 rows  50 rows/s  ETA 1s"
	bar2 := "fraud: [##########] 100%  100/100 rows  50 rows/s  ETA 0s"
	want := "\r" + bar1 + "\r" + bar2 + "\r" + strings.Repeat(" ", len(bar2)) + "\r" +
		"fraud: done: rows in 100, rows out 7, late 0, dead-lettered 0, 3.00 s, 33 rows/s\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestReporterLines(t *testing.T) {
	var m graph.Metrics
	w := newSyncBuffer()
	ticks := make(chan time.Time)
	clk := &fakeClock{t: time.Unix(0, 0), step: 4 * time.Second}
	r := New(w, &m, Options{Name: "fraud", Mode: Lines, LineInterval: 10 * time.Second, Now: clk.Now, Ticks: ticks})
	r.Start()
	m.RowsIn.Store(40)
	for range 4 { // readings at 4s, 8s, 12s (line), 16s
		ticks <- time.Time{}
	}
	r.Summary() // 20s
	want := "fraud: read 40 rows, 3 rows/s\n" +
		"fraud: done: rows in 40, rows out 0, late 0, dead-lettered 0, 20.00 s, 2 rows/s\n"
	if got := w.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestReporterOff(t *testing.T) {
	var m graph.Metrics
	w := newSyncBuffer()
	clk := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	r := New(w, &m, Options{Name: "fraud", Now: clk.Now})
	r.Start()
	r.Summary()
	want := "fraud: done: rows in 0, rows out 0, late 0, dead-lettered 0, 1.00 s, 0 rows/s\n"
	if got := w.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Stop without Start does not block.
	New(w, &m, Options{Mode: Bar}).Stop()

	// The job's name ends the line.
	w = newSyncBuffer()
	r = New(w, &m, Options{Name: "fraud", Job: "fraud-1a2b3c4d", Now: clk.Now})
	r.Summary()
	if got, want := w.String(), "fraud: done: rows in 0, rows out 0, late 0, dead-lettered 0, 1.00 s, 0 rows/s; job fraud-1a2b3c4d\n"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestReporterColumns(t *testing.T) {
	var m graph.Metrics
	m.RowsTotal.Store(100)
	w := newSyncBuffer()
	ticks := make(chan time.Time)
	clk := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	r := New(w, &m, Options{Name: "fraud", Mode: Bar, Width: 10, Columns: 21, Now: clk.Now, Ticks: ticks})
	r.Start()
	ticks <- time.Time{}
	w.waitWrite(t)
	r.Stop()
	want := "\rfraud: [..........] \r" + strings.Repeat(" ", 20) + "\r"
	if got := w.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
