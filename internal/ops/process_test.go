package ops

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/keyed"
	"github.com/weirflow/weir/state"
)

const procMaxPar = 8

// procHarness drives one keyed process operator over a real state backend
// on an in-memory file system, with an injected processing-time clock.
type procHarness struct {
	t     *testing.T
	fs    vfs.FS
	b     *state.Backend
	op    graph.Operator
	out   *collect[string]
	clock base.Timestamp
	cfg   ProcessConfig[string, kv, string, *ProcessCtx[string, string]]
}

func newProcHarness(t *testing.T, onElem func(*ProcessCtx[string, string], kv) error,
	onTimer func(*ProcessCtx[string, string], ProcessTimer) error) *procHarness {
	t.Helper()
	h := &procHarness{t: t, fs: vfs.NewMem(), clock: 1_000_000}
	h.cfg = ProcessConfig[string, kv, string, *ProcessCtx[string, string]]{
		Key:        keyOf,
		Hash:       BuiltinHash[string](),
		AppendKey:  func(dst []byte, k *string) []byte { return append(dst, *k...) },
		DecodeKey:  func(src []byte) (string, error) { return string(src), nil },
		NewContext: func(c *ProcessCtx[string, string]) *ProcessCtx[string, string] { return c },
		OnElement:  onElem,
		OnTimer:    onTimer,
		Now:        func() base.Timestamp { return h.clock },
	}
	b, err := state.Open(state.Options{Dir: "db", FS: h.fs, MaxParallelism: procMaxPar})
	if err != nil {
		t.Fatal(err)
	}
	h.open(b, 0)
	t.Cleanup(func() {
		h.op.Close()
		h.b.Close()
	})
	return h
}

func (h *procHarness) open(b *state.Backend, restored base.CheckpointID) {
	h.t.Helper()
	h.b = b
	h.out = &collect[string]{}
	h.op = NewProcess(h.cfg)()
	ctx := graph.OpContext{MaxParallelism: procMaxPar, State: keyed.NewView(b, "proc"), Restored: restored}
	if err := h.op.Open(ctx, []graph.Output{h.out}); err != nil {
		h.t.Fatal(err)
	}
}

// elems processes one batch of rows "key:value@ts".
func (h *procHarness) elems(rows ...string) {
	h.t.Helper()
	in := base.NewBatch[kv](len(rows))
	for _, r := range rows {
		k, rest, _ := strings.Cut(r, ":")
		v, tsS, _ := strings.Cut(rest, "@")
		n, err1 := strconv.ParseInt(v, 10, 64)
		ts, err2 := strconv.ParseInt(tsS, 10, 64)
		if err1 != nil || err2 != nil {
			h.t.Fatalf("bad row %q", r)
		}
		in.Append(kv{k, n}, base.Timestamp(ts))
	}
	if err := h.op.Process(0, in); err != nil {
		h.t.Fatal(err)
	}
}

func (h *procHarness) wm(ts int64) {
	h.t.Helper()
	if err := h.op.Watermark(base.Timestamp(ts)); err != nil {
		h.t.Fatal(err)
	}
}

// take returns the rows emitted since the last take, "row@ts" each.
func (h *procHarness) take() []string {
	var s []string
	for i, r := range h.out.rows {
		s = append(s, fmt.Sprintf("%s@%d", r, h.out.ts[i]))
	}
	h.out.rows, h.out.ts = nil, nil
	return s
}

func (h *procHarness) expect(want ...string) {
	h.t.Helper()
	got := h.take()
	if !slices.Equal(got, want) {
		h.t.Fatalf("emitted\n  %q\nwant\n  %q", got, want)
	}
}

