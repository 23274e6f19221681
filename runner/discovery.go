package runner

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// splitQueue coordinates the tasks of one source stage with its enumerator
// in stream mode: the enumerator hands new splits to tasks through it, and
// the stage is over once every split it has handed out (initial ones
// included) has ended. A task whose splits have all ended waits on it for
// new splits or for the end of the stage.
type splitQueue struct {
	mu struct {
		sync.Mutex
		pending [][]graph.Split // per task: handed out, not yet taken
		count   []int           // per task: splits not ended
		live    int             // splits not ended, all tasks
		known   map[string]bool // IDs ever handed out
		over    bool
	}
	notify []chan struct{} // per task, capacity 1: a split is pending
	over   chan struct{}   // closed when the stage is over
	// local, in a Cluster run, tells the tasks of this process, the only
	// ones the queue counts; a new split goes to task hash(ID) mod
	// Parallelism, which every process computes alike. The stage is then
	// over only when the master says so (finish): the queue reports
	// whether this process is idle (every split of its tasks ended) and
	// how many splits it knows, whenever either changes, and the master
	// ends the stage once every process is idle knowing as many.
	local  func(k int) bool
	report func(known int, idle bool) // called with mu held; must not block
}

// newSplitQueue returns the queue of a source stage whose tasks start
// with the initial splits. local and report: see splitQueue (nil outside
// a Cluster run).
func newSplitQueue(initial [][]graph.Split, local func(k int) bool, report func(known int, idle bool)) *splitQueue {
	q := &splitQueue{over: make(chan struct{}), notify: make([]chan struct{}, len(initial)), local: local, report: report}
	q.mu.pending = make([][]graph.Split, len(initial))
	q.mu.count = make([]int, len(initial))
	q.mu.known = map[string]bool{}
	for k, splits := range initial {
		q.notify[k] = make(chan struct{}, 1)
		for _, s := range splits {
			q.mu.known[s.ID()] = true
		}
		if local != nil && !local(k) {
			continue
		}
		q.mu.count[k] = len(splits)
		q.mu.live += len(splits)
	}
	switch {
	case q.mu.live > 0:
	case report != nil:
		report(len(q.mu.known), true)
	default:
		q.mu.over = true
		close(q.over)
	}
	return q
}

// finish ends the stage: the master of a Cluster run found every process
// idle.
func (q *splitQueue) finish() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.mu.over {
		q.mu.over = true
		close(q.over)
	}
}

// add hands s to the task with the fewest splits not ended (ties: lowest
// index) and returns that task, or -1 when s is known or the stage is over.
func (q *splitQueue) add(s graph.Split) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.over || q.mu.known[s.ID()] {
		return -1
	}
	q.mu.known[s.ID()] = true
	k := 0
	if q.local != nil {
		k = int(base.HashString(s.ID()) % uint64(len(q.mu.count)))
		if !q.local(k) {
			if q.mu.live == 0 {
				q.report(len(q.mu.known), true) // idle, knowing one more
			}
			return -1
		}
	} else {
		for i, c := range q.mu.count {
			if c < q.mu.count[k] {
				k = i
			}
		}
	}
	q.mu.pending[k] = append(q.mu.pending[k], s)
	q.mu.count[k]++
	q.mu.live++
	if q.mu.live == 1 && q.report != nil {
		q.report(len(q.mu.known), false) // busy again
	}
	select {
	case q.notify[k] <- struct{}{}:
	default:
	}
	return k
}

// take returns the splits handed to task k since its last call.
func (q *splitQueue) take(k int) []graph.Split {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.mu.pending[k]
	q.mu.pending[k] = nil
	return s
}

// ended records the end of one split of task k.
func (q *splitQueue) ended(k int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.mu.count[k]--
	q.mu.live--
	switch {
	case q.mu.live > 0 || q.mu.over:
	case q.report != nil:
		q.report(len(q.mu.known), true)
	default:
		q.mu.over = true
		close(q.over)
	}
}

// isOver reports whether every split handed out has ended.
func (q *splitQueue) isOver() bool {
	select {
	case <-q.over:
		return true
	default:
		return false
	}
}

// enumerate is the enumerator of one source stage: every interval it lists
// the source's splits and hands the new ones (by ID, in read order) to
// tasks. It returns when the stage is over, on a graceful stop, or when ctx
// is done; a failed Discover fails the job.
func (q *splitQueue) enumerate(ctx context.Context, stop <-chan struct{}, n *graph.Node, d graph.Discoverer, clock Clock, interval time.Duration) error {
	tk := clock.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-tk.C():
		case <-q.over:
			return nil
		case <-stop:
			return nil
		case <-ctx.Done():
			return nil
		}
		splits, err := discover(ctx, n, d)
		if err != nil {
			if ctx.Err() != nil || closed(stop) {
				return nil
			}
			return err
		}
		splits = append([]graph.Split(nil), splits...)
		sortSplits(splits)
		for _, s := range splits {
			q.add(s)
		}
	}
}

// discover calls d.Discover, turning a panic into an error.
func discover(ctx context.Context, n *graph.Node, d graph.Discoverer) (splits []graph.Split, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Transform: n.Name, Value: r, Stack: debug.Stack()}
		}
	}()
	splits, err = d.Discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("discover splits of %q: %w", n.Name, err)
	}
	return splits, nil
}

// closed reports whether c is closed (a nil c never is).
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
