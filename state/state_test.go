package state

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func newMem(t testing.TB, opts Options) (*Backend, vfs.FS) {
	t.Helper()
	if opts.FS == nil {
		opts.FS = vfs.NewMem()
	}
	if opts.Dir == "" {
		opts.Dir = "db"
	}
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, opts.FS
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string // substring of the error; "" means valid
	}{
		{"zero value with dir", Options{Dir: "d"}, ""},
		{"no dir", Options{}, "Options.Dir"},
		{"parallelism too big", Options{Dir: "d", MaxParallelism: 1 << 16}, "MaxParallelism"},
		{"range beyond parallelism", Options{Dir: "d", MaxParallelism: 4, KeyGroups: KeyGroupRange{2, 5}}, "KeyGroups"},
		{"empty range", Options{Dir: "d", KeyGroups: KeyGroupRange{3, 3}}, "KeyGroups"},
		{"negative cache", Options{Dir: "d", CacheBytes: -1}, "CacheBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.EnsureDefaults()
			err := o.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestValueRoundTrip(t *testing.T) {
	for _, cacheBytes := range []int64{0, 1} { // default cache, and a cache that evicts everything
		t.Run(fmt.Sprint("cache=", cacheBytes), func(t *testing.T) {
			b, _ := newMem(t, Options{CacheBytes: cacheBytes})
			v, err := b.Value("count")
			must(t, err)
			steps := []struct {
				op       string // put, get, del
				kg       uint16
				key, val string
				found    bool
			}{
				{op: "get", kg: 3, key: "a"},
				{op: "put", kg: 3, key: "a", val: "1"},
				{op: "get", kg: 3, key: "a", val: "1", found: true},
				{op: "get", kg: 4, key: "a"},
				{op: "put", kg: 3, key: "a", val: "22"},
				{op: "put", kg: 3, key: "", val: "empty key"},
				{op: "put", kg: 3, key: "ab", val: ""},
				{op: "get", kg: 3, key: "a", val: "22", found: true},
				{op: "get", kg: 3, key: "", val: "empty key", found: true},
				{op: "get", kg: 3, key: "ab", val: "", found: true},
				{op: "del", kg: 3, key: "a"},
				{op: "get", kg: 3, key: "a"},
				{op: "get", kg: 3, key: "ab", val: "", found: true},
			}
			for i, s := range steps {
				switch s.op {
				case "put":
					must(t, v.Put(s.kg, []byte(s.key), []byte(s.val)))
				case "del":
					must(t, v.Delete(s.kg, []byte(s.key)))
				case "get":
					got, ok, err := v.Get(s.kg, []byte(s.key))
					must(t, err)
					if ok != s.found || string(got) != s.val {
						t.Fatalf("step %d: Get(%d, %q) = %q, %v; want %q, %v", i, s.kg, s.key, got, ok, s.val, s.found)
					}
				}
			}
		})
	}
}

func TestKindAndRangeErrors(t *testing.T) {
	b, _ := newMem(t, Options{KeyGroups: KeyGroupRange{10, 20}})
	v, err := b.Value("x")
	must(t, err)
	if _, err := b.Map("x"); err == nil || !strings.Contains(err.Error(), "value state") {
		t.Fatalf("Map on a value name: %v", err)
	}
	if err := v.Put(20, []byte("k"), nil); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("Put outside range: %v", err)
	}
	must(t, v.Put(19, []byte("k"), nil))
}

func TestListRoundTrip(t *testing.T) {
	b, _ := newMem(t, Options{CacheBytes: 1})
	l, err := b.List("buf")
	must(t, err)
	list := func(kg uint16, key string) []string {
		var out []string
		must(t, l.Iterate(kg, []byte(key), func(e []byte) error { out = append(out, string(e)); return nil }))
		return out
	}
	for i := range 300 {
		must(t, l.Append(1, []byte("k"), []byte(fmt.Sprint(i))))
	}
	must(t, l.Append(1, []byte("k2"), []byte("other")))
	got := list(1, "k")
	if len(got) != 300 || got[0] != "0" || got[299] != "299" || got[10] != "10" {
		t.Fatalf("list = %v", got)
	}
	if n, _ := l.Len(1, []byte("k")); n != 300 {
		t.Fatalf("Len = %d", n)
	}
	must(t, l.Clear(1, []byte("k")))
	if got := list(1, "k"); len(got) != 0 {
		t.Fatalf("after Clear: %v", got)
	}
	must(t, l.Append(1, []byte("k"), []byte("again")))
	if got := list(1, "k"); !slices.Equal(got, []string{"again"}) {
		t.Fatalf("after Clear+Append: %v", got)
	}
	if got := list(1, "k2"); !slices.Equal(got, []string{"other"}) {
		t.Fatalf("k2 = %v", got)
	}
}

func TestMapRoundTrip(t *testing.T) {
	b, _ := newMem(t, Options{})
	m, err := b.Map("windows")
	must(t, err)
	must(t, m.Put(5, []byte("user"), []byte("w2"), []byte("b")))
	must(t, m.Put(5, []byte("user"), []byte("w1"), []byte("a")))
	must(t, m.Put(5, []byte("user"), []byte("w3"), []byte("c")))
	must(t, m.Put(5, []byte("use"), []byte("rw1"), []byte("not mine")))
	must(t, m.Delete(5, []byte("user"), []byte("w3")))
	var got []string
	must(t, m.Iterate(5, []byte("user"), func(mk, v []byte) error {
		got = append(got, string(mk)+"="+string(v))
		return nil
	}))
	if want := []string{"w1=a", "w2=b"}; !slices.Equal(got, want) {
		t.Fatalf("Iterate = %v, want %v", got, want)
	}
	if v, ok, _ := m.Get(5, []byte("user"), []byte("w2")); !ok || string(v) != "b" {
		t.Fatalf("Get w2 = %q %v", v, ok)
	}
	if _, ok, _ := m.Get(5, []byte("user"), []byte("w3")); ok {
		t.Fatal("deleted entry visible")
	}
}

func TestTimestampEncodingOrder(t *testing.T) {
	ts := []int64{math.MinInt64, -1 << 40, -2, -1, 0, 1, 2, 1 << 40, math.MaxInt64}
	for i := 1; i < len(ts); i++ {
		a, c := appendTimestamp(nil, ts[i-1]), appendTimestamp(nil, ts[i])
		if bytes.Compare(a, c) >= 0 {
			t.Fatalf("encode(%d) >= encode(%d)", ts[i-1], ts[i])
		}
		if decodeTimestamp(c) != ts[i] {
			t.Fatalf("decode(encode(%d)) = %d", ts[i], decodeTimestamp(c))
		}
	}
}

func TestTimersPopInOrder(t *testing.T) {
	b, _ := newMem(t, Options{MaxParallelism: 8})
	tm, err := b.Timers("fire")
	must(t, err)
	other, err := b.Timers("other")
	must(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	type timer struct {
		kg  uint16
		ts  int64
		key string
	}
	set := map[timer]bool{}
	for range 500 {
		x := timer{uint16(rng.IntN(8)), rng.Int64N(2000) - 1000, fmt.Sprint("k", rng.IntN(20))}
		set[x] = true
		must(t, tm.Register(x.kg, x.ts, []byte(x.key)))
		must(t, other.Register(x.kg, x.ts, []byte("noise")))
	}
	// cancel a few
	n := 0
	for x := range set {
		if n++; n%7 == 0 {
			must(t, tm.Delete(x.kg, x.ts, []byte(x.key)))
			delete(set, x)
		}
	}
	want := slices.SortedFunc(maps.Keys(set), func(a, c timer) int {
		if a.ts != c.ts {
			return cmp.Compare(a.ts, c.ts)
		}
		if a.kg != c.kg {
			return int(a.kg) - int(c.kg)
		}
		return strings.Compare(a.key, c.key)
	})
	var got []timer
	for _, wm := range []int64{math.MinInt64, -500, -1, 0, 499, math.MaxInt64} {
		last := int64(math.MinInt64)
		_, err := tm.PopUpTo(wm, func(x Timer) error {
			if x.Time > wm || x.Time < last {
				t.Fatalf("popped %d at watermark %d after %d", x.Time, wm, last)
			}
			last = x.Time
			got = append(got, timer{x.KeyGroup, x.Time, string(x.Key)})
			return nil
		})
		must(t, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("popped %d timers, want %d (first got %v want %v)", len(got), len(want), got[:3], want[:3])
	}
	if n, _ := tm.PopUpTo(math.MaxInt64, func(Timer) error { return nil }); n != 0 {
		t.Fatalf("%d timers left", n)
	}
	// A failing fn leaves the unhandled timers registered; a re-registered
	// timer survives its own pop.
	for i := range 5 {
		must(t, tm.Register(0, int64(i), []byte("x")))
	}
	boom := errors.New("boom")
	n, err = tm.PopUpTo(10, func(x Timer) error {
		if x.Time == 0 {
			return tm.Register(0, 0, []byte("x")) // re-register
		}
		if x.Time == 2 {
			return boom
		}
		return nil
	})
	if n != 2 || !errors.Is(err, boom) {
		t.Fatalf("PopUpTo with failing fn = %d, %v", n, err)
	}
	var left []int64
	_, err = tm.PopUpTo(10, func(x Timer) error { left = append(left, x.Time); return nil })
	must(t, err)
	if !slices.Equal(left, []int64{0, 2, 3, 4}) {
		t.Fatalf("timers left after failed pop: %v", left)
	}
	if n, _ := other.PopUpTo(math.MaxInt64, func(Timer) error { return nil }); n == 0 {
		t.Fatal("other timer set was popped too")
	}
}

// TestValueWithOldExpiryTag: a value written by the removed PutTTL (tag 1
// and an expiry) reads as its value, as it did in every weir job (none set
// the backend's clock, so none expired).
func TestValueWithOldExpiryTag(t *testing.T) {
	b, _ := newMem(t, Options{})
	v, err := b.Value("session")
	must(t, err)
	stored := appendTimestamp([]byte{tagExpiry}, 100)
	stored = append(stored, "x"...)
	must(t, b.db.Set(appendPrefix(nil, 0, v.id, []byte("a")), stored, pebble.NoSync))
	got, ok, err := v.Get(0, []byte("a"))
	if err != nil || !ok || string(got) != "x" {
		t.Fatalf("Get = %q, %v, %v; want \"x\"", got, ok, err)
	}
	must(t, b.db.Set(appendPrefix(nil, 0, v.id, []byte("b")), []byte{tagExpiry, 1, 2}, pebble.NoSync))
	if _, _, err := v.Get(0, []byte("b")); err == nil || !strings.Contains(err.Error(), "short expiry") {
		t.Fatalf("Get of a short entry: %v", err)
	}
}

// model is the Go-map reference of a backend's contents.
type model struct {
	values map[string]string
	maps   map[string]map[string]string
	lists  map[string][]string
	timers map[string]bool // "kg/ts/key"
}

func newModel() *model {
	return &model{values: map[string]string{}, maps: map[string]map[string]string{}, lists: map[string][]string{}, timers: map[string]bool{}}
}

func mkey(kg uint16, key string) string { return fmt.Sprintf("%d/%s", kg, key) }

// runOps applies n seeded random operations to b and m, checking every read.
func runOps(t *testing.T, b *Backend, m *model, seed uint64, n int, maxPar int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	v, err := b.Value("v")
	must(t, err)
	ms, err := b.Map("m")
	must(t, err)
	ls, err := b.List("l")
	must(t, err)
	tm, err := b.Timers("t")
	must(t, err)
	kr := b.KeyGroups()
	for i := range n {
		kg := kr.Start + uint16(rng.IntN(int(kr.End-kr.Start)))
		key := fmt.Sprint("key", rng.IntN(300))
		k := mkey(kg, key)
		val := strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(40))
		switch op := rng.IntN(100); {
		case op < 35:
			must(t, v.Put(kg, []byte(key), []byte(val)))
			m.values[k] = val
		case op < 40:
			must(t, v.Delete(kg, []byte(key)))
			delete(m.values, k)
		case op < 60:
			got, ok, err := v.Get(kg, []byte(key))
			must(t, err)
			want, wok := m.values[k]
			if ok != wok || string(got) != want {
				t.Fatalf("op %d: value %s = %q %v, want %q %v", i, k, got, ok, want, wok)
			}
		case op < 72:
			mk := fmt.Sprint("w", rng.IntN(5))
			if rng.IntN(3) == 0 {
				must(t, ms.PutThrough(kg, []byte(key), []byte(mk), []byte(val)))
			} else {
				must(t, ms.Put(kg, []byte(key), []byte(mk), []byte(val)))
			}
			if m.maps[k] == nil {
				m.maps[k] = map[string]string{}
			}
			m.maps[k][mk] = val
		case op < 75:
			mk := fmt.Sprint("w", rng.IntN(5))
			must(t, ms.Delete(kg, []byte(key), []byte(mk)))
			delete(m.maps[k], mk)
		case op < 80:
			mk := fmt.Sprint("w", rng.IntN(5))
			got, ok, err := ms.Get(kg, []byte(key), []byte(mk))
			must(t, err)
			want, wok := m.maps[k][mk]
			if ok != wok || string(got) != want {
				t.Fatalf("op %d: map %s[%s] = %q %v, want %q %v", i, k, mk, got, ok, want, wok)
			}
		case op < 81:
			must(t, ms.Clear(kg, []byte(key)))
			delete(m.maps, k)
		case op < 82:
			empty, err := ms.IsEmpty(kg, []byte(key))
			must(t, err)
			if want := len(m.maps[k]) == 0; empty != want {
				t.Fatalf("op %d: map %s IsEmpty = %v, want %v (%v)", i, k, empty, want, m.maps[k])
			}
		case op < 83:
			got := map[string]string{}
			must(t, ms.Iterate(kg, []byte(key), func(mk, val []byte) error {
				got[string(mk)] = string(val)
				return nil
			}))
			if want := m.maps[k]; !maps.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("op %d: map %s = %v, want %v", i, k, got, want)
			}
		case op < 93:
			must(t, ls.Append(kg, []byte(key), []byte(val)))
			m.lists[k] = append(m.lists[k], val)
		case op < 95:
			must(t, ls.Clear(kg, []byte(key)))
			delete(m.lists, k)
		case op < 96:
			ts := rng.Int64N(200) - 100
			if rng.IntN(30) == 0 {
				wm := ts - 100 // pops the few timers below -100 + ts
				var got []string
				_, err := tm.PopUpTo(wm, func(x Timer) error {
					got = append(got, fmt.Sprintf("%d/%d/%s", x.KeyGroup, x.Time, x.Key))
					return nil
				})
				must(t, err)
				var want []string
				for k := range m.timers {
					var kg uint16
					var ts int64
					fmt.Sscanf(k, "%d/%d/", &kg, &ts)
					if ts <= wm {
						want = append(want, k)
						delete(m.timers, k)
					}
				}
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("op %d: PopUpTo(%d) = %v, want %v", i, wm, got, want)
				}
			} else if rng.IntN(4) == 0 {
				must(t, tm.Delete(kg, ts, []byte(key)))
				delete(m.timers, fmt.Sprintf("%d/%d/%s", kg, ts, key))
			} else {
				must(t, tm.Register(kg, ts, []byte(key)))
				m.timers[fmt.Sprintf("%d/%d/%s", kg, ts, key)] = true
			}
		case op < 98:
			var got []string
			must(t, ls.Iterate(kg, []byte(key), func(e []byte) error { got = append(got, string(e)); return nil }))
			if want := m.lists[k]; !slices.Equal(got, want) {
				t.Fatalf("op %d: list %s = %v, want %v", i, k, got, want)
			}
		default:
			must(t, b.Flush())
		}
	}
}

