package state

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestMapIterateRange checks IterateRange against a model map after
// scripts that leave entries flushed to Pebble, dirty in the cache,
// deleted (in the cache or in Pebble), cleared, written through, or
// evicted, over ranges with and without bounds.
func TestMapIterateRange(t *testing.T) {
	type op struct {
		kind   string // put, del, flush, clear, through
		mk, v  string
		others bool // also write another key's map, around this one
	}
	put := func(mk, v string) op { return op{kind: "put", mk: mk, v: v} }
	del := func(mk string) op { return op{kind: "del", mk: mk} }
	flush := op{kind: "flush"}
	ranges := [][2]string{{"", ""}, {"b", ""}, {"", "c"}, {"b", "d"}, {"b", "b\x00"}, {"c", "c"}, {"d", "b"}, {"a", "z"}, {"e", ""}}
	for _, tc := range []struct {
		name  string
		ops   []op
		cache int64 // CacheBytes; 0: the default
	}{
		{"empty map", nil, 0},
		{"dirty only", []op{put("c", "3"), put("a", "1"), put("d", "4"), put("b", "2")}, 0},
		{"flushed only", []op{put("c", "3"), put("a", "1"), put("d", "4"), put("b", "2"), flush}, 0},
		{"dirty over flushed", []op{put("a", "1"), put("b", "2"), put("c", "3"), flush, put("b", "20"), put("e", "5")}, 0},
		{"dirty deletes hide flushed entries", []op{put("a", "1"), put("b", "2"), put("c", "3"), put("d", "4"), flush, del("b"), del("d"), del("x")}, 0},
		{"flushed deletes", []op{put("a", "1"), put("b", "2"), put("c", "3"), flush, del("b"), flush, put("bb", "22")}, 0},
		{"deleted then put again", []op{put("b", "2"), flush, del("b"), put("b", "3"), del("c"), put("c", "4")}, 0},
		{"clear pending", []op{put("a", "1"), put("b", "2"), flush, {kind: "clear"}, put("c", "3")}, 0},
		{"clear committed", []op{put("a", "1"), put("b", "2"), flush, {kind: "clear"}, flush, put("b", "5")}, 0},
		{"write through", []op{put("a", "1"), {kind: "through", mk: "b", v: "2"}, put("c", "3"), {kind: "through", mk: "c", v: "30"}}, 0},
		{"other maps around", []op{{kind: "put", mk: "b", v: "2", others: true}, put("c", "3"), flush, {kind: "del", mk: "c", others: true}}, 0},
		{"more dirty entries than IterateRange walks", func() []op {
			var ops []op
			for i := range 300 {
				ops = append(ops, put(fmt.Sprintf("%c%03d", 'a'+i%5, i), fmt.Sprint(i)))
				if i%3 == 0 {
					ops = append(ops, del(fmt.Sprintf("%c%03d", 'a'+(i/3)%5, i/3)))
				}
			}
			return ops
		}(), 0},
		{"evictions", func() []op {
			var ops []op
			for i := range 200 {
				ops = append(ops, put(fmt.Sprintf("%c%03d", 'a'+i%5, i), strings.Repeat("v", i)))
				if i%7 == 0 {
					ops = append(ops, del(fmt.Sprintf("%c%03d", 'a'+(i/2)%5, i/2)))
				}
			}
			return ops
		}(), 4 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newMem(t, Options{MaxParallelism: 8, CacheBytes: tc.cache})
			m, err := b.Map("m")
			must(t, err)
			key, other := []byte("k"), [][]byte{[]byte(""), []byte("k\x00"), []byte("j")}
			model := map[string]string{}
			for _, o := range tc.ops {
				if o.others {
					for _, k := range other {
						must(t, m.Put(3, k, []byte(o.mk), []byte("other")))
					}
				}
				switch o.kind {
				case "put":
					must(t, m.Put(3, key, []byte(o.mk), []byte(o.v)))
					model[o.mk] = o.v
				case "through":
					must(t, m.PutThrough(3, key, []byte(o.mk), []byte(o.v)))
					model[o.mk] = o.v
				case "del":
					must(t, m.Delete(3, key, []byte(o.mk)))
					delete(model, o.mk)
				case "clear":
					must(t, m.Clear(3, key))
					clear(model)
				case "flush":
					must(t, b.Flush())
				}
			}
			for _, r := range ranges {
				var from, to []byte
				if r[0] != "" {
					from = []byte(r[0])
				}
				if r[1] != "" {
					to = []byte(r[1])
				}
				var want []string
				for _, mk := range slices.Sorted(maps.Keys(model)) {
					if mk >= r[0] && (to == nil || mk < r[1]) {
						want = append(want, mk+"="+model[mk])
					}
				}
				var got []string
				must(t, m.IterateRange(3, key, from, to, func(mk, v []byte) error {
					got = append(got, string(mk)+"="+string(v))
					return nil
				}))
				if !slices.Equal(got, want) {
					t.Errorf("IterateRange [%q, %q) = %v, want %v", r[0], r[1], got, want)
				}
			}
		})
	}
}

