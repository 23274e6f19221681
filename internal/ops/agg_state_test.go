package ops

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/internal/keyed"
	"github.com/weirflow/weir/sdk/codec"
	"github.com/weirflow/weir/state"
)

var (
	stringCodec = Codec[string]{
		Append: func(dst []byte, v *string) []byte { return codec.AppendString(dst, *v) },
		Decode: func(src []byte, v *string) (int, error) {
			r := codec.NewReader(src)
			*v = r.String()
			return r.Done()
		},
	}
	int64Codec = Codec[int64]{
		Append: func(dst []byte, v *int64) []byte { return codec.AppendInt(dst, *v) },
		Decode: func(src []byte, v *int64) (int, error) {
			r := codec.NewReader(src)
			*v = r.Int()
			return r.Done()
		},
	}
)

// stateMode is how aggHarness keeps the operator's state.
type stateMode struct {
	name    string
	backend bool  // a Pebble backend (on a memory FS)
	memory  int64 // StateMemory
	// restore: before every step, Snapshot, snapshot the backends, and
	// restore new operators from them with the next parallelism of tasks
	// (cycled; rows are routed to tasks by key group, watermarks go to all).
	restore bool
	tasks   []int
}

var stateModes = []stateMode{
	{name: "memory"},
	{name: "backend", backend: true},
	{name: "spill", backend: true, memory: 1},
	{name: "restore", backend: true, restore: true, tasks: []int{1}},
	{name: "restore-spill", backend: true, memory: 1, restore: true, tasks: []int{1}},
	{name: "rescale", backend: true, restore: true, tasks: []int{2, 3, 1}},
	{name: "rescale-spill", backend: true, memory: 1, restore: true, tasks: []int{3, 2}},
}

const aggMaxPar = 8

// aggHarness drives one or more aggregation operators (one per task) over
// a script and renders their output like run.
type aggHarness struct {
	t        *testing.T
	cfg      AggConfig[string, kv, int64, int64]
	mode     stateMode
	fs       vfs.FS
	ops      []graph.Operator
	backends []*state.Backend
	res      *collect[base.Result[string, int64]]
	late     *collect[kv]
	m        *graph.Metrics
	ckpt     base.CheckpointID
	dirs     int
	restores int
	stats    aggStateStats // of closed operators
}

// addStats adds the state statistics of op.
func (h *aggHarness) addStats(op graph.Operator) {
	if st := op.(*aggOp[string, kv, int64, int64]).st; st != nil {
		h.stats.evicted += st.stats.evicted
		h.stats.loaded += st.stats.loaded
		h.stats.firedStored += st.stats.firedStored
	}
}

func newAggHarness(t *testing.T, spec WindowSpec, lateness int64, mode stateMode) *aggHarness {
	h := &aggHarness{
		t: t,
		cfg: AggConfig[string, kv, int64, int64]{Spec: spec, Lateness: lateness, Key: keyOf, Comb: sumComb{},
			Hash: BuiltinHash[string](), KeyCodec: stringCodec, AccCodec: int64Codec, StateMemory: mode.memory},
		mode: mode,
		fs:   vfs.NewMem(),
		res:  &collect[base.Result[string, int64]]{},
		late: &collect[kv]{},
		m:    &graph.Metrics{},
	}
	if !mode.backend {
		h.open(nil, 0)
		return h
	}
	b, err := state.Open(state.Options{Dir: h.dir(), FS: h.fs, MaxParallelism: aggMaxPar})
	if err != nil {
		t.Fatal(err)
	}
	h.open([]*state.Backend{b}, 0)
	return h
}

func (h *aggHarness) dir() string { h.dirs++; return fmt.Sprintf("d%d", h.dirs) }

func (h *aggHarness) open(bs []*state.Backend, restored base.CheckpointID) {
	h.t.Helper()
	h.backends = bs
	h.ops = nil
	n := max(len(bs), 1)
	for i := range n {
		op := NewWindowAgg(h.cfg)()
		ctx := graph.OpContext{Metrics: h.m, Task: i, Tasks: n, MaxParallelism: aggMaxPar, Restored: restored}
		if bs != nil {
			ctx.State = keyed.NewView(bs[i], "agg")
		}
		if err := op.Open(ctx, []graph.Output{h.res, h.late}); err != nil {
			h.t.Fatal(err)
		}
		h.ops = append(h.ops, op)
	}
}

