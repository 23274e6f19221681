package enrich

//go:generate go run github.com/weirflow/weir/cmd/weir gen

import (
	"cmp"
	"time"

	"github.com/weirflow/weir/sdk"
)

// Click is one page view. Its event time is At (JSON "ts").
//
//weir:record
type Click struct {
	UserID string    `json:"user_id" parquet:"user_id"`
	Page   string    `json:"page" parquet:"page"`
	At     time.Time `json:"ts" parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
}

// Profile is one version of a user's profile, valid from At until the
// user's next version: the changelog the clicks are enriched from.
//
//weir:record
type Profile struct {
	UserID  string    `json:"user_id" parquet:"user_id"`
	Segment string    `json:"segment" parquet:"segment"`
	Country string    `json:"country" parquet:"country"`
	At      time.Time `json:"ts" parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
}

// Enriched is a click with the profile current at its time.
//
//weir:record
type Enriched struct {
	UserID  string    `json:"user_id" parquet:"user_id"`
	Page    string    `json:"page" parquet:"page"`
	Segment string    `json:"segment" parquet:"segment"`
	Country string    `json:"country" parquet:"country"`
	At      time.Time `json:"ts" parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
}

// SegmentMetrics are the clicks of one segment in one window. Clicks of
// users without a profile yet count under the segment "".
//
//weir:record
type SegmentMetrics struct {
	Segment     string    `json:"segment" parquet:"segment"`
	WindowStart time.Time `json:"window_start" parquet:"window_start,timestamp(microsecond)"`
	WindowEnd   time.Time `json:"window_end" parquet:"window_end,timestamp(microsecond)"`
	Clicks      int64     `json:"clicks" parquet:"clicks"`
	Users       int64     `json:"users" parquet:"users"`
	TopPage     string    `json:"top_page" parquet:"top_page"`
	TopClicks   int64     `json:"top_page_clicks" parquet:"top_page_clicks"`
}

// SegmentAcc is the running state of one segment and window: clicks per
// user and per page. It is checkpointed with the window, so it has a
// codec.
//
//weir:record
type SegmentAcc struct {
	Clicks int64
	Users  map[string]int64
	Pages  map[string]int64
}

// UserOfClick and UserOfProfile are the join's keys.
//
//weir:transform
func UserOfClick(c Click) string { return c.UserID }

// UserOfProfile is the key of a profile version.
//
//weir:transform
func UserOfProfile(p Profile) string { return p.UserID }

// SegmentOf is the key of the metrics.
//
//weir:transform
func SegmentOf(e Enriched) string { return e.Segment }

// Enrich is the temporal join's function: the click with profile p, the
// version current at the click's time when ok.
func Enrich(c Click, p Profile, ok bool) Enriched {
	e := Enriched{UserID: c.UserID, Page: c.Page, At: c.At}
	if ok {
		e.Segment, e.Country = p.Segment, p.Country
	}
	return e
}

// Metrics is the combiner of the metrics window.
type Metrics struct{}

func (Metrics) Create() SegmentAcc { return SegmentAcc{} }

func (Metrics) Add(a SegmentAcc, e Enriched) SegmentAcc {
	if a.Users == nil {
		a.Users, a.Pages = map[string]int64{}, map[string]int64{}
	}
	a.Clicks++
	a.Users[e.UserID]++
	a.Pages[e.Page]++
	return a
}

func (Metrics) Merge(a, b SegmentAcc) SegmentAcc {
	if a.Users == nil {
		return b
	}
	a.Clicks += b.Clicks
	for u, n := range b.Users {
		a.Users[u] += n
	}
	for p, n := range b.Pages {
		a.Pages[p] += n
	}
	return a
}

// Result is the accumulator's clicks, distinct users and top page: the
// page with the most clicks, the first in byte order among equals.
func (Metrics) Result(a SegmentAcc) SegmentMetrics {
	m := SegmentMetrics{Clicks: a.Clicks, Users: int64(len(a.Users))}
	for p, n := range a.Pages {
		if n > m.TopClicks || n == m.TopClicks && cmp.Less(p, m.TopPage) {
			m.TopPage, m.TopClicks = p, n
		}
	}
	return m
}

// ToMetrics turns a window result into an output row.
//
//weir:transform
func ToMetrics(r sdk.Result[string, SegmentMetrics]) SegmentMetrics {
	m := r.Value
	m.Segment, m.WindowStart, m.WindowEnd = r.Key, r.Window.StartTime(), r.Window.EndTime()
	return m
}

// Options are the pipeline's knobs; the zero value is the seed pipeline.
type Options struct {
	// Window is the metrics' tumbling window (default 1 minute).
	Window time.Duration
	// Bound is the bounded out-of-orderness of both inputs (default 30 s;
	// negative: none, event times arrive in order).
	Bound time.Duration
	// Idle is the idle timeout of the inputs' splits (default 0: none);
	// see sdk.IdleTimeout. A compacted profiles topic that no longer
	// changes needs one in a stream, or it holds the clicks back.
	Idle time.Duration
}

func (o *Options) ensureDefaults() {
	if o.Window == 0 {
		o.Window = time.Minute
	}
	switch {
	case o.Bound == 0:
		o.Bound = 30 * time.Second
	case o.Bound < 0:
		o.Bound = 0
	}
}

// Inputs and Outputs are the pipeline's sources and sinks.
type (
	Inputs struct {
		Clicks   sdk.Source[Click]
		Profiles sdk.Source[Profile]
	}
	Outputs struct {
		Enriched sdk.Sink[Enriched]
		Metrics  sdk.Sink[SegmentMetrics]
	}
)

// Build adds the enrichment pipeline to p: clicks ⋈ profiles (as of each
// click's time) → enriched, and enriched → KeyBy(segment) → 1-minute
// tumbling windows → clicks, users and top page → metrics.
func Build(p *sdk.Pipeline, in Inputs, out Outputs, o Options) {
	o.ensureDefaults()
	clicks := sdk.Read(p, in.Clicks, sdk.Named("clicks"), sdk.BoundedOutOfOrderness(o.Bound), sdk.IdleTimeout(o.Idle))
	profiles := sdk.Read(p, in.Profiles, sdk.Named("profiles"), sdk.BoundedOutOfOrderness(o.Bound), sdk.IdleTimeout(o.Idle))
	enriched := sdk.TemporalJoin(sdk.KeyBy(clicks, UserOfClick), sdk.KeyBy(profiles, UserOfProfile), Enrich, sdk.Named("as-of"))
	sdk.Write(enriched, out.Enriched, sdk.Named("enriched"))
	win := sdk.WindowInto(sdk.KeyBy(enriched, SegmentOf), sdk.Tumbling(o.Window), sdk.Named("1m"))
	metrics := sdk.Aggregate(win, sdk.Combiner[Enriched, SegmentAcc, SegmentMetrics](Metrics{}))
	sdk.Write(sdk.Map(metrics, ToMetrics), out.Metrics, sdk.Named("metrics"))
}