// TestMapIterateRangeWrites: fn writing to the map, and iterating it again
// inside fn, leaves the outer iteration seeing the entries present when it
// began.
func TestMapIterateRangeWrites(t *testing.T) {
	b, _ := newMem(t, Options{MaxParallelism: 8})
	m, err := b.Map("m")
	must(t, err)
	k := []byte("k")
	for i, mk := range []string{"a", "b", "c", "d"} {
		must(t, m.Put(3, k, []byte(mk), []byte{byte('0' + i)}))
		if i == 1 {
			must(t, b.Flush())
		}
	}
	var got []string
	must(t, m.IterateRange(3, k, []byte("a"), nil, func(mk, v []byte) error {
		got = append(got, string(mk)+"="+string(v))
		// Delete the next entry, overwrite this one, add one later.
		next := []byte{mk[0] + 1}
		must(t, m.Delete(3, k, next))
		must(t, m.Put(3, k, mk, []byte("overwritten")))
		must(t, m.Put(3, k, []byte("z"), []byte("new")))
		n := 0
		must(t, m.IterateRange(3, k, nil, nil, func(_, _ []byte) error { n++; return nil }))
		if mk[0] == 'a' && n != 4 { // a, c, d, z
			t.Errorf("nested IterateRange saw %d entries, want 4", n)
		}
		return nil
	}))
	if want := []string{"a=0", "b=1", "c=2", "d=3"}; !slices.Equal(got, want) {
		t.Fatalf("IterateRange while writing = %v, want %v", got, want)
	}
}

// TestMapIterateRangeMatchesIterate drives random puts, deletes and
// flushes with a small cache and compares every range with a filtered
// Iterate.
func TestMapIterateRangeMatchesIterate(t *testing.T) {
	b, _ := newMem(t, Options{MaxParallelism: 8, CacheBytes: 8 << 10})
	m, err := b.Map("m")
	must(t, err)
	rnd := rand.New(rand.NewPCG(3, 4))
	keys := [][]byte{[]byte("x"), []byte("y")}
	mk := func() []byte { return []byte{byte(rnd.IntN(64))} }
	for i := range 3000 {
		k := keys[rnd.IntN(2)]
		switch r := rnd.IntN(20); {
		case r < 12:
			must(t, m.Put(3, k, mk(), []byte(fmt.Sprint(i))))
		case r < 18:
			must(t, m.Delete(3, k, mk()))
		case r < 19:
			must(t, b.Flush())
		default:
			from, to := mk(), mk()
			var want, got []string
			// IterateRange first: Iterate flushes the map's dirty entries.
			must(t, m.IterateRange(3, k, from, to, func(mk, v []byte) error {
				got = append(got, fmt.Sprintf("%x=%s", mk, v))
				return nil
			}))
			must(t, m.Iterate(3, k, func(mk, v []byte) error {
				if string(mk) >= string(from) && string(mk) < string(to) {
					want = append(want, fmt.Sprintf("%x=%s", mk, v))
				}
				return nil
			}))
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: IterateRange [%x, %x) = %v, want %v", i, from, to, got, want)
			}
		}
	}
}
