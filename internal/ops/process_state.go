package ops

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// StateKind is the kind of a user state.
type StateKind uint8

// The kinds of user state.
const (
	ValueKind StateKind = 1 + iota
	ListKind
	MapKind
)

func (k StateKind) String() string {
	switch k {
	case ValueKind:
		return "value"
	case ListKind:
		return "list"
	case MapKind:
		return "map"
	}
	return fmt.Sprintf("StateKind(%d)", uint8(k))
}

// StateSpec declares one user state: its name (unique in the operator),
// kind and time-to-live in processing time (0: never expires).
type StateSpec struct {
	Name string
	Kind StateKind
	TTL  time.Duration
}

// Stored form of every user state value, list element and map value:
//
//	0x00 | payload                        no TTL
//	0x01 | expiry (8 bytes BE int64, µs) | payload
//
// The tag makes a change of TTL between runs safe. Each TTL write also
// sets a cleanup timer at its expiry rounded up to TTL/8, whose key names
// the state: kind | uvarint(len(name)) | name | key.
const (
	procTagPlain byte = 0
	procTagTTL   byte = 1
)

// KeyedState is a keyed process operator's user state, scoped to the
// current key. It encodes nothing: values are bytes, the codecs are the
// caller's (sdk). Time-to-live follows Flink's defaults: the expiry is set
// on create and on every write (not on reads), in processing time, and an
// expired entry is never returned; expired entries are deleted when read and
// by a cleanup timer shortly after they expire.
type KeyedState struct {
	b       graph.StateBackend
	kg      uint16
	key     []byte // the current key's encoding
	keyBuf  []byte
	now     int64 // processing time, µs
	handles map[string]*procStateHandle
	ttl     indexedTimers
	buf     []byte
	tbuf    []byte
	skey    []byte
	sval    []byte
}

// Scratch returns two buffers the caller may encode a map key and a value
// into before passing them to a method of s; s never retains them.
func (s *KeyedState) Scratch() (key, val *[]byte) { return &s.skey, &s.sval }

type procStateHandle struct {
	kind StateKind
	v    graph.ValueState
	l    graph.ListState
	m    graph.MapState
}

// Now returns the processing time TTL is judged at.
func (s *KeyedState) Now() base.Timestamp { return base.Timestamp(s.now) }

func (s *KeyedState) handle(name string, kind StateKind) (*procStateHandle, error) {
	if h := s.handles[name]; h != nil {
		if h.kind != kind {
			return nil, fmt.Errorf("process: state %q is used as %s and %s state; give each state its own name", name, h.kind, kind)
		}
		return h, nil
	}
	h := &procStateHandle{kind: kind}
	var err error
	switch kind {
	case ValueKind:
		h.v, err = s.b.Value(userStatePrefix + name)
	case ListKind:
		h.l, err = s.b.List(userStatePrefix + name)
	case MapKind:
		h.m, err = s.b.Map(userStatePrefix + name)
	default:
		err = fmt.Errorf("unknown kind %d", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("process: state %q: %w", name, err)
	}
	s.handles[name] = h
	return h, nil
}

// wrap returns the stored form of payload under spec, and registers its
// cleanup timer.
func (s *KeyedState) wrap(spec *StateSpec, payload []byte) ([]byte, error) {
	if spec.TTL <= 0 {
		s.buf = append(append(s.buf[:0], procTagPlain), payload...)
		return s.buf, nil
	}
	ttl := spec.TTL.Microseconds()
	if ttl < 1 {
		ttl = 1
	}
	expiry := int64(base.Timestamp(s.now).AddMicros(ttl))
	s.buf = append(s.buf[:0], procTagTTL)
	s.buf = binary.BigEndian.AppendUint64(s.buf, uint64(expiry))
	s.buf = append(s.buf, payload...)
	if err := s.setCleanup(spec, expiry, ttl); err != nil {
		return nil, err
	}
	return s.buf, nil
}

func (s *KeyedState) setCleanup(spec *StateSpec, expiry, ttl int64) error {
	// Round up so that the writes of a key within TTL/8 share one timer.
	gran := max(ttl/8, 1)
	at := expiry
	if r := base.FloorDiv(expiry, gran) * gran; r != expiry {
		at = int64(base.Timestamp(r).AddMicros(gran))
	}
	s.tbuf = append(s.tbuf[:0], byte(spec.Kind))
	s.tbuf = binary.AppendUvarint(s.tbuf, uint64(len(spec.Name)))
	s.tbuf = append(s.tbuf, spec.Name...)
	s.tbuf = append(s.tbuf, s.key...)
	if err := s.ttl.register(s.kg, at, s.tbuf); err != nil {
		return fmt.Errorf("process: state %q: set TTL cleanup: %w", spec.Name, err)
	}
	return nil
}

// unwrap splits a stored entry; live is false when it has expired.
func (s *KeyedState) unwrap(name string, raw []byte) (payload []byte, live bool, err error) {
	if len(raw) == 0 {
		return nil, false, fmt.Errorf("process: state %q: corrupt entry: empty", name)
	}
	switch raw[0] {
	case procTagPlain:
		return raw[1:], true, nil
	case procTagTTL:
		if len(raw) < 9 {
			return nil, false, fmt.Errorf("process: state %q: corrupt entry: short expiry", name)
		}
		if int64(binary.BigEndian.Uint64(raw[1:9])) <= s.now {
			return nil, false, nil
		}
		return raw[9:], true, nil
	}
	return nil, false, fmt.Errorf("process: state %q: corrupt entry: tag %d", name, raw[0])
}

// GetValue returns the current key's value of spec. The slice is valid
// until the next write to the state.
func (s *KeyedState) GetValue(spec *StateSpec) ([]byte, bool, error) {
	h, err := s.handle(spec.Name, ValueKind)
	if err != nil {
		return nil, false, err
	}
	raw, ok, err := h.v.Get(s.kg, s.key)
	if err != nil || !ok {
		return nil, false, procStateErr(spec.Name, err)
	}
	p, live, err := s.unwrap(spec.Name, raw)
	if err != nil || live {
		return p, live, err
	}
	return nil, false, procStateErr(spec.Name, h.v.Delete(s.kg, s.key))
}

// PutValue sets the current key's value of spec (resetting its TTL).
func (s *KeyedState) PutValue(spec *StateSpec, payload []byte) error {
	h, err := s.handle(spec.Name, ValueKind)
	if err != nil {
		return err
	}
	raw, err := s.wrap(spec, payload)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.v.Put(s.kg, s.key, raw))
}

