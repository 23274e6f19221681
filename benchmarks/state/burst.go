package state

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
	"github.com/weirflow/weir/runner"
	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
)

// The burst rule of the fourth figure: alert when a user makes
// BurstCount transactions over BurstAmount within BurstWindow. It is
// written twice, as a new user would: with a ListState of the times of the
// user's recent large transactions ([BurstList]) and with a MapState from
// time to the number of transactions at that time ([BurstMap]); both drop
// old entries when a record arrives and with an event-time timer one
// window later.
const (
	BurstCount  = 3
	BurstAmount = 500
	BurstWindow = time.Minute
)

// BurstAlert is the rule's output: a user and the time of the transaction
// that made the burst.
type BurstAlert struct {
	User string
	At   time.Time
}

// BurstList is the rule on a ListState, as sdk's ExampleProcess writes it.
type BurstList struct {
	Recent sdk.ListState[time.Time]
}

// NewBurstList returns the ListState version of the rule.
func NewBurstList() *BurstList {
	return &BurstList{Recent: sdk.NewListState[time.Time]("recent")}
}

// ProcessElement keeps the times of the user's large transactions within
// the window, alerts on the BurstCount-th, and sets a timer to drop them.
func (f *BurstList) ProcessElement(ctx *sdk.ProcessContext[string, BurstAlert], t fraud.Txn) error {
	if t.Amount <= BurstAmount {
		return nil
	}
	times, err := f.Recent.Get(ctx)
	if err != nil {
		return err
	}
	var kept []time.Time
	for _, at := range times {
		if t.At.Sub(at) < BurstWindow {
			kept = append(kept, at)
		}
	}
	kept = append(kept, t.At)
	if len(kept) == BurstCount {
		ctx.Emit(BurstAlert{User: ctx.Key(), At: t.At})
	}
	if err := f.Recent.Update(ctx, kept); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(ctx.Timestamp().Add(BurstWindow))
}

// OnTimer drops the times a window old.
func (f *BurstList) OnTimer(ctx *sdk.ProcessContext[string, BurstAlert], tm sdk.TimerInfo) error {
	times, err := f.Recent.Get(ctx)
	if err != nil {
		return err
	}
	var kept []time.Time
	for _, at := range times {
		if sdk.TimestampOf(at).Add(BurstWindow) > tm.Time {
			kept = append(kept, at)
		}
	}
	return f.Recent.Update(ctx, kept)
}

// BurstMap is the rule on a MapState from event time (µs) to the number
// of large transactions at that time.
type BurstMap struct {
	Recent sdk.MapState[int64, int64]
}

// NewBurstMap returns the MapState version of the rule.
func NewBurstMap() *BurstMap {
	return &BurstMap{Recent: sdk.NewMapState[int64, int64]("recent")}
}

