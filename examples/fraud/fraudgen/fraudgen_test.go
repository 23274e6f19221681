package fraudgen

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/weirflow/weir/examples/fraud"
)

func TestGenerateDeterministic(t *testing.T) {
	opts := Options{Rows: 5000, Users: 50, Partitions: 3, Disorder: 30 * time.Second, LateFraction: 0.01, Seed: 7}
	a, b := Generate(opts), Generate(opts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same options gave different data")
	}
	opts.Seed = 8
	if reflect.DeepEqual(a, Generate(opts)) {
		t.Fatal("different seeds gave the same data")
	}
	total := 0
	for _, p := range a {
		total += len(p)
	}
	if len(a) != 3 || total != 5000 {
		t.Fatalf("got %d partitions, %d rows; want 3, 5000", len(a), total)
	}
}

func TestGenerateZeroOptions(t *testing.T) {
	parts := Generate(Options{})
	if len(parts) != 1 || len(parts[0]) != 10_000 {
		t.Fatalf("zero options: got %d partitions", len(parts))
	}
	prev := parts[0][0].At
	if !prev.Equal(DefaultStart) {
		t.Errorf("first event at %v, want %v", prev, DefaultStart)
	}
	for _, tx := range parts[0] {
		if tx.At.Before(prev) {
			t.Fatalf("zero Disorder: %v after %v", tx.At, prev)
		}
		if tx.At.Location() != time.UTC {
			t.Fatalf("event time %v not in UTC", tx.At)
		}
		prev = tx.At
	}
}

func TestAmountDistribution(t *testing.T) {
	parts := Generate(Options{Rows: 100_000, Seed: 1})
	large := 0
	for _, tx := range parts[0] {
		if tx.Amount <= 0 {
			t.Fatalf("amount %d ≤ 0", tx.Amount)
		}
		if fraud.Large(tx) {
			large++
		}
	}
	if f := float64(large) / 100_000; f < 0.10 || f > 0.30 {
		t.Errorf("%.1f%% of amounts exceed the threshold, want 10–30%%", f*100)
	}
}

// TestDisorderAndLateness checks every event is either within Disorder of
// the max seen before it in its partition (on time in any read order), or,
// for late events, late even against a watermark LateLag rows behind.
func TestDisorderAndLateness(t *testing.T) {
	const window, bound = 5 * time.Minute, 30 * time.Second
	for _, late := range []float64{0, 0.02} {
		opts := Options{Rows: 20_000, Users: 100, Partitions: 2, Disorder: bound, LateFraction: late, Seed: 3}
		o := opts
		o.EnsureDefaults()
		parts := Generate(opts)
		lateLarge := 0
		for _, part := range parts {
			maxAt := make([]int64, len(part))
			for i, tx := range part {
				ts := tx.At.UnixMicro()
				maxAt[i] = ts
				if i == 0 {
					continue
				}
				maxAt[i] = max(ts, maxAt[i-1])
				if ts >= maxAt[i-1]-o.Disorder.Microseconds() {
					continue
				}
				if late == 0 || i < o.LateLag {
					t.Fatalf("late=%v: row %d at %v is %v behind the max", late, i, tx.At, time.Duration(maxAt[i-1]-ts)*time.Microsecond)
				}
				end := floorDiv(ts, window.Microseconds())*window.Microseconds() + window.Microseconds()
				if wm := maxAt[i-o.LateLag] - bound.Microseconds() - 1; end-1 > wm {
					t.Fatalf("row %d at %v is not late against a watermark %d rows behind", i, tx.At, o.LateLag)
				}
				if fraud.Large(tx) {
					lateLarge++
				}
			}
		}
		_, got := Expected(parts, window, bound)
		if got != lateLarge {
			t.Errorf("late=%v: Expected counts %d late, generator placed %d", late, got, lateLarge)
		}
		if late > 0 && got == 0 {
			t.Errorf("late=%v: no late events", late)
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func TestExpectedHandChecked(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	at := func(d time.Duration) time.Time { return epoch.Add(d) }
	tx := func(user string, amount int64, d time.Duration) fraud.Txn {
		return fraud.Txn{UserID: user, Amount: amount, Merchant: "m", At: at(d)}
	}
	const us = time.Microsecond
	parts := [][]fraud.Txn{
		{
			tx("u1", 1500, -us),                          // [-5m, 0), just before 1970
			tx("u1", 2000, 0),                            // [0, 5m), on the edge
			tx("u1", 500, 5*time.Minute-us),              // filtered
			tx("u1", 1001, 5*time.Minute),                // [5m, 10m), on the edge
			tx("u2", 3000, 4*time.Minute+30*time.Second), // exactly bound behind: on time
			tx("u2", 1000, -10*time.Minute),              // filtered: not counted late
			tx("u3", 10, 5*time.Minute+30*time.Second),   // watermark to 5m-1µs
			tx("u2", 1100, 4*time.Minute+59*time.Second), // [0, 5m) has fired: late
			tx("u1", 5000, -5*time.Minute),               // [-5m, 0) long gone: late
		},
		{
			tx("u1", 1234, -5*time.Minute-us),             // [-10m, -5m): own partition's first
			tx("u1", 4321, -4*time.Minute-31*time.Second), // [-5m, 0)
		},
	}
	w := func(user string, start time.Duration, total, count int64) fraud.UserTotal {
		return fraud.UserTotal{UserID: user, WindowStart: at(start), WindowEnd: at(start + 5*time.Minute), Total: total, Count: count}
	}
	want := []fraud.UserTotal{
		w("u1", -10*time.Minute, 1234, 1),
		w("u1", -5*time.Minute, 5821, 2),
		w("u1", 0, 2000, 1),
		w("u1", 5*time.Minute, 1001, 1),
		w("u2", 0, 3000, 1),
	}
	rows, late := Expected(parts, 5*time.Minute, 30*time.Second)
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows:\n got %v\nwant %v", rows, want)
	}
	if late != 2 {
		t.Errorf("late = %d, want 2", late)
	}
}

func TestWriteParquetRoundTrip(t *testing.T) {
	parts := Generate(Options{Rows: 1000, Partitions: 2, Disorder: time.Second, Seed: 5})
	paths, err := WriteParquet(t.TempDir(), parts, 128)
	if err != nil {
		t.Fatal(err)
	}
	for p, path := range paths {
		got, err := pq.ReadFile[fraud.Txn](path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i].At = got[i].At.UTC()
		}
		if !reflect.DeepEqual(got, parts[p]) {
			t.Fatalf("%s: rows differ after the round trip", path)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		pf, err := pq.OpenFile(f, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		if n := len(pf.RowGroups()); n != 4 {
			t.Errorf("%s: %d row groups, want 4 (500 rows by 128)", path, n)
		}
		f.Close()
	}
}

func TestWriteJSONLRoundTrip(t *testing.T) {
	parts := Generate(Options{Rows: 300, Partitions: 2, Start: time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), Seed: 5})
	paths, err := WriteJSONL(t.TempDir(), parts)
	if err != nil {
		t.Fatal(err)
	}
	for p, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []fraud.Txn
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var tx fraud.Txn
			if err := json.Unmarshal(sc.Bytes(), &tx); err != nil {
				t.Fatal(err)
			}
			got = append(got, tx)
		}
		f.Close()
		if !reflect.DeepEqual(got, parts[p]) {
			t.Fatalf("%s: rows differ after the round trip", path)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, o := range []Options{{Rows: -1}, {LateFraction: 1}, {Disorder: -time.Second}, {LateLag: -1}} {
		if o.Validate() == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if err := (&Options{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
}