// checkAll compares every key in the model (and every key the backend
// holds) against b.
func checkAll(t *testing.T, b *Backend, m *model) {
	t.Helper()
	got := dump(t, b)
	want := map[string]string{}
	for k, v := range m.values {
		want["v|"+k] = v
	}
	for k, mm := range m.maps {
		for mk, v := range mm {
			want["m|"+k+"|"+mk] = v
		}
	}
	for k, l := range m.lists {
		for i, v := range l {
			want[fmt.Sprintf("l|%s|%d", k, i)] = v
		}
	}
	for k := range m.timers {
		want["t|"+k] = ""
	}
	if !maps.Equal(got, want) {
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s = %q (present %v), want %q", k, g, ok, v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s = %q", k, v)
			}
		}
		t.FailNow()
	}
}

// dump returns the logical contents of b (after a Flush), independent of
// state ids: "v|kg/key", "m|kg/key|mapkey", "l|kg/key|i".
func dump(t *testing.T, b *Backend) map[string]string {
	t.Helper()
	must(t, b.Flush())
	names := map[uint16]*stateInfo{}
	for _, in := range b.states {
		names[in.id] = in
	}
	out := map[string]string{}
	err := b.scan([]byte{0, 0}, metaPrefix[:2], func(k, v []byte) error {
		kg := binary.BigEndian.Uint16(k)
		if !b.opts.KeyGroups.Contains(kg) {
			t.Errorf("key group %d outside [%d, %d)", kg, b.opts.KeyGroups.Start, b.opts.KeyGroups.End)
		}
		in := names[binary.BigEndian.Uint16(k[2:])]
		if in.kind == kindTimers {
			out[fmt.Sprintf("%s|%d/%d/%s", in.name, kg, decodeTimestamp(k[4:12]), k[12:])] = string(v)
			return nil
		}
		n, w := binary.Uvarint(k[4:])
		key := string(k[4+w : 4+w+int(n)])
		rest := k[4+w+int(n):]
		base := mkey(kg, key)
		switch in.kind {
		case kindValue:
			val, err := decodeValue(v)
			if err != nil {
				return fmt.Errorf("value %s: %v", base, err)
			}
			out[in.name+"|"+base] = string(val)
		case kindMap:
			out[in.name+"|"+base+"|"+string(rest)] = string(v)
		case kindList:
			if len(rest) != 1 || rest[0] != listSuffix {
				return fmt.Errorf("list %s: key %q not in layout 2", base, k)
			}
			i := 0
			if err := iterateList(v, func(e []byte) error {
				out[fmt.Sprintf("%s|%s|%d", in.name, base, i)] = string(e)
				i++
				return nil
			}); err != nil {
				return fmt.Errorf("list %s: %v", base, err)
			}
			if i == 0 {
				return fmt.Errorf("list %s: empty value stored", base)
			}
		}
		return nil
	})
	must(t, err)
	return out
}

