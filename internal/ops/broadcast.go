package ops

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// BroadcastStore is the broadcast state of one operator instance (Flink's
// broadcast state): named maps of encoded keys to encoded values. Every
// task of the operator holds the same maps: each applies the same
// broadcast records in the same order, and a checkpoint barrier reaches
// every task after the same ones. Only the broadcast input writes it.
type BroadcastStore struct {
	maps   map[string]map[string][]byte
	sorted map[string][]string // each map's keys in order, for Range; dropped when a key comes or goes
	key    []byte              // scratch for the callers' encoded keys (KeyBuf)
	dirty  bool                // changed since the last snapshot
	write  bool                // writes are allowed now: a broadcast record is processed
}

// KeyBuf is a scratch buffer to encode a key in for Get, Put and Delete,
// so that a lookup per record allocates nothing.
func (b *BroadcastStore) KeyBuf() *[]byte { return &b.key }

var errBroadcastReadOnly = errors.New("broadcast state is written by the broadcast input only (ProcessBroadcastElement): the keyed input reads it, so that every task keeps the same")

// Get returns the value of key k in map name.
func (b *BroadcastStore) Get(name string, k []byte) ([]byte, bool) {
	v, ok := b.maps[name][string(k)]
	return v, ok
}

// Put sets k to v in map name (the store keeps copies).
func (b *BroadcastStore) Put(name string, k, v []byte) error {
	if !b.write {
		return errBroadcastReadOnly
	}
	m := b.maps[name]
	if m == nil {
		if b.maps == nil {
			b.maps = map[string]map[string][]byte{}
		}
		m = map[string][]byte{}
		b.maps[name] = m
	}
	if _, ok := m[string(k)]; !ok {
		delete(b.sorted, name)
	}
	m[string(k)] = slices.Clone(v)
	b.dirty = true
	return nil
}

// Delete removes k from map name.
func (b *BroadcastStore) Delete(name string, k []byte) error {
	if !b.write {
		return errBroadcastReadOnly
	}
	if _, ok := b.maps[name][string(k)]; ok {
		delete(b.maps[name], string(k))
		delete(b.sorted, name)
		b.dirty = true
	}
	return nil
}

// Range calls fn for each entry of map name in key byte order; fn must
// not modify the key it is given.
func (b *BroadcastStore) Range(name string, fn func(k, v []byte) error) error {
	m := b.maps[name]
	keys, ok := b.sorted[name]
	if !ok {
		keys = make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if b.sorted == nil {
			b.sorted = map[string][]string{}
		}
		b.sorted[name] = keys
	}
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			continue // deleted by fn during the range
		}
		// fn only reads k (decodes it): no copy of the key is needed.
		if err := fn(unsafe.Slice(unsafe.StringData(k), len(k)), v); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of entries of map name.
func (b *BroadcastStore) Len(name string) int { return len(b.maps[name]) }

// encode writes every map, names and keys sorted: uvarint counts and
// lengths.
func (b *BroadcastStore) encode() []byte {
	var out []byte
	names := make([]string, 0, len(b.maps))
	for n, m := range b.maps {
		if len(m) > 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	out = binary.AppendUvarint(out, uint64(len(names)))
	for _, n := range names {
		out = appendBytes(out, []byte(n))
		out = binary.AppendUvarint(out, uint64(len(b.maps[n])))
		_ = b.Range(n, func(k, v []byte) error {
			out = appendBytes(appendBytes(out, k), v)
			return nil
		})
	}
	return out
}

func appendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

// decode replaces the maps with those encode wrote in src.
func (b *BroadcastStore) decode(src []byte) error {
	bad := errors.New("broadcast state: corrupt encoding")
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(src)
		if n <= 0 {
			return 0, false
		}
		src = src[n:]
		return v, true
	}
	bytes := func() ([]byte, bool) {
		l, ok := next()
		if !ok || l > uint64(len(src)) {
			return nil, false
		}
		v := src[:l:l]
		src = src[l:]
		return v, true
	}
	names, ok := next()
	if !ok {
		return bad
	}
	b.maps, b.sorted = map[string]map[string][]byte{}, nil
	for range names {
		n, ok := bytes()
		if !ok {
			return bad
		}
		cnt, ok := next()
		if !ok {
			return bad
		}
		m := map[string][]byte{}
		for range cnt {
			k, ok1 := bytes()
			v, ok2 := bytes()
			if !ok1 || !ok2 {
				return bad
			}
			m[string(k)] = slices.Clone(v)
		}
		b.maps[string(n)] = m
	}
	if len(src) != 0 {
		return bad
	}
	return nil
}

