package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumer is the Kafka client shared by the open splits of one Source. It
// consumes exactly the partitions of open splits, each from its reader's
// offset, with direct assignment (no group membership). Whichever reader
// finds its buffer empty polls the client for everyone and files the
// records into per-partition buffers; the others wait for their buffer or
// for that poll to end.
//
// Lock order: pollMu before mu. pollMu is held by the one goroutine
// polling and while the assignment changes, so that no poll in flight can
// file records of an old assignment into a new one.
type consumer struct {
	opts *SourceOptions
	cl   *kgo.Client
	adm  *kadm.Client

	// refs counts open readers; guarded by the Source's mutex.
	refs int

	pollMu     sync.Mutex
	lastCommit time.Time // guarded by pollMu

	// checkpointed is set once a reader was told of a completed
	// checkpoint (CommitPosition): from then on the group gets the
	// offsets of completed checkpoints, not the offsets read.
	checkpointed atomic.Bool
	// commits are the checkpointed offsets waiting for the commit
	// goroutine (one at a time, the newest offsets win); committing says
	// it runs, and wg lets close wait for it.
	commitMu   sync.Mutex
	commits    kadm.Offsets
	committing bool
	wg         sync.WaitGroup

	mu struct {
		sync.Mutex
		parts map[Split]*partition
		// pollDone is closed when the poll in flight ends; nil when none.
		pollDone chan struct{}
		// idleGen counts the polls that waited until their deadline and
		// found no records for any open split.
		idleGen uint64
		closed  bool
	}
}

// partition is the buffer of one open split; its fields are guarded by
// consumer.mu.
type partition struct {
	buf     []*kgo.Record
	head    int   // buf[head:] is unread
	bytes   int   // size of the keys and values in buf[head:]
	fetched int64 // offset after the last buffered record
	next    int64 // offset after the last record handed to the reader
	err     error // a fatal error of this partition
	paused  bool  // fetching paused because buf is full
	ready   chan struct{}
}

func newConsumer(ctx context.Context, o *SourceOptions) (*consumer, error) {
	opts := append(clientOpts(o.Brokers, o.TLS, o.SASL, o.ConnectTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) are returned so that a
		// reader's position moves past them and a bounded split sees its end
		// even when the last offsets before it are markers.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(time.Second),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if err := ping(ctx, cl, o.Brokers, o.ConnectTimeout); err != nil {
		cl.Close()
		return nil, err
	}
	c := &consumer{opts: o, cl: cl, adm: kadm.NewClient(cl), lastCommit: time.Now()}
	c.mu.parts = map[Split]*partition{}
	return c, nil
}

// assign starts consuming tp at offset next; a bounded split that is
// already at its end (end >= 0 && next >= end) fetches nothing.
func (c *consumer) assign(tp Split, next, end int64) (*partition, error) {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.mu.parts[tp]; dup {
		return nil, fmt.Errorf("kafka: split %s is already open", tp.ID())
	}
	p := &partition{fetched: next, next: next, ready: make(chan struct{}, 1)}
	c.mu.parts[tp] = p
	if end < 0 || next < end {
		c.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{
			tp.Topic: {tp.Partition: kgo.NewOffset().At(next)},
		})
	}
	return p, nil
}

// unassign stops consuming tp and drops its buffer, committing its offset
// to the monitoring group if there is one: the offset read when the
// group follows what is read, or the split's end when it follows the
// checkpoints and the split was read to its end (ended: the next
// checkpoint records it as done).
func (c *consumer) unassign(tp Split, ended bool) {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	c.mu.Lock()
	p := c.mu.parts[tp]
	delete(c.mu.parts, tp)
	c.mu.Unlock()
	if p == nil {
		return
	}
	c.cl.RemoveConsumePartitions(map[string][]int32{tp.Topic: {tp.Partition}})
	c.cl.ResumeFetchPartitions(map[string][]int32{tp.Topic: {tp.Partition}})
	if c.opts.Group != "" && (ended || !c.checkpointed.Load()) {
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: p.next, LeaderEpoch: -1})
		c.commit(os)
	}
}

// commitCheckpointed commits next, the offset of tp a completed checkpoint
// resumes from, to the group, in the background: the reader's goroutine
// does not wait for the broker.
func (c *consumer) commitCheckpointed(tp Split, next int64) {
	if c.opts.Group == "" {
		return
	}
	c.checkpointed.Store(true)
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	if c.commits == nil {
		c.commits = kadm.Offsets{}
	}
	c.commits.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: next, LeaderEpoch: -1})
	if c.committing {
		return
	}
	c.committing = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			c.commitMu.Lock()
			os := c.commits
			c.commits = nil
			if len(os) == 0 {
				c.committing = false
				c.commitMu.Unlock()
				return
			}
			c.commitMu.Unlock()
			c.commit(os)
		}
	}()
}

// take moves up to max buffered records of p, all below end when end >= 0,
// into out. atEnd reports that the next buffered record is at or past end.
func (c *consumer) take(tp Split, p *partition, out []*kgo.Record, max int, end int64) (_ []*kgo.Record, atEnd bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p.head < len(p.buf) && n < max {
		rec := p.buf[p.head]
		if end >= 0 && rec.Offset >= end {
			atEnd = true
			break
		}
		out = append(out, rec)
		p.buf[p.head] = nil
		p.head++
		p.bytes -= len(rec.Key) + len(rec.Value)
		p.next = rec.Offset + 1
		n++
	}
	if p.head == len(p.buf) {
		p.buf, p.head = p.buf[:0], 0
	}
	if n == 0 && p.err != nil {
		return out, atEnd, p.err
	}
	if p.paused && p.bytes <= c.opts.MaxBufferedBytes/2 {
		p.paused = false
		c.cl.ResumeFetchPartitions(map[string][]int32{tp.Topic: {tp.Partition}})
	}
	return out, atEnd, nil
}

