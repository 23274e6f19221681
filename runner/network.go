package runner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
	"github.com/weirflow/weir/runner/netx"
)

// network is the network exchange of a run whose tasks are placed over
// several workers (Options.NetworkWorkers): task k of every stage runs on
// worker k·W/P, and an exchange whose target is on another worker sends
// through a remote target, which encodes each message into one frame of a
// stream of the connection between the two workers; on the receiving
// worker a pump per stream decodes the frames into the target's inbox. A
// stream is one input channel of one task, so messages keep the order of
// their channel, which is all the runner needs: alignment, watermarks,
// statuses and ends work as between local tasks. Forward edges connect
// task i to task i, always on one worker.
type network struct {
	workers, par int
	conns        [][]*netx.Conn // conns[a][b]: worker a's end of its connection with b
	pumps        []*pump
	shared       bool // the connections are the Cluster run's, closed with it
}

// networkWindow is a stream's window in frames: with batches of 1,024
// rows, what a stream holds in memory is at most 16 batches. The credits
// must last the time one takes to come back from another process, whose
// pump waits its turn for a CPU: with 4, the fraud backfill over two
// worker processes ran at 0.56× of one process, with 16 at 0.74×
// (BenchmarkClusterShuffle, benchmarks/RESULTS.md).
const networkWindow = 16

// newNetwork connects every pair of workers over loopback TCP, or takes
// the connections of a Cluster run (its process is worker j.cl.c.Index),
// and makes the pump of every stream that crosses workers into a task of
// this process.
func newNetwork(j *job) (*network, error) {
	w, par := j.opts.NetworkWorkers, j.opts.Parallelism
	self := -1
	if j.cl != nil {
		w, self = len(j.cl.c.Peers), j.cl.c.Index
	}
	n := &network{workers: w, par: par, conns: make([][]*netx.Conn, w)}
	for a := range n.conns {
		n.conns[a] = make([]*netx.Conn, w)
	}
	if j.cl != nil {
		copy(n.conns[self], j.cl.conns)
		n.shared = true
	}
	for a := range w {
		for b := a + 1; b < w && j.cl == nil; b++ {
			ca, cb, err := loopbackPair(j.runID)
			if err != nil {
				n.close()
				return nil, fmt.Errorf("runner: network exchange between workers %d and %d: %w", a, b, err)
			}
			n.conns[a][b], n.conns[b][a] = ca, cb
		}
	}
	for _, st := range j.plan.stages {
		if st.isSource() {
			continue
		}
		for e, in := range st.head.Inputs {
			if in.Partitioner == nil {
				continue // forward: same worker
			}
			for to := range par {
				for from := range par {
					wt, wf := n.workerOf(to), n.workerOf(from)
					if wt == wf || !j.local(to) {
						continue
					}
					if in.Codec == nil {
						n.close()
						return nil, fmt.Errorf("runner: %s reads %s, which has no codec, across workers: mark the type //weir:record and run \"go generate ./...\"",
							st.head.Name, in.From.TypeName)
					}
					ch := st.chanBase[e] + from
					n.pumps = append(n.pumps, &pump{
						s: n.conns[wt][wf].Stream(streamID(st.id, to, ch)), in: j.inboxes[st.id][to], ch: ch, codec: in.Codec,
					})
				}
			}
		}
	}
	if testHookNetwork != nil {
		testHookNetwork(n)
	}
	return n, nil
}

// testHookNetwork, set by tests, sees every network exchange made.
var testHookNetwork func(*network)

// closeNetwork closes the network exchange's connections, if any.
func (j *job) closeNetwork() {
	if j.net != nil {
		j.net.close()
	}
}

func (n *network) close() {
	if n.shared {
		return
	}
	for _, row := range n.conns {
		for _, c := range row {
			if c != nil {
				c.Close()
			}
		}
	}
}

func (n *network) workerOf(task int) int { return task * n.workers / n.par }

// streamID names the stream of input channel ch of task of stage: the
// same on both workers, from the plan alone.
func streamID(stage, task, ch int) uint64 {
	return uint64(stage)<<40 | uint64(task)<<20 | uint64(ch)
}