// restart snapshots the backend, restores it into a fresh one and reopens
// a fresh operator on it, as the runner does after a failure.
func (h *procHarness) restart(id base.CheckpointID) {
	h.t.Helper()
	if err := h.op.(graph.Stateful).Snapshot(id); err != nil {
		h.t.Fatal(err)
	}
	dir := fmt.Sprintf("snap-%d", id)
	if _, err := h.b.Snapshot(dir); err != nil {
		h.t.Fatal(err)
	}
	h.op.Close()
	h.b.Close()
	b, err := state.Restore(state.Options{Dir: fmt.Sprintf("db-%d", id), FS: h.fs, MaxParallelism: procMaxPar}, []string{dir})
	if err != nil {
		h.t.Fatal(err)
	}
	h.open(b, id)
}

var (
	countSpec = &StateSpec{Name: "count", Kind: ValueKind}
	listSpec  = &StateSpec{Name: "seen", Kind: ListKind}
	mapSpec   = &StateSpec{Name: "byValue", Kind: MapKind}
)

// stateElem keeps, per key, a count (value), the values seen (list) and
// how often each value was seen (map), and emits all three.
func stateElem(c *ProcessCtx[string, string], r kv) error {
	st := c.State()
	n := 0
	if b, ok, err := st.GetValue(countSpec); err != nil {
		return err
	} else if ok {
		n, _ = strconv.Atoi(string(b))
	}
	n++
	if err := st.PutValue(countSpec, []byte(strconv.Itoa(n))); err != nil {
		return err
	}
	if r.V < 0 {
		if err := st.ClearList(listSpec); err != nil {
			return err
		}
		if err := st.ClearMap(mapSpec); err != nil {
			return err
		}
	} else {
		if err := st.AppendList(listSpec, []byte(strconv.FormatInt(r.V, 10))); err != nil {
			return err
		}
		mk := []byte(strconv.FormatInt(r.V, 10))
		m := 0
		if b, ok, err := st.GetMap(mapSpec, mk); err != nil {
			return err
		} else if ok {
			m, _ = strconv.Atoi(string(b))
		}
		if err := st.PutMap(mapSpec, mk, []byte(strconv.Itoa(m+1))); err != nil {
			return err
		}
	}
	if r.V == 0 {
		if err := st.DeleteMap(mapSpec, []byte("0")); err != nil {
			return err
		}
	}
	var list, entries []string
	if err := st.IterateList(listSpec, func(p []byte) error { list = append(list, string(p)); return nil }); err != nil {
		return err
	}
	if err := st.IterateMap(mapSpec, func(mk, p []byte) error {
		entries = append(entries, string(mk)+"="+string(p))
		return nil
	}); err != nil {
		return err
	}
	c.Emit(fmt.Sprintf("%s n=%d list=%v map=%v", c.Key(), n, list, entries))
	return nil
}

func TestProcessStateKinds(t *testing.T) {
	h := newProcHarness(t, stateElem, nil)
	h.elems("a:1@10", "b:5@11", "a:2@12", "a:1@13")
	h.expect(
		"a n=1 list=[1] map=[1=1]@10",
		"b n=1 list=[5] map=[5=1]@11",
		"a n=2 list=[1 2] map=[1=1 2=1]@12",
		"a n=3 list=[1 2 1] map=[1=2 2=1]@13",
	)
	h.elems("a:0@20", "a:-1@21", "a:7@22", "b:6@23")
	h.expect(
		"a n=4 list=[1 2 1 0] map=[1=2 2=1]@20", // 0 put, then deleted
		"a n=5 list=[] map=[]@21",               // cleared
		"a n=6 list=[7] map=[7=1]@22",
		"b n=2 list=[5 6] map=[5=1 6=1]@23",
	)
	h.restart(1)
	h.elems("a:7@30", "b:5@31")
	h.expect(
		"a n=7 list=[7 7] map=[7=2]@30",
		"b n=3 list=[5 6 5] map=[5=2 6=1]@31",
	)
}