// waitResult says why wait returned.
type waitResult uint8

const (
	waitTimeout waitResult = iota // the deadline passed
	waitSelf                      // p may have records
	waitOther                     // a poll filed records for other partitions only
)

// wait waits until p may have records: it polls the client itself if no
// one else is, else waits for p's buffer or the other poll to end.
func (c *consumer) wait(ctx context.Context, p *partition, deadline time.Time) (waitResult, error) {
	for {
		if err := ctx.Err(); err != nil {
			return waitTimeout, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return waitTimeout, nil
		}
		if c.pollMu.TryLock() {
			res, err := c.pollLocked(ctx, deadline, p)
			c.pollMu.Unlock()
			return res, err
		}
		c.mu.Lock()
		done := c.mu.pollDone
		c.mu.Unlock()
		if done == nil {
			// The lock is held to change the assignment, which is quick.
			done = make(chan struct{})
			time.AfterFunc(time.Millisecond, func() { close(done) })
		}
		t := time.NewTimer(left)
		select {
		case <-p.ready:
			t.Stop()
			return waitSelf, nil
		case <-done:
			t.Stop()
		case <-t.C:
			return waitTimeout, nil
		case <-ctx.Done():
			t.Stop()
			return waitTimeout, ctx.Err()
		}
	}
}

// pollLocked polls the client until deadline and files the records of
// open partitions into their buffers; it reports whether self or only
// other partitions got records. pollMu must be held.
func (c *consumer) pollLocked(ctx context.Context, deadline time.Time, self *partition) (res waitResult, err error) {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return waitTimeout, errors.New("kafka: source closed")
	}
	done := make(chan struct{})
	c.mu.pollDone = done
	c.mu.Unlock()

	pctx, cancel := context.WithDeadline(ctx, deadline)
	fs := c.cl.PollFetches(pctx)
	cancel()

	c.mu.Lock()
	defer func() {
		c.mu.pollDone = nil
		close(done)
		c.mu.Unlock()
	}()
	var fatal error
	fs.EachError(func(topic string, part int32, err error) {
		var loss *kgo.ErrDataLoss
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			// The poll's own deadline, or ctx, which the caller checks.
		case errors.As(err, &loss), kerr.IsRetriable(err):
			// The client resets or retries on its own.
		case errors.Is(err, kgo.ErrClientClosed):
			fatal = errors.New("kafka: source closed")
		default:
			if p := c.mu.parts[Split{topic, part}]; p != nil && p.err == nil {
				p.err = fmt.Errorf("kafka: read %s/%d: %w", topic, part, err)
				signal(p.ready)
				if p == self {
					res = waitSelf
				}
			}
		}
	})
	var pause map[string][]int32
	fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
		tp := Split{ftp.Topic, ftp.Partition}
		p := c.mu.parts[tp]
		if p == nil || len(ftp.Records) == 0 {
			return
		}
		added := false
		for _, rec := range ftp.Records {
			if rec.Offset < p.fetched {
				continue // refetched after a pause
			}
			p.buf = append(p.buf, rec)
			p.bytes += len(rec.Key) + len(rec.Value)
			p.fetched = rec.Offset + 1
			added = true
		}
		if added {
			signal(p.ready)
			if p == self {
				res = waitSelf
			} else if res == waitTimeout {
				res = waitOther
			}
		}
		if !p.paused && p.bytes >= c.opts.MaxBufferedBytes {
			p.paused = true
			if pause == nil {
				pause = map[string][]int32{}
			}
			pause[tp.Topic] = append(pause[tp.Topic], tp.Partition)
		}
	})
	if pause != nil {
		c.cl.PauseFetchPartitions(pause)
	}
	if c.opts.Group != "" && !c.checkpointed.Load() && time.Since(c.lastCommit) >= c.opts.CommitInterval {
		c.lastCommit = time.Now()
		os := kadm.Offsets{}
		for tp, p := range c.mu.parts {
			os.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: p.next, LeaderEpoch: -1})
		}
		// Committing needs no lock of ours; drop mu for the round trip.
		c.mu.Unlock()
		c.commit(os)
		c.mu.Lock()
	}
	if fatal != nil {
		return waitTimeout, fatal
	}
	if res == waitTimeout {
		if time.Now().Before(deadline) {
			res = waitSelf // the poll ended early: look again
		} else {
			c.mu.idleGen++
		}
	}
	return res, nil
}

func (c *consumer) idleGen() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.idleGen
}

// commit commits offsets to the monitoring group, best effort: the group
// only shows lag, so a failed commit is retried at the next interval.
func (c *consumer) commit(os kadm.Offsets) {
	if len(os) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = c.adm.CommitOffsets(ctx, c.opts.Group, os)
}

func (c *consumer) close() {
	c.wg.Wait() // the checkpointed offsets on their way
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	c.mu.Lock()
	c.mu.closed = true
	c.mu.Unlock()
	c.cl.Close()
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
