package enrichgen

import (
	"cmp"
	"slices"
	"time"

	"github.com/weirflow/weir/examples/enrich"
	"github.com/weirflow/weir/internal/base"
)

// Expected computes the enrichment pipeline's outputs for the inputs of
// [Generate] (each partition in arrival order, read as one split) with
// bounded out-of-orderness bound and tumbling metric windows of size
// window, and the number of late records dropped (clicks and profile
// versions). Rows are sorted by [SortEnriched] and [SortMetrics].
//
// A record is late when its time is at or before its partition's
// watermark just before it: the largest time seen earlier in the
// partition − bound − 1µs. Each on-time click is joined with the newest
// on-time version of its user at or before the click's time.
func Expected(clicks [][]enrich.Click, profiles [][]enrich.Profile, bound, window time.Duration) (enriched []enrich.Enriched, metrics []enrich.SegmentMetrics, late int) {
	onTime := func(n int, at func(i int) time.Time, keep func(i int)) {
		var maxSeen int64
		for i := range n {
			ts := int64(base.FromTime(at(i)))
			wm := int64(base.MinTimestamp)
			if i > 0 {
				wm = maxSeen - bound.Microseconds() - 1
			}
			if i == 0 || ts > maxSeen {
				maxSeen = ts
			}
			if ts <= wm {
				late++
				continue
			}
			keep(i)
		}
	}
	byUser := map[string][]enrich.Profile{}
	for _, part := range profiles {
		onTime(len(part), func(i int) time.Time { return part[i].At }, func(i int) {
			byUser[part[i].UserID] = append(byUser[part[i].UserID], part[i])
		})
	}
	for _, c := range clicks {
		onTime(len(c), func(i int) time.Time { return c[i].At }, func(i int) {
			var cur enrich.Profile
			ok := false
			for _, v := range byUser[c[i].UserID] { // nested loop: the newest at or before the click
				if !v.At.After(c[i].At) && (!ok || v.At.After(cur.At)) {
					cur, ok = v, true
				}
			}
			enriched = append(enriched, enrich.Enrich(c[i], cur, ok))
		})
	}
	type key struct {
		segment string
		start   int64
	}
	accs := map[key]enrich.SegmentAcc{}
	size := window.Microseconds()
	for _, e := range enriched {
		k := key{e.Segment, base.FloorDiv(int64(base.FromTime(e.At)), size) * size}
		accs[k] = enrich.Metrics{}.Add(accs[k], e)
	}
	for k, a := range accs {
		m := enrich.Metrics{}.Result(a)
		m.Segment = k.segment
		m.WindowStart = base.Timestamp(k.start).Time()
		m.WindowEnd = base.Timestamp(k.start + size).Time()
		metrics = append(metrics, m)
	}
	SortEnriched(enriched)
	SortMetrics(metrics)
	return enriched, metrics, late
}

// SortEnriched sorts rows by time, user, page and profile.
func SortEnriched(rows []enrich.Enriched) {
	slices.SortFunc(rows, func(a, b enrich.Enriched) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.Page, b.Page),
			cmp.Compare(a.Segment, b.Segment), cmp.Compare(a.Country, b.Country))
	})
}

// SortMetrics sorts rows by window start and segment.
func SortMetrics(rows []enrich.SegmentMetrics) {
	slices.SortFunc(rows, func(a, b enrich.SegmentMetrics) int {
		return cmp.Or(a.WindowStart.Compare(b.WindowStart), cmp.Compare(a.Segment, b.Segment))
	})
}

func sortBy[T any](rows []T, key func(*T) int64) {
	slices.SortStableFunc(rows, func(a, b T) int { return cmp.Compare(key(&a), key(&b)) })
}