func TestCacheMatchesModel(t *testing.T) {
	n, seeds := 20000, []uint64{42, 1, 2}
	if testing.Short() {
		n, seeds = 5000, seeds[:1]
	}
	for _, seed := range seeds {
		for _, cacheBytes := range []int64{1, 2 << 10, 64 << 10, 0} {
			t.Run(fmt.Sprint("seed=", seed, "/cache=", cacheBytes), func(t *testing.T) {
				fs := vfs.NewMem()
				opts := Options{Dir: "db", FS: fs, MaxParallelism: 16, CacheBytes: cacheBytes}
				b, err := Open(opts)
				must(t, err)
				m := newModel()
				runOps(t, b, m, seed, n, 16)
				st := b.CacheStats()
				if cacheBytes > 0 && cacheBytes < 64<<10 && (st.Evictions == 0 || st.Bytes > cacheBytes) {
					t.Fatalf("cache of %d bytes: %+v", cacheBytes, st)
				}
				checkAll(t, b, m)
				must(t, b.Close())
				// Everything survives a reopen.
				b, err = Open(opts)
				must(t, err)
				defer b.Close()
				checkAll(t, b, m)
				runOps(t, b, m, seed+1000, n/4, 16)
				checkAll(t, b, m)
			})
		}
	}
}

