package enrichgen

import (
	"reflect"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/enrich"
)

func at(sec int) time.Time { return DefaultStart.Add(time.Duration(sec) * time.Second) }

// TestExpectedHandChecked: a small input worked out by hand: a click
// before any profile, a click on a profile's exact time, a late click
// and a late profile change, two segments in two windows.
func TestExpectedHandChecked(t *testing.T) {
	clicks := [][]enrich.Click{{
		{UserID: "a", Page: "/", At: at(5)},      // before a's first profile: none
		{UserID: "a", Page: "/x", At: at(10)},    // a's profile at 10: new
		{UserID: "b", Page: "/x", At: at(70)},    // b's profile at 20: vip
		{UserID: "a", Page: "/x", At: at(100)},   // a changed at 90: vip
		{UserID: "a", Page: "/late", At: at(30)}, // max seen 100, bound 30: late
	}}
	profiles := [][]enrich.Profile{{
		{UserID: "a", Segment: "new", Country: "DE", At: at(10)},
		{UserID: "b", Segment: "vip", Country: "FR", At: at(20)},
		{UserID: "a", Segment: "vip", Country: "DE", At: at(90)},
		{UserID: "b", Segment: "new", Country: "FR", At: at(50)}, // max seen 90, bound 30: late, dropped
	}}
	enriched, metrics, late := Expected(clicks, profiles, 30*time.Second, time.Minute)
	wantE := []enrich.Enriched{
		{UserID: "a", Page: "/", At: at(5)},
		{UserID: "a", Page: "/x", Segment: "new", Country: "DE", At: at(10)},
		{UserID: "b", Page: "/x", Segment: "vip", Country: "FR", At: at(70)},
		{UserID: "a", Page: "/x", Segment: "vip", Country: "DE", At: at(100)},
	}
	if !reflect.DeepEqual(enriched, wantE) {
		t.Errorf("enriched\n%v\nwant\n%v", enriched, wantE)
	}
	wantM := []enrich.SegmentMetrics{
		{Segment: "", WindowStart: at(0), WindowEnd: at(60), Clicks: 1, Users: 1, TopPage: "/", TopClicks: 1},
		{Segment: "new", WindowStart: at(0), WindowEnd: at(60), Clicks: 1, Users: 1, TopPage: "/x", TopClicks: 1},
		{Segment: "vip", WindowStart: at(60), WindowEnd: at(120), Clicks: 2, Users: 2, TopPage: "/x", TopClicks: 2},
	}
	if !reflect.DeepEqual(metrics, wantM) {
		t.Errorf("metrics\n%v\nwant\n%v", metrics, wantM)
	}
	if late != 2 {
		t.Errorf("late %d, want 2", late)
	}
}

// TestGenerate: the same options give the same data; the data has clicks
// before any profile, late rows when asked, and disorder within the bound
// otherwise.
func TestGenerate(t *testing.T) {
	o := Options{Clicks: 5000, Users: 100, Partitions: 2, ProfilePartitions: 2, Disorder: 10 * time.Second, LateFraction: 0.01, Seed: 4}
	c1, p1 := Generate(o)
	c2, p2 := Generate(o)
	if !reflect.DeepEqual(c1, c2) || !reflect.DeepEqual(p1, p2) {
		t.Fatal("Generate is not deterministic")
	}
	enriched, _, late := Expected(c1, p1, 30*time.Second, time.Minute)
	none := 0
	for _, e := range enriched {
		if e.Segment == "" {
			none++
		}
	}
	if none == 0 || late == 0 {
		t.Errorf("%d clicks without a profile, %d late: want some of each", none, late)
	}
	o.LateFraction = 0
	c, p := Generate(o)
	if _, _, late := Expected(c, p, 10*time.Second, time.Minute); late != 0 {
		t.Errorf("%d late rows with disorder within the bound", late)
	}
	if err := (Options{LateFraction: 0.6}).Validate(); err == nil {
		t.Error("a late fraction of 0.6 was accepted")
	}
}
