package join

//go:generate go run github.com/weirflow/weir/cmd/weir gen

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/sdk"
)

// Click is one page view.
//
//weir:record
type Click struct {
	UserID int64     `json:"user_id" parquet:"user_id"`
	Page   string    `json:"page" parquet:"page"`
	At     time.Time `json:"ts" parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
}

// Profile is one version of a user's profile, current from At until the
// user's next version.
//
//weir:record
type Profile struct {
	UserID  int64     `json:"user_id" parquet:"user_id"`
	Segment string    `json:"segment" parquet:"segment"`
	Country string    `json:"country" parquet:"country"`
	At      time.Time `json:"ts" parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
}

// Enriched is a click with the profile current at its time (empty
// segment and country when the user had none yet).
//
//weir:record
type Enriched struct {
	UserID  int64     `json:"user_id" parquet:"user_id"`
	Page    string    `json:"page" parquet:"page"`
	Segment string    `json:"segment" parquet:"segment"`
	Country string    `json:"country" parquet:"country"`
	At      time.Time `json:"ts" parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
}

// ClickUser is the key of a click.
//
//weir:transform
func ClickUser(c Click) int64 { return c.UserID }

// ProfileUser is the key of a profile version.
//
//weir:transform
func ProfileUser(p Profile) int64 { return p.UserID }

// Enrich is the temporal join's function.
func Enrich(c Click, p Profile, ok bool) Enriched {
	e := Enriched{UserID: c.UserID, Page: c.Page, At: c.At}
	if ok {
		e.Segment, e.Country = p.Segment, p.Country
	}
	return e
}

// Config sizes the generated input.
type Config struct {
	Clicks   int           // default 5,000,000
	Versions int           // profile versions, default 100,000
	Users    int           // default 20,000
	Span     time.Duration // of event time, default 24h
	Seed     uint64
	// RowGroup is the rows per Parquet row group of the clicks (a split
	// each); the profiles' row groups hold RowGroup/8. Default 65,536.
	RowGroup int
}

func (c *Config) ensureDefaults() {
	if c.Clicks == 0 {
		c.Clicks = 5_000_000
	}
	if c.Versions == 0 {
		c.Versions = 100_000
	}
	if c.Users == 0 {
		c.Users = 20_000
	}
	if c.Span == 0 {
		c.Span = 24 * time.Hour
	}
	if c.RowGroup == 0 {
		c.RowGroup = 1 << 16
	}
}

// Files are the paths of the generated input.
type Files struct{ Clicks, Profiles string }

// epoch is the event time of the first record (2026-01-01).
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	pages = func() (p []string) {
		for i := range 64 {
			p = append(p, fmt.Sprintf("/page/%02d", i))
		}
		return
	}()
	segments  = []string{"new", "casual", "regular", "loyal", "premium", "churning", "dormant", "vip"}
	countries = []string{"DE", "FR", "US", "GB", "NL", "SE", "PL", "ES", "IT", "JP", "BR", "IN"}
)

// Generate writes the clicks and profile versions of c under dir, each in
// event-time order, unless files of the same configuration are there
// already, and returns their paths. Event times are spread evenly over
// Span with random users (the same seed, the same files).
func Generate(dir string, c Config) (Files, bool, error) {
	c.ensureDefaults()
	name := fmt.Sprintf("c%d-v%d-u%d-s%d-%s-rg%d", c.Clicks, c.Versions, c.Users, c.Seed, c.Span, c.RowGroup)
	f := Files{Clicks: filepath.Join(dir, name, "clicks.parquet"), Profiles: filepath.Join(dir, name, "profiles.parquet")}
	if _, err := os.Stat(f.Profiles); err == nil {
		return f, true, nil
	}
	if err := os.MkdirAll(filepath.Dir(f.Clicks), 0o755); err != nil {
		return f, false, err
	}
	rnd := rand.New(rand.NewPCG(c.Seed, 0x6a6f696e))
	step := c.Span / time.Duration(c.Clicks)
	clicks := make([]Click, c.Clicks)
	for i := range clicks {
		clicks[i] = Click{UserID: rnd.Int64N(int64(c.Users)), Page: pages[rnd.IntN(len(pages))], At: epoch.Add(time.Duration(i) * step)}
	}
	vstep := c.Span / time.Duration(c.Versions)
	profiles := make([]Profile, c.Versions)
	for i := range profiles {
		profiles[i] = Profile{UserID: rnd.Int64N(int64(c.Users)), Segment: segments[rnd.IntN(len(segments))],
			Country: countries[rnd.IntN(len(countries))], At: epoch.Add(time.Duration(i) * vstep)}
	}
	if err := writeFile(f.Clicks, clicks, c.RowGroup); err != nil {
		return f, false, err
	}
	return f, false, writeFile(f.Profiles, profiles, max(c.RowGroup/8, 1))
}

func writeFile[T any](path string, rows []T, rowGroup int) error {
	tmp := path + ".tmp"
	err := parquet.WriteFile(tmp, rows, rowGroup)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("join bench: write %s: %w", path, err)
	}
	return nil
}

// Sum is what a run emitted: rows, rows with a profile, and an
// order-independent checksum of them, equal between the baseline and a
// temporal join that computes the same rows.
type Sum struct {
	Rows, Matched int64
	Check         uint64
}

var seed = maphash.MakeSeed()

func (s *Sum) add(e *Enriched) {
	s.Rows++
	if e.Segment != "" {
		s.Matched++
	}
	var h maphash.Hash
	h.SetSeed(seed)
	var b [16]byte
	binaryPut(b[:], uint64(e.UserID), uint64(e.At.UnixMicro()))
	h.Write(b[:])
	h.WriteString(e.Page)
	h.WriteByte(0)
	h.WriteString(e.Segment)
	h.WriteByte(0)
	h.WriteString(e.Country)
	s.Check += h.Sum64()
}

func binaryPut(b []byte, x, y uint64) {
	for i := range 8 {
		b[i], b[8+i] = byte(x>>(8*i)), byte(y>>(8*i))
	}
}

// Baseline is the hand-written loop: it reads both files with parquet-go's
// GenericReader, sorts each by time, then walks the clicks in time order
// keeping the latest profile of each user in a map (versions at a click's
// time or before it applied first), and enriches every click.
func Baseline(f Files) (Sum, error) {
	clicks, err := readAll[Click](f.Clicks)
	if err != nil {
		return Sum{}, err
	}
	profiles, err := readAll[Profile](f.Profiles)
	if err != nil {
		return Sum{}, err
	}
	slices.SortStableFunc(clicks, func(a, b Click) int { return a.At.Compare(b.At) })
	slices.SortStableFunc(profiles, func(a, b Profile) int { return a.At.Compare(b.At) })
	latest := make(map[int64]*Profile)
	var s Sum
	j := 0
	for i := range clicks {
		c := &clicks[i]
		for ; j < len(profiles) && !profiles[j].At.After(c.At); j++ {
			latest[profiles[j].UserID] = &profiles[j]
		}
		e := Enriched{UserID: c.UserID, Page: c.Page, At: c.At}
		if p := latest[c.UserID]; p != nil {
			e.Segment, e.Country = p.Segment, p.Country
		}
		s.add(&e)
	}
	return s, nil
}

func readAll[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := pq.NewGenericReader[T](f)
	defer r.Close()
	out := make([]T, r.NumRows())
	n := 0
	for n < len(out) {
		k, err := r.Read(out[n:min(n+4096, len(out))])
		n += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("join bench: read %s: %w", path, err)
		}
	}
	return out[:n], nil
}

// Counter is an sdk.Sink that counts what its writers get (no output).
type Counter[T any] struct {
	rows  atomic.Int64
	sum   func(*Sum, *T)
	mu    chan struct{}
	total Sum
}

// NewCounter returns a Counter; with sum, each row is also added to the
// checksum by sum.
func NewCounter[T any](sum func(*Sum, *T)) *Counter[T] {
	return &Counter[T]{sum: sum, mu: make(chan struct{}, 1)}
}

// Sum returns what the writers got.
func (c *Counter[T]) Sum() Sum {
	c.mu <- struct{}{}
	defer func() { <-c.mu }()
	s := c.total
	s.Rows = c.rows.Load()
	return s
}

// Open opens a writer.
func (c *Counter[T]) Open(sdk.SinkContext) (sdk.CommittingSink[T], error) {
	return &counterWriter[T]{c: c}, nil
}

type counterWriter[T any] struct {
	c *Counter[T]
	s Sum
}

func (w *counterWriter[T]) Write(_ context.Context, b *sdk.Batch[T]) error {
	w.c.rows.Add(int64(len(b.Values)))
	if w.c.sum != nil {
		for i := range b.Values {
			w.c.sum(&w.s, &b.Values[i])
		}
		w.c.mu <- struct{}{}
		w.c.total.Matched += w.s.Matched
		w.c.total.Check += w.s.Check
		<-w.c.mu
		w.s = Sum{}
	}
	return nil
}

func (w *counterWriter[T]) PreCommit(sdk.CheckpointID) error { return nil }
func (w *counterWriter[T]) Commit(sdk.CheckpointID) error    { return nil }
func (w *counterWriter[T]) Abort(sdk.CheckpointID) error     { return nil }
func (w *counterWriter[T]) Close() error                     { return nil }

// AddEnriched adds e to s (a Counter's sum function).
func AddEnriched(s *Sum, e *Enriched) { s.add(e) }

func read(p *sdk.Pipeline, f Files) (sdk.PCollection[Click], sdk.PCollection[Profile]) {
	clicks := sdk.Read(p, parquet.NewSource[Click](f.Clicks, parquet.SourceOptions{}), sdk.Named("clicks"))
	profiles := sdk.Read(p, parquet.NewSource[Profile](f.Profiles, parquet.SourceOptions{}), sdk.Named("profiles"))
	return clicks, profiles
}

// Temporal is the pipeline of the baseline: each click with the profile
// version current at its time (sdk.TemporalJoin), into sink.
func Temporal(f Files, sink sdk.Sink[Enriched]) *sdk.Pipeline {
	p := sdk.NewPipeline(sdk.JobName("join-temporal"))
	clicks, profiles := read(p, f)
	sdk.Write(sdk.TemporalJoin(sdk.KeyBy(clicks, ClickUser), sdk.KeyBy(profiles, ProfileUser), Enrich), sink)
	return p
}

// Interval pairs each click with the profile versions of its user within
// d of it either way (sdk.IntervalJoin), into sink.
func Interval(f Files, d time.Duration, sink sdk.Sink[Enriched]) *sdk.Pipeline {
	p := sdk.NewPipeline(sdk.JobName("join-interval"))
	clicks, profiles := read(p, f)
	sdk.Write(sdk.IntervalJoin(sdk.KeyBy(clicks, ClickUser), sdk.KeyBy(profiles, ProfileUser), -d, d,
		func(c Click, p Profile) Enriched { return Enrich(c, p, true) }), sink)
	return p
}

// Window pairs the clicks and profile versions of a user in the same
// tumbling window of size w (sdk.WindowJoin, inner), into sink.
func Window(f Files, w time.Duration, sink sdk.Sink[Enriched]) *sdk.Pipeline {
	p := sdk.NewPipeline(sdk.JobName("join-window"))
	clicks, profiles := read(p, f)
	sdk.Write(sdk.WindowJoin(sdk.KeyBy(clicks, ClickUser), sdk.KeyBy(profiles, ProfileUser), sdk.Tumbling(w), sdk.InnerJoin,
		func(c *Click, p *Profile) Enriched { return Enrich(*c, *p, true) }), sink)
	return p
}
