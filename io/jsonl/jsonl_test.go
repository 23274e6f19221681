package jsonl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/io/iotest"
	"github.com/weirflow/weir/io/jsonl"
	"github.com/weirflow/weir/sdk"
)

// txn is the test record; its codec is iotest's, over encoding/json.
type txn struct {
	UserID string    `json:"user_id"`
	Amount int64     `json:"amount"`
	At     time.Time `json:"ts"`
}

func init() {
	sdk.RegisterRecord(iotest.JSONCodec("ts", func(v *txn) time.Time { return v.At }))
}

func mkTxn(i int) txn {
	return txn{UserID: fmt.Sprintf("u%d", i%5), Amount: int64(i * 10), At: time.UnixMicro(int64(1_700_000_000_000_000 + i)).UTC()}
}

func line(v txn) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSourceConformance(t *testing.T) {
	dir := t.TempDir()
	var want []txn
	// b.jsonl is listed first by nothing: splits are sorted by path.
	var sb strings.Builder
	for i := 0; i < 40; i++ {
		v := mkTxn(100 + i)
		want = append(want, v)
		sb.WriteString(line(v) + "\n")
	}
	var sa strings.Builder
	var wantA []txn
	for i := 0; i < 30; i++ {
		v := mkTxn(i)
		switch i {
		case 3:
			sa.WriteString("{not json\n")
		case 4:
			sa.WriteString("\n  \n")
		case 5:
			sa.WriteString(`{"user_id":"x","amount":1}` + "\n") // no ts
		case 6:
			sa.WriteString(line(v) + "\r\n")
			wantA = append(wantA, v)
		default:
			sa.WriteString(line(v) + "\n")
			wantA = append(wantA, v)
		}
	}
	v := mkTxn(999)
	sa.WriteString(line(v)) // last line without newline
	wantA = append(wantA, v)
	writeFile(t, filepath.Join(dir, "b.jsonl"), sb.String())
	writeFile(t, filepath.Join(dir, "a.jsonl"), sa.String())
	writeFile(t, filepath.Join(dir, "c.jsonl"), "") // empty file: an empty split

	iotest.TestSource(t, iotest.SourceCase[txn]{
		Source:   jsonl.NewSource[txn](filepath.Join(dir, "*.jsonl"), jsonl.SourceOptions{}),
		Want:     append(wantA, want...),
		WantDead: 2,
	})
}

func TestSourceDeadLetters(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "in.jsonl")
	long := `{"user_id":"` + strings.Repeat("x", 300) + `","amount":1,"ts":"2024-01-01T00:00:00Z"}`
	writeFile(t, p, line(mkTxn(1))+"\n{bad\n"+long+"\n"+line(mkTxn(2))+"\n")
	chunks, err := iotest.ReadAll[txn](context.Background(), jsonl.NewSource[txn](p, jsonl.SourceOptions{MaxLineSize: 200}), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 1 || len(chunks[0].Rows) != 2 {
		t.Fatalf("got %+v, want one split with 2 rows", chunks)
	}
	d := chunks[0].Dead
	if len(d) != 2 {
		t.Fatalf("got %d dead letters, want 2: %+v", len(d), d)
	}
	if d[0].Source != p+" line 2" || string(d[0].Record) != "{bad" || !strings.HasPrefix(d[0].Reason, "json: ") {
		t.Errorf("bad line: got %+v", d[0])
	}
	if d[1].Source != p+" line 3" || d[1].Reason != "json: line longer than 200 bytes" || len(d[1].Record) > 1024 {
		t.Errorf("long line: got reason %q source %q", d[1].Reason, d[1].Source)
	}
}

func TestSourceErrors(t *testing.T) {
	dir := t.TempDir()
	pattern := filepath.Join(dir, "*.jsonl")
	_, err := jsonl.NewSource[txn](pattern, jsonl.SourceOptions{}).Splits(context.Background())
	if want := fmt.Sprintf("jsonl: no files match %q", pattern); err == nil || err.Error() != want {
		t.Errorf("empty glob: got %v, want %s", err, want)
	}
	type nocodec struct{ A int }
	writeFile(t, filepath.Join(dir, "a.jsonl"), "{}\n")
	_, err = jsonl.NewSource[nocodec](pattern, jsonl.SourceOptions{}).Splits(context.Background())
	var nc sdk.NoCodecError
	if !errors.As(err, &nc) {
		t.Errorf("no codec: got %v, want sdk.NoCodecError", err)
	}
	// The same is a construction error of the pipeline, before anything
	// runs, for the source and for a sink.
	p := sdk.NewPipeline()
	in := sdk.Read[nocodec](p, jsonl.NewSource[nocodec](pattern, jsonl.SourceOptions{}), sdk.Named("in"),
		sdk.Timestamps(func(nocodec) time.Time { return time.Time{} }))
	sdk.Write[nocodec](in, jsonl.NewSink[nocodec](filepath.Join(dir, "out"), jsonl.SinkOptions{}), sdk.Named("out"))
	err = p.Err()
	for _, want := range []string{`Read "in": `, `Write "out": `, "has no codec", "go generate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("pipeline error %v does not contain %q", err, want)
		}
	}
}

