package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// joinData is two inputs of keyed events for the join tests, each in a
// few splits, with event times disordered within bound.
type joinData struct {
	left, right [][]ev
	bound       time.Duration
}

// genJoinData makes splits of rows events over keys keys. Right-hand
// events of one key never share a time (a temporal join's versions must
// be unambiguous).
func genJoinData(seed int64, splits, rows, keys int) joinData {
	rnd := rand.New(rand.NewSource(seed))
	const bound = 40
	gen := func(side int, unique bool) [][]ev {
		seen := map[string]bool{}
		var out [][]ev
		for s := range splits {
			var d []ev
			ts := int64(rnd.Intn(100))
			for i := range rows {
				ts += int64(rnd.Intn(8))
				at := ts - int64(rnd.Intn(bound+1))
				k := fmt.Sprintf("k%d", rnd.Intn(keys))
				if unique {
					id := fmt.Sprintf("%s@%d", k, at)
					if seen[id] {
						continue
					}
					seen[id] = true
				}
				d = append(d, e(k, side*100000+s*1000+i, at))
			}
			out = append(out, d)
		}
		return out
	}
	return joinData{left: gen(1, false), right: gen(2, true), bound: bound * µs}
}

func flat(splits [][]ev) []ev {
	var out []ev
	for _, s := range splits {
		out = append(out, s...)
	}
	return out
}

// pairString is what the join tests emit for a pair, with its time.
func pairString(a, b ev, ok bool, at base.Timestamp) string {
	if !ok {
		return fmt.Sprintf("%s %d - @%d", a.Key, a.V, at)
	}
	return fmt.Sprintf("%s %d %d @%d", a.Key, a.V, b.V, at)
}

// stamped is a sink's row with its event time, for the join tests.
func stamped(s *runnertest.Sink[string]) []string {
	var out []string
	for _, r := range s.Rows() {
		out = append(out, fmt.Sprintf("%s #%d", r.Value, r.Time))
	}
	slices.Sort(out)
	return out
}

// refIntervalJoin is the naive interval join: every pair with equal keys
// and b.ts in [a.ts+lower, a.ts+upper], at the later time.
func refIntervalJoin(d joinData, lower, upper time.Duration) []string {
	var out []string
	for _, a := range flat(d.left) {
		for _, b := range flat(d.right) {
			ta, tb := base.FromTime(a.At), base.FromTime(b.At)
			if a.Key == b.Key && tb >= ta+base.Timestamp(lower.Microseconds()) && tb <= ta+base.Timestamp(upper.Microseconds()) {
				at := max(ta, tb)
				out = append(out, fmt.Sprintf("%s #%d", pairString(a, b, true, at), at))
			}
		}
	}
	slices.Sort(out)
	return out
}

// refTemporalJoin is the naive temporal join: each left event with the
// right event of its key with the largest time <= its own.
func refTemporalJoin(d joinData) []string {
	var out []string
	for _, a := range flat(d.left) {
		ta := base.FromTime(a.At)
		var (
			best ev
			bt   base.Timestamp
			ok   bool
		)
		for _, b := range flat(d.right) {
			tb := base.FromTime(b.At)
			if b.Key == a.Key && tb <= ta && (!ok || tb > bt) {
				best, bt, ok = b, tb, true
			}
		}
		out = append(out, fmt.Sprintf("%s #%d", pairString(a, best, ok, ta), ta))
	}
	slices.Sort(out)
	return out
}

type joinKind int

const (
	intervalJoin joinKind = iota
	temporalJoin
)

func (k joinKind) String() string { return [...]string{"interval", "temporal"}[k] }

const (
	joinLower = -25 * time.Microsecond
	joinUpper = 30 * time.Microsecond
)

// joinJob builds the pipeline of one join kind over d, writing to out;
// hook, when not nil, is called before every read of either side.
func joinJob(kind joinKind, d joinData, out *runnertest.Sink[string], hook func(split string, row int) error) *sdk.Pipeline {
	p, _ := joinPipeline(kind, d, out, hook)
	return p
}

// joinPipeline is joinJob, returning the join's result too.
func joinPipeline(kind joinKind, d joinData, out *runnertest.Sink[string], hook func(split string, row int) error) (*sdk.Pipeline, sdk.PCollection[string]) {
	p := sdk.NewPipeline(sdk.JobName("join"))
	ls := &runnertest.Source[ev]{Data: d.left, ReadSize: 8, ReadErr: hook}
	rs := &runnertest.Source[ev]{Data: d.right, ReadSize: 8, ReadErr: hook}
	l := sdk.KeyBy(read(p, ls, sdk.BoundedOutOfOrderness(d.bound)), func(x ev) string { return x.Key })
	r := sdk.KeyBy(read(p, rs, sdk.BoundedOutOfOrderness(d.bound)), func(x ev) string { return x.Key })
	var joined sdk.PCollection[string]
	switch kind {
	case intervalJoin:
		joined = sdk.IntervalJoin(l, r, joinLower, joinUpper, func(a, b ev) string {
			return pairString(a, b, true, max(base.FromTime(a.At), base.FromTime(b.At)))
		})
	case temporalJoin:
		joined = sdk.TemporalJoin(l, r, func(a, b ev, ok bool) string {
			return pairString(a, b, ok, base.FromTime(a.At))
		})
	}
	sdk.Write(joined, out)
	return p, joined
}

