package progress

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirflow/weir/internal/graph"
)

// Mode says how progress is shown while a job runs.
type Mode int

const (
	// Off shows nothing until the summary.
	Off Mode = iota
	// Bar redraws one line in place: for terminals.
	Bar
	// Lines prints a plain line every LineInterval: for logs and pipes.
	Lines
)

// Snapshot is a copy of a job's counters at one instant.
type Snapshot struct {
	RowsIn, RowsTotal, RowsOut, Late, DeadLettered, Skipped int64
	// Sinks are the rows written per sink, sorted by name.
	Sinks []SinkRows
}

// SinkRows is the number of rows one sink wrote.
type SinkRows struct {
	Name string
	Rows int64
}

// Take reads m's counters.
func Take(m *graph.Metrics) Snapshot {
	s := Snapshot{
		RowsIn:       m.RowsIn.Load(),
		RowsTotal:    m.RowsTotal.Load(),
		RowsOut:      m.RowsOut.Load(),
		Late:         m.Late.Load(),
		DeadLettered: m.DeadLettered.Load(),
		Skipped:      m.Skipped.Load(),
	}
	for _, n := range m.SinkNames() {
		s.Sinks = append(s.Sinks, SinkRows{Name: n, Rows: m.SinkRows(n).Load()})
	}
	return s
}

// Summary is the line every run ends with, without a newline:
//
//	fraud: done: rows in 500000, rows out 4213, late 0, dead-lettered 3, 1.84 s, 271,739 rows/s
//
// With more than one sink the rows out are broken down per sink. Skipped
// records are shown when there are any.
func Summary(name string, s Snapshot, elapsed time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: done: rows in %d, rows out %d", name, s.RowsIn, s.RowsOut)
	if len(s.Sinks) > 1 {
		b.WriteString(" (")
		for i, k := range s.Sinks {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d", k.Name, k.Rows)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ", late %d, dead-lettered %d", s.Late, s.DeadLettered)
	if s.Skipped > 0 {
		fmt.Fprintf(&b, ", skipped %d", s.Skipped)
	}
	fmt.Fprintf(&b, ", %.2f s, %s rows/s", elapsed.Seconds(), Group(rate(s.RowsIn, elapsed)))
	return b.String()
}

// BarLine is the progress bar line, without a newline or carriage return:
//
//	fraud: [#######.............]  35%  1,750,000/5,000,000 rows  812,345 rows/s  ETA 4s
//
// When the total is unknown (a stream, or inputs without statistics) it
// shows the rows read and the rate only.
func BarLine(name string, s Snapshot, elapsed time.Duration, width int) string {
	r := rate(s.RowsIn, elapsed)
	if s.RowsTotal <= 0 {
		return fmt.Sprintf("%s: %s rows  %s rows/s", name, Group(s.RowsIn), Group(r))
	}
	frac := float64(s.RowsIn) / float64(s.RowsTotal)
	frac = min(max(frac, 0), 1)
	if width < 1 {
		width = 20
	}
	filled := int(frac * float64(width))
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	line := fmt.Sprintf("%s: [%s] %3d%%  %s/%s rows  %s rows/s", name, bar, int(frac*100),
		Group(s.RowsIn), Group(s.RowsTotal), Group(r))
	if eta, ok := ETA(s.RowsIn, s.RowsTotal, elapsed); ok {
		line += "  ETA " + eta
	}
	return line
}

// PlainLine is the progress line for logs, without a newline:
//
//	fraud: read 1,750,000 of 5,000,000 rows (35%), 812,345 rows/s
func PlainLine(name string, s Snapshot, elapsed time.Duration) string {
	r := Group(rate(s.RowsIn, elapsed))
	if s.RowsTotal <= 0 {
		return fmt.Sprintf("%s: read %s rows, %s rows/s", name, Group(s.RowsIn), r)
	}
	pct := min(s.RowsIn*100/s.RowsTotal, 100)
	return fmt.Sprintf("%s: read %s of %s rows (%d%%), %s rows/s", name, Group(s.RowsIn), Group(s.RowsTotal), pct, r)
}

// ETA estimates the time left from the rate so far, formatted as "4s",
// "2m05s" or "1h02m". ok is false when there is no basis for an estimate.
func ETA(done, total int64, elapsed time.Duration) (string, bool) {
	if done <= 0 || total <= 0 || elapsed <= 0 {
		return "", false
	}
	left := total - done
	if left <= 0 {
		return "0s", true
	}
	d := time.Duration(float64(elapsed) * float64(left) / float64(done))
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s), true
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60), true
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60), true
	}
}

