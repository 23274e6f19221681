package fraud_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/io/jsonl"
	"github.com/weirflow/weir/runner"
)

const maxI = math.MaxInt64

// TestSumAndCountSaturates checks Add and Merge near the int64 limits: a sum
// past a limit stays at it instead of wrapping around.
func TestSumAndCountSaturates(t *testing.T) {
	var c fraud.SumAndCount
	sc := func(total, count int64) fraud.SumCount { return fraud.SumCount{Total: total, Count: count} }
	add := func(a fraud.SumCount, amount int64) fraud.SumCount {
		return c.Add(a, fraud.Txn{UserID: "u", Amount: amount})
	}
	for _, tc := range []struct {
		name      string
		got, want fraud.SumCount
	}{
		{"add two max", add(add(c.Create(), maxI), maxI), sc(maxI, 2)},
		{"add one past max", add(sc(maxI-5000, 1), 5001), sc(maxI, 2)},
		{"add up to max", add(sc(maxI-5000, 1), 5000), sc(maxI, 2)},
		{"add to saturated", add(sc(maxI, 7), 1001), sc(maxI, 8)},
		{"add below min", add(sc(math.MinInt64+10, 1), -11), sc(math.MinInt64, 2)},
		{"add count at max", add(sc(1001, maxI), 1001), sc(2002, maxI)},
		{"merge two max", c.Merge(sc(maxI, 1), sc(maxI, 1)), sc(maxI, 2)},
		{"merge past max", c.Merge(sc(maxI-1, 3), sc(2, 4)), sc(maxI, 7)},
		{"merge up to max", c.Merge(sc(maxI-1, 3), sc(1, 4)), sc(maxI, 7)},
		{"merge counts past max", c.Merge(sc(5, maxI), sc(5, 1)), sc(10, maxI)},
		{"merge below min", c.Merge(sc(math.MinInt64, 1), sc(-1, 1)), sc(math.MinInt64, 2)},
		{"merge plain", c.Merge(sc(3000, 2), sc(4000, 3)), sc(7000, 5)},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
}

// TestSumAndCountOrderFree folds the same large amounts (over the threshold,
// as after Large) in shuffled orders and in shuffled partial accumulators
// merged together: the result is always the same, saturated or not.
func TestSumAndCountOrderFree(t *testing.T) {
	var c fraud.SumAndCount
	r := rand.New(rand.NewPCG(19, 19))
	for _, big := range []bool{false, true} {
		amounts := make([]int64, 200)
		var exact int64
		for i := range amounts {
			if big {
				amounts[i] = maxI/100 + r.Int64N(maxI/100) // the sum passes MaxInt64
			} else {
				amounts[i] = fraud.Threshold + 1 + r.Int64N(1_000_000)
				exact += amounts[i]
			}
		}
		want := fraud.SumCount{Total: exact, Count: int64(len(amounts))}
		if big {
			want.Total = maxI
		}
		for round := range 20 {
			r.Shuffle(len(amounts), func(i, j int) { amounts[i], amounts[j] = amounts[j], amounts[i] })
			// Split into random runs, fold each with Add, merge them in a
			// random order.
			var parts []fraud.SumCount
			for rest := amounts; len(rest) > 0; {
				n := 1 + r.IntN(len(rest))
				a := c.Create()
				for _, x := range rest[:n] {
					a = c.Add(a, fraud.Txn{Amount: x})
				}
				parts = append(parts, a)
				rest = rest[n:]
			}
			r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
			got := c.Create()
			for _, p := range parts {
				got = c.Merge(got, p)
			}
			if got != want {
				t.Fatalf("big=%v round %d (%d parts): got %+v, want %+v", big, round, len(parts), got, want)
			}
		}
	}
}

// TestPipelineSaturates runs the pipeline over transactions whose sum passes
// MaxInt64: the window's total is MaxInt64, not a negative number.
func TestPipelineSaturates(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	at := time.Date(2024, 5, 1, 10, 1, 0, 0, time.UTC)
	var lines []string
	for i, tx := range []struct {
		user   string
		amount int64
	}{
		{"big", maxI}, {"big", maxI}, {"big", 5000}, {"small", 2000}, {"small", 3000},
	} {
		lines = append(lines, fmt.Sprintf(`{"user_id":%q,"amount":%d,"merchant":"m","ts":%q}`,
			tx.user, tx.amount, at.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano)))
	}
	if err := os.WriteFile(filepath.Join(in, "txns.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, jsonl.NewSource[fraud.Txn](filepath.Join(in, "*.jsonl"), jsonl.SourceOptions{}), out, runner.Options{})
	got := readTotals(t, out)
	want := rowStrings([]fraud.UserTotal{
		{UserID: "big", WindowStart: at.Add(-time.Minute), WindowEnd: at.Add(4 * time.Minute), Total: maxI, Count: 3},
		{UserID: "small", WindowStart: at.Add(-time.Minute), WindowEnd: at.Add(4 * time.Minute), Total: 5000, Count: 2},
	})
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
