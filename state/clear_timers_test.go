package state

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// mapContents returns key's map in kg via Iterate, and checks that Get and
// IsEmpty agree with it for the map keys in probe.
func mapContents(t *testing.T, m *MapState, kg uint16, key string, probe ...string) map[string]string {
	t.Helper()
	got := map[string]string{}
	must(t, m.Iterate(kg, []byte(key), func(mk, v []byte) error {
		got[string(mk)] = string(v)
		return nil
	}))
	empty, err := m.IsEmpty(kg, []byte(key))
	must(t, err)
	if empty != (len(got) == 0) {
		t.Fatalf("IsEmpty(%d, %s) = %v, Iterate found %v", kg, key, empty, got)
	}
	for _, mk := range probe {
		v, ok, err := m.Get(kg, []byte(key), []byte(mk))
		must(t, err)
		if want, wok := got[mk]; ok != wok || string(v) != want {
			t.Fatalf("Get(%d, %s, %s) = %q %v, Iterate found %q %v", kg, key, mk, v, ok, want, wok)
		}
	}
	return got
}

func TestMapClear(t *testing.T) {
	type env struct {
		b  *Backend
		fs vfs.FS
		m  *MapState
	}
	put := func(t *testing.T, e *env, kg uint16, key string, kvs ...string) {
		for i := 0; i < len(kvs); i += 2 {
			must(t, e.m.Put(kg, []byte(key), []byte(kvs[i]), []byte(kvs[i+1])))
		}
	}
	probe := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, e *env)
		want map[string]map[string]string // "kg/key" -> contents after run (and after a Flush and reopen)
	}{
		{"dirty entries", func(t *testing.T, e *env) {
			put(t, e, 1, "k", "a", "1", "b", "2")
			must(t, e.m.Clear(1, []byte("k")))
		}, map[string]map[string]string{"1/k": {}}},
		{"clean cached entries", func(t *testing.T, e *env) {
			put(t, e, 1, "k", "a", "1", "b", "2")
			must(t, e.b.Flush())
			mapContents(t, e.m, 1, "k", probe...) // caches them clean
			must(t, e.m.Clear(1, []byte("k")))
			if got := mapContents(t, e.m, 1, "k", probe...); len(got) != 0 {
				t.Fatalf("after Clear: %v", got)
			}
		}, map[string]map[string]string{"1/k": {}}},
		{"uncached entries before the batch commits", func(t *testing.T, e *env) {
			put(t, e, 1, "k", "a", "1", "b", "2")
			must(t, e.b.Flush())
			e.b.cache.dropMap(appendPrefix(nil, 1, e.m.id, []byte("k")))
			must(t, e.m.Clear(1, []byte("k")))
			for _, mk := range probe { // Get before anything commits the range deletion
				if v, ok, err := e.m.Get(1, []byte("k"), []byte(mk)); ok || err != nil {
					t.Fatalf("Get %s after Clear = %q %v %v", mk, v, ok, err)
				}
			}
			if empty, err := e.m.IsEmpty(1, []byte("k")); !empty || err != nil {
				t.Fatalf("IsEmpty after Clear = %v %v", empty, err)
			}
		}, map[string]map[string]string{"1/k": {}}},
		{"put and delete after clear", func(t *testing.T, e *env) {
			put(t, e, 1, "k", "a", "1", "b", "2", "c", "3")
			must(t, e.b.Flush())
			put(t, e, 1, "k", "a", "1b") // dirty over clean
			must(t, e.m.Clear(1, []byte("k")))
			put(t, e, 1, "k", "b", "new", "d", "4")
			must(t, e.m.Delete(1, []byte("k"), []byte("d")))
			if got := mapContents(t, e.m, 1, "k", probe...); !maps.Equal(got, map[string]string{"b": "new"}) {
				t.Fatalf("after Clear, Put, Delete: %v", got)
			}
		}, map[string]map[string]string{"1/k": {"b": "new"}}},
		{"put after clear written back in the same batch", func(t *testing.T, e *env) {
			put(t, e, 1, "k", "a", "1")
			must(t, e.b.Flush())
			must(t, e.m.Clear(1, []byte("k")))
			put(t, e, 1, "k", "a", "2")
			must(t, e.b.Flush()) // the Set follows the range deletion in one batch
		}, map[string]map[string]string{"1/k": {"a": "2"}}},
		{"twice, and of an empty map", func(t *testing.T, e *env) {
			must(t, e.m.Clear(2, []byte("never")))
			put(t, e, 1, "k", "a", "1")
			must(t, e.m.Clear(1, []byte("k")))
			must(t, e.m.Clear(1, []byte("k")))
		}, map[string]map[string]string{"1/k": {}, "2/never": {}}},
		{"neighbours untouched", func(t *testing.T, e *env) {
			other, err := e.b.Map("other")
			must(t, err)
			must(t, other.Put(1, []byte("k"), []byte("a"), []byte("other")))
			put(t, e, 1, "k", "a", "1")
			put(t, e, 1, "ka", "a", "longer key")
			put(t, e, 1, "", "k", "empty key") // prefix 1|id|0 then "k": must survive
			put(t, e, 2, "k", "a", "other kg")
			must(t, e.b.Flush())
			put(t, e, 1, "kb", "a", "dirty neighbour")
			must(t, e.m.Clear(1, []byte("k")))
			if v, ok, err := other.Get(1, []byte("k"), []byte("a")); !ok || err != nil || string(v) != "other" {
				t.Fatalf("other map: %q %v %v", v, ok, err)
			}
		}, map[string]map[string]string{
			"1/k": {}, "1/ka": {"a": "longer key"}, "1/": {"k": "empty key"},
			"2/k": {"a": "other kg"}, "1/kb": {"a": "dirty neighbour"},
		}},
		{"survives snapshot and restore", func(t *testing.T, e *env) {
			put(t, e, 1, "k", "a", "1", "b", "2")
			put(t, e, 3, "k", "a", "kept")
			must(t, e.b.Flush())
			must(t, e.m.Clear(1, []byte("k")))
			put(t, e, 1, "k", "c", "3")
			_, err := e.b.Snapshot("snap")
			must(t, err)
			must(t, e.b.Close())
			e.b, err = Restore(Options{Dir: "restored", FS: e.fs, MaxParallelism: 8, CacheBytes: e.b.opts.CacheBytes}, []string{"snap"})
			must(t, err)
			e.m, err = e.b.Map("m")
			must(t, err)
			must(t, e.m.Clear(3, []byte("k"))) // clear state that came from the snapshot
		}, map[string]map[string]string{"1/k": {"c": "3"}, "3/k": {}}},
	} {
		for _, cacheBytes := range []int64{0, 1} {
			t.Run(fmt.Sprintf("%s/cache=%d", tc.name, cacheBytes), func(t *testing.T) {
				fs := vfs.NewMem()
				b, err := Open(Options{Dir: "db", FS: fs, MaxParallelism: 8, CacheBytes: cacheBytes})
				must(t, err)
				m, err := b.Map("m")
				must(t, err)
				e := &env{b: b, fs: fs, m: m}
				defer func() { e.b.Close() }()
				tc.run(t, e)
				check := func(when string) {
					for k, want := range tc.want {
						kg, key, _ := strings.Cut(k, "/")
						var g uint16
						fmt.Sscan(kg, &g)
						if got := mapContents(t, e.m, g, key, probe...); !maps.Equal(got, want) {
							t.Fatalf("%s: map %s = %v, want %v", when, k, got, want)
						}
					}
				}
				check("after run")
				must(t, e.b.Flush())
				check("after Flush")
				dir := e.b.opts.Dir
				must(t, e.b.Close())
				e.b, err = Open(Options{Dir: dir, FS: fs, MaxParallelism: 8, CacheBytes: cacheBytes})
				must(t, err)
				e.m, err = e.b.Map("m")
				must(t, err)
				check("after reopen")
			})
		}
	}
}