// ClearValue deletes the current key's value of spec.
func (s *KeyedState) ClearValue(spec *StateSpec) error {
	h, err := s.handle(spec.Name, ValueKind)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.v.Delete(s.kg, s.key))
}

// AppendList appends payload to the current key's list of spec; with a
// TTL each element expires on its own.
func (s *KeyedState) AppendList(spec *StateSpec, payload []byte) error {
	h, err := s.handle(spec.Name, ListKind)
	if err != nil {
		return err
	}
	raw, err := s.wrap(spec, payload)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.l.Append(s.kg, s.key, raw))
}

// IterateList calls fn with each live element of the current key's list
// of spec in append order; the slice is valid only during the call.
// Expired elements are dropped from the list afterwards.
func (s *KeyedState) IterateList(spec *StateSpec, fn func(payload []byte) error) error {
	h, err := s.handle(spec.Name, ListKind)
	if err != nil {
		return err
	}
	expired := 0
	err = h.l.Iterate(s.kg, s.key, func(raw []byte) error {
		p, live, err := s.unwrap(spec.Name, raw)
		if err != nil {
			return err
		}
		if !live {
			expired++
			return nil
		}
		return fn(p)
	})
	if err != nil {
		return procStateErr(spec.Name, err)
	}
	if expired > 0 {
		return s.compactList(spec.Name, h)
	}
	return nil
}

// compactList rewrites the current key's list without its expired
// elements, keeping the others' expiries.
func (s *KeyedState) compactList(name string, h *procStateHandle) error {
	var live [][]byte
	err := h.l.Iterate(s.kg, s.key, func(raw []byte) error {
		if _, ok, err := s.unwrap(name, raw); err != nil || !ok {
			return err
		}
		live = append(live, append([]byte(nil), raw...))
		return nil
	})
	if err == nil {
		err = h.l.Clear(s.kg, s.key)
	}
	for i := 0; err == nil && i < len(live); i++ {
		err = h.l.Append(s.kg, s.key, live[i])
	}
	return procStateErr(name, err)
}

// ClearList empties the current key's list of spec.
func (s *KeyedState) ClearList(spec *StateSpec) error {
	h, err := s.handle(spec.Name, ListKind)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.l.Clear(s.kg, s.key))
}

// GetMap returns the value of map key mk in the current key's map of spec.
func (s *KeyedState) GetMap(spec *StateSpec, mk []byte) ([]byte, bool, error) {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return nil, false, err
	}
	raw, ok, err := h.m.Get(s.kg, s.key, mk)
	if err != nil || !ok {
		return nil, false, procStateErr(spec.Name, err)
	}
	p, live, err := s.unwrap(spec.Name, raw)
	if err != nil || live {
		return p, live, err
	}
	return nil, false, procStateErr(spec.Name, h.m.Delete(s.kg, s.key, mk))
}

