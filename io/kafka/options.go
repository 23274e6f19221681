package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// DefaultBrokers is where a source or sink connects when no brokers are
// given: the broker `weir dev` serves.
var DefaultBrokers = []string{"127.0.0.1:9092"}

// Defaults of the zero-valued option fields.
const (
	DefaultPollTimeout      = 50 * time.Millisecond
	DefaultConnectTimeout   = 10 * time.Second
	DefaultCommitInterval   = 5 * time.Second
	DefaultMaxBufferedBytes = 2 << 20
	// DefaultTransactionTimeout is the transaction timeout of an
	// exactly-once sink: below the 15 minutes brokers allow by default
	// (transaction.max.timeout.ms), and long enough for a checkpoint to
	// complete and a crashed job to restart before the broker aborts
	// transactions it must still commit.
	DefaultTransactionTimeout = 10 * time.Minute
)

// EventTimeHeader is the record header the sink writes the event time in,
// formatted as RFC 3339 with microseconds.
const EventTimeHeader = "weir-event-time"

// eventTimeLayout formats [EventTimeHeader] values.
const eventTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

type startKind uint8

const (
	startEarliest startKind = iota
	startLatest
	startCommitted
	startAtTime
)

// Start says where a split without a saved position starts reading. The
// zero value is [Earliest]. Start offsets are resolved once per source, the
// first time a topic's splits are opened, so every split of a topic starts
// from the same moment; a partition created later starts at its beginning.
type Start struct {
	kind  startKind
	group string
	at    time.Time
	reset Reset // of a Committed start
}

// Reset is where a [Committed] start begins a partition its group has no
// committed offset for (Kafka's auto.offset.reset, Flink's
// OffsetResetStrategy).
type Reset uint8

const (
	// ResetEarliest starts such a partition at its oldest record (the
	// default).
	ResetEarliest Reset = iota
	// ResetLatest starts it after its last committed record.
	ResetLatest
	// ResetNone refuses to start, naming the partition.
	ResetNone
)

// String returns "earliest", "latest" or "none".
func (r Reset) String() string {
	switch r {
	case ResetLatest:
		return "latest"
	case ResetNone:
		return "none"
	}
	return "earliest"
}

// Earliest starts at the oldest record still in the log.
func Earliest() Start { return Start{} }

// Latest starts after the last committed record: only new records are read.
func Latest() Start { return Start{kind: startLatest} }

// Committed starts at the offsets committed by the consumer group; a
// partition without a committed offset starts at its beginning.
func Committed(group string) Start { return Start{kind: startCommitted, group: group} }

// CommittedOr starts at the offsets committed by the consumer group, and a
// partition without a committed offset where reset says.
func CommittedOr(group string, reset Reset) Start {
	return Start{kind: startCommitted, group: group, reset: reset}
}

// AtTime starts at the first record whose Kafka timestamp is at or after t;
// a partition without one starts at its end.
func AtTime(t time.Time) Start { return Start{kind: startAtTime, at: t} }

// String describes s: "earliest", "latest", "committed(g)", "at(2024-...)".
func (s Start) String() string {
	switch s.kind {
	case startLatest:
		return "latest"
	case startCommitted:
		if s.reset != ResetEarliest {
			return "committed(" + s.group + ", else " + s.reset.String() + ")"
		}
		return "committed(" + s.group + ")"
	case startAtTime:
		return "at(" + s.at.UTC().Format(time.RFC3339Nano) + ")"
	}
	return "earliest"
}

// SourceOptions configure a [Source]. Only Topics is required.
type SourceOptions struct {
	// Brokers are the seed brokers; nil means [DefaultBrokers].
	Brokers []string
	// Topics are read in full: one split per partition of each.
	Topics []string
	// Start is where splits without a saved position begin (default [Earliest]).
	Start Start
	// Bounded stops every split at the end offset (the last stable offset)
	// seen when the source first lists its splits, and fixes the split list
	// at that moment. A bounded split's position carries its end, so a
	// restored job stops at the same offsets.
	Bounded bool
	// Group, if set, is the consumer group the source commits offsets to,
	// so that lag tools show the job's progress: in a job with checkpoints,
	// the offsets of each completed checkpoint (as Flink does; a split read
	// to its end when it closes); without, the offsets read, every
	// CommitInterval and when a split is closed. weir restores from its own
	// checkpoints, and reads the group's offsets back only with Start:
	// Committed(group).
	Group string
	// CommitInterval is how often offsets are committed to Group; 0 means
	// [DefaultCommitInterval].
	CommitInterval time.Duration
	// TLS enables TLS with this configuration.
	TLS *tls.Config
	// SASL authenticates with this mechanism (plain, scram, oauth from
	// franz-go's pkg/sasl).
	SASL sasl.Mechanism
	// PollTimeout bounds how long ReadBatch waits when no record is
	// buffered for its split; 0 means [DefaultPollTimeout].
	PollTimeout time.Duration
	// ConnectTimeout bounds the retries when the brokers cannot be reached
	// at start; 0 means [DefaultConnectTimeout].
	ConnectTimeout time.Duration
	// MaxBufferedBytes is how many bytes of fetched records a split may
	// hold before fetching of its partition pauses until half of them are
	// read; 0 means [DefaultMaxBufferedBytes]. Keep it above the fetch size
	// of a partition (1 MiB), or every fetch pauses and is fetched again.
	MaxBufferedBytes int
}