func TestSnapshotRestore(t *testing.T) {
	b, fs := newMem(t, Options{MaxParallelism: 16, CacheBytes: 4 << 10})
	m := newModel()
	runOps(t, b, m, 7, 3000, 16)
	h, err := b.Snapshot("snap1")
	must(t, err)
	if len(h.Files) == 0 {
		t.Fatal("empty handle")
	}
	// Writes after the snapshot are not in it.
	v, _ := b.Value("v")
	must(t, v.Put(0, []byte("late"), []byte("x")))
	r, err := Restore(Options{Dir: "restored", FS: fs, MaxParallelism: 16}, []string{"snap1"})
	must(t, err)
	defer r.Close()
	checkAll(t, r, m)
	// The restored backend keeps working and numbering states.
	runOps(t, r, m, 8, 1000, 16)
	checkAll(t, r, m)
	if _, err := Restore(Options{Dir: "restored", FS: fs, MaxParallelism: 16}, []string{"snap1"}); err == nil {
		t.Fatal("restore into a non-empty directory succeeded")
	}
	for _, from := range [][]string{{"snap1"}, {"snap1", "snap1"}} {
		_, err := Restore(Options{Dir: fmt.Sprint("other-maxpar-", len(from)), FS: fs, MaxParallelism: 32}, from)
		if err == nil || !strings.Contains(err.Error(), "MaxParallelism 16, not 32") {
			t.Fatalf("restore %v with another MaxParallelism: %v", from, err)
		}
	}
}

