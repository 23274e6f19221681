package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/sdk"
)

// Source reads JSON records of type T from Kafka topics, one split per
// topic-partition. All splits opened from one Source share one Kafka client.
// Create it with [NewSource]; it is safe for concurrent use.
type Source[T any] struct {
	opts    SourceOptions
	decoder Decoder[T] // nil: JSON values (WithDecoder)

	mu struct {
		sync.Mutex
		c *consumer // the shared client while any split is open
		// starts and ends cache the resolved start offsets and, when
		// bounded, the end offsets per topic and partition.
		starts map[string]map[int32]int64
		ends   map[string]map[int32]int64
		// splits is the fixed split list of a bounded source.
		splits []sdk.Split
	}
}

// NewSource returns a source reading opts.Topics. Nothing connects until
// [Source.Splits] or [Source.Open]; bad options are reported there.
func NewSource[T any](opts SourceOptions) *Source[T] {
	opts.ensureDefaults()
	opts.Topics = slices.Clone(opts.Topics)
	return &Source[T]{opts: opts}
}

// Split is one partition of a topic. Its ID is "topic/partition" with the
// partition zero-padded to five digits, so IDs sort like splits.
type Split struct {
	Topic     string
	Partition int32
}

// ID returns "topic/00003".
func (s *Split) ID() string { return fmt.Sprintf("%s/%05d", s.Topic, s.Partition) }

// ParseSplitID parses an ID made by [Split.ID].
func ParseSplitID(id string) (*Split, error) {
	i := strings.LastIndexByte(id, '/')
	if i <= 0 {
		return nil, fmt.Errorf("kafka: bad split ID %q, want topic/partition", id)
	}
	p, err := strconv.ParseInt(id[i+1:], 10, 32)
	if err != nil || p < 0 {
		return nil, fmt.Errorf("kafka: bad split ID %q, want topic/partition", id)
	}
	return &Split{Topic: id[:i], Partition: int32(p)}, nil
}

