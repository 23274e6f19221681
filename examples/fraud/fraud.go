package fraud

//go:generate go run github.com/weirflow/weir/cmd/weir gen

import (
	"math"
	"time"

	"github.com/weirflow/weir/sdk"
)

// Txn is one card transaction. Its event time is At (JSON "ts").
//
//weir:record
type Txn struct {
	UserID   string    `json:"user_id" parquet:"user_id"`
	Amount   int64     `json:"amount" parquet:"amount"`
	Merchant string    `json:"merchant" parquet:"merchant"`
	At       time.Time `json:"ts" parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
}

// UserTotal is the pipeline's output: the large transactions of one user in
// one window.
//
//weir:record
type UserTotal struct {
	UserID      string    `json:"user_id" parquet:"user_id"`
	WindowStart time.Time `json:"window_start" parquet:"window_start,timestamp(microsecond)"`
	WindowEnd   time.Time `json:"window_end" parquet:"window_end,timestamp(microsecond)"`
	Total       int64     `json:"total" parquet:"total"`
	Count       int64     `json:"count" parquet:"count"`
}

// Threshold is the amount a transaction must exceed to be kept.
const Threshold = 1000

// Large keeps transactions over [Threshold].
//
//weir:transform
func Large(t Txn) bool { return t.Amount > Threshold }

// UserOf is the key of a transaction.
//
//weir:transform
func UserOf(t Txn) string { return t.UserID }

// SumCount is the running total and count of one user and window: the
// accumulator the window state keeps (and checkpoints), so it has a codec.
//
//weir:record
type SumCount struct {
	Total int64
	Count int64
}

// SumAndCount is the combiner of the pipeline: a user-defined
// sdk.Combiner with add, merge and result.
//
// Sums saturate: a total or count that would pass the int64 limits stays at
// [math.MaxInt64] (or [math.MinInt64]) instead of wrapping around to a
// negative number, in Add and in Merge alike. After [Large] every amount is
// positive, so a saturated sum is the same whatever the order of adds and
// merges, and a total of math.MaxInt64 in the output means "at least
// this much".
type SumAndCount struct{}

func (SumAndCount) Create() SumCount { return SumCount{} }
func (SumAndCount) Add(a SumCount, t Txn) SumCount {
	return SumCount{satAdd(a.Total, t.Amount), satAdd(a.Count, 1)}
}
func (SumAndCount) Merge(a, b SumCount) SumCount {
	return SumCount{satAdd(a.Total, b.Total), satAdd(a.Count, b.Count)}
}
func (SumAndCount) Result(a SumCount) SumCount { return a }

// satAdd is a+b held within the int64 limits.
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// ToUserTotal turns a window result into an output row.
//
//weir:transform
func ToUserTotal(r sdk.Result[string, SumCount]) UserTotal {
	return UserTotal{
		UserID:      r.Key,
		WindowStart: r.Window.StartTime(),
		WindowEnd:   r.Window.EndTime(),
		Total:       r.Value.Total,
		Count:       r.Value.Count,
	}
}

// Options are the pipeline's knobs; the zero value is the seed pipeline.
type Options struct {
	// Window is the tumbling window size (default 5 minutes).
	Window time.Duration
	// Bound is the bounded out-of-orderness. Zero means the seed
	// pipeline's 30 s; [NoDisorder] means event times arrive in order.
	Bound time.Duration
	// Lateness is the allowed lateness (default 0).
	Lateness time.Duration
	// Idle is the idle timeout of the input's splits (default 0: none);
	// see sdk.IdleTimeout.
	Idle time.Duration
}

// NoDisorder as [Options.Bound] sets a bound of zero: every record whose
// event time is behind the largest seen so far is out of order.
const NoDisorder time.Duration = -1

func (o *Options) ensureDefaults() {
	if o.Window == 0 {
		o.Window = 5 * time.Minute
	}
	switch {
	case o.Bound == 0:
		o.Bound = 30 * time.Second
	case o.Bound < 0:
		o.Bound = 0
	}
}

// Build adds the fraud pipeline to p: in → Large → KeyBy(user) → 5-minute
// tumbling windows → sum and count → out. Transactions later than the
// allowed lateness go to late (nil: counted and dropped).
func Build(p *sdk.Pipeline, in sdk.Source[Txn], out sdk.Sink[UserTotal], late sdk.Sink[Txn], o Options) {
	o.ensureDefaults() // 5-minute windows, 30 s bound, no allowed lateness
	txns := sdk.Read(p, in, sdk.Named("txns"), sdk.BoundedOutOfOrderness(o.Bound), sdk.IdleTimeout(o.Idle))
	large := sdk.Filter(txns, Large)
	byUser := sdk.KeyBy(large, UserOf)
	win := sdk.WindowInto(byUser, sdk.Tumbling(o.Window), sdk.Named("5m"), sdk.AllowedLateness(o.Lateness))
	totals := sdk.Aggregate(win, sdk.Combiner[Txn, SumCount, SumCount](SumAndCount{}))
	sdk.Write(sdk.Map(totals, ToUserTotal), out, sdk.Named("results"))
	if late != nil {
		sdk.Write(sdk.LateData(win), late, sdk.Named("late"))
	}
}
