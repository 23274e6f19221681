package base

import (
	"math"
	"testing"
	"time"
)

func TestTimestampRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want Timestamp
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(0, 1000), 1},
		{time.Unix(-1, 0), -1_000_000},
		{time.Unix(-1, 999_999_000), -1},
		{time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC), -500_000},
		{time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC), 1704164645000006},
		{time.Time{}, MinEventTime},
		{time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), MinEventTime + 1},
		{time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC), MaxEventTime},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), MaxEventTime + 1},
	} {
		got := FromTime(tc.in)
		if got != tc.want {
			t.Errorf("FromTime(%v) = %d, want %d", tc.in, got, tc.want)
		}
		if back := got.Time(); !back.Equal(tc.in) {
			t.Errorf("Time(%d) = %v, want %v", got, back, tc.in)
		}
	}
}

// TestFromTimeSaturates: times beyond the microseconds of an int64 do not
// wrap around into ordinary event times.
func TestFromTimeSaturates(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want Timestamp
	}{
		{time.UnixMilli(math.MaxInt64), MaxTimestamp},
		{time.UnixMilli(math.MinInt64), MinTimestamp},
		{time.Date(300_000, 1, 1, 0, 0, 0, 0, time.UTC), MaxTimestamp},
		{time.Date(-300_000, 1, 1, 0, 0, 0, 0, time.UTC), MinTimestamp},
		{time.UnixMicro(math.MaxInt64), MaxTimestamp},
		{time.UnixMicro(math.MaxInt64 - 1), MaxTimestamp - 1},
		{time.UnixMicro(math.MaxInt64).Add(time.Microsecond), MaxTimestamp},
		{time.UnixMicro(math.MinInt64), MinTimestamp},
		{time.UnixMicro(math.MinInt64 + 1), MinTimestamp + 1},
		{time.UnixMicro(math.MinInt64).Add(-time.Microsecond), MinTimestamp},
	} {
		if got := FromTime(tc.in); got != tc.want {
			t.Errorf("FromTime(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestFloorDiv(t *testing.T) {
	for _, tc := range []struct{ a, b, want int64 }{
		{7, 5, 1}, {5, 5, 1}, {0, 5, 0}, {-1, 5, -1}, {-5, 5, -1}, {-6, 5, -2},
	} {
		if got := FloorDiv(tc.a, tc.b); got != tc.want {
			t.Errorf("FloorDiv(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestKeyGroupRangesCoverAll(t *testing.T) {
	for _, maxPar := range []int{1, 7, 128} {
		for par := 1; par <= maxPar && par <= 16; par++ {
			next := KeyGroup(0)
			for task := 0; task < par; task++ {
				s, e := KeyGroupRange(task, par, maxPar)
				if s != next {
					t.Fatalf("max=%d par=%d task=%d: range starts at %d, want %d", maxPar, par, task, s, next)
				}
				for kg := s; kg < e; kg++ {
					if got := TaskOf(kg, par, maxPar); got != task {
						t.Fatalf("max=%d par=%d: TaskOf(%d) = %d, want %d", maxPar, par, kg, got, task)
					}
				}
				next = e
			}
			if int(next) != maxPar {
				t.Fatalf("max=%d par=%d: ranges end at %d", maxPar, par, next)
			}
		}
	}
}

func TestAddSaturates(t *testing.T) {
	if got := MaxTimestamp.Add(time.Second); got != MaxTimestamp {
		t.Errorf("Max+1s = %v", got)
	}
	if got := Timestamp(MaxTimestamp - 1).AddMicros(5); got != MaxTimestamp {
		t.Errorf("overflow not saturated: %v", got)
	}
	if got := Timestamp(MinTimestamp + 1).AddMicros(-5); got != MinTimestamp {
		t.Errorf("underflow not saturated: %v", got)
	}
}
