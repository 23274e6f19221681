package sdk

import (
	"math"
	"testing"
)

// Min and Max merge partial accumulators (session windows, state) in any
// order: an empty accumulator is neutral, and ties keep a value.
func TestMinMaxMerge(t *testing.T) {
	id := func(v int) int { return v }
	mn, mx := Min(id), Max(id)
	fold := func(c Combiner[int, Extreme[int], int], vs ...int) Extreme[int] {
		a := c.Create()
		for _, v := range vs {
			a = c.Add(a, v)
		}
		return a
	}
	for _, tc := range []struct {
		name    string
		a, b    []int
		wantMin int
		wantMax int
		wantSet bool
	}{
		{"both empty", nil, nil, 0, 0, false},
		{"left empty", nil, []int{3, -2}, -2, 3, true},
		{"right empty", []int{-5, 7}, nil, -5, 7, true},
		{"both", []int{4, 9}, []int{-1, 2}, -1, 9, true},
		{"ties", []int{2, 2}, []int{2}, 2, 2, true},
	} {
		for _, order := range [][2][]int{{tc.a, tc.b}, {tc.b, tc.a}} {
			gotMin := mn.Merge(fold(mn, order[0]...), fold(mn, order[1]...))
			gotMax := mx.Merge(fold(mx, order[0]...), fold(mx, order[1]...))
			if gotMin.Set != tc.wantSet || mn.Result(gotMin) != tc.wantMin {
				t.Errorf("%s: Min merge = %+v, want %d (set %v)", tc.name, gotMin, tc.wantMin, tc.wantSet)
			}
			if gotMax.Set != tc.wantSet || mx.Result(gotMax) != tc.wantMax {
				t.Errorf("%s: Max merge = %+v, want %d (set %v)", tc.name, gotMax, tc.wantMax, tc.wantSet)
			}
		}
	}
}

func TestMean(t *testing.T) {
	m := Mean(func(v int32) int32 { return v })
	if got := m.Result(m.Create()); got != 0 {
		t.Errorf("mean of nothing = %v, want 0", got)
	}
	a := m.Add(m.Add(m.Create(), 1), 2)
	b := m.Add(m.Create(), 6)
	if got := m.Result(m.Merge(a, b)); got != 3 {
		t.Errorf("mean of 1, 2, 6 = %v, want 3", got)
	}
	if got := m.Result(m.Merge(m.Create(), a)); got != 1.5 {
		t.Errorf("mean of 1, 2 merged with nothing = %v, want 1.5", got)
	}
}

// The accumulators of Min, Max and Mean are window state: their codecs
// round-trip, an unset Extreme included.
func TestMinMaxMeanAccCodecs(t *testing.T) {
	ext := accCodecOf(Min(func(s string) string { return s }))
	for _, v := range []Extreme[string]{{}, {Value: "", Set: true}, {Value: "käse", Set: true}} {
		b := ext.Append(nil, &v)
		var got Extreme[string]
		if n, err := ext.Decode(b, &got); err != nil || n != len(b) || got != v {
			t.Errorf("Extreme[string] %+v: got %+v, n %d of %d, %v", v, got, n, len(b), err)
		}
	}
	fext := accCodecOf(Max(func(f float64) float64 { return f }))
	for _, v := range []Extreme[float64]{{}, {Value: -1.5, Set: true}, {Value: math.Inf(1), Set: true}} {
		b := fext.Append(nil, &v)
		var got Extreme[float64]
		if n, err := fext.Decode(b, &got); err != nil || n != len(b) || got != v {
			t.Errorf("Extreme[float64] %+v: got %+v, n %d of %d, %v", v, got, n, len(b), err)
		}
	}
	mc := accCodecOf(Mean(func(v int) int { return v }))
	for _, v := range []MeanAcc{{}, {Sum: 10.25, Count: 3}, {Sum: -1e300, Count: math.MaxInt64}} {
		b := mc.Append(nil, &v)
		var got MeanAcc
		if n, err := mc.Decode(b, &got); err != nil || n != len(b) || got != v {
			t.Errorf("MeanAcc %+v: got %+v, n %d of %d, %v", v, got, n, len(b), err)
		}
	}
}