// TestJoinsAgainstReference runs each join kind on disordered data at
// parallelism 1, 2 and 4, in batch and stream mode, and compares its rows
// and their event times with a nested-loop reference.
func TestJoinsAgainstReference(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	d := genJoinData(seed, 3, 400, 6)
	for _, kind := range []joinKind{intervalJoin, temporalJoin} {
		t.Run(kind.String(), func(t *testing.T) {
			want := refIntervalJoin(d, joinLower, joinUpper)
			if kind == temporalJoin {
				want = refTemporalJoin(d)
			}
			if len(want) < 100 {
				t.Fatalf("only %d reference rows: the data does not exercise the join", len(want))
			}
			for _, o := range []Options{
				{Parallelism: 1},
				{Parallelism: 2, BatchSize: 16},
				{Parallelism: 4},
				{Parallelism: 1, Mode: Stream},
				{Parallelism: 4, Mode: Stream, BatchSize: 8},
			} {
				out := &runnertest.Sink[string]{}
				st := mustRun(t, joinJob(kind, d, out, nil), o)
				if st.Late != 0 {
					t.Fatalf("%+v: %d records late", o, st.Late)
				}
				got := stamped(out)
				if !slices.Equal(got, want) {
					sameResults(t, got, want)
					t.Fatalf("%+v: same rows, other order?", o)
				}
			}
		})
	}
}

// TestTemporalJoinVersionsAhead holds the records back until every
// version has been read, so that the versions input's watermark is ahead
// of the records (+∞ once it ends): records are joined as they arrive,
// with versions still waiting for the watermark of both inputs, and the
// rows are the reference's all the same.
func TestTemporalJoinVersionsAhead(t *testing.T) {
	d := genJoinData(7, 3, 300, 5)
	want := refTemporalJoin(d)
	nRight := int64(len(flat(d.right)))
	for _, o := range []Options{
		{Parallelism: 1},
		{Parallelism: 2, BatchSize: 16},
		{Parallelism: 1, Mode: Stream},
		{Parallelism: 4, Mode: Stream, BatchSize: 8},
	} {
		m := new(graph.Metrics)
		o.Metrics = m
		// RowsIn counts the versions alone until the records' first read
		// returns.
		gate := func(string, int) error {
			deadline := time.Now().Add(30 * time.Second)
			for m.RowsIn.Load() < nRight {
				if time.Now().After(deadline) {
					return errors.New("versions not read in 30 s")
				}
				time.Sleep(50 * time.Microsecond)
			}
			return nil
		}
		p := sdk.NewPipeline(sdk.JobName("join"))
		ls := &runnertest.Source[ev]{Data: d.left, ReadSize: 8, ReadErr: gate}
		rs := &runnertest.Source[ev]{Data: d.right, ReadSize: 8}
		l := sdk.KeyBy(read(p, ls, sdk.BoundedOutOfOrderness(d.bound)), func(x ev) string { return x.Key })
		r := sdk.KeyBy(read(p, rs, sdk.BoundedOutOfOrderness(d.bound)), func(x ev) string { return x.Key })
		out := &runnertest.Sink[string]{}
		sdk.Write(sdk.TemporalJoin(l, r, func(a, b ev, ok bool) string {
			return pairString(a, b, ok, base.FromTime(a.At))
		}), out)
		if st := mustRun(t, p, o); st.Late != 0 {
			t.Fatalf("%+v: %d records late", o, st.Late)
		}
		if got := stamped(out); !slices.Equal(got, want) {
			sameResults(t, got, want)
			t.Fatalf("%+v: same rows, other order?", o)
		}
	}
}

// stopWithSavepoints runs p in stream mode at each parallelism of pars in
// turn: every run but the last is stopped with a savepoint once the
// sources made reads×(its number+1) reads (each slowed by 20µs through
// hook, which p's sources call), and the next run resumes from it. rows
// is how many rows are out, for the log.
func stopWithSavepoints(t *testing.T, p *sdk.Pipeline, hook *atomic.Pointer[func(string, int) error], pars []int, reads int64, rows func() int) {
	t.Helper()
	dir := t.TempDir()
	from := ""
	for i, par := range pars {
		last := i == len(pars)-1
		stop := make(chan struct{})
		var once atomic.Bool
		var n atomic.Int64
		slow := func(string, int) error {
			time.Sleep(20 * time.Microsecond)
			if !last && n.Add(1) > reads*int64(i+1) && once.CompareAndSwap(false, true) {
				close(stop)
			}
			return nil
		}
		hook.Store(&slow)
		sp := filepath.Join(dir, fmt.Sprintf("sp%d", i))
		o := Options{Parallelism: par, Mode: Stream, Stop: stop, FromSavepoint: from, Logf: quietLogf(t)}
		if !last {
			o.SavepointDir = sp
		}
		st, err := Run(context.Background(), p, o)
		if err != nil {
			t.Fatalf("run %d at parallelism %d: %v", i, par, err)
		}
		t.Logf("run %d at parallelism %d: restored from %d, %d rows in, %d rows out", i, par, st.RestoredFrom, st.RowsIn, rows())
		from = sp
	}
}

// TestJoinSavepointRescale stops each join kind with a savepoint twice,
// resuming it at another parallelism each time: the output equals the
// reference exactly, none missing and none twice.
func TestJoinSavepointRescale(t *testing.T) {
	d := genJoinData(7, 3, 600, 5)
	for _, kind := range []joinKind{intervalJoin, temporalJoin} {
		t.Run(kind.String(), func(t *testing.T) {
			want := refIntervalJoin(d, joinLower, joinUpper)
			if kind == temporalJoin {
				want = refTemporalJoin(d)
			}
			out := &runnertest.Sink[string]{}
			var hook atomic.Pointer[func(string, int) error]
			p := joinJob(kind, d, out, func(split string, row int) error {
				if f := hook.Load(); f != nil {
					return (*f)(split, row)
				}
				return nil
			})
			stopWithSavepoints(t, p, &hook, []int{2, 4, 1}, 10, func() int { return len(out.Rows()) })
			sameResults(t, stamped(out), want)
		})
	}
}