func (o *SourceOptions) ensureDefaults() {
	if len(o.Brokers) == 0 {
		o.Brokers = DefaultBrokers
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = DefaultPollTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.CommitInterval <= 0 {
		o.CommitInterval = DefaultCommitInterval
	}
	if o.MaxBufferedBytes <= 0 {
		o.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
}

func (o *SourceOptions) validate() error {
	if len(o.Topics) == 0 {
		return errors.New("kafka: source has no topics; set SourceOptions.Topics")
	}
	for _, t := range o.Topics {
		if t == "" {
			return errors.New("kafka: empty topic name in SourceOptions.Topics")
		}
	}
	if o.Start.kind == startCommitted && o.Start.group == "" {
		return errors.New("kafka: Committed start needs a group name")
	}
	return nil
}

// SinkOptions configure a [Sink]. Only Topic is required.
type SinkOptions[T any] struct {
	// Brokers are the seed brokers; nil means [DefaultBrokers].
	Brokers []string
	// Topic receives every record.
	Topic string
	// Key returns the record key, usually the keyed field; records with the
	// same key go to the same partition. Nil writes records without keys,
	// spread over the partitions.
	Key func(v *T) []byte
	// TLS enables TLS with this configuration.
	TLS *tls.Config
	// SASL authenticates with this mechanism.
	SASL sasl.Mechanism
	// ConnectTimeout bounds how long a write retries an unreachable broker
	// before failing; 0 means [DefaultConnectTimeout].
	ConnectTimeout time.Duration
	// Linger is how long the producer waits to fill a batch before sending
	// it. Zero (the default) sends at once: a window's results are readable
	// as soon as it fires, and records still batch while requests are in
	// flight. franz-go's own default of 10 ms added about 10 ms to every
	// result's end-to-end latency (benchmarks/RESULTS.md).
	Linger time.Duration
	// ExactlyOnce writes through Kafka transactions, committed when their
	// checkpoint completes, so that read_committed consumers see every
	// record once across crashes and restarts (see [Sink]). The default
	// is at-least-once.
	ExactlyOnce bool
	// TransactionalIDPrefix starts the transactional ids of an
	// exactly-once sink, <prefix>-<task>-<slot>; "" means
	// "weir-<job>-<node>", with the job name of sdk.SinkContext.Job. Ids
	// must be stable across restarts of a job and unique among the jobs
	// writing to a cluster: a job fences and aborts the transactions of
	// every id with its prefix when it starts.
	TransactionalIDPrefix string
	// TransactionTimeout is how long the broker lets a transaction stay
	// open before aborting it; 0 means [DefaultTransactionTimeout]. A
	// failed checkpoint's transaction commits with the next completed
	// one, so checkpoints may fail in a row for up to nine tenths of it:
	// then the writer stops the job (see [Sink]) before the broker
	// aborts output that only a restart can write again. Keep it well
	// above the checkpoint interval plus the time a checkpoint takes
	// (how long a transaction is open while checkpoints complete) and the
	// time a crashed job takes to restart, or the output of a completed
	// checkpoint can be aborted before Recover commits it.
	TransactionTimeout time.Duration
	// Clock ages the open transactions of an exactly-once sink against
	// TransactionTimeout; nil means the wall clock.
	Clock Clock
}

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// clientOpts are the options every client of this package shares.
func clientOpts(brokers []string, tc *tls.Config, mech sasl.Mechanism, timeout time.Duration) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.DialTimeout(timeout),
		kgo.RetryTimeout(timeout),
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts
}

// ping checks that cl reaches one of its brokers, retrying with backoff
// until timeout, and returns one line that says what to fix.
func ping(ctx context.Context, cl *kgo.Client, brokers []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	backoff := 50 * time.Millisecond
	var last error
	for {
		err := cl.Ping(ctx)
		if err == nil {
			return nil
		}
		if last == nil || ctx.Err() == nil {
			last = err // keep the dial error, not the timeout that ends the loop
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("kafka: cannot reach brokers %s: %w; is the broker running?", strings.Join(brokers, ","), last)
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}
