package sdk

import (
	"testing"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// The temporal join's records joined at once, when the versions input's
// own watermark has passed them (joinNow), give what waiting for the
// watermark of both inputs gives.

func temporalJoinOf(l, r Keyed[string, string]) PCollection[string] {
	return TemporalJoin(l, r, func(a, v string, ok bool) string {
		if !ok {
			return a + "+none"
		}
		return a + "+" + v
	})
}

// inputWatermark tells the operator the watermark of input in alone, as
// the runner does (graph.InputWatermarker).
func (h *joinHarness) inputWatermark(in int, ts base.Timestamp) {
	h.t.Helper()
	if err := h.op.(graph.InputWatermarker).InputWatermark(in, ts); err != nil {
		h.t.Fatal(err)
	}
}

// TestTemporalJoinStateBeforeVmin: state written before the key's value
// kept the earliest waiting version's time (a savepoint of older code)
// has versions waiting that the value does not show. Its records wait
// (they cannot be joined at once) until a timer has read the whole list,
// and a record that waits meanwhile does not make the key look tracked.
func TestTemporalJoinStateBeforeVmin(t *testing.T) {
	h := newJoinHarness(t, temporalJoinOf)
	h.run("R k:v0@10\nW 20\nR k:v1@50")
	// Rewrite the key's value in the format of older code: no
	// metaTracked, no vmin.
	kg := uint16(base.KeyGroupOf(base.BuiltinHash[string]()("k"), 16))
	kc, _ := CodecOf[string]()
	key := "k"
	k := kc.AppendKey(nil, &key)
	vs, err := h.view.Value("state/meta")
	if err != nil {
		t.Fatal(err)
	}
	raw, ok, err := vs.Get(kg, k)
	if err != nil || !ok {
		t.Fatalf("meta of k: %v, found %v", err, ok)
	}
	m, err := metaOf(raw[1:]) // raw[0]: the process operator's TTL tag
	if err != nil || !m.tracked || !m.versions || m.vmin != 50 {
		t.Fatalf("meta %+v, %v: want tracked with a version waiting at 50", m, err)
	}
	old := append(timeKey([]byte{0, metaArmed | metaCurrent}, m.timer), m.current...)
	if err := vs.Put(kg, k, old); err != nil {
		t.Fatal(err)
	}
	h.inputWatermark(1, 1000)
	h.run("L k:a@40\nout\nL k:b@60\nout\nW 1000\nout k:a+k:v0@40, k:b+k:v1@60")
	// The timer read the whole list: the key is tracked again, and a
	// record after the versions' watermark is joined at once.
	h.inputWatermark(1, 3000)
	h.run("L k:c@2000\nout k:c+k:v1@2000")
}

// TestTemporalJoinVersionBehindItsInput: a version behind its own
// input's watermark (one without a mark, as a window's result has) is
// late, as a version behind its split's mark is: records after it may
// have been joined at once already.
func TestTemporalJoinVersionBehindItsInput(t *testing.T) {
	h := newJoinHarness(t, temporalJoinOf)
	h.run("W 0")
	h.inputWatermark(1, 100)
	h.run("L k:a@60 mark=0\nR k:v@55\nW 100\nout k:a+none@60\nlate 1")
}
