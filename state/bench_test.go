package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

const hotKeys = 10000

func hotKey(i int) []byte { return fmt.Appendf(nil, "user-%05d", i) }

func benchMap(b *testing.B) {
	m := map[string][]byte{}
	keys := make([][]byte, hotKeys)
	for i := range keys {
		keys[i] = hotKey(i)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := keys[i%hotKeys]
		v := m[string(k)]
		var n uint64
		if v != nil {
			n = binary.LittleEndian.Uint64(v)
		} else {
			v = make([]byte, 8)
			m[string(k)] = v
		}
		binary.LittleEndian.PutUint64(v, n+1)
	}
}

func benchPebble(b *testing.B) {
	db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	keys := make([][]byte, hotKeys)
	for i := range keys {
		keys[i] = appendPrefix(nil, uint16(i%128), 1, hotKey(i))
	}
	var buf [8]byte
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := keys[i%hotKeys]
		var n uint64
		v, closer, err := db.Get(k)
		if err == nil {
			n = binary.LittleEndian.Uint64(v)
			closer.Close()
		} else if !errors.Is(err, pebble.ErrNotFound) {
			b.Fatal(err)
		}
		binary.LittleEndian.PutUint64(buf[:], n+1)
		if err := db.Set(k, buf[:], pebble.NoSync); err != nil {
			b.Fatal(err)
		}
	}
}

// benchCache runs the update through a Backend on disk; flushEvery models
// checkpoints (0: never, only evictions write back).
func benchCache(cacheBytes int64, flushEvery int) func(*testing.B) {
	return func(b *testing.B) {
		be, err := Open(Options{Dir: b.TempDir(), FS: vfs.Default, CacheBytes: cacheBytes})
		if err != nil {
			b.Fatal(err)
		}
		defer be.Close()
		vs, err := be.Value("count")
		if err != nil {
			b.Fatal(err)
		}
		keys := make([][]byte, hotKeys)
		for i := range keys {
			keys[i] = hotKey(i)
		}
		var buf [8]byte
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			k := keys[i%hotKeys]
			kg := uint16(i % hotKeys % 128)
			v, ok, err := vs.Get(kg, k)
			if err != nil {
				b.Fatal(err)
			}
			var n uint64
			if ok {
				n = binary.LittleEndian.Uint64(v)
			}
			binary.LittleEndian.PutUint64(buf[:], n+1)
			if err := vs.Put(kg, k, buf[:]); err != nil {
				b.Fatal(err)
			}
			if flushEvery > 0 && i%flushEvery == flushEvery-1 {
				if err := be.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		st := be.CacheStats()
		b.ReportMetric(float64(st.Evictions)/float64(b.N), "evictions/op")
	}
}

// BenchmarkUpdate is a per-key read-modify-write of an 8-byte counter over
// 10 K hot keys: a Go map, Pebble Get+Set, and the Backend's cache. Each
// sub-benchmark reports its cost as a multiple of the map's ("x-map").
func BenchmarkUpdate(b *testing.B) {
	mapNs := 0.0 // set by the "map" sub-benchmark, which runs first
	for _, bc := range []struct {
		name string
		fn   func(*testing.B)
	}{
		{"map", benchMap},
		{"pebble", benchPebble},
		{"cache", benchCache(0, 0)},
		{"cache-flush100K", benchCache(0, 100_000)},
		{"cache-flush10K", benchCache(0, 10_000)},
		{"cache-evicting-256KiB", benchCache(256<<10, 0)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.fn(b)
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if bc.name == "map" {
				mapNs = ns
			}
			if mapNs > 0 {
				b.ReportMetric(ns/mapNs, "x-map")
			}
		})
	}
}

// BenchmarkTimers registers one timer per op, 60 s (of µs) after the op's
// time (op i is at i ms), spread over 10 K keys in 128 key groups, and pops
// the due ones every popEvery ops: the pattern of an event-time timer per
// record with a watermark after each batch.
func BenchmarkTimers(b *testing.B) {
	for _, popEvery := range []int{64, 1024, 16384} {
		b.Run(fmt.Sprintf("pop%d", popEvery), func(b *testing.B) {
			be, err := Open(Options{Dir: "db", FS: vfs.NewMem()})
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			tm, err := be.Timers("t")
			if err != nil {
				b.Fatal(err)
			}
			keys := make([][]byte, hotKeys)
			for i := range keys {
				keys[i] = hotKey(i)
			}
			popped := 0
			fn := func(Timer) error { popped++; return nil }
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := i * 7919 % hotKeys
				now := int64(i) * 1000
				if err := tm.Register(uint16(k%128), now+60_000_000, keys[k]); err != nil {
					b.Fatal(err)
				}
				if i%popEvery == popEvery-1 {
					if _, err := tm.PopUpTo(now, fn); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(popped)/float64(b.N), "pops/op")
		})
	}
}

// BenchmarkMapClear empties one key's map of 8 entries per op, written
// back to Pebble (as after a checkpoint) and half of them cached: by
// Iterate plus Delete of each entry, or by Clear.
func BenchmarkMapClear(b *testing.B) {
	for _, clearAll := range []bool{false, true} {
		b.Run(map[bool]string{false: "iterate+delete", true: "clear"}[clearAll], func(b *testing.B) {
			be, err := Open(Options{Dir: "db", FS: vfs.NewMem()})
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			m, err := be.Map("panes")
			if err != nil {
				b.Fatal(err)
			}
			const batch = 1024
			var mks [][]byte
			for i := 0; b.Loop(); i++ {
				key := hotKey(i % hotKeys)
				kg := uint16(i % 128)
				if i%batch == 0 {
					// Fill the next batch of maps outside the timer.
					b.StopTimer()
					for j := i; j < i+batch; j++ {
						for w := range 8 {
							if err := m.Put(uint16(j%128), hotKey(j%hotKeys), []byte{byte(w)}, []byte("value")); err != nil {
								b.Fatal(err)
							}
						}
					}
					if err := be.Flush(); err != nil {
						b.Fatal(err)
					}
					for j := i; j < i+batch; j++ {
						for w := range 4 {
							if _, _, err := m.Get(uint16(j%128), hotKey(j%hotKeys), []byte{byte(w)}); err != nil {
								b.Fatal(err)
							}
						}
					}
					b.StartTimer()
				}
				if clearAll {
					err = m.Clear(kg, key)
				} else {
					mks = mks[:0]
					err = m.Iterate(kg, key, func(mk, _ []byte) error {
						mks = append(mks, append([]byte(nil), mk...))
						return nil
					})
					for _, mk := range mks {
						if err == nil {
							err = m.Delete(kg, key, mk)
						}
					}
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
