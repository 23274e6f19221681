package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/checkpoint"
)

// plan is the physical plan of a graph: nodes grouped into stages of
// chained operators. Every stage runs with the job's parallelism.
type plan struct {
	order   []*graph.Node // topological, ties broken by node ID
	stages  []*stage      // in topological order of their heads
	stageOf map[*graph.Node]*stage
}

// stage is a group of nodes run by one task per parallel instance: a head
// (a source, or a node fed by exchanges) and the nodes chained behind it.
type stage struct {
	id    int
	head  *graph.Node
	nodes []*graph.Node // head first, then chained nodes in topological order
	index map[*graph.Node]int

	// For a source stage, splits[i] are the splits task i reads, in order;
	// positions are where splits restored from a checkpoint resume.
	splits    [][]graph.Split
	positions map[string][]byte

	// For other stages: the head's input channels. Input edge j of the head
	// owns channels chanBase[j] .. chanBase[j]+n-1, where n is the
	// parallelism for keyed edges (one channel per upstream task) and 1 for
	// forward edges (from the upstream task with the same index).
	chanBase []int
	chanEdge []int // channel -> input edge index of the head
}

func (s *stage) isSource() bool { return s.head.Source != nil }

// chained reports whether n runs in its single input's task.
func chained(n *graph.Node) bool {
	return n.Source == nil && len(n.Inputs) == 1 && n.Inputs[0].Partitioner == nil
}

// newPlan checks g and groups its nodes into stages.
func newPlan(g *graph.Graph, parallelism int) (*plan, error) {
	order, err := topoSort(g)
	if err != nil {
		return nil, err
	}
	p := &plan{order: order, stageOf: map[*graph.Node]*stage{}}
	for _, n := range order {
		if err := checkNode(n); err != nil {
			return nil, err
		}
		var st *stage
		if chained(n) {
			st = p.stageOf[n.Inputs[0].From]
		} else {
			st = &stage{id: len(p.stages), head: n, index: map[*graph.Node]int{}}
			p.stages = append(p.stages, st)
			for j, e := range n.Inputs {
				st.chanBase = append(st.chanBase, len(st.chanEdge))
				k := 1
				if e.Partitioner != nil {
					k = parallelism
				}
				for range k {
					st.chanEdge = append(st.chanEdge, j)
				}
			}
		}
		st.index[n] = len(st.nodes)
		st.nodes = append(st.nodes, n)
		p.stageOf[n] = st
	}
	return p, nil
}

func checkNode(n *graph.Node) error {
	switch {
	case n.Source != nil && len(n.Inputs) > 0:
		return fmt.Errorf("runner: source %q has inputs", n.Name)
	case n.Source == nil && n.NewOperator == nil:
		return fmt.Errorf("runner: node %q has neither a source nor an operator", n.Name)
	case n.Source == nil && len(n.Inputs) == 0:
		return fmt.Errorf("runner: node %q has no input", n.Name)
	}
	for _, e := range n.Inputs {
		if e.From == nil {
			return fmt.Errorf("runner: node %q reads a nil node", n.Name)
		}
		if e.Port < 0 || e.Port >= e.From.Outputs {
			return fmt.Errorf("runner: node %q reads port %d of %q, which has %d outputs", n.Name, e.Port, e.From.Name, e.From.Outputs)
		}
		if n.Stateful && e.Partitioner == nil {
			return fmt.Errorf("runner: keyed node %q reads %q without a key; key it with sdk.KeyBy", n.Name, e.From.Name)
		}
	}
	return nil
}