// checkpoint snapshots every operator and backend and restores from them
// with the next parallelism.
func (h *aggHarness) checkpoint() {
	h.t.Helper()
	h.ckpt++
	var dirs []string
	for i, op := range h.ops {
		if err := op.(graph.Stateful).Snapshot(h.ckpt); err != nil {
			h.t.Fatal(err)
		}
		d := h.dir()
		if _, err := h.backends[i].Snapshot(d); err != nil {
			h.t.Fatal(err)
		}
		dirs = append(dirs, d)
		h.addStats(op)
		if err := op.Close(); err != nil {
			h.t.Fatal(err)
		}
		if err := h.backends[i].Close(); err != nil {
			h.t.Fatal(err)
		}
	}
	n := h.mode.tasks[h.restores%len(h.mode.tasks)]
	h.restores++
	var bs []*state.Backend
	for i := range n {
		s, e := base.KeyGroupRange(i, n, aggMaxPar)
		b, err := state.Restore(state.Options{Dir: h.dir(), FS: h.fs, MaxParallelism: aggMaxPar,
			KeyGroups: state.KeyGroupRange{Start: uint16(s), End: uint16(e)}}, dirs)
		if err != nil {
			h.t.Fatal(err)
		}
		bs = append(bs, b)
	}
	h.open(bs, h.ckpt)
}

func (h *aggHarness) process(rows []kv, ts, marks []base.Timestamp) {
	h.t.Helper()
	n := len(h.ops)
	batches := make([]*base.Batch[kv], n)
	for i := range batches {
		batches[i] = base.NewBatch[kv](len(rows))
	}
	for i, r := range rows {
		task := base.TaskOf(base.KeyGroupOf(h.cfg.Hash(r.K), aggMaxPar), n, aggMaxPar)
		if marks != nil {
			batches[task].AppendMarked(r, ts[i], marks[i])
		} else {
			batches[task].Append(r, ts[i])
		}
	}
	for i, op := range h.ops {
		if batches[i].Len() == 0 {
			continue
		}
		if err := op.Process(0, batches[i]); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *aggHarness) watermark(wm base.Timestamp) {
	h.t.Helper()
	for _, op := range h.ops {
		if err := op.Watermark(wm); err != nil {
			h.t.Fatal(err)
		}
	}
}

// drain renders and clears the output, sorted.
func (h *aggHarness) drain(prefix string) []string {
	var lines []string
	for i, r := range h.res.rows {
		lines = append(lines, fmt.Sprintf("%s%s %v=%d pane=%d late=%v ts=%s", prefix, r.Key, fmtWin(r.Window), r.Value, r.Pane.Index, r.Pane.Late, fmtTs(int64(h.res.ts[i]))))
	}
	for _, r := range h.late.rows {
		lines = append(lines, fmt.Sprintf("%slate %s/%d", prefix, r.K, r.V))
	}
	slices.Sort(lines)
	h.res.rows, h.res.ts, h.late.rows, h.late.ts = nil, nil, nil, nil
	return lines
}

func (h *aggHarness) close() {
	for _, op := range h.ops {
		h.addStats(op)
		op.Close()
	}
	for _, b := range h.backends {
		b.Close()
	}
}

// runMode is run under a state mode.
func runMode(t *testing.T, spec WindowSpec, lateness int64, steps []step, mode stateMode) string {
	t.Helper()
	h := newAggHarness(t, spec, lateness, mode)
	defer h.close()
	var out []string
	for _, s := range steps {
		if mode.restore {
			h.checkpoint()
		}
		if s.wm != nil {
			h.watermark(base.Timestamp(*s.wm))
			out = append(out, h.drain(fmt.Sprintf("wm %s: ", fmtTs(*s.wm)))...)
			continue
		}
		var marks []base.Timestamp
		if s.mark != nil {
			marks = []base.Timestamp{base.Timestamp(*s.mark)}
		}
		h.process([]kv{s.row}, []base.Timestamp{base.Timestamp(s.ts)}, marks)
		out = append(out, h.drain(fmt.Sprintf("row %s/%d@%d: ", s.row.K, s.row.V, s.ts))...)
	}
	for _, op := range h.ops {
		if err := op.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(out, "\n")
}

// TestWindowAggState: every script of TestWindowAgg and TestWindowAggMarks
// gives the same output with state in a backend, spilled, and restored
// (also into other parallelisms) before every step.
func TestWindowAggState(t *testing.T) {
	cases := append(slices.Clone(windowAggCases), windowAggMarkCases...)
	for _, mode := range stateModes {
		for _, tc := range cases {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				if got := runMode(t, tc.spec, tc.lateness, tc.steps, mode); got != tc.want {
					t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
				}
			})
		}
	}
}

