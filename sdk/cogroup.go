package sdk

import (
	"fmt"

	"github.com/weirflow/weir/internal/ops"
)

// CoGroupResult holds the records of both inputs of a [CoGroup] for one
// key and window, each side in the order the records were added.
type CoGroupResult[A, B any] struct {
	Left  []A
	Right []B
}

// coItem is a record of either input of a co-group on its way to the
// window: Beam's tagged union of CoGroupByKey.
type coItem[A, B any] struct {
	right bool
	a     A
	b     B
}

// selfCoder is implemented by the sdk's own generic carrier types, whose
// codecs are made of their type arguments' codecs rather than registered.
type selfCoder[T any] interface{ binaryCodec() ops.Codec[T] }

// binaryCodec is the union's codec: a side flag, then that side's record.
func (coItem[A, B]) binaryCodec() ops.Codec[coItem[A, B]] {
	ca, cb := codecFor[A](), codecFor[B]()
	if !ca.Ok() || !cb.Ok() {
		return ops.Codec[coItem[A, B]]{}
	}
	return ops.Codec[coItem[A, B]]{
		Append: func(dst []byte, v *coItem[A, B]) []byte {
			if v.right {
				return cb.Append(append(dst, 1), &v.b)
			}
			return ca.Append(append(dst, 0), &v.a)
		},
		Decode: func(src []byte, v *coItem[A, B]) (int, error) {
			if len(src) == 0 {
				return 0, fmt.Errorf("sdk: co-group record: empty")
			}
			*v = coItem[A, B]{right: src[0] == 1}
			var n int
			var err error
			switch src[0] {
			case 0:
				n, err = ca.Decode(src[1:], &v.a)
			case 1:
				n, err = cb.Decode(src[1:], &v.b)
			default:
				return 0, fmt.Errorf("sdk: co-group record: bad side %d", src[0])
			}
			return 1 + n, err
		},
	}
}

// coGroupCombiner collects a co-group's records per key and window.
type coGroupCombiner[A, B any] struct{}

func (coGroupCombiner[A, B]) Create() CoGroupResult[A, B] { return CoGroupResult[A, B]{} }

func (coGroupCombiner[A, B]) Add(acc CoGroupResult[A, B], in coItem[A, B]) CoGroupResult[A, B] {
	if in.right {
		acc.Right = append(acc.Right, in.b)
	} else {
		acc.Left = append(acc.Left, in.a)
	}
	return acc
}

func (coGroupCombiner[A, B]) Merge(x, y CoGroupResult[A, B]) CoGroupResult[A, B] {
	return CoGroupResult[A, B]{Left: append(x.Left, y.Left...), Right: append(x.Right, y.Right...)}
}

func (coGroupCombiner[A, B]) Result(acc CoGroupResult[A, B]) CoGroupResult[A, B] { return acc }

// accCodec: both lists, each with listCombiner's encoding.
func (coGroupCombiner[A, B]) accCodec() ops.Codec[CoGroupResult[A, B]] {
	la, lb := listCombiner[A]{}.accCodec(), listCombiner[B]{}.accCodec()
	if !la.Ok() || !lb.Ok() {
		return ops.Codec[CoGroupResult[A, B]]{}
	}
	return ops.Codec[CoGroupResult[A, B]]{
		Append: func(dst []byte, v *CoGroupResult[A, B]) []byte {
			return lb.Append(la.Append(dst, &v.Left), &v.Right)
		},
		Decode: func(src []byte, v *CoGroupResult[A, B]) (int, error) {
			n, err := la.Decode(src, &v.Left)
			if err != nil {
				return n, err
			}
			m, err := lb.Decode(src[n:], &v.Right)
			return n + m, err
		},
	}
}

