package ops

// heapItem is an element of a minHeap: less reports whether it comes
// before other.
type heapItem[T any] interface {
	less(other *T) bool
}

// minHeap is a binary min-heap of T by T.less. The zero value is an empty
// heap. items is the heap array: a slice sorted by less is a valid heap, so
// a caller may fill it in order directly.
type minHeap[T heapItem[T]] struct {
	items []T
}

func (h *minHeap[T]) len() int { return len(h.items) }

// min returns the smallest element; the heap must not be empty.
func (h *minHeap[T]) min() *T { return &h.items[0] }

func (h *minHeap[T]) push(x T) {
	h.items = append(h.items, x)
	s := h.items
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].less(&s[p]) {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

// pop removes and returns the smallest element; the heap must not be
// empty.
func (h *minHeap[T]) pop() T {
	s := h.items
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	var zero T
	s[n] = zero // drop what the element points to
	s = s[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s[l].less(&s[m]) {
			m = l
		}
		if r < n && s[r].less(&s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	h.items = s
	return top
}

// reset empties the heap, keeping its array.
func (h *minHeap[T]) reset() {
	clear(h.items)
	h.items = h.items[:0]
}