func TestProcessStateKindMismatch(t *testing.T) {
	h := newProcHarness(t, func(c *ProcessCtx[string, string], r kv) error {
		if err := c.State().PutValue(countSpec, []byte("1")); err != nil {
			return err
		}
		return c.State().AppendList(&StateSpec{Name: "count", Kind: ListKind}, []byte("x"))
	}, nil)
	in := base.NewBatch[kv](1)
	in.Append(kv{"a", 1}, 1)
	err := h.op.Process(0, in)
	if err == nil || !strings.Contains(err.Error(), `state "count" is used as value and list state`) {
		t.Fatalf("Process = %v, want a kind mismatch", err)
	}
}

// timerElem registers an event-time timer at ts+V, or deletes the one at
// ts+V (V negative: at ts-|V|... see the cases) when V is negative.
func timerElem(d TimeDomain, base0 base.Timestamp) func(c *ProcessCtx[string, string], r kv) error {
	return func(c *ProcessCtx[string, string], r kv) error {
		at := base0
		if d == EventTime {
			at = c.Timestamp()
		} else if at == 0 {
			at = c.ProcessingTime()
		}
		if r.V < 0 {
			return c.DeleteTimer(d, at.AddMicros(-r.V))
		}
		return c.RegisterTimer(d, at.AddMicros(r.V))
	}
}

func firedLine(c *ProcessCtx[string, string], tm ProcessTimer) string {
	return fmt.Sprintf("%s %s %d wm=%s", c.Key(), tm.Domain, tm.Time, c.Watermark())
}

