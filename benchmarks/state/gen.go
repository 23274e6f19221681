package state

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/weirflow/weir/sdk"
)

// Rec is the input record: a key, a value to add up and an event time in
// microseconds since the epoch.
type Rec struct {
	Key int64
	V   int64
	T   int64
}

// RecKey returns r.Key.
func RecKey(r Rec) int64 { return r.Key }

// RecValue returns r.V.
func RecValue(r Rec) int64 { return r.V }

// RecTime returns r.T as a time.
func RecTime(r Rec) time.Time { return time.UnixMicro(r.T) }

// epochUS is the event time of record 0 (2026-01-01): never the zero time.
const epochUS = int64(1767225600) * 1_000_000

// Gen is a generated bounded sdk.Source: Records records over Keys keys,
// divided into Parts splits of consecutive record numbers. Record i has
// key KeyOf(i): every pass of Keys records visits each key once, in a
// different order per pass. Nothing is held in memory.
type Gen struct {
	Records int64
	Keys    int64
	Parts   int
}

// multipliers of the key permutation: primes, so coprime with any Keys
// below them.
const (
	permMul  = 2147483647 // 2^31-1
	permPass = 1000003
)

// KeyOf is the key of record i.
func (g *Gen) KeyOf(i int64) int64 {
	x, pass := i%g.Keys, i/g.Keys
	return (x*permMul + pass*permPass) % g.Keys
}

// Rec returns record i.
func (g *Gen) Rec(i int64) Rec { return Rec{Key: g.KeyOf(i), V: i%7 + 1, T: epochUS + i} }

// bounds returns the record numbers [lo, hi) of split s.
func (g *Gen) bounds(s int) (lo, hi int64) {
	n := int64(g.Parts)
	return g.Records * int64(s) / n, g.Records * int64(s+1) / n
}

type genSplit struct{ i int }

func (s genSplit) ID() string { return fmt.Sprintf("gen-%03d", s.i) }

// Splits lists the splits gen-000, gen-001, ...
func (g *Gen) Splits(context.Context) ([]sdk.Split, error) {
	out := make([]sdk.Split, g.Parts)
	for i := range out {
		out[i] = genSplit{i}
	}
	return out, nil
}

// Open reads split s from pos, a record number within the split.
func (g *Gen) Open(_ context.Context, s sdk.Split, pos []byte) (sdk.SplitReader[Rec], error) {
	var idx int
	if _, err := fmt.Sscanf(s.ID(), "gen-%03d", &idx); err != nil || idx < 0 || idx >= g.Parts {
		return nil, fmt.Errorf("state bench: no split %q", s.ID())
	}
	lo, hi := g.bounds(idx)
	r := &genReader{g: g, lo: lo, next: lo, hi: hi}
	if pos != nil {
		n, err := strconv.ParseInt(string(pos), 10, 64)
		if err != nil || n < 0 || lo+n > hi {
			return nil, fmt.Errorf("state bench: bad position %q of split %s", pos, s.ID())
		}
		r.next = lo + n
	}
	return r, nil
}

type genReader struct {
	g            *Gen
	lo, next, hi int64
}

func (r *genReader) ReadBatch(_ context.Context, b *sdk.Batch[Rec], max int) ([]sdk.DeadLetter, error) {
	n := min(int64(max), r.hi-r.next)
	for i := r.next; i < r.next+n; i++ {
		b.Values = append(b.Values, r.g.Rec(i))
	}
	r.next += n
	if r.next == r.hi {
		return nil, sdk.ErrEndOfSplit
	}
	return nil, nil
}

func (r *genReader) Position() []byte { return strconv.AppendInt(nil, r.next-r.lo, 10) }

func (r *genReader) Close() error { return nil }

// Expect is the independent computation of a Sum per key over records
// [0, n) of g: a plain loop, no runner.
func (g *Gen) Expect(n int64) (sum, count []int64) {
	sum, count = make([]int64, g.Keys), make([]int64, g.Keys)
	for i := range n {
		r := g.Rec(i)
		sum[r.Key] += r.V
		count[r.Key]++
	}
	return sum, count
}

// Fat is a combiner whose accumulator is a string of Size bytes (at least
// fatHeader): the key, the sum of the values and the count, then filler
// derived from key and count by a PRNG (incompressible, so the state's
// size on disk is its size in memory). Every Add writes a new string, as a
// per-key record of Size bytes would.
type Fat struct{ Size int }

// fatHeader is key, sum and count, 8 bytes each.
const fatHeader = 24

// FatOut is the result of a [Fat] accumulator; OK reports that its length
// and filler are what key and count imply.
type FatOut struct {
	Sum, Count int64
	OK         bool
}

func (f Fat) size() int { return max(f.Size, fatHeader) }

func (f Fat) make(key, sum, count int64) string {
	b := make([]byte, f.size())
	binary.LittleEndian.PutUint64(b, uint64(key))
	binary.LittleEndian.PutUint64(b[8:], uint64(sum))
	binary.LittleEndian.PutUint64(b[16:], uint64(count))
	fill(b[fatHeader:], uint64(key)*0x9E3779B97F4A7C15^uint64(count))
	return unsafe.String(&b[0], len(b))
}

// fill writes splitmix64 output seeded by seed into b.
func fill(b []byte, seed uint64) {
	x := seed
	for len(b) >= 8 {
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		binary.LittleEndian.PutUint64(b, z^z>>31)
		b = b[8:]
	}
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
}

func fatFields(a string) (key, sum, count int64) {
	if len(a) < fatHeader {
		return 0, 0, 0
	}
	b := unsafe.Slice(unsafe.StringData(a), len(a))
	return int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:])),
		int64(binary.LittleEndian.Uint64(b[16:]))
}

// Create returns the empty accumulator.
func (f Fat) Create() string { return "" }

// Add adds r.V to the accumulator.
func (f Fat) Add(a string, r Rec) string {
	_, s, c := fatFields(a)
	return f.make(r.Key, s+r.V, c+1)
}

// Merge adds two accumulators of one key.
func (f Fat) Merge(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	k, sa, ca := fatFields(a)
	_, sb, cb := fatFields(b)
	return f.make(k, sa+sb, ca+cb)
}

// Result decodes the accumulator and checks its filler.
func (f Fat) Result(a string) FatOut {
	k, s, c := fatFields(a)
	return FatOut{Sum: s, Count: c, OK: len(a) == f.size() && a == f.make(k, s, c)}
}

var _ sdk.Combiner[Rec, string, FatOut] = Fat{}