// topoSort orders g's nodes so that every node comes after its inputs,
// whatever the order of g.Nodes; among ready nodes the lowest ID goes first.
func topoSort(g *graph.Graph) ([]*graph.Node, error) {
	in := map[*graph.Node]bool{}
	for _, n := range g.Nodes {
		in[n] = true
	}
	indeg := map[*graph.Node]int{}
	next := map[*graph.Node][]*graph.Node{}
	for _, n := range g.Nodes {
		for _, e := range n.Inputs {
			if e.From != nil && !in[e.From] {
				return nil, fmt.Errorf("runner: node %q reads %q, which is not in the graph", n.Name, e.From.Name)
			}
			if e.From != nil {
				indeg[n]++
				next[e.From] = append(next[e.From], n)
			}
		}
	}
	var ready, order []*graph.Node
	for _, n := range g.Nodes {
		if indeg[n] == 0 {
			ready = append(ready, n)
		}
	}
	for len(ready) > 0 {
		sort.Slice(ready, func(i, j int) bool { return ready[i].ID < ready[j].ID })
		n := ready[0]
		ready = ready[1:]
		order = append(order, n)
		for _, c := range next[n] {
			indeg[c]--
			if indeg[c] == 0 {
				ready = append(ready, c)
			}
		}
	}
	if len(order) != len(g.Nodes) {
		return nil, fmt.Errorf("runner: the graph has a cycle")
	}
	return order, nil
}

// assignSplits lists the splits of every source stage and deals them to its
// tasks: sorted by their minimum event time (unknown first, then by ID),
// split i goes to task i mod parallelism. It returns
// the total row count from split statistics, or -1 if any is unknown.
//
// With restore, splits the checkpoint records as done are left out and
// the others resume at their recorded positions (st.positions); splits it
// does not know start from their beginning.
func (p *plan) assignSplits(ctx context.Context, parallelism int, restore *checkpoint.Metadata) (int64, error) {
	total := int64(0)
	for _, st := range p.stages {
		if !st.isSource() {
			continue
		}
		splits, err := listSplits(ctx, st.head)
		var pe *PanicError
		if errors.As(err, &pe) {
			return 0, err
		} else if err != nil {
			return 0, fmt.Errorf("list splits of %q: %w", st.head.Name, err)
		}
		splits = append([]graph.Split(nil), splits...)
		st.positions = map[string][]byte{}
		if restore != nil {
			saved := restore.Sources[st.head.Name]
			kept := splits[:0]
			for _, s := range splits {
				ss, ok := saved[s.ID()]
				switch {
				case ok && ss.Done:
					continue
				case ok && ss.Pos != nil:
					st.positions[s.ID()] = ss.Pos
				}
				kept = append(kept, s)
			}
			splits = kept
			total = -1 // statistics count whole splits
		}
		sortSplits(splits)
		st.splits = make([][]graph.Split, parallelism)
		for i, s := range splits {
			st.splits[i%parallelism] = append(st.splits[i%parallelism], s)
			rows := int64(-1)
			if ss, ok := s.(graph.SplitStats); ok {
				rows = ss.Rows()
			}
			if rows < 0 || total < 0 {
				total = -1
			} else {
				total += rows
			}
		}
	}
	return total, nil
}

// sortSplits orders splits for reading. A split not yet started holds its
// task's watermark at its minimum event time, so reading splits in order of
// that minimum lets the watermark advance steadily and windows fire (and
// their state go) as the job runs, instead of all at the end when files each
// span the whole time range. Splits without statistics hold the watermark at
// -inf, so they go first. The order never changes results, only how long
// state is kept; it is deterministic (ties by ID).
func sortSplits(splits []graph.Split) {
	minOf := func(s graph.Split) base.Timestamp {
		if ss, ok := s.(graph.SplitStats); ok {
			if ts, ok := ss.MinEventTime(); ok {
				return ts
			}
		}
		return base.MinTimestamp
	}
	sort.SliceStable(splits, func(i, j int) bool {
		mi, mj := minOf(splits[i]), minOf(splits[j])
		if mi != mj {
			return mi < mj
		}
		return splits[i].ID() < splits[j].ID()
	})
}

// listSplits calls the source's Splits, turning a panic into an error.
func listSplits(ctx context.Context, n *graph.Node) (splits []graph.Split, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Transform: n.Name, Value: r, Stack: debug.Stack()}
		}
	}()
	return n.Source.Splits(ctx)
}
