package devbroker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// connectTimeout bounds how long a helper retries unreachable brokers.
const connectTimeout = 5 * time.Second

// client returns a client that has reached one of brokers.
func client(ctx context.Context, brokers []string, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.DialTimeout(connectTimeout),
		kgo.RetryTimeout(connectTimeout),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("devbroker: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var last error
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		err := cl.Ping(pctx)
		if err == nil {
			return cl, nil
		}
		if last == nil || pctx.Err() == nil {
			last = err
		}
		select {
		case <-pctx.Done():
			cl.Close()
			return nil, fmt.Errorf("devbroker: cannot reach brokers %s: %w; is the broker running (weir dev)?", strings.Join(brokers, ","), last)
		case <-time.After(backoff):
		}
	}
}

// CreateTopic creates topic with the given number of partitions (0 means
// the broker's default). An existing topic is an error that matches
// kerr.TopicAlreadyExists.
func CreateTopic(ctx context.Context, brokers []string, topic string, partitions int) error {
	cl, err := client(ctx, brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	n := int32(partitions)
	if n <= 0 {
		n = -1
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, n, -1, nil, topic); err != nil {
		return fmt.Errorf("devbroker: create topic %q: %w", topic, err)
	}
	return nil
}

// ProduceJSONL writes one record per non-blank line of r to topic and
// returns how many were written once all are acknowledged. Each line must
// be one JSON value. With keyField set, every line must be an object with
// that field, whose value is the record key (a string's text, or the JSON
// of another value). The topic is created on first use if the broker
// allows it. Lines before a bad one may have been written.
func ProduceJSONL(ctx context.Context, brokers []string, topic string, r io.Reader, keyField string) (int, error) {
	cl, err := client(ctx, brokers, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var (
		mu    sync.Mutex
		first error
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if first == nil {
				first = fmt.Errorf("devbroker: produce to %s: %w", topic, err)
			}
			mu.Unlock()
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	n, line := 0, 0
	var lineErr error
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if !json.Valid(text) {
			lineErr = fmt.Errorf("devbroker: line %d is not valid JSON", line)
			break
		}
		rec := &kgo.Record{Value: bytes.Clone(text)}
		if keyField != "" {
			if rec.Key, err = keyOf(text, keyField); err != nil {
				lineErr = fmt.Errorf("devbroker: line %d: %w", line, err)
				break
			}
		}
		cl.Produce(ctx, rec, done)
		n++
	}
	if err := sc.Err(); err != nil && lineErr == nil {
		lineErr = fmt.Errorf("devbroker: read line %d: %w", line+1, err)
	}
	if err := cl.Flush(ctx); err != nil {
		return n, fmt.Errorf("devbroker: produce to %s: %w", topic, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if first != nil {
		return n, first
	}
	return n, lineErr
}

func keyOf(text []byte, field string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(text, &m); err != nil {
		return nil, fmt.Errorf("key field %q: line is not a JSON object", field)
	}
	raw, ok := m[field]
	if !ok {
		return nil, fmt.Errorf("no key field %q", field)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s), nil
	}
	return bytes.Clone(raw), nil
}

// ConsumeOptions configure [Consume].
type ConsumeOptions struct {
	// FromStart reads from the oldest record; otherwise only records
	// written after the call are read (so, without Follow, none).
	FromStart bool
	// Follow keeps reading new records until ctx is cancelled; otherwise
	// reading stops at the end offsets seen when the call starts.
	Follow bool
	// Max stops after this many records; 0 means no limit.
	Max int
}

// Consume writes the committed records of topic to w, one JSON value a
// line: a value that is JSON is written compacted, any other value as a
// JSON string. It returns the number of records written. With Follow,
// cancelling ctx is the normal way to stop and is not an error.
func Consume(ctx context.Context, brokers []string, topic string, w io.Writer, opts ConsumeOptions) (n int, err error) {
	if opts.Follow {
		defer func() {
			if errors.Is(ctx.Err(), context.Canceled) {
				err = nil // cancelling is how a follow ends, even while connecting
			}
		}()
	}
	admcl, err := client(ctx, brokers)
	if err != nil {
		return 0, err
	}
	adm := kadm.NewClient(admcl)
	starts, ends, err := consumeRange(ctx, adm, topic, opts.FromStart)
	admcl.Close()
	if err != nil {
		return 0, err
	}
	copts := []kgo.Opt{
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // so that the offsets move past markers
	}
	if opts.Follow {
		reset := kgo.NewOffset().AtEnd()
		if opts.FromStart {
			reset = kgo.NewOffset().AtStart()
		}
		copts = append(copts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(reset))
	} else {
		assign := map[int32]kgo.Offset{}
		for p, start := range starts {
			if start < ends[p] {
				assign[p] = kgo.NewOffset().At(start)
			} else {
				delete(ends, p)
			}
		}
		if len(assign) == 0 {
			return 0, nil
		}
		copts = append(copts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}))
	}
	cl, err := client(ctx, brokers, copts...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()

	bw := bufio.NewWriter(w)
	var line bytes.Buffer
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			if ferr := bw.Flush(); ferr != nil {
				return n, fmt.Errorf("devbroker: write: %w", ferr)
			}
			if opts.Follow {
				return n, nil
			}
			return n, err
		}
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			if !kerr.IsRetriable(err) && fatal == nil {
				fatal = fmt.Errorf("devbroker: consume %s/%d: %w", t, p, err)
			}
		})
		if fatal != nil {
			return n, fatal
		}
		stop := false
		fs.EachRecord(func(r *kgo.Record) {
			if stop {
				return
			}
			if !opts.Follow {
				end, ok := ends[r.Partition]
				if !ok || r.Offset >= end {
					delete(ends, r.Partition)
					return // past the end seen at start
				}
				if r.Offset+1 >= end {
					delete(ends, r.Partition)
				}
			}
			if r.Attrs.IsControl() {
				return
			}
			line.Reset()
			if json.Valid(r.Value) && json.Compact(&line, r.Value) == nil {
				bw.Write(line.Bytes())
			} else {
				b, _ := json.Marshal(string(r.Value))
				bw.Write(b)
			}
			bw.WriteByte('\n')
			n++
			if opts.Max > 0 && n >= opts.Max {
				stop = true
			}
		})
		if err := bw.Flush(); err != nil {
			return n, fmt.Errorf("devbroker: write: %w", err)
		}
		if stop || (!opts.Follow && len(ends) == 0) {
			return n, nil
		}
	}
}