// randomScript returns a seeded script of rows over many keys, in batches,
// with disorder, marks and advancing watermarks.
func randomScript(seed uint64, n int) []scriptStep {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []scriptStep
	now := int64(0)
	wmark := int64(base.MinTimestamp)
	for len(out) < n {
		if r.IntN(8) == 0 {
			wmark = max(wmark, now-int64(r.IntN(30)))
			out = append(out, scriptStep{wm: wmark})
			continue
		}
		var st scriptStep
		for range 1 + r.IntN(20) {
			now += int64(r.IntN(3))
			ts := now - int64(r.IntN(40)) // out of order, some late
			st.rows = append(st.rows, kv{K: fmt.Sprintf("k%d", r.IntN(50)), V: int64(r.IntN(100))})
			st.ts = append(st.ts, base.Timestamp(ts))
			st.marks = append(st.marks, base.Timestamp(max(wmark, now-int64(r.IntN(25)))))
		}
		out = append(out, st)
	}
	return append(out, scriptStep{wm: int64(base.MaxTimestamp)})
}

// scriptStep is a batch of rows, or a watermark when rows is nil.
type scriptStep struct {
	rows  []kv
	ts    []base.Timestamp
	marks []base.Timestamp
	wm    int64
}

func runScript(t *testing.T, spec WindowSpec, lateness int64, script []scriptStep, mode stateMode, checkpointEvery int) string {
	t.Helper()
	h := newAggHarness(t, spec, lateness, mode)
	defer h.close()
	var out []string
	for i, s := range script {
		if mode.restore && i%checkpointEvery == checkpointEvery-1 {
			h.checkpoint()
		}
		if s.rows == nil {
			h.watermark(base.Timestamp(s.wm))
			out = append(out, h.drain(fmt.Sprintf("%d wm %s: ", i, fmtTs(s.wm)))...)
			continue
		}
		h.process(s.rows, s.ts, s.marks)
		out = append(out, h.drain(fmt.Sprintf("%d: ", i))...)
	}
	if got := h.m.Late.Load(); got != int64(strings.Count(strings.Join(out, "\n"), ": late ")) {
		t.Errorf("late metric %d does not match late rows", got)
	}
	h.close()
	h.ops, h.backends = nil, nil
	s := h.stats
	switch {
	case mode.memory > 0 && !mode.restore && (s.evicted == 0 || s.loaded+s.firedStored == 0):
		t.Errorf("spill mode did not exercise the spill paths: %+v", s)
	case mode.restore && s.loaded+s.firedStored == 0:
		t.Errorf("restore mode did not load state: %+v", s)
	case mode.memory == 0 && s.evicted > 0:
		t.Errorf("evictions without a memory budget: %+v", s)
	case !mode.restore && mode.memory == 0 && s.loaded+s.firedStored > 0:
		t.Errorf("backend reads without spills: %+v", s)
	}
	return strings.Join(out, "\n")
}

// TestWindowAggStateRandom compares every state mode with the in-memory
// operator over seeded random scripts with many keys.
func TestWindowAggStateRandom(t *testing.T) {
	specs := []struct {
		name     string
		spec     WindowSpec
		lateness int64
	}{
		{"tumbling", tumbling10, 0},
		{"tumbling-lateness", tumbling10, 15},
		{"sliding-lateness", WindowSpec{Kind: WindowSliding, Size: 20, Slide: 5}, 10},
		{"session", WindowSpec{Kind: WindowSession, Gap: 6}, 0},
		{"session-lateness", WindowSpec{Kind: WindowSession, Gap: 6}, 12},
	}
	n, seeds, everies := 300, uint64(2), []int{3, 11}
	if testing.Short() {
		n, seeds, everies = 100, 1, []int{5}
	}
	for _, sp := range specs {
		for seed := uint64(1); seed <= seeds; seed++ {
			script := randomScript(seed, n)
			want := runScript(t, sp.spec, sp.lateness, script, stateModes[0], 1)
			if strings.Count(want, "\n") < 50 {
				t.Fatalf("%s: script too small: %d lines", sp.name, strings.Count(want, "\n"))
			}
			for _, mode := range stateModes[1:] {
				for i, every := range everies {
					if !mode.restore && i > 0 {
						continue
					}
					t.Run(fmt.Sprintf("%s/%d/%s/%d", sp.name, seed, mode.name, every), func(t *testing.T) {
						mode := mode
						if mode.memory == 1 {
							mode.memory = 2000 // a few dozen entries: partial spills
						}
						got := runScript(t, sp.spec, sp.lateness, script, mode, every)
						if got != want {
							t.Errorf("differs from the in-memory run:\n%s", firstDiff(got, want))
						}
					})
				}
			}
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n got  %q\n want %q", i+1, a, b)
		}
	}
	return "equal"
}