func rate(rows int64, elapsed time.Duration) int64 {
	if elapsed <= 0 {
		return 0
	}
	return int64(float64(rows) / elapsed.Seconds())
}

// Group formats n with thousands separators: 271739 → "271,739".
func Group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Options configure a [Reporter]. The zero value shows nothing but the
// summary.
type Options struct {
	// Name prefixes every line ("fraud").
	Name string
	// Job, when set, ends the summary line: "; job fraud-1a2b3c4d".
	Job string
	// Mode is how progress is shown while running.
	Mode Mode
	// Interval is how often the bar is redrawn (default 250ms).
	Interval time.Duration
	// LineInterval is how often a plain line is printed in Lines mode
	// (default 10s).
	LineInterval time.Duration
	// Width is the number of cells of the bar (default 24).
	Width int
	// Columns is the width of the terminal; a longer bar line is cut so
	// that it never wraps (0: unknown, never cut).
	Columns int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Ticks, if set, replaces the redraw ticker: each receive is one
	// redraw opportunity. For tests.
	Ticks <-chan time.Time
}

func (o *Options) ensureDefaults() {
	if o.Name == "" {
		o.Name = "weir"
	}
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	if o.LineInterval <= 0 {
		o.LineInterval = 10 * time.Second
	}
	if o.Width <= 0 {
		o.Width = 24
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Reporter shows a job's progress on w while it runs and its summary when
// it ends.
type Reporter struct {
	w     io.Writer
	m     *graph.Metrics
	o     Options
	start time.Time

	stop chan struct{}
	done chan struct{}
	once sync.Once
	// started is set by Start; Start and Stop are called from one goroutine.
	started bool
	// drawn is the length of the bar line on screen; owned by the
	// reporting goroutine until done is closed.
	drawn    int
	lastLine time.Time
}

// New returns a reporter of m's counters writing to w.
func New(w io.Writer, m *graph.Metrics, o Options) *Reporter {
	o.ensureDefaults()
	return &Reporter{w: w, m: m, o: o, start: o.Now(), stop: make(chan struct{}), done: make(chan struct{})}
}

// Start starts showing progress. It returns at once.
func (r *Reporter) Start() {
	if r.o.Mode == Off || r.started {
		return
	}
	r.started = true
	ticks := r.o.Ticks
	var t *time.Ticker
	if ticks == nil {
		t = time.NewTicker(r.o.Interval)
		ticks = t.C
	}
	r.lastLine = r.start
	go func() {
		defer close(r.done)
		if t != nil {
			defer t.Stop()
		}
		for {
			select {
			case <-r.stop:
				r.clear()
				return
			case <-ticks:
				r.tick()
			}
		}
	}()
}

func (r *Reporter) tick() {
	now := r.o.Now()
	elapsed := now.Sub(r.start)
	s := Take(r.m)
	switch r.o.Mode {
	case Bar:
		line := BarLine(r.o.Name, s, elapsed, r.o.Width)
		if c := r.o.Columns; c > 1 && len(line) > c-1 {
			line = line[:c-1]
		}
		pad := ""
		if n := r.drawn - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprintf(r.w, "\r%s%s", line, pad)
		r.drawn = len(line)
	case Lines:
		if now.Sub(r.lastLine) >= r.o.LineInterval {
			r.lastLine = now
			fmt.Fprintln(r.w, PlainLine(r.o.Name, s, elapsed))
		}
	}
}

// clear erases the bar so the next line starts on a clean line.
func (r *Reporter) clear() {
	if r.drawn > 0 {
		fmt.Fprintf(r.w, "\r%s\r", strings.Repeat(" ", r.drawn))
		r.drawn = 0
	}
}

// Stop stops showing progress and erases the bar; it waits for the
// reporting goroutine. It is safe to call more than once and without Start.
func (r *Reporter) Stop() {
	r.once.Do(func() { close(r.stop) })
	if r.started {
		<-r.done
	}
}

// Summary stops the reporter and prints the summary line.
func (r *Reporter) Summary() {
	r.Stop()
	fmt.Fprintln(r.w, r.Line())
}

// Line is the summary line as of now, without a newline, ending with the
// job's name when Options.Job is set.
func (r *Reporter) Line() string {
	line := Summary(r.o.Name, Take(r.m), r.o.Now().Sub(r.start))
	if r.o.Job != "" {
		line += "; job " + r.o.Job
	}
	return line
}
