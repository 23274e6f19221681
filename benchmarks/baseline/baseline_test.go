package baseline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

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
		for _, run := range []struct {
			name string
			fn   func([]string, time.Duration, io.Writer) (Stats, error)
		}{{"Run", Run}, {"RunColumns", RunColumns}} {
			var out bytes.Buffer
			st, err := run.fn(paths, 5*time.Minute, &out)
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
				t.Errorf("%s, start %v: %d rows differ from the %d expected", run.name, start, len(got), len(want))
			}
		}
	}
}

// BenchmarkRun measures both baselines in process on 200,000 generated rows.
func BenchmarkRun(b *testing.B) {
	const rows = 200_000
	parts := fraudgen.Generate(fraudgen.Options{Rows: rows, Users: 1000, Partitions: 2, Span: time.Hour, Disorder: 20 * time.Second, Seed: 1})
	paths, err := fraudgen.WriteParquet(b.TempDir(), parts, 100_000)
	if err != nil {
		b.Fatal(err)
	}
	for _, run := range []struct {
		name string
		fn   func([]string, time.Duration, io.Writer) (Stats, error)
	}{{"generic", Run}, {"columns", RunColumns}} {
		b.Run(run.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := run.fn(paths, 5*time.Minute, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// TestRunColumnsSmallPages crosses page boundaries inside 1,024-row batches.
func TestRunColumnsSmallPages(t *testing.T) {
	parts := fraudgen.Generate(fraudgen.Options{Rows: 30_000, Users: 500, Disorder: 10 * time.Second, Seed: 4})
	path := filepath.Join(t.TempDir(), "small-pages.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pq.NewGenericWriter[fraud.Txn](f, pq.PageBufferSize(777), pq.MaxRowsPerRowGroup(7000), pq.Compression(&pq.Snappy))
	if _, err := w.Write(parts[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var a, b bytes.Buffer
	if _, err := Run([]string{path}, 5*time.Minute, &a); err != nil {
		t.Fatal(err)
	}
	if _, err := RunColumns([]string{path}, 5*time.Minute, &b); err != nil {
		t.Fatal(err)
	}
	want, _ := fraudgen.Expected(parts, 5*time.Minute, 30*time.Second)
	for name, out := range map[string]*bytes.Buffer{"Run": &a, "RunColumns": &b} {
		var got []fraud.UserTotal
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var r fraud.UserTotal
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		fraudgen.SortRows(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d rows differ from the %d expected", name, len(got), len(want))
		}
	}
}