// Splits lists one split per partition of every topic, sorted by topic and
// partition. A bounded source lists its splits (and end offsets) once and
// returns the same list afterwards. An unreachable broker is reported after
// SourceOptions.ConnectTimeout.
func (s *Source[T]) Splits(ctx context.Context) ([]sdk.Split, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if !s.opts.Bounded {
		return s.list(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.splits != nil {
		return slices.Clone(s.mu.splits), nil
	}
	var splits []sdk.Split
	err := s.withAdmin(ctx, func(adm *kadm.Client) error {
		var err error
		if splits, err = listSplits(ctx, adm, s.opts.Topics); err != nil {
			return err
		}
		return s.loadEndsLocked(ctx, adm, s.opts.Topics...)
	})
	if err != nil {
		return nil, err
	}
	s.mu.splits = splits
	return slices.Clone(splits), nil
}

// Discover lists the current splits, including partitions added since the
// source started, so that a runner can open the new ones. It may be called
// at any time, concurrently with reading. A bounded source's list is fixed:
// Discover returns what [Source.Splits] returned.
func (s *Source[T]) Discover(ctx context.Context) ([]sdk.Split, error) {
	return s.Splits(ctx)
}

func (s *Source[T]) check() error {
	if err := s.opts.validate(); err != nil {
		return err
	}
	if s.decoder != nil {
		return nil // the decoder fills T; the runner's codec checks are its own
	}
	_, err := sdk.CodecOf[T]()
	return err
}

// list fetches fresh metadata through a short-lived client.
func (s *Source[T]) list(ctx context.Context) ([]sdk.Split, error) {
	var splits []sdk.Split
	err := s.withAdmin(ctx, func(adm *kadm.Client) error {
		var err error
		splits, err = listSplits(ctx, adm, s.opts.Topics)
		return err
	})
	return splits, err
}

// withAdmin runs fn with a new client that has reached a broker.
func (s *Source[T]) withAdmin(ctx context.Context, fn func(*kadm.Client) error) error {
	o := &s.opts
	cl, err := kgo.NewClient(clientOpts(o.Brokers, o.TLS, o.SASL, o.ConnectTimeout)...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	if err := ping(ctx, cl, o.Brokers, o.ConnectTimeout); err != nil {
		return err
	}
	return fn(kadm.NewClient(cl))
}

func listSplits(ctx context.Context, adm *kadm.Client, topics []string) ([]sdk.Split, error) {
	tds, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("kafka: list topics %s: %w", strings.Join(topics, ","), err)
	}
	var splits []sdk.Split
	for _, t := range topics {
		td, ok := tds[t]
		if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("kafka: topic %q does not exist; create it first", t)
		}
		if td.Err != nil {
			return nil, fmt.Errorf("kafka: topic %q: %w", t, td.Err)
		}
		for p := range td.Partitions {
			splits = append(splits, &Split{Topic: t, Partition: p})
		}
	}
	slices.SortFunc(splits, func(a, b sdk.Split) int {
		x, y := a.(*Split), b.(*Split)
		if c := strings.Compare(x.Topic, y.Topic); c != 0 {
			return c
		}
		return int(x.Partition) - int(y.Partition)
	})
	// Two topics named in Topics twice would give duplicate splits.
	return slices.CompactFunc(splits, func(a, b sdk.Split) bool { return a.ID() == b.ID() }), nil
}

// loadEndsLocked lists the last stable offsets of topics not yet cached.
func (s *Source[T]) loadEndsLocked(ctx context.Context, adm *kadm.Client, topics ...string) error {
	if s.mu.ends == nil {
		s.mu.ends = map[string]map[int32]int64{}
	}
	var missing []string
	for _, t := range topics {
		if _, ok := s.mu.ends[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	los, err := adm.ListCommittedOffsets(ctx, missing...)
	if err != nil {
		return fmt.Errorf("kafka: list end offsets of %s: %w", strings.Join(missing, ","), err)
	}
	return cacheOffsets(s.mu.ends, missing, los)
}

// startOffset resolves where tp starts without a saved position.
func (s *Source[T]) startOffset(ctx context.Context, adm *kadm.Client, tp Split) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.starts == nil {
		s.mu.starts = map[string]map[int32]int64{}
	}
	ps, ok := s.mu.starts[tp.Topic]
	if !ok {
		var err error
		if ps, err = resolveStart(ctx, adm, s.opts.Start, tp.Topic); err != nil {
			return 0, err
		}
		s.mu.starts[tp.Topic] = ps
	}
	if off, ok := ps[tp.Partition]; ok {
		return off, nil
	}
	// A partition created after the start was resolved holds only newer
	// records: read it from its beginning.
	return 0, nil
}

func resolveStart(ctx context.Context, adm *kadm.Client, st Start, topic string) (map[int32]int64, error) {
	var (
		los kadm.ListedOffsets
		err error
	)
	switch {
	case st.kind == startLatest, st.kind == startCommitted && st.reset == ResetLatest:
		los, err = adm.ListCommittedOffsets(ctx, topic)
	case st.kind == startAtTime:
		los, err = adm.ListOffsetsAfterMilli(ctx, st.at.UnixMilli(), topic)
	default:
		los, err = adm.ListStartOffsets(ctx, topic)
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: resolve %s start of %s: %w", st, topic, err)
	}
	m := map[string]map[int32]int64{}
	if err := cacheOffsets(m, []string{topic}, los); err != nil {
		return nil, err
	}
	ps := m[topic]
	if st.kind != startCommitted {
		return ps, nil
	}
	ors, err := adm.FetchOffsetsForTopics(ctx, st.group, topic)
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		// A group that never committed (some brokers say so, others
		// answer with no offsets): every partition resets.
		ors = nil
	case err != nil:
		return nil, fmt.Errorf("kafka: fetch offsets of group %s: %w", st.group, err)
	}
	var missing []int32
	for p := range ps {
		if or, ok := ors.Lookup(topic, p); ok && or.Err == nil && or.At >= 0 {
			ps[p] = or.At
		} else {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 && st.reset == ResetNone {
		slices.Sort(missing)
		return nil, fmt.Errorf("kafka: group %s has no committed offset for partitions %v of %s, and its reset policy is none", st.group, missing, topic)
	}
	return ps, nil
}

func cacheOffsets(dst map[string]map[int32]int64, topics []string, los kadm.ListedOffsets) error {
	for _, t := range topics {
		ps := map[int32]int64{}
		for p, lo := range los[t] {
			if lo.Err != nil {
				if errors.Is(lo.Err, kerr.UnknownTopicOrPartition) {
					return fmt.Errorf("kafka: topic %q does not exist; create it first", t)
				}
				return fmt.Errorf("kafka: list offsets of %s/%d: %w", t, p, lo.Err)
			}
			ps[p] = lo.Offset
		}
		dst[t] = ps
	}
	return nil
}

// endOffset returns the bounded end of tp, listing it if Splits did not.
func (s *Source[T]) endOffset(ctx context.Context, adm *kadm.Client, tp Split) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadEndsLocked(ctx, adm, tp.Topic); err != nil {
		return 0, err
	}
	if off, ok := s.mu.ends[tp.Topic][tp.Partition]; ok {
		return off, nil
	}
	return 0, nil // a partition unknown at start is empty for a bounded source
}

// Position encoding: the next offset to read, then, for a bounded split,
// the end offset; both 8-byte big-endian.
func encodePos(next, end int64, bounded bool) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(next))
	if bounded {
		b = binary.BigEndian.AppendUint64(b, uint64(end))
	}
	return b
}