// TestWindowAggStateNoCodec: without an accumulator codec the operator
// runs in memory, but cannot checkpoint or restore.
func TestWindowAggStateNoCodec(t *testing.T) {
	b, err := state.Open(state.Options{Dir: "db", FS: vfs.NewMem(), MaxParallelism: aggMaxPar})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := AggConfig[string, kv, int64, int64]{Spec: tumbling10, Key: keyOf, Comb: sumComb{},
		Hash: BuiltinHash[string](), KeyCodec: stringCodec}
	res := &collect[base.Result[string, int64]]{}
	op := NewWindowAgg(cfg)()
	ctx := graph.OpContext{MaxParallelism: aggMaxPar, State: keyed.NewView(b, "agg")}
	if err := op.Open(ctx, []graph.Output{res}); err != nil {
		t.Fatal(err)
	}
	in := base.NewBatch[kv](1)
	in.Append(kv{"a", 3}, 5)
	if err := op.Process(0, in); err != nil {
		t.Fatal(err)
	}
	if err := op.Watermark(base.MaxTimestamp); err != nil || len(res.rows) != 1 || res.rows[0].Value != 3 {
		t.Fatalf("in-memory fallback: rows %v, err %v", res.rows, err)
	}
	serr := op.(interface{ StateError() error }).StateError()
	if serr == nil || !strings.Contains(serr.Error(), "accumulator type int64 has no codec") {
		t.Fatalf("StateError = %v", serr)
	}
	if err := op.(graph.Stateful).Snapshot(1); err == nil {
		t.Fatal("Snapshot succeeded without a codec")
	}
	ctx.Restored = 1
	if err := NewWindowAgg(cfg)().Open(ctx, []graph.Output{res}); err == nil {
		t.Fatal("restore succeeded without a codec")
	}
}

// padComb's accumulator is a string of accPad bytes (the key, padded), so
// each entry encodes to about accPad bytes from its first record on.
type padComb struct{}

const accPad = 500

func (padComb) Create() string { return "" }
func (padComb) Add(a string, r kv) string {
	if a != "" {
		return a
	}
	return r.K + strings.Repeat(".", accPad-len(r.K))
}
func (padComb) Merge(a, b string) string { return a + b }
func (padComb) Result(a string) string   { return a }

// TestWindowAggStateMemoryEstimate: the estimate of an entry's size is
// right from the first entries, so the cached entries' real size stays
// near StateMemory before the first eviction as after it.
func TestWindowAggStateMemoryEstimate(t *testing.T) {
	const budget = 16 << 20
	for _, tc := range []struct {
		name string
		spec WindowSpec
	}{
		{"tumbling", WindowSpec{Kind: WindowTumbling, Size: 1 << 40, Slide: 1 << 40}},
		{"session", WindowSpec{Kind: WindowSession, Gap: 1 << 40}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			be, err := state.Open(state.Options{Dir: "db", FS: vfs.NewMem(), MaxParallelism: aggMaxPar, CacheBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer be.Close()
			op := NewWindowAgg(AggConfig[string, kv, string, string]{Spec: spec, Key: keyOf, Comb: padComb{},
				Hash: BuiltinHash[string](), KeyCodec: stringCodec, AccCodec: stringCodec, StateMemory: budget})()
			res, late := &collect[base.Result[string, string]]{}, &collect[kv]{}
			ctx := graph.OpContext{MaxParallelism: aggMaxPar, State: keyed.NewView(be, "agg")}
			if err := op.Open(ctx, []graph.Output{res, late}); err != nil {
				t.Fatal(err)
			}
			defer op.Close()
			ao := op.(*aggOp[string, kv, string, string])
			const nkeys = 100000 // about 3× the budget
			batch := base.NewBatch[kv](1024)
			peak := 0.0
			for i := 0; i < nkeys; {
				batch.Reset()
				for j := 0; j < 1024 && i < nkeys; j++ {
					batch.Append(kv{K: fmt.Sprintf("key-%07d", i)}, base.Timestamp(i))
					i++
				}
				if err := op.Process(0, batch); err != nil {
					t.Fatal(err)
				}
				// The real size of what is cached: the fixed part and the
				// encoded key and entry (all entries have the same size).
				real := float64(int64(ao.cached) * (ao.st.fixed + int64(encodedSize(ao))))
				peak = max(peak, real/budget)
			}
			if peak > 1.2 {
				t.Fatalf("the cached entries reached %.2f× StateMemory (want at most 1.2×)", peak)
			}
			if ao.st.stats.evicted == 0 {
				t.Fatal("nothing was evicted")
			}
			t.Logf("peak %.2f× StateMemory, %d evicted", peak, ao.st.stats.evicted)
		})
	}
}

// encodedSize returns the encoded size of the key and value of one cached
// entry of o.
func encodedSize(o *aggOp[string, kv, string, string]) int {
	for k, ks := range o.sessions {
		return len(o.appendKey(nil, k)) + len(o.appendSessions(nil, ks.ss))
	}
	for _, p := range o.panes {
		for k, e := range p.accs {
			return len(o.appendKey(nil, k)) + len(o.appendEntry(nil, e))
		}
	}
	return 0
}