// TestTimersAgainstModel pops timers at moving watermarks while registering,
// deleting, re-registering from fn, failing fn, and reopening, restoring
// and rescaling the backend, and checks every pop against a model.
func TestTimersAgainstModel(t *testing.T) {
	type timer struct {
		kg  uint16
		ts  int64
		key string
	}
	order := func(a, c timer) int {
		if r := cmp.Compare(a.ts, c.ts); r != 0 {
			return r
		}
		if r := cmp.Compare(a.kg, c.kg); r != 0 {
			return r
		}
		return strings.Compare(a.key, c.key)
	}
	const maxPar = 16
	boom := errors.New("boom")
	type tcase struct {
		name    string
		seed    uint64
		restart string // what happens every 300 steps: "", "reopen", "restore", "rescale"
		head    int    // timers cached per key group; 0: the default
	}
	var cases []tcase
	for _, head := range []int{0, 1, 3} {
		for i, restart := range []string{"", "reopen", "restore", "rescale"} {
			cases = append(cases, tcase{fmt.Sprintf("head=%d/restart=%s", head, restart), uint64(10*head + i), restart, head})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 7))
			fs := vfs.NewMem()
			model := map[timer]bool{}
			opts := Options{Dir: "db0", FS: fs, MaxParallelism: maxPar}
			b, err := Open(opts)
			must(t, err)
			defer func() { b.Close() }()
			var tm, noise *Timers
			handles := func() {
				var err error
				tm, err = b.Timers("t")
				must(t, err)
				noise, err = b.Timers("noise")
				must(t, err)
				if tc.head > 0 {
					tm.h.max, noise.h.max = tc.head, tc.head
				}
			}
			handles()
			wm := int64(-1000)
			for step := range 1500 {
				switch op := rng.IntN(10); {
				case op < 6: // register near the watermark, sometimes behind it
					x := timer{uint16(rng.IntN(maxPar)), wm + rng.Int64N(300) - 20, fmt.Sprint("k", rng.IntN(30))}
					must(t, tm.Register(x.kg, x.ts, []byte(x.key)))
					must(t, noise.Register(x.kg, x.ts, []byte("n")))
					model[x] = true
				case op < 7: // delete one (maybe missing)
					x := timer{uint16(rng.IntN(maxPar)), wm + rng.Int64N(300) - 20, fmt.Sprint("k", rng.IntN(30))}
					for y := range model {
						if rng.IntN(4) == 0 {
							x = y
							break
						}
					}
					must(t, tm.Delete(x.kg, x.ts, []byte(x.key)))
					delete(model, x)
				default: // pop
					if rng.IntN(8) == 0 {
						wm -= rng.Int64N(50) // a watermark may go back; pops follow it
					} else {
						wm += rng.Int64N(100)
					}
					var want []timer
					for x := range model {
						if x.ts <= wm {
							want = append(want, x)
						}
					}
					slices.SortFunc(want, order)
					fail := -1
					if len(want) > 0 && rng.IntN(6) == 0 {
						fail = rng.IntN(len(want))
					}
					var got, again []timer
					n, err := tm.PopUpTo(wm, func(x Timer) error {
						y := timer{x.KeyGroup, x.Time, string(x.Key)}
						if len(got) == fail {
							return boom
						}
						got = append(got, y)
						delete(model, y)
						if rng.IntN(5) == 0 { // re-register it, or set one due at once
							z := timer{y.kg, wm - rng.Int64N(3), y.key + "'"}
							if rng.IntN(2) == 0 {
								z = y
							}
							again = append(again, z)
							return tm.Register(z.kg, z.ts, []byte(z.key))
						}
						return nil
					})
					for _, z := range again {
						model[z] = true
					}
					if fail >= 0 {
						if !errors.Is(err, boom) || n != fail {
							t.Fatalf("step %d: failing pop = %d, %v; want %d, boom", step, n, err, fail)
						}
						want = want[:fail]
					} else {
						must(t, err)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("step %d: PopUpTo(%d) = %v\nwant %v", step, wm, got, want)
					}
				}
				if step%300 == 299 && tc.restart != "" {
					gen := step / 300
					snap := fmt.Sprint("snap", gen)
					_, err := b.Snapshot(snap)
					must(t, err)
					must(t, b.Close())
					switch tc.restart {
					case "reopen":
						b, err = Open(opts)
					case "restore":
						opts.Dir = fmt.Sprint("db", gen+1)
						b, err = Restore(opts, []string{snap})
					case "rescale": // split into two halves, then merge them back
						var halves []string
						for task := range 2 {
							o := opts
							o.Dir = fmt.Sprint("half", gen, task)
							o.KeyGroups = keyGroupRange(task, 2, maxPar)
							h, err := Restore(o, []string{snap})
							must(t, err)
							_, err = h.Snapshot(o.Dir + "-snap")
							must(t, err)
							must(t, h.Close())
							halves = append(halves, o.Dir+"-snap")
						}
						opts.Dir = fmt.Sprint("db", gen+1)
						b, err = Restore(opts, halves)
					}
					must(t, err)
					handles()
				}
			}
			var rest []timer
			_, err = tm.PopUpTo(math.MaxInt64, func(x Timer) error {
				rest = append(rest, timer{x.KeyGroup, x.Time, string(x.Key)})
				return nil
			})
			must(t, err)
			if want := slices.SortedFunc(maps.Keys(model), order); !slices.Equal(rest, want) {
				t.Fatalf("left at the end: %d timers, want %d", len(rest), len(want))
			}
			if n, err := noise.PopUpTo(math.MaxInt64, func(Timer) error { return nil }); err != nil || n == 0 {
				t.Fatalf("noise timers: %d, %v", n, err)
			}
		})
	}
}

// TestTimersPopSkipsWhenNothingDue checks the index's shortcut: a pop with
// nothing due returns without touching Pebble, even with pending writes,
// and a timer set by another handle on the same set is seen.
func TestTimersPopSkipsWhenNothingDue(t *testing.T) {
	b, _ := newMem(t, Options{MaxParallelism: 4})
	t1, err := b.Timers("t")
	must(t, err)
	t2, err := b.Timers("t")
	must(t, err)
	n, err := t1.PopUpTo(math.MaxInt64, func(Timer) error { return nil }) // learns the set is empty
	if n != 0 || err != nil {
		t.Fatalf("first pop = %d, %v", n, err)
	}
	must(t, t2.Register(3, 100, []byte("x")))
	if n, err := t1.PopUpTo(99, func(Timer) error { return nil }); n != 0 || err != nil {
		t.Fatalf("pop before due = %d, %v", n, err)
	}
	if b.wb.Empty() {
		t.Fatal("a pop with nothing due committed the pending batch")
	}
	var got []int64
	if n, err := t1.PopUpTo(100, func(x Timer) error { got = append(got, x.Time); return nil }); n != 1 || err != nil || got[0] != 100 {
		t.Fatalf("pop when due = %d, %v, %v", n, err, got)
	}
}