func decodePos(pos []byte) (next, end int64, hasEnd bool, err error) {
	switch len(pos) {
	case 8, 16:
		next = int64(binary.BigEndian.Uint64(pos))
		if len(pos) == 16 {
			end, hasEnd = int64(binary.BigEndian.Uint64(pos[8:])), true
		}
		if next < 0 {
			break
		}
		return next, end, hasEnd, nil
	}
	return 0, 0, false, fmt.Errorf("kafka: bad position %x", pos)
}

// Open starts reading split sp (a [*Split], or any split whose ID parses)
// at pos, or at the start option when pos is nil. Only one reader of a
// split may be open at a time per Source.
func (s *Source[T]) Open(ctx context.Context, sp sdk.Split, pos []byte) (sdk.SplitReader[T], error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	decode, reason := s.recordDecoder()
	tp, ok := sp.(*Split)
	if !ok {
		var err error
		if tp, err = ParseSplitID(sp.ID()); err != nil {
			return nil, err
		}
	}
	var (
		next, end int64 = 0, -1
		hasEnd    bool
	)
	if pos != nil {
		var err error
		if next, end, hasEnd, err = decodePos(pos); err != nil {
			return nil, fmt.Errorf("kafka: open %s: %w", tp.ID(), err)
		}
		if !hasEnd {
			end = -1
		}
	}
	c, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (sdk.SplitReader[T], error) {
		s.release(c)
		return nil, err
	}
	if pos == nil {
		if next, err = s.startOffset(ctx, c.adm, *tp); err != nil {
			return fail(err)
		}
	}
	if s.opts.Bounded && !hasEnd {
		if end, err = s.endOffset(ctx, c.adm, *tp); err != nil {
			return fail(err)
		}
	}
	if !s.opts.Bounded {
		end = -1
	}
	p, err := c.assign(*tp, next, end)
	if err != nil {
		return fail(err)
	}
	return &reader[T]{
		src:    s,
		c:      c,
		p:      p,
		tp:     *tp,
		decode: decode,
		reason: reason,
		next:   next,
		end:    end,
		idle:   c.idleGen(),
		where:  "kafka " + tp.Topic + "/" + strconv.Itoa(int(tp.Partition)) + " offset ",
	}, nil
}

// acquire returns the shared consumer, creating it when no split is open.
func (s *Source[T]) acquire(ctx context.Context) (*consumer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.c == nil {
		c, err := newConsumer(ctx, &s.opts)
		if err != nil {
			return nil, err
		}
		s.mu.c = c
	}
	s.mu.c.refs++
	return s.mu.c, nil
}

// release drops one reference to c and closes it with the last one.
func (s *Source[T]) release(c *consumer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.refs--; c.refs == 0 {
		c.close()
		if s.mu.c == c {
			s.mu.c = nil
		}
	}
}

// Validate reports at graph-build time bad options or a record type without
// a generated JSON codec.
func (s *Source[T]) Validate() error { return s.check() }
