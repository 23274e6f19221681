package ops

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMinHeap: pushes and pops interleaved at random come out in order,
// against a sorted slice; a heap filled with sorted items directly pops
// them in order too.
func TestMinHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h minHeap[bucket]
	var model []bucket
	for i := range 5000 {
		if rng.IntN(3) > 0 || len(model) == 0 {
			b := bucket(rng.Int64N(100) - 50)
			h.push(b)
			model = append(model, b)
			slices.Sort(model)
		} else {
			if got := h.pop(); got != model[0] {
				t.Fatalf("op %d: pop = %d, want %d", i, got, model[0])
			}
			model = model[1:]
		}
		if h.len() != len(model) || (len(model) > 0 && *h.min() != model[0]) {
			t.Fatalf("op %d: len %d min %v, want %d %v", i, h.len(), h.items, len(model), model)
		}
	}
	h.reset()
	h.items = append(h.items, 1, 2, 2, 5, 9)
	h.push(3)
	var got []bucket
	for h.len() > 0 {
		got = append(got, h.pop())
	}
	if !slices.Equal(got, []bucket{1, 2, 2, 3, 5, 9}) {
		t.Fatalf("sorted fill: %v", got)
	}
}

// TestTimerOrders: the orders the heap keeps for the window and process
// operators.
func TestTimerOrders(t *testing.T) {
	var w minHeap[timer[int]]
	w.push(timer[int]{at: 10, cleanup: true, key: 1})
	w.push(timer[int]{at: 10, key: 2})
	w.push(timer[int]{at: 5, cleanup: true, key: 3})
	var keys []int
	for w.len() > 0 {
		keys = append(keys, w.pop().key)
	}
	if !slices.Equal(keys, []int{3, 2, 1}) { // a firing before a cleanup at the same time
		t.Fatalf("window timers popped %v", keys)
	}
	var p minHeap[procDueTimer]
	for _, d := range []procDueTimer{{ts: 2, kg: 1, key: []byte("b")}, {ts: 2, kg: 1, key: []byte("a")}, {ts: 2, kg: 0, key: []byte("z")}, {ts: 1, kg: 9}} {
		p.push(d)
	}
	var order []string
	for p.len() > 0 {
		d := p.pop()
		order = append(order, fmt.Sprintf("%d/%d/%s", d.ts, d.kg, d.key))
	}
	want := []string{"1/9/", "2/0/z", "2/1/a", "2/1/b"}
	if !slices.Equal(order, want) {
		t.Fatalf("process timers popped %v, want %v", order, want)
	}
}
