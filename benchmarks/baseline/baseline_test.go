package baseline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/examples/fraud/fraudgen"
)

func TestRunMatchesExpected(t *testing.T) {
	for _, start := range []time.Time{fraudgen.DefaultStart, time.Date(1969, 12, 31, 23, 30, 0, 0, time.UTC)} {
		parts := fraudgen.Generate(fraudgen.Options{
			Rows: 20_000, Users: 40, Partitions: 3, Start: start,
			Disorder: 30 * time.Second, Seed: 11,
		})
		paths, err := fraudgen.WriteParquet(t.TempDir(), parts, 3000)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		st, err := Run(paths, 5*time.Minute, &out)
		if err != nil {
			t.Fatal(err)
		}
		want, late := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second)
		if late != 0 {
			t.Fatalf("generated %d late rows; the test needs none", late)
		}
		var got []fraud.UserTotal
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			var r fraud.UserTotal
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", sc.Bytes(), err)
			}
			got = append(got, r)
		}
		fraudgen.SortRows(got)
		if st.Rows != 20_000 || st.Outputs != int64(len(got)) {
			t.Errorf("stats %+v, %d rows parsed", st, len(got))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("start %v: %d rows differ from the %d expected", start, len(got), len(want))
		}
	}
}

// BenchmarkRun measures the baseline in process on 200,000 generated rows.
func BenchmarkRun(b *testing.B) {
	const rows = 200_000
	parts := fraudgen.Generate(fraudgen.Options{Rows: rows, Users: 1000, Partitions: 2, Span: time.Hour, Disorder: 20 * time.Second, Seed: 1})
	paths, err := fraudgen.WriteParquet(b.TempDir(), parts, 100_000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Run(paths, 5*time.Minute, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