// split returns the part of m in key-group range kr.
func (m *model) split(kr KeyGroupRange) *model {
	out := newModel()
	in := func(k string) bool {
		var kg uint16
		fmt.Sscanf(k, "%d/", &kg)
		return kr.Contains(kg)
	}
	for k, v := range m.values {
		if in(k) {
			out.values[k] = v
		}
	}
	for k, v := range m.maps {
		if in(k) {
			out.maps[k] = v
		}
	}
	for k, v := range m.lists {
		if in(k) {
			out.lists[k] = v
		}
	}
	for k := range m.timers {
		if in(k) {
			out.timers[k] = true
		}
	}
	return out
}

func keyGroupRange(task, par, maxPar int) KeyGroupRange {
	return KeyGroupRange{uint16(task * maxPar / par), uint16((task + 1) * maxPar / par)}
}

func TestRescale(t *testing.T) {
	const maxPar = 16
	fs := vfs.NewMem()
	m := newModel()
	var snaps []string
	// Two tasks; the second registers its states in another order, so ids differ.
	for task := range 2 {
		kr := keyGroupRange(task, 2, maxPar)
		b, err := Open(Options{Dir: fmt.Sprint("p2-", task), FS: fs, MaxParallelism: maxPar, KeyGroups: kr, CacheBytes: 8 << 10})
		must(t, err)
		if task == 1 {
			_, err = b.List("l")
			must(t, err)
		}
		part := newModel()
		runOps(t, b, part, uint64(100+task), 3000, maxPar)
		maps.Copy(m.values, part.values)
		maps.Copy(m.maps, part.maps)
		maps.Copy(m.lists, part.lists)
		maps.Copy(m.timers, part.timers)
		dir := fmt.Sprint("snap-p2-", task)
		_, err = b.Snapshot(dir)
		must(t, err)
		snaps = append(snaps, dir)
		must(t, b.Close())
	}
	restoreAll := func(prefix string, par int, from []string) []string {
		var out []string
		total := 0
		for task := range par {
			kr := keyGroupRange(task, par, maxPar)
			r, err := Restore(Options{Dir: fmt.Sprint(prefix, task), FS: fs, MaxParallelism: maxPar, KeyGroups: kr}, from)
			must(t, err)
			checkAll(t, r, m.split(kr)) // checkAll also fails on keys outside kr
			total += len(dump(t, r))
			dir := fmt.Sprint("snap-", prefix, task)
			_, err = r.Snapshot(dir)
			must(t, err)
			out = append(out, dir)
			must(t, r.Close())
		}
		if want := len(dump(t, mustModelBackend(t, m))); total != want {
			t.Fatalf("%s: %d entries over all tasks, want %d", prefix, total, want)
		}
		return out
	}
	snaps3 := restoreAll("p3-", 3, snaps)
	restoreAll("p1-", 1, snaps3)
	// One snapshot restored into a narrower range (the single-directory path).
	one := restoreAll("p1b-", 1, snaps3)
	restoreAll("p4-", 4, one)
}