// readDir reads the committed *.jsonl files of dir; a line that does not
// decode (a partial file) is an error.
func readDir[T any](dir string) func() ([]T, error) {
	return func() ([]T, error) {
		src := jsonl.NewSource[T](filepath.Join(dir, "*.jsonl"), jsonl.SourceOptions{})
		if _, err := src.Splits(context.Background()); err != nil {
			return nil, nil // nothing committed yet
		}
		chunks, err := iotest.ReadAll[T](context.Background(), src, 1024)
		if err != nil {
			return nil, err
		}
		var out []T
		for _, c := range chunks {
			if len(c.Dead) > 0 {
				return nil, fmt.Errorf("partial or corrupt output: %+v", c.Dead[0])
			}
			out = append(out, c.Rows...)
		}
		return out, nil
	}
}

func TestSinkConformance(t *testing.T) {
	var recs []txn
	for i := range 100 {
		recs = append(recs, mkTxn(i))
	}
	for _, size := range []int64{0, 200} { // 200 bytes: a file every few records
		t.Run(fmt.Sprintf("target=%d", size), func(t *testing.T) {
			iotest.TestSink(t, iotest.SinkCase[txn]{
				NewSink: func(t *testing.T) (sdk.Sink[txn], func() ([]txn, error)) {
					dir := t.TempDir()
					return jsonl.NewSink[txn](dir, jsonl.SinkOptions{TargetFileSize: size}), readDir[txn](dir)
				},
				Records: recs,
			})
		})
	}
}

func TestDeadLetterSink(t *testing.T) {
	dir := t.TempDir()
	w, err := jsonl.DeadLetterSink(dir, jsonl.SinkOptions{}).Open(sdk.SinkContext{Context: context.Background(), Task: 2, Tasks: 3})
	if err != nil {
		t.Fatal(err)
	}
	b := sdk.NewBatch[sdk.DeadLetter](1)
	b.Values = append(b.Values, sdk.DeadLetter{Record: []byte(`{"a": "b"}`), Reason: "json: bad", Source: "in.jsonl line 7"})
	if err := w.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := w.PreCommit(1); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(1); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "part-00002-000000.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"record":"{\"a\": \"b\"}","reason":"json: bad","source":"in.jsonl line 7"}` + "\n"
	if string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	back, err := readDir[sdk.DeadLetter](dir)()
	if err != nil || len(back) != 1 || string(back[0].Record) != `{"a": "b"}` {
		t.Errorf("read back: %+v, %v", back, err)
	}
}

// TestDescribeRecord: the runner's dead letters for a record the reader
// returned (a missing event time) get its line and line number.
func TestDescribeRecord(t *testing.T) {
	p := filepath.Join(t.TempDir(), "in.jsonl")
	lines := []string{line(mkTxn(1)), "{bad", "", "  " + line(mkTxn(2)) + "\r", line(mkTxn(3)), line(mkTxn(4))}
	writeFile(t, p, strings.Join(lines, "\n"))
	src := jsonl.NewSource[txn](p, jsonl.SourceOptions{})
	r, err := src.Open(context.Background(), &jsonl.Split{Path: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, ok := r.(interface {
		DescribeRecord(i int, v *txn) ([]byte, string)
	})
	if !ok {
		t.Fatal("the reader does not describe its records")
	}
	// Batches of 3 records: lines 1, 2 (bad) and 4 (3 is blank); 5 and 6.
	want := [][]int{{1, 4}, {5, 6}}
	for _, lines := range want {
		b := sdk.NewBatch[txn](3)
		if _, err := r.ReadBatch(context.Background(), b, 3); err != nil && !errors.Is(err, sdk.ErrEndOfSplit) {
			t.Fatal(err)
		}
		if len(b.Values) != len(lines) {
			t.Fatalf("batch of %d values, want lines %v", len(b.Values), lines)
		}
		for i, n := range lines {
			rec, source := d.DescribeRecord(i, &b.Values[i])
			if wantRec := strings.TrimSpace(strings.Split(readFile(t, p), "\n")[n-1]); string(rec) != wantRec || source != fmt.Sprintf("%s line %d", p, n) {
				t.Errorf("value %d: %q %q, want %q line %d", i, rec, source, wantRec, n)
			}
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