// consumeRange lists where each partition of topic starts and the end
// offsets (last stable offsets) now.
func consumeRange(ctx context.Context, adm *kadm.Client, topic string, fromStart bool) (starts, ends map[int32]int64, err error) {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, nil, fmt.Errorf("devbroker: list topic %s: %w", topic, err)
	}
	if td, ok := tds[topic]; !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return nil, nil, fmt.Errorf("devbroker: topic %q does not exist; create it with weir topic create", topic)
	} else if td.Err != nil {
		return nil, nil, fmt.Errorf("devbroker: topic %q: %w", topic, td.Err)
	}
	list := func(los kadm.ListedOffsets, err error) (map[int32]int64, error) {
		if err != nil {
			return nil, fmt.Errorf("devbroker: list offsets of %s: %w", topic, err)
		}
		m := map[int32]int64{}
		for p, lo := range los[topic] {
			if lo.Err != nil {
				return nil, fmt.Errorf("devbroker: list offsets of %s/%d: %w", topic, p, lo.Err)
			}
			m[p] = lo.Offset
		}
		return m, nil
	}
	if ends, err = list(adm.ListCommittedOffsets(ctx, topic)); err != nil {
		return nil, nil, err
	}
	if !fromStart {
		starts = map[int32]int64{}
		for p, o := range ends {
			starts[p] = o
		}
		return starts, ends, nil
	}
	starts, err = list(adm.ListStartOffsets(ctx, topic))
	return starts, ends, err
}