// mustModelBackend builds a backend holding exactly m, to count entries.
func mustModelBackend(t *testing.T, m *model) *Backend {
	b, _ := newMem(t, Options{MaxParallelism: 16})
	v, _ := b.Value("v")
	ms, _ := b.Map("m")
	ls, _ := b.List("l")
	tm, _ := b.Timers("t")
	parse := func(k string) (uint16, []byte) {
		var kg uint16
		fmt.Sscanf(k, "%d/", &kg)
		return kg, []byte(k[strings.IndexByte(k, '/')+1:])
	}
	for k, val := range m.values {
		kg, key := parse(k)
		must(t, v.Put(kg, key, []byte(val)))
	}
	for k, mm := range m.maps {
		kg, key := parse(k)
		for mk, val := range mm {
			must(t, ms.Put(kg, key, []byte(mk), []byte(val)))
		}
	}
	for k, l := range m.lists {
		kg, key := parse(k)
		for _, val := range l {
			must(t, ls.Append(kg, key, []byte(val)))
		}
	}
	for k := range m.timers {
		var kg uint16
		var ts int64
		parts := strings.SplitN(k, "/", 3)
		fmt.Sscan(parts[0], &kg)
		fmt.Sscan(parts[1], &ts)
		must(t, tm.Register(kg, ts, []byte(parts[2])))
	}
	return b
}