// targets returns the targets of task from's exchange into stage down on
// channel ch: of local, the inboxes of down's tasks, those on from's
// worker; remote targets for the others.
func (n *network) targets(down *stage, local []target, from, ch int, codec graph.BatchCodec, sent *atomic.Int64) []target {
	wf := n.workerOf(from)
	out := make([]target, n.par)
	for to := range out {
		if wt := n.workerOf(to); wt != wf {
			out[to] = &remote{conn: n.conns[wf][wt], stream: streamID(down.id, to, ch), codec: codec, sent: sent}
		} else {
			out[to] = local[to]
		}
	}
	return out
}

// maxKeptBuf is the largest encoding buffer a remote keeps between
// messages: with skewed keys one target's buffer may grow to a whole input
// batch, and there is a remote per sender and target.
const maxKeptBuf = 256 << 10

// remote is a target on another worker: the sender's end of one stream.
// It is used by one task, so its buffer is its own.
type remote struct {
	conn   *netx.Conn
	stream uint64
	codec  graph.BatchCodec
	buf    []byte
	sent   *atomic.Int64 // Metrics.NetworkBytes
}

// send encodes m into one frame: the kind, then the batch (the edge's
// codec), the watermark or the checkpoint ID. The channel is the stream's.
func (r *remote) send(ctx context.Context, m message) error {
	b := append(r.buf[:0], byte(m.kind))
	switch m.kind {
	case msgBatch:
		b = r.codec.AppendBatch(b, m.batch)
	case msgWatermark:
		b = binary.AppendVarint(b, int64(m.wm))
	case msgBarrier:
		b = binary.AppendUvarint(b, uint64(m.ckpt))
	}
	if cap(b) <= maxKeptBuf {
		r.buf = b // kept for the next message; a remote per sender and target
	} else {
		r.buf = nil
	}
	r.sent.Add(int64(len(b)))
	if err := r.conn.Send(ctx, r.stream, b); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("runner: network exchange: %w", err)
	}
	return nil
}

// pump is the receiving end of one stream: it decodes the frames into the
// target task's inbox until the channel ends or stops (nothing follows
// either on a channel).
type pump struct {
	s     *netx.Stream
	in    inbox
	ch    int
	codec graph.BatchCodec
}

func (p *pump) run(ctx context.Context) error {
	for {
		f, err := p.s.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("runner: network exchange: %w", err)
		}
		m, err := p.decode(f)
		netx.Free(f)
		if err != nil {
			return fmt.Errorf("runner: network exchange: channel %d: %w", p.ch, err)
		}
		if err := p.in.send(ctx, m); err != nil {
			return err
		}
		if m.kind == msgEnd || m.kind == msgStop {
			return nil
		}
	}
}

func (p *pump) decode(f []byte) (message, error) {
	if len(f) == 0 {
		return message{}, errors.New("an empty frame")
	}
	m := message{ch: p.ch, kind: msgKind(f[0])}
	body := f[1:]
	switch m.kind {
	case msgBatch:
		b, err := p.codec.DecodeBatch(body)
		if err != nil {
			return message{}, err
		}
		m.batch = b
	case msgWatermark:
		wm, k := binary.Varint(body)
		if k <= 0 {
			return message{}, errors.New("a bad watermark")
		}
		m.wm = base.Timestamp(wm)
	case msgBarrier:
		id, k := binary.Uvarint(body)
		if k <= 0 {
			return message{}, errors.New("a bad barrier")
		}
		m.ckpt = base.CheckpointID(id)
	case msgEnd, msgIdle, msgActive, msgStop:
	default:
		return message{}, fmt.Errorf("a message of unknown kind %d", m.kind)
	}
	return m, nil
}

// loopbackPair returns the two ends of a netx connection over loopback
// TCP, with the run's ID as the token.
func loopbackPair(token string) (*netx.Conn, *netx.Conn, error) {
	o := netx.Options{Window: networkWindow, Token: token}
	return netx.Loopback(o, o)
}
