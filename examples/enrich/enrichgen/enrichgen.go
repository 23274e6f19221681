package enrichgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/weirflow/weir/examples/enrich"
)

// Options configure [Generate]. The zero value is 10,000 clicks of 500
// users over 10 minutes in one partition, about 3 profile versions a user
// in one partition, in order.
type Options struct {
	// Clicks is the number of clicks (default 10,000).
	Clicks int
	// Users is the number of distinct users (default 500).
	Users int
	// Changes is the mean number of profile versions per user (default 3;
	// each user has 1 to 2×Changes−1).
	Changes int
	// Partitions is the number of click partitions (files, Kafka
	// partitions; default 1); ProfilePartitions that of the profiles
	// (default 1).
	Partitions, ProfilePartitions int
	// Start is the earliest event time (default 2024-01-01T00:00:00Z);
	// Span the event time the inputs cover (default 10 minutes).
	Start time.Time
	Span  time.Duration
	// Disorder is the most an on-time record is behind the largest event
	// time before it in its partition; keep it ≤ the pipeline's bound.
	Disorder time.Duration
	// LateFraction is the fraction of clicks and of profile versions
	// placed LateBy behind their partition (default 0); LateBy defaults
	// to 5 minutes (keep it > Disorder + bound).
	LateFraction float64
	LateBy       time.Duration
	// Seed selects the data; the same Options give the same data.
	Seed uint64
}

// DefaultStart is the default Start.
var DefaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Segments, Countries and Pages are the values generated.
var (
	Segments  = []string{"new", "casual", "regular", "vip"}
	Countries = []string{"DE", "FR", "US", "JP", "BR"}
	Pages     = []string{"/", "/search", "/item", "/cart", "/pay", "/help", "/account", "/deals"}
)

func (o *Options) ensureDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Clicks, 10_000)
	def(&o.Users, 500)
	def(&o.Changes, 3)
	def(&o.Partitions, 1)
	def(&o.ProfilePartitions, 1)
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.Span <= 0 {
		o.Span = 10 * time.Minute
	}
	if o.LateBy <= 0 {
		o.LateBy = 5 * time.Minute
	}
	o.Disorder = max(o.Disorder, 0)
	o.LateFraction = min(max(o.LateFraction, 0), 0.5)
}

// Validate says what is wrong with options from a command line.
func (o Options) Validate() error {
	switch {
	case o.Clicks < 0 || o.Users < 0 || o.Changes < 0 || o.Partitions < 0 || o.ProfilePartitions < 0:
		return fmt.Errorf("counts must not be negative")
	case o.Span < 0 || o.Disorder < 0 || o.LateBy < 0:
		return fmt.Errorf("durations must not be negative")
	case o.LateFraction < 0 || o.LateFraction > 0.5:
		return fmt.Errorf("the late fraction must be in [0, 0.5]")
	}
	return nil
}

// UserID is the id of user i.
func UserID(i int) string { return fmt.Sprintf("u%05d", i) }

// Generate returns the clicks and the profile versions of each partition,
// in arrival order.
func Generate(o Options) (clicks [][]enrich.Click, profiles [][]enrich.Profile) {
	o.ensureDefaults()
	r := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	start, span := o.Start.UnixMicro(), o.Span.Microseconds()

	// Profile versions: the first at a random time in the first half of
	// the span (clicks before it find none), the others after it, at
	// distinct times per user so that "the version current at t" is one.
	var versions []enrich.Profile
	for u := range o.Users {
		n := 1 + r.IntN(2*o.Changes-1)
		seen := map[int64]bool{}
		first := start + r.Int64N(max(span/2, 1))
		for i := range n {
			ts := first
			if i > 0 {
				ts = first + r.Int64N(max(start+span-first, 1))
			}
			for seen[ts] {
				ts++
			}
			seen[ts] = true
			versions = append(versions, enrich.Profile{
				UserID:  UserID(u),
				Segment: Segments[r.IntN(len(Segments))],
				Country: Countries[r.IntN(len(Countries))],
				At:      time.UnixMicro(ts).UTC(),
			})
		}
	}
	profiles = make([][]enrich.Profile, o.ProfilePartitions)
	for i, v := range versions { // a user's versions may fall in several partitions
		p := i % o.ProfilePartitions
		profiles[p] = append(profiles[p], v)
	}
	for p := range profiles {
		profiles[p] = arrange(r, profiles[p], o, func(v *enrich.Profile) *time.Time { return &v.At })
	}

	clicks = make([][]enrich.Click, o.Partitions)
	for p := range clicks {
		n := o.Clicks / o.Partitions
		if p < o.Clicks%o.Partitions {
			n++
		}
		part := make([]enrich.Click, n)
		for i := range part {
			// Half of a user's clicks are on their favourite page, the
			// others Zipf-like: a few pages are clicked much more.
			u := r.IntN(o.Users)
			page := Pages[min(int(r.ExpFloat64()*2), len(Pages)-1)]
			if r.IntN(2) == 0 {
				page = Pages[(u*7)%len(Pages)]
			}
			part[i] = enrich.Click{UserID: UserID(u), Page: page,
				At: time.UnixMicro(start + span*int64(i)/int64(max(n, 1))).UTC()}
		}
		clicks[p] = arrange(r, part, o, func(c *enrich.Click) *time.Time { return &c.At })
	}
	return clicks, profiles
}

// arrange puts rows (of any order) in arrival order: sorted by event
// time, then each moved up to Disorder earlier than its nominal time (so
// it is at most Disorder behind the largest time before it), and a
// LateFraction of them, past the first tenth, LateBy behind the largest
// time before them.
func arrange[T any](r *rand.Rand, rows []T, o Options, at func(*T) *time.Time) []T {
	sortBy(rows, func(v *T) int64 { return at(v).UnixMicro() })
	disorder, lateBy := o.Disorder.Microseconds(), o.LateBy.Microseconds()
	var maxSeen int64
	for i := range rows {
		t := at(&rows[i])
		ts := t.UnixMicro()
		if disorder > 0 {
			ts -= r.Int64N(disorder + 1)
		}
		if i > len(rows)/10 && r.Float64() < o.LateFraction {
			ts = maxSeen - lateBy - r.Int64N(max(lateBy/4, 1))
		}
		if i == 0 || ts > maxSeen {
			maxSeen = ts
		}
		*t = time.UnixMicro(ts).UTC()
	}
	return rows
}