func TestIncrementalSnapshot(t *testing.T) {
	b, _ := newMem(t, Options{})
	v, err := b.Value("v")
	must(t, err)
	val := bytes.Repeat([]byte("x"), 100)
	key := func(i int) []byte { return fmt.Appendf(nil, "key%06d", i) }
	for i := range 30000 {
		must(t, v.Put(uint16(i%128), key(i), val))
	}
	h1, err := b.Snapshot("s1")
	must(t, err)
	for i := range 200 {
		must(t, v.Put(uint16(i%128), key(i), []byte("updated")))
	}
	h2, err := b.Snapshot("s2")
	must(t, err)
	tables := func(fs []File) (n int, size int64) {
		for _, f := range fs {
			if f.IsTable() {
				n++
				size += f.Size
			}
		}
		return
	}
	n1, size1 := tables(h1.Files)
	newFiles := h2.NewSince(h1)
	nNew, sizeNew := tables(newFiles)
	n2, _ := tables(h2.Files)
	t.Logf("s1: %d SSTs (%d B); s2: %d SSTs, %d new (%d B); %d files to upload", n1, size1, n2, nNew, sizeNew, len(newFiles))
	if n1 == 0 || nNew == 0 || nNew >= n2 || sizeNew*10 > size1 {
		t.Fatalf("incremental snapshot: s1 %d SSTs (%d B), s2 %d SSTs with %d new (%d B)", n1, size1, n2, nNew, sizeNew)
	}
	for _, f := range newFiles {
		if f.IsTable() && slices.Contains(h1.Files, f) {
			t.Fatalf("%s reported new but is in s1", f.Name)
		}
	}
	if len(h1.NewSince(Handle{})) != len(h1.Files) {
		t.Fatal("NewSince(empty) must list every file")
	}
}

// TestMapPutThrough: a PutThrough is seen by every later read, replaces a
// dirty cached value, and survives a Clear before it and a snapshot.
func TestMapPutThrough(t *testing.T) {
	b, fs := newMem(t, Options{MaxParallelism: 8})
	ms, err := b.Map("m")
	must(t, err)
	k := []byte("k")
	get := func(mk string) string {
		t.Helper()
		v, ok, err := ms.Get(3, k, []byte(mk))
		must(t, err)
		if !ok {
			return "<absent>"
		}
		return string(v)
	}
	entries := func() string {
		t.Helper()
		var out []string
		must(t, ms.Iterate(3, k, func(mk, v []byte) error { out = append(out, string(mk)+"="+string(v)); return nil }))
		return strings.Join(out, " ")
	}
	must(t, ms.PutThrough(3, k, []byte("a"), []byte("1")))
	if got := get("a"); got != "1" {
		t.Fatalf("Get after PutThrough = %s", got)
	}
	must(t, ms.Put(3, k, []byte("a"), []byte("2"))) // dirty in the cache
	must(t, ms.PutThrough(3, k, []byte("a"), []byte("3")))
	if got := get("a"); got != "3" {
		t.Fatalf("Get after Put, PutThrough = %s", got)
	}
	must(t, ms.Clear(3, k))
	must(t, ms.PutThrough(3, k, []byte("b"), []byte("4")))
	if empty, err := ms.IsEmpty(3, k); empty || err != nil {
		t.Fatalf("IsEmpty after Clear, PutThrough = %v, %v", empty, err)
	}
	must(t, ms.Clear(3, k))
	must(t, ms.PutThrough(3, k, []byte("b"), []byte("5")))
	if got := get("b"); got != "5" {
		t.Fatalf("Get after Clear, PutThrough = %s", got)
	}
	if got := get("a"); got != "<absent>" {
		t.Fatalf("cleared entry = %s", got)
	}
	must(t, ms.PutThrough(3, k, []byte("c"), []byte("6")))
	if got := entries(); got != "b=5 c=6" {
		t.Fatalf("Iterate = %s", got)
	}
	must(t, ms.PutThrough(3, k, []byte("d"), []byte("7")))
	h, err := b.Snapshot("snap")
	must(t, err)
	r, err := Restore(Options{Dir: "db2", FS: fs, MaxParallelism: 8}, []string{h.Dir})
	must(t, err)
	defer r.Close()
	rm, err := r.Map("m")
	must(t, err)
	var got []string
	must(t, rm.Iterate(3, k, func(mk, v []byte) error { got = append(got, string(mk)+"="+string(v)); return nil }))
	if s := strings.Join(got, " "); s != "b=5 c=6 d=7" {
		t.Fatalf("restored = %s", s)
	}
}
