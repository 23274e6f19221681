package fraudgen

import (
	"cmp"
	"slices"
	"time"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/internal/base"
)

// Expected computes the fraud pipeline's output for parts (each in arrival
// order) with tumbling windows of size window, bounded out-of-orderness
// bound and no allowed lateness, and the number of transactions over the
// threshold dropped as late. Rows are sorted by user and window start.
//
// Lateness is judged per partition and per event, as the package
// documentation describes; weir judges it the same way per split, so the
// result is exact whenever each partition is read as one split.
func Expected(parts [][]fraud.Txn, window, bound time.Duration) (rows []fraud.UserTotal, late int) {
	size := window.Microseconds()
	b := bound.Microseconds()
	type key struct {
		user  string
		start int64
	}
	acc := map[key]*fraud.SumCount{}
	for _, part := range parts {
		seen := false
		var maxSeen int64
		for _, t := range part {
			ts := int64(base.FromTime(t.At))
			// The watermark before this event: max seen − bound − 1µs.
			wm := int64(base.MinTimestamp)
			if seen {
				wm = maxSeen - b - 1
			}
			if !seen || ts > maxSeen {
				maxSeen, seen = ts, true
			}
			if !fraud.Large(t) {
				continue
			}
			start := base.FloorDiv(ts, size) * size
			if start+size-1 <= wm {
				late++
				continue
			}
			k := key{t.UserID, start}
			sc := acc[k]
			if sc == nil {
				sc = &fraud.SumCount{}
				acc[k] = sc
			}
			*sc = fraud.SumAndCount{}.Add(*sc, t)
		}
	}
	rows = make([]fraud.UserTotal, 0, len(acc))
	for k, sc := range acc {
		rows = append(rows, fraud.UserTotal{
			UserID:      k.user,
			WindowStart: base.Timestamp(k.start).Time(),
			WindowEnd:   base.Timestamp(k.start + size).Time(),
			Total:       sc.Total,
			Count:       sc.Count,
		})
	}
	SortRows(rows)
	return rows, late
}

// SortRows sorts output rows by user, window start, window end.
func SortRows(rows []fraud.UserTotal) {
	slices.SortFunc(rows, func(a, b fraud.UserTotal) int {
		return cmp.Or(
			cmp.Compare(a.UserID, b.UserID),
			a.WindowStart.Compare(b.WindowStart),
			a.WindowEnd.Compare(b.WindowEnd),
			cmp.Compare(a.Total, b.Total),
			cmp.Compare(a.Count, b.Count),
		)
	})
}