// BroadcastConfig configures a keyed operator with a broadcast input
// (sdk.BroadcastProcess): input 0 is keyed as in ProcessConfig, input 1
// reaches every task and OnBroadcast handles its records, without a key,
// writing the broadcast state.
type BroadcastConfig[K comparable, T, R, O, C any] struct {
	ProcessConfig[K, T, O, C]
	OnBroadcast func(c C, r R) error
}

// broadcastStateName is the backend value the broadcast maps are kept in.
const broadcastStateName = "broadcast"

// NewBroadcastProcess returns a factory of keyed process operators with
// a broadcast input on input 1 (its edge sends every record to every
// task: [NewBroadcastPartitioner]). The broadcast state lives in memory;
// a snapshot after it changed writes it whole to every key group of the
// task (one backend value each), so that a task restored at any
// parallelism finds a copy in any key group it gets, and reads it from the
// first in Open.
func NewBroadcastProcess[K comparable, T, R, O, C any](cfg BroadcastConfig[K, T, R, O, C]) func() graph.Operator {
	return func() graph.Operator {
		return &broadcastOp[K, T, R, O, C]{processOp: processOp[K, T, O, C]{cfg: cfg.ProcessConfig}, onB: cfg.OnBroadcast}
	}
}

type broadcastOp[K comparable, T, R, O, C any] struct {
	processOp[K, T, O, C]
	onB    func(C, R) error
	store  BroadcastStore
	state  graph.ValueState
	kg, kE uint16 // the task's key groups [kg, kE)
}

func (o *broadcastOp[K, T, R, O, C]) Open(octx graph.OpContext, outs []graph.Output) error {
	if o.onB == nil {
		return errors.New("process: incomplete BroadcastConfig")
	}
	if err := o.processOp.Open(octx, outs); err != nil {
		return err
	}
	var err error
	if o.state, err = octx.State.Value(broadcastStateName); err != nil {
		return fmt.Errorf("process: open broadcast state: %w", err)
	}
	o.kg, o.kE = octx.State.KeyGroups()
	o.store = BroadcastStore{}
	if o.kg < o.kE {
		b, ok, err := o.state.Get(o.kg, nil)
		if err != nil {
			return fmt.Errorf("process: read broadcast state: %w", err)
		}
		if ok {
			if err := o.store.decode(b); err != nil {
				return fmt.Errorf("process: key group %d: %w", o.kg, err)
			}
		}
	}
	o.ctx.bcast = &o.store
	return nil
}

func (o *broadcastOp[K, T, R, O, C]) Process(in int, batch any) error {
	switch in {
	case 0:
		return processBatch(&o.processOp, batch.(*base.Batch[T]), o.cfg.Key, o.cfg.OnElement)
	case 1:
		return o.broadcast(batch.(*base.Batch[R]))
	}
	return fmt.Errorf("process: input %d of a broadcast operator", in)
}

// broadcast runs OnBroadcast for each record of in, with no key set and
// the broadcast state writable.
func (o *broadcastOp[K, T, R, O, C]) broadcast(in *base.Batch[R]) error {
	o.store.write = true
	defer func() { o.store.write = false }()
	return processBatch(&o.processOp, in, nil, o.onB)
}

// Snapshot writes the broadcast state to every key group of the task when
// it changed since the last snapshot.
func (o *broadcastOp[K, T, R, O, C]) Snapshot(id base.CheckpointID) error {
	if o.store.dirty {
		b := o.store.encode()
		for kg := o.kg; kg < o.kE; kg++ {
			if err := o.state.Put(kg, nil, b); err != nil {
				return fmt.Errorf("process: write broadcast state: %w", err)
			}
		}
		o.store.dirty = false
	}
	return o.processOp.Snapshot(id)
}

var _ graph.Stateful = (*broadcastOp[int, int, int, int, int])(nil)

// NewBroadcastPartitioner returns the partitioner of a broadcast edge:
// every row goes to every task.
func NewBroadcastPartitioner[T any]() graph.Partitioner { return broadcastPartitioner[T]{} }

type broadcastPartitioner[T any] struct{}

func (broadcastPartitioner[T]) NewBatch(n int) any { return base.NewBatch[T](n) }
func (broadcastPartitioner[T]) Len(b any) int      { return b.(*base.Batch[T]).Len() }

func (broadcastPartitioner[T]) Split(batch any, outs []any, _, size int, made []int) []int {
	in := batch.(*base.Batch[T])
	for i := range outs {
		var t *base.Batch[T]
		t, made = target[T](outs, i, size, made)
		t.AppendBatch(in)
	}
	return made
}