// PutMap sets map key mk of the current key's map of spec.
func (s *KeyedState) PutMap(spec *StateSpec, mk, payload []byte) error {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return err
	}
	raw, err := s.wrap(spec, payload)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.m.Put(s.kg, s.key, mk, raw))
}

// DeleteMap removes map key mk of the current key's map of spec.
func (s *KeyedState) DeleteMap(spec *StateSpec, mk []byte) error {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return err
	}
	return procStateErr(spec.Name, h.m.Delete(s.kg, s.key, mk))
}

// IterateMap calls fn with each live entry of the current key's map of spec
// in map-key byte order; the slices are valid only during the call. Expired
// entries are deleted afterwards.
func (s *KeyedState) IterateMap(spec *StateSpec, fn func(mk, payload []byte) error) error {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return err
	}
	return s.iterateMap(spec.Name, h, fn)
}

// IterateMapRange is IterateMap over the entries with map keys in [from,
// to) (nil from: from the first; nil to: to the last). It seeks to from
// and flushes nothing, so a scan of a few entries of a large map, or of a
// map with dirty entries, costs little. Expired entries in the range are
// deleted afterwards.
func (s *KeyedState) IterateMapRange(spec *StateSpec, from, to []byte, fn func(mk, payload []byte) error) error {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return err
	}
	return s.iterateMapRange(spec.Name, h, from, to, fn)
}

func (s *KeyedState) iterateMap(name string, h *procStateHandle, fn func(mk, payload []byte) error) error {
	return s.iterateMapRange(name, h, nil, nil, fn)
}

func (s *KeyedState) iterateMapRange(name string, h *procStateHandle, from, to []byte, fn func(mk, payload []byte) error) error {
	var expired [][]byte
	each := func(mk, raw []byte) error {
		p, live, err := s.unwrap(name, raw)
		if err != nil {
			return err
		}
		if !live {
			expired = append(expired, append([]byte(nil), mk...))
			return nil
		}
		if fn == nil {
			return nil
		}
		return fn(mk, p)
	}
	var err error
	if from == nil && to == nil {
		err = h.m.Iterate(s.kg, s.key, each)
	} else {
		err = h.m.IterateRange(s.kg, s.key, from, to, each)
	}
	for i := 0; err == nil && i < len(expired); i++ {
		err = h.m.Delete(s.kg, s.key, expired[i])
	}
	return procStateErr(name, err)
}

// ClearMap deletes every entry of the current key's map of spec.
func (s *KeyedState) ClearMap(spec *StateSpec) error {
	h, err := s.handle(spec.Name, MapKind)
	if err != nil {
		return err
	}
	var mks [][]byte
	err = h.m.Iterate(s.kg, s.key, func(mk, _ []byte) error {
		mks = append(mks, append([]byte(nil), mk...))
		return nil
	})
	for i := 0; err == nil && i < len(mks); i++ {
		err = h.m.Delete(s.kg, s.key, mks[i])
	}
	return procStateErr(spec.Name, err)
}

// cleanup handles a TTL cleanup timer: it deletes what has expired in the
// state and key the timer names.
func (s *KeyedState) cleanup(kg uint16, tkey []byte) error {
	if len(tkey) < 2 {
		return errors.New("process: corrupt TTL timer")
	}
	kind := StateKind(tkey[0])
	n, w := binary.Uvarint(tkey[1:])
	if w <= 0 || uint64(len(tkey)-1-w) < n {
		return errors.New("process: corrupt TTL timer")
	}
	name := string(tkey[1+w : 1+w+int(n)])
	s.kg, s.key = kg, tkey[1+w+int(n):]
	h, err := s.handle(name, kind)
	if err != nil {
		return err
	}
	switch kind {
	case ValueKind:
		raw, ok, err := h.v.Get(s.kg, s.key)
		if err != nil || !ok {
			return procStateErr(name, err)
		}
		if _, live, err := s.unwrap(name, raw); err != nil || live {
			return err
		}
		return procStateErr(name, h.v.Delete(s.kg, s.key))
	case ListKind:
		expired := false
		err := h.l.Iterate(s.kg, s.key, func(raw []byte) error {
			_, live, err := s.unwrap(name, raw)
			expired = expired || !live
			return err
		})
		if err != nil || !expired {
			return procStateErr(name, err)
		}
		return s.compactList(name, h)
	default:
		return s.iterateMap(name, h, nil)
	}
}

func procStateErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("process: state %q: %w", name, err)
}