// CoGroup groups the records of two collections keyed by the same key
// type by key and window: one [CoGroupResult] per key and window that has
// records on either side (Beam's CoGroupByKey, Flink's coGroup ... window).
// Windows, firing, allowed lateness and late records are those of
// [WindowInto] and [Aggregate] on one input, with the watermark the minimum
// of both inputs'; late records are counted and dropped. A and B need
// codecs, since the groups are kept in keyed state.
func CoGroup[K comparable, A, B any](a Keyed[K, A], b Keyed[K, B], fn WindowFn, opts ...WindowOption) PCollection[Result[K, CoGroupResult[A, B]]] {
	p := a.in.p
	cfg := windowConfig{name: "CoGroup"}
	for _, o := range opts {
		o.applyWindow(&cfg)
	}
	if b.in.p != p {
		p.addErr(errorf("CoGroup %q: collections from different pipelines", cfg.name))
	}
	for _, err := range []error{codecErr[A](), codecErr[B]()} {
		if err != nil {
			p.addErr(errorf("CoGroup %q: %v", cfg.name, err))
		}
	}
	ka, kb := a.key, b.key
	left := Map(a.in, func(v A) coItem[A, B] { return coItem[A, B]{a: v} }, Named(cfg.name+"/Left"))
	right := Map(b.in, func(v B) coItem[A, B] { return coItem[A, B]{right: true, b: v} }, Named(cfg.name+"/Right"))
	both := Flatten(left, right)
	keyed := Keyed[K, coItem[A, B]]{in: both, hash: a.hash, name: cfg.name + "/Key", key: func(v coItem[A, B]) K {
		if v.right {
			return kb(v.b)
		}
		return ka(v.a)
	}}
	win := WindowInto(keyed, fn, append([]WindowOption{Named(cfg.name)}, opts...)...)
	return Aggregate[K, coItem[A, B], CoGroupResult[A, B], CoGroupResult[A, B]](win, coGroupCombiner[A, B]{}, Named(cfg.name))
}

// codecErr says why T has no binary codec, or nil.
func codecErr[T any]() error {
	if codecFor[T]().Ok() {
		return nil
	}
	_, err := CodecOf[T]()
	if err == nil {
		err = NoCodecError{Type: typeName[T]()}
	}
	return err
}

// JoinType is the kind of a [WindowJoin].
type JoinType uint8

const (
	// InnerJoin emits the pairs of records of both sides.
	InnerJoin JoinType = iota
	// LeftOuterJoin also emits each left record of a key and window
	// without right records, with a nil right.
	LeftOuterJoin
	// FullOuterJoin also emits each record of either side whose key and
	// window have none on the other, with a nil other side.
	FullOuterJoin
)

func (t JoinType) String() string {
	switch t {
	case InnerJoin:
		return "inner"
	case LeftOuterJoin:
		return "left outer"
	case FullOuterJoin:
		return "full outer"
	}
	return fmt.Sprintf("JoinType(%d)", uint8(t))
}

// WindowJoin joins two keyed collections per key and window (Flink's
// join ... window ... apply): fn is called with every pair of records of a
// key and window, one from each side, and, for outer joins, with the
// records that have no partner and nil for the missing side. The pointers
// are valid only during the call. Results carry the window's time (its end
// − 1µs), as [Aggregate]'s do. See [CoGroup] for windows and lateness.
func WindowJoin[K comparable, A, B, O any](a Keyed[K, A], b Keyed[K, B], fn WindowFn, typ JoinType, join func(a *A, b *B) O, opts ...WindowOption) PCollection[O] {
	cfg := windowConfig{name: "WindowJoin"}
	for _, o := range opts {
		o.applyWindow(&cfg)
	}
	if join == nil {
		a.in.p.addErr(errorf("WindowJoin %q: nil join function", cfg.name))
	}
	if typ > FullOuterJoin {
		a.in.p.addErr(errorf("WindowJoin %q: unknown join type %d", cfg.name, typ))
	}
	groups := CoGroup(a, b, fn, append([]WindowOption{Named(cfg.name)}, opts...)...)
	return FlatMap(groups, func(g Result[K, CoGroupResult[A, B]], emit func(O)) {
		l, r := g.Value.Left, g.Value.Right
		for i := range l {
			for j := range r {
				emit(join(&l[i], &r[j]))
			}
		}
		if len(r) == 0 && typ != InnerJoin {
			for i := range l {
				emit(join(&l[i], nil))
			}
		}
		if len(l) == 0 && typ == FullOuterJoin {
			for j := range r {
				emit(join(nil, &r[j]))
			}
		}
	}, Named(cfg.name+"/Pairs"))
}