func TestProcessEventTimers(t *testing.T) {
	elem := timerElem(EventTime, 0)
	h := newProcHarness(t, func(c *ProcessCtx[string, string], r kv) error {
		if c.Key() == "s" {
			if err := c.State().PutValue(countSpec, []byte("hello")); err != nil {
				return err
			}
		}
		return elem(c, r)
	}, func(c *ProcessCtx[string, string], tm ProcessTimer) error {
		if tm.Domain != EventTime || c.Timestamp() != tm.Time {
			return fmt.Errorf("timer %+v seen at %d", tm, c.Timestamp())
		}
		c.Emit(firedLine(c, tm))
		st := c.State()
		switch {
		case c.Key() == "r" && tm.Time < 100:
			// A chain: each firing sets the next one, due at once.
			return c.RegisterTimer(EventTime, tm.Time+10)
		case c.Key() == "p" && tm.Time == 75:
			// A timer in the past fires in this call, before later ones.
			return c.RegisterTimer(EventTime, 60)
		case c.Key() == "q" && tm.Time == 72:
			// Deleting a due timer cancels it.
			return c.DeleteTimer(EventTime, 95)
		case c.Key() == "s":
			// State of the timer's key is in scope.
			v, ok, err := st.GetValue(countSpec)
			if err != nil || !ok {
				return fmt.Errorf("s's value: %v %v", ok, err)
			}
			c.Emit("s has " + string(v))
		}
		return nil
	})
	// a@20 twice makes one timer.
	h.elems("b:20@10", "a:10@10", "c:5@10", "a:10@10")
	h.wm(14)
	h.expect()
	h.wm(15)
	h.expect("c event-time 15 wm=1970-01-01T00:00:00.000015Z@15")
	h.elems("b:-20@10") // deletes b's timer at 30
	h.wm(40)
	h.expect("a event-time 20 wm=1970-01-01T00:00:00.00004Z@20")

	h.elems("r:30@40", "p:35@40", "q:32@40", "q:55@40")
	h.restart(1) // timers survive a restore
	h.wm(200)
	h.expect(
		"r event-time 70 wm=1970-01-01T00:00:00.0002Z@70",
		"q event-time 72 wm=1970-01-01T00:00:00.0002Z@72",
		"p event-time 75 wm=1970-01-01T00:00:00.0002Z@75",
		"p event-time 60 wm=1970-01-01T00:00:00.0002Z@60",
		"r event-time 80 wm=1970-01-01T00:00:00.0002Z@80",
		"r event-time 90 wm=1970-01-01T00:00:00.0002Z@90",
		"r event-time 100 wm=1970-01-01T00:00:00.0002Z@100",
	)
	// A timer set behind the watermark fires at the next advance; a
	// watermark that does not advance fires nothing.
	h.elems("s:0@150")
	h.wm(200)
	h.expect()
	h.wm(201)
	h.expect("s event-time 150 wm=1970-01-01T00:00:00.000201Z@150", "s has hello@150")

	// Equal times fire in key-group order, then key order.
	keys := []string{"k1", "k2", "k3", "k4", "k5", "k6"}
	var rows, want []string
	for _, k := range keys {
		rows = append(rows, k+":100@900")
	}
	h.elems(rows...)
	h.wm(1000)
	kgOf := func(k string) base.KeyGroup { return base.KeyGroupOf(BuiltinHash[string]()(k), procMaxPar) }
	slices.SortFunc(keys, func(a, b string) int {
		if c := int(kgOf(a)) - int(kgOf(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		want = append(want, k+" event-time 1000 wm=1970-01-01T00:00:00.001Z@1000")
	}
	h.expect(want...)

}

func TestProcessFinish(t *testing.T) {
	var h *procHarness
	h = newProcHarness(t, timerElem(EventTime, 0), func(c *ProcessCtx[string, string], tm ProcessTimer) error {
		c.Emit(firedLine(c, tm))
		if tm.Domain == ProcessingTime {
			// Timers set while finishing fire too.
			return c.RegisterTimer(EventTime, 5)
		}
		return nil
	})
	h.elems("a:10@5", "b:1000@5")
	h.wm(20)
	h.expect("a event-time 15 wm=1970-01-01T00:00:00.00002Z@15")
	h.elems("c:1@7")
	in := base.NewBatch[kv](1)
	in.Append(kv{"p", 0}, 9)
	h.cfg.OnElement = nil
	pc := h.op.(*processOp[string, kv, string, *ProcessCtx[string, string]])
	pc.cfg.OnElement = func(c *ProcessCtx[string, string], _ kv) error {
		return c.RegisterTimer(ProcessingTime, c.ProcessingTime()+1_000_000)
	}
	if err := h.op.Process(0, in); err != nil {
		t.Fatal(err)
	}
	// The runner sends the final watermark, then calls Finish.
	h.wm(int64(base.MaxTimestamp))
	h.expect(
		"c event-time 8 wm=+inf@8",
		"b event-time 1005 wm=+inf@1005",
	)
	if err := h.op.Finish(); err != nil {
		t.Fatal(err)
	}
	// The processing-time timer fires (its output at the watermark, +inf),
	// then the event-time timer it set.
	h.expect(
		"p processing-time 2000000 wm=+inf@9223372036854775807",
		"p event-time 5 wm=+inf@5",
	)
}

func TestProcessProcessingTimers(t *testing.T) {
	h := newProcHarness(t, timerElem(ProcessingTime, 0), func(c *ProcessCtx[string, string], tm ProcessTimer) error {
		if tm.Domain != ProcessingTime {
			return fmt.Errorf("unexpected %+v", tm)
		}
		c.Emit(fmt.Sprintf("%s %d now=%d", c.Key(), tm.Time, c.ProcessingTime()))
		if c.Key() == "r" && tm.Time < 1_000_300 {
			return c.RegisterTimer(ProcessingTime, tm.Time+100) // due at once: fires in this round
		}
		return nil
	})
	// clock 1_000_000: timers at now+V.
	h.elems("a:100@1", "b:50@2", "c:70@3", "r:200@4")
	h.clock = 1_000_060
	// The check before the batch fires b, whose output carries the
	// watermark (none yet); c:-10 deletes c's timer at now+10.
	h.elems("z:1000@5", "c:-10@6")
	h.expect("b 1000050 now=1000060@-9223372036854775808")
	h.wm(10)
	h.expect()
	h.clock = 1_000_100
	h.wm(11)
	h.expect("a 1000100 now=1000100@11")

	h.restart(1)
	h.clock = 1_000_500
	h.wm(11) // an unchanged watermark still checks the clock
	h.expect(
		"r 1000200 now=1000500@11",
		"r 1000300 now=1000500@11", // set while firing, due: same round
	)
	h.clock = 1_001_060
	h.wm(12)
	h.expect("z 1001060 now=1001060@12")
}

func TestProcessTimerError(t *testing.T) {
	fail := true
	h := newProcHarness(t, timerElem(EventTime, 0), func(c *ProcessCtx[string, string], tm ProcessTimer) error {
		if c.Key() == "b" && fail {
			return errors.New("boom")
		}
		c.Emit(firedLine(c, tm))
		return nil
	})
	h.elems("a:1@1", "b:2@1", "c:3@1")
	if err := h.op.Watermark(10); err == nil || err.Error() != "boom" {
		t.Fatalf("Watermark = %v, want boom", err)
	}
	// The failing timer and those after it stay set; what fired before it
	// went out with the next call.
	fail = false
	h.wm(int64(base.MaxTimestamp))
	h.expect("a event-time 2 wm=1970-01-01T00:00:00.00001Z@2", "b event-time 3 wm=+inf@3", "c event-time 4 wm=+inf@4")
}

var (
	ttlValue = &StateSpec{Name: "v", Kind: ValueKind, TTL: 10 * time.Second}
	ttlList  = &StateSpec{Name: "l", Kind: ListKind, TTL: 10 * time.Second}
	ttlMap   = &StateSpec{Name: "m", Kind: MapKind, TTL: 10 * time.Second}
)

// ttlElem: V=1 puts the value, V=2 appends to the list and puts a map
// entry (named after the clock), V=3 emits what it reads.
func ttlElem(c *ProcessCtx[string, string], r kv) error {
	st := c.State()
	now := strconv.FormatInt(int64(c.ProcessingTime())/1_000_000, 10) + "s"
	switch r.V {
	case 1:
		return st.PutValue(ttlValue, []byte(now))
	case 2:
		if err := st.AppendList(ttlList, []byte(now)); err != nil {
			return err
		}
		return st.PutMap(ttlMap, []byte(now), []byte("x"))
	}
	v, ok, err := st.GetValue(ttlValue)
	if err != nil {
		return err
	}
	var list, mks []string
	if err := st.IterateList(ttlList, func(p []byte) error { list = append(list, string(p)); return nil }); err != nil {
		return err
	}
	if err := st.IterateMap(ttlMap, func(mk, _ []byte) error { mks = append(mks, string(mk)); return nil }); err != nil {
		return err
	}
	c.Emit(fmt.Sprintf("%s value=%s/%v list=%v map=%v", c.Key(), v, ok, list, mks))
	return nil
}

func TestProcessTTL(t *testing.T) {
	h := newProcHarness(t, ttlElem, nil)
	sec := func(s float64) { h.clock = base.Timestamp(s * 1e6) }
	sec(1)
	h.elems("a:1@1", "b:1@1", "b:2@1")
	sec(6)
	h.elems("a:2@2")
	sec(10.9)
	h.elems("a:3@3")
	h.expect("a value=1s/true list=[6s] map=[6s]@3")
	sec(11) // a's value expires at 11s exactly
	h.elems("a:3@4", "a:2@4")
	h.expect("a value=/false list=[6s] map=[6s]@4")
	sec(12)
	h.elems("a:1@5") // a write sets a new expiry (22s)
	sec(16)
	h.elems("a:3@6")
	h.expect("a value=12s/true list=[11s] map=[11s]@6")

	raw := keyed.NewView(h.b, "proc")
	rawCount := func(key string) (n int) {
		t.Helper()
		kg := uint16(base.KeyGroupOf(BuiltinHash[string]()(key), procMaxPar))
		v, _ := raw.Value("state/v")
		if _, ok, err := v.Get(kg, []byte(key)); err != nil {
			t.Fatal(err)
		} else if ok {
			n++
		}
		l, _ := raw.List("state/l")
		ln, err := l.Len(kg, []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := raw.Map("state/m")
		if err := m.Iterate(kg, []byte(key), func(_, _ []byte) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n + ln
	}
	// b is written and never read again: its cleanup timers (at the
	// expiry rounded up to TTL/8 = 1.25s) delete everything once expired,
	// on any call that checks the clock, after a restart too.
	h.elems("b:1@7", "b:2@7") // expire at 26s, cleaned at 26.25s
	if n := rawCount("b"); n != 3 {
		t.Fatalf("b has %d raw entries, want 3", n)
	}
	h.restart(1)
	raw = keyed.NewView(h.b, "proc")
	sec(21.5) // a's list element and map entry (21s) are cleaned at 21.25s
	h.wm(3)
	if n := rawCount("a"); n != 1 {
		t.Fatalf("a has %d raw entries after its list and map expired, want 1 (the value)", n)
	}
	sec(26) // a's value (22s) was cleaned at 22.5s; b's expired, not cleaned yet
	h.wm(4)
	if n, m := rawCount("a"), rawCount("b"); n != 0 || m != 3 {
		t.Fatalf("raw entries: a %d, b %d; want 0, 3", n, m)
	}
	sec(26.25)
	h.wm(5)
	if n := rawCount("b"); n != 0 {
		t.Fatalf("b has %d raw entries after cleanup, want 0", n)
	}
	sec(27)
	h.elems("a:3@8", "b:3@8")
	h.expect("a value=/false list=[] map=[]@8", "b value=/false list=[] map=[]@8")
}

// countingState counts PopUpTo calls on the timer sets of a backend view.
type countingState struct {
	graph.StateBackend
	pops map[string]int
}

type countingTimers struct {
	graph.TimerState
	name string
	pops map[string]int
}

func (s countingState) Timers(name string) (graph.TimerState, error) {
	t, err := s.StateBackend.Timers(name)
	return countingTimers{t, name, s.pops}, err
}

func (t countingTimers) PopUpTo(ts int64, fn func(kg uint16, ts int64, key []byte) error) (int, error) {
	t.pops[t.name]++
	return t.TimerState.PopUpTo(ts, fn)
}

// TestProcessClockChecksAreCheap checks that calls with no processing-time
// timer or TTL cleanup due do not scan the backend's timers.
func TestProcessClockChecksAreCheap(t *testing.T) {
	h := newProcHarness(t, timerElem(ProcessingTime, 0), func(c *ProcessCtx[string, string], tm ProcessTimer) error {
		c.Emit(c.Key())
		return nil
	})
	h.elems("a:100000@1", "b:200000@1") // timers at 1.1 s and 1.2 s
	h.restart(1)                        // Open indexes the stored timers
	cs := countingState{keyed.NewView(h.b, "proc"), map[string]int{}}
	h.op = NewProcess(h.cfg)()
	if err := h.op.Open(graph.OpContext{MaxParallelism: procMaxPar, State: cs, Restored: 1}, []graph.Output{h.out}); err != nil {
		t.Fatal(err)
	}
	base0 := maps(cs.pops)
	for i := range 10 {
		h.clock = base.Timestamp(1_000_000 + 10_000*i)
		h.wm(int64(i))
		if err := h.op.(interface{ OnProcessingTime() error }).OnProcessingTime(); err != nil {
			t.Fatal(err)
		}
	}
	if got := maps(cs.pops); got != base0 {
		t.Fatalf("timer scans with nothing due: %s, after Open %s", got, base0)
	}
	h.clock = 1_150_000
	if err := h.op.(interface{ OnProcessingTime() error }).OnProcessingTime(); err != nil {
		t.Fatal(err)
	}
	h.expect("a@9")
	if cs.pops[eventTimersName] != 1 || cs.pops[procTimersName] != 2 {
		t.Fatalf("timer scans = %v, want 1 event-time (Open), 2 processing-time (Open, then one due)", cs.pops)
	}
}

func maps(m map[string]int) string { return fmt.Sprint(m) }

// BenchmarkProcess counts records per key (10,000 hot keys) in a value
// state, in 1,024-row batches with a watermark after each; "timers" also
// sets an event-time timer per record, firing 60 s of event time later.
func BenchmarkProcess(b *testing.B) {
	b.Run("value", func(b *testing.B) { benchProcess(b, false) })
	b.Run("value+timers", func(b *testing.B) { benchProcess(b, true) })
}

func benchProcess(b *testing.B, timers bool) {
	be, err := state.Open(state.Options{Dir: "db", FS: vfs.NewMem(), MaxParallelism: 128})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	cfg := ProcessConfig[string, kv, string, *ProcessCtx[string, string]]{
		Key:        keyOf,
		Hash:       BuiltinHash[string](),
		AppendKey:  func(dst []byte, k *string) []byte { return append(dst, *k...) },
		DecodeKey:  func(src []byte) (string, error) { return string(src), nil },
		NewContext: func(c *ProcessCtx[string, string]) *ProcessCtx[string, string] { return c },
		OnElement: func(c *ProcessCtx[string, string], r kv) error {
			st := c.State()
			v, _, err := st.GetValue(countSpec)
			if err != nil {
				return err
			}
			n := int64(0)
			if len(v) == 8 {
				n = int64(binary.BigEndian.Uint64(v))
			}
			key, _ := st.Scratch()
			*key = binary.BigEndian.AppendUint64((*key)[:0], uint64(n+1))
			if err := st.PutValue(countSpec, *key); err != nil {
				return err
			}
			if !timers {
				return nil
			}
			return c.RegisterTimer(EventTime, c.Timestamp()+60_000_000)
		},
		Now: func() base.Timestamp { return 0 },
	}
	op := NewProcess(cfg)()
	if err := op.Open(graph.OpContext{MaxParallelism: 128, State: keyed.NewView(be, "p")}, []graph.Output{&collect[string]{}}); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%05d", i)
	}
	in := base.NewBatch[kv](1024)
	b.ReportAllocs()
	b.ResetTimer()
	ts := base.Timestamp(0)
	for i := 0; i < b.N; i += 1024 {
		in.Reset()
		for j := 0; j < 1024; j++ {
			ts += 1000
			in.Append(kv{keys[(i+j*7919)%len(keys)], 1}, ts)
		}
		if err := op.Process(0, in); err != nil {
			b.Fatal(err)
		}
		if err := op.Watermark(ts - 60_000_000); err != nil {
			b.Fatal(err)
		}
	}
}

// TestProcessMapRangeTTL: IterateMapRange returns the live entries in its
// range only.
func TestProcessMapRangeTTL(t *testing.T) {
	h := newProcHarness(t, func(c *ProcessCtx[string, string], r kv) error {
		st := c.State()
		if r.V == 2 {
			now := strconv.FormatInt(int64(c.ProcessingTime())/1_000_000, 10) + "s"
			return st.PutMap(ttlMap, []byte(now), []byte("x"))
		}
		var in []string
		if err := st.IterateMapRange(ttlMap, []byte("2"), []byte("4"), func(mk, _ []byte) error { in = append(in, string(mk)); return nil }); err != nil {
			return err
		}
		c.Emit(fmt.Sprintf("%s range=%v", c.Key(), in))
		return nil
	}, nil)
	for s := 1; s <= 4; s++ {
		h.clock = base.Timestamp(s * 1e6)
		h.elems(fmt.Sprintf("a:2@%d", s))
	}
	h.clock = 12_500_000 // 1s and 2s have expired (at 11s and 12s)
	h.elems("a:4@5")
	h.expect("a range=[3s]@5")
}
