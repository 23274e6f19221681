package fraudgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/weirflow/weir/examples/fraud"
)

// Options configure [Generate]. The zero value generates 10,000 in-order
// transactions of 1,000 users over one hour in one partition.
type Options struct {
	// Rows is the total number of transactions (default 10,000).
	Rows int
	// Users is the number of distinct users (default 1,000).
	Users int
	// Partitions is the number of partitions (files, Kafka partitions);
	// rows are spread evenly (default 1).
	Partitions int
	// Start is the earliest nominal event time (default 2024-01-01T00:00:00Z).
	Start time.Time
	// Span is the event time each partition covers from Start (default 1h).
	// Every partition covers the same span.
	Span time.Duration
	// Disorder is the maximum out-of-orderness inside a partition: every
	// on-time event is at most Disorder behind the largest event time seen
	// before it in its partition. Keep it ≤ the pipeline's bound (0: in order).
	Disorder time.Duration
	// LateFraction is the fraction of events, in [0, 1), placed later than
	// the bound (for lateness tests; default 0).
	LateFraction float64
	// LateBy is how far a late event is behind the reference event time
	// (default 1h); keep it ≥ window + bound.
	LateBy time.Duration
	// LateLag is how many rows back the reference event time of a late event
	// is taken (default 1024, one batch): late events stay late when the
	// watermark trails the reader by up to LateLag rows. No event among a
	// partition's first LateLag rows is late.
	LateLag int
	// Seed selects the data; the same Options give the same data.
	Seed uint64
}

// DefaultStart is the default Start.
var DefaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// EnsureDefaults fills the zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Rows == 0 {
		o.Rows = 10_000
	}
	if o.Users == 0 {
		o.Users = 1_000
	}
	if o.Partitions == 0 {
		o.Partitions = 1
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.Span == 0 {
		o.Span = time.Hour
	}
	if o.LateBy == 0 {
		o.LateBy = time.Hour
	}
	if o.LateLag == 0 {
		o.LateLag = 1024
	}
}

// Validate names the first field that cannot generate data.
func (o *Options) Validate() error {
	switch {
	case o.Rows < 0:
		return fmt.Errorf("fraudgen: Rows must be ≥ 0, got %d", o.Rows)
	case o.Users < 0:
		return fmt.Errorf("fraudgen: Users must be ≥ 0, got %d", o.Users)
	case o.Partitions < 0:
		return fmt.Errorf("fraudgen: Partitions must be ≥ 0, got %d", o.Partitions)
	case o.Span < 0:
		return fmt.Errorf("fraudgen: Span must be ≥ 0, got %v", o.Span)
	case o.Disorder < 0:
		return fmt.Errorf("fraudgen: Disorder must be ≥ 0, got %v", o.Disorder)
	case o.LateFraction < 0 || o.LateFraction >= 1:
		return fmt.Errorf("fraudgen: LateFraction must be in [0, 1), got %v", o.LateFraction)
	case o.LateBy < 0:
		return fmt.Errorf("fraudgen: LateBy must be ≥ 0, got %v", o.LateBy)
	case o.LateLag < 0:
		return fmt.Errorf("fraudgen: LateLag must be ≥ 0, got %d", o.LateLag)
	}
	return nil
}

// Merchants are the merchants transactions come from.
var Merchants = []string{
	"acme", "bazaar", "cafe-luna", "cinema", "fuel-stop", "grocer",
	"hardware", "pharmacy", "airline", "hotel", "bookshop", "electro",
}

// UserID returns the id of user i, as Generate writes it.
func UserID(i int) string { return fmt.Sprintf("u%06d", i) }

// amount draws from a log-normal distribution with median 400 and σ 1.1, so
// about 20% of the amounts exceed [fraud.Threshold].
func amount(r *rand.Rand) int64 {
	a := int64(math.Exp(math.Log(400) + 1.1*r.NormFloat64()))
	return max(a, 1)
}

// Generate returns the transactions of each partition in arrival order.
// Partition p's rows depend only on the options and p. Check user input
// with [Options.Validate] first: Generate treats negative counts and
// durations as zero (the default) and clamps LateFraction into [0, 1].
func Generate(opts Options) [][]fraud.Txn {
	opts.clamp()
	opts.EnsureDefaults()
	users := make([]string, opts.Users)
	for i := range users {
		users[i] = UserID(i)
	}
	parts := make([][]fraud.Txn, opts.Partitions)
	for p := range parts {
		n := opts.Rows / opts.Partitions
		if p < opts.Rows%opts.Partitions {
			n++
		}
		parts[p] = generatePartition(&opts, users, p, n)
	}
	return parts
}

func (o *Options) clamp() {
	o.Rows, o.Users, o.Partitions, o.LateLag = max(o.Rows, 0), max(o.Users, 0), max(o.Partitions, 0), max(o.LateLag, 0)
	o.Span, o.Disorder, o.LateBy = max(o.Span, 0), max(o.Disorder, 0), max(o.LateBy, 0)
	o.LateFraction = min(max(o.LateFraction, 0), 1)
}

func generatePartition(o *Options, users []string, p, n int) []fraud.Txn {
	r := rand.New(rand.NewPCG(o.Seed, uint64(p)+0x9e3779b97f4a7c15))
	start := o.Start.UnixMicro()
	span := o.Span.Microseconds()
	disorder := o.Disorder.Microseconds()
	lateBy := o.LateBy.Microseconds()
	step, rem := span/int64(max(n, 1)), span%int64(max(n, 1))
	out := make([]fraud.Txn, n)
	// maxAt[i] is the largest event time among rows 0..i, kept for LateLag.
	maxAt := make([]int64, n)
	for i := range out {
		// Nominal times increase evenly over the span; on-time events
		// are up to Disorder behind them, hence behind the max seen.
		nominal := start + step*int64(i) + rem*int64(i)/int64(n)
		ts := nominal
		if disorder > 0 {
			ts -= r.Int64N(disorder + 1)
		}
		late := r.Float64() < o.LateFraction
		if late && i >= o.LateLag {
			ts = maxAt[i-o.LateLag] - lateBy - r.Int64N(max(lateBy/4, 1))
		}
		maxAt[i] = ts
		if i > 0 {
			maxAt[i] = max(ts, maxAt[i-1])
		}
		var user string
		if len(users) > 0 {
			user = users[r.IntN(len(users))]
		}
		out[i] = fraud.Txn{
			UserID:   user,
			Amount:   amount(r),
			Merchant: Merchants[r.IntN(len(Merchants))],
			At:       time.UnixMicro(ts).UTC(),
		}
	}
	return out
}