// ProcessElement counts the user's large transactions within the window,
// deleting older ones, alerts on the BurstCount-th, and sets a timer.
func (f *BurstMap) ProcessElement(ctx *sdk.ProcessContext[string, BurstAlert], t fraud.Txn) error {
	if t.Amount <= BurstAmount {
		return nil
	}
	at := int64(sdk.TimestampOf(t.At))
	n, _, err := f.Recent.Get(ctx, at)
	if err != nil {
		return err
	}
	if err := f.Recent.Put(ctx, at, n+1); err != nil {
		return err
	}
	var old []int64
	count := int64(0)
	err = f.Recent.Iterate(ctx, func(k, v int64) error {
		if at-k < BurstWindow.Microseconds() {
			count += v
		} else {
			old = append(old, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := f.Recent.Delete(ctx, k); err != nil {
			return err
		}
	}
	if count == BurstCount {
		ctx.Emit(BurstAlert{User: ctx.Key(), At: t.At})
	}
	return ctx.RegisterEventTimeTimer(ctx.Timestamp().Add(BurstWindow))
}

// OnTimer deletes the entries a window old.
func (f *BurstMap) OnTimer(ctx *sdk.ProcessContext[string, BurstAlert], tm sdk.TimerInfo) error {
	var old []int64
	err := f.Recent.Iterate(ctx, func(k, _ int64) error {
		if sdk.Timestamp(k).Add(BurstWindow) <= tm.Time {
			old = append(old, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := f.Recent.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

func txnUser(t fraud.Txn) string    { return t.UserID }
func txnTime(t fraud.Txn) time.Time { return t.At }

// BurstPipeline runs fn (a *[BurstList] or *[BurstMap]) over txns, one
// split, writing alerts to sink.
func BurstPipeline(txns []fraud.Txn, fn sdk.KeyedProcessFunc[string, fraud.Txn, BurstAlert], sink sdk.Sink[BurstAlert]) *sdk.Pipeline {
	p := sdk.NewPipeline(sdk.JobName("state-burst"))
	in := sdk.Read[fraud.Txn](p, &runnertest.Source[fraud.Txn]{Data: [][]fraud.Txn{txns}}, sdk.Timestamps(txnTime))
	sdk.Write(sdk.Process(sdk.KeyBy(in, txnUser), fn), sink)
	return p
}

// BurstTxns generates rows transactions of users users, in order, at a
// rate of BurstRate rows per minute: the state per user does not grow with
// rows.
func BurstTxns(rows, users int) []fraud.Txn {
	span := time.Duration(rows) * time.Minute / BurstRate
	return fraudgen.Generate(fraudgen.Options{Rows: rows, Users: users, Span: span, Seed: 4})[0]
}

// BurstRate is the rate of [BurstTxns], rows per minute of event time:
// with 1,000 users each makes one transaction a minute, 0.4 of them large.
const BurstRate = 1000

// ExpectBursts computes the rule's alerts over txns (in order) with a
// plain loop, sorted by user and time.
func ExpectBursts(txns []fraud.Txn) []BurstAlert {
	recent := map[string][]time.Time{}
	var out []BurstAlert
	for _, t := range txns {
		if t.Amount <= BurstAmount {
			continue
		}
		r := recent[t.UserID]
		i := 0
		for i < len(r) && t.At.Sub(r[i]) >= BurstWindow {
			i++
		}
		r = append(r[i:], t.At)
		recent[t.UserID] = r
		if len(r) == BurstCount {
			out = append(out, BurstAlert{User: t.UserID, At: t.At})
		}
	}
	sortAlerts(out)
	return out
}

func sortAlerts(a []BurstAlert) {
	slices.SortFunc(a, func(x, y BurstAlert) int {
		if x.User != y.User {
			if x.User < y.User {
				return -1
			}
			return 1
		}
		return x.At.Compare(y.At)
	})
}

// BurstConfig configures [Burst].
type BurstConfig struct {
	// Rows is the smallest input; Burst runs Rows, 2×Rows and 4×Rows.
	Rows        int
	Users       int
	Parallelism int
	Rounds      int
	Logf        func(string, ...any)
}

// BurstRun is one run of [Burst]: the state kind, input size and run.
type BurstRun struct {
	Kind string `json:"kind"` // "ListState" or "MapState"
	Rows int    `json:"rows"`
	Run
}

// Burst runs the burst rule on a ListState and on a MapState over Rows,
// 2×Rows and 4×Rows generated transactions ([BurstTxns]), in batch mode,
// each size Rounds times with the two kinds interleaved (the order swapped
// every round), and checks every run's alerts against [ExpectBursts].
func Burst(ctx context.Context, cfg BurstConfig) ([]BurstRun, error) {
	var runs []BurstRun
	for _, mult := range []int{1, 2, 4} {
		rows := cfg.Rows * mult
		txns := BurstTxns(rows, cfg.Users)
		want := ExpectBursts(txns)
		for round := range cfg.Rounds {
			for i := range 2 {
				kind := "ListState"
				var fn sdk.KeyedProcessFunc[string, fraud.Txn, BurstAlert] = NewBurstList()
				if (i+round)%2 == 1 {
					kind, fn = "MapState", NewBurstMap()
				}
				r, err := runBurst(ctx, kind, txns, fn, want, cfg)
				if err != nil {
					return runs, err
				}
				runs = append(runs, BurstRun{Kind: kind, Rows: rows, Run: r})
			}
		}
	}
	return runs, nil
}

func runBurst(ctx context.Context, kind string, txns []fraud.Txn, fn sdk.KeyedProcessFunc[string, fraud.Txn, BurstAlert],
	want []BurstAlert, cfg BurstConfig) (Run, error) {
	name := fmt.Sprintf("%s, %d rows", kind, len(txns))
	sink := &runnertest.Sink[BurstAlert]{}
	cpu0 := cpuTime()
	st, err := runner.Run(ctx, BurstPipeline(txns, fn, sink), runner.Options{Parallelism: cfg.Parallelism, Mode: runner.Batch, Logf: cfg.Logf})
	if err != nil {
		return Run{}, fmt.Errorf("state bench: %s: %w", name, err)
	}
	r := newRun(name, int64(len(txns)), st)
	r.CPU = cpuTime() - cpu0
	got := sink.Values()
	sortAlerts(got)
	cfg.Logf("%s: %v (%.1f µs/row), CPU %v, %d alerts", name, st.Duration.Round(time.Millisecond),
		float64(st.Duration.Microseconds())/float64(len(txns)), r.CPU.Round(time.Millisecond), len(got))
	if !slices.EqualFunc(got, want, func(a, b BurstAlert) bool { return a.User == b.User && a.At.Equal(b.At) }) {
		return r, fmt.Errorf("state bench: %s: %d alerts, want %d (or different ones)", name, len(got), len(want))
	}
	r.Verified = true
	return r, nil
}
