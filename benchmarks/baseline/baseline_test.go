package baseline

import (
	"bufio"
	"bytes"
	"encoding/json"
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
