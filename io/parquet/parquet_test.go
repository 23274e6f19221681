package parquet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/weirflow/weir/io/iotest"
	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/sdk"
)

// txn is the fraud-like test record.
type txn struct {
	UserID   string    `parquet:"user_id"`
	Amount   int64     `parquet:"amount"`
	Merchant string    `parquet:"merchant"`
	At       time.Time `parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
}

func eqTxn(a, b txn) bool {
	return a.UserID == b.UserID && a.Amount == b.Amount && a.Merchant == b.Merchant && a.At.Equal(b.At)
}

const t0 = 1_700_000_000_000_000 // µs

// mkTxns returns n records whose event times are shuffled around t0+base.
func mkTxns(rng *rand.Rand, base, n int) []txn {
	out := make([]txn, n)
	for i := range out {
		out[i] = txn{
			UserID:   fmt.Sprintf("u%03d", rng.IntN(50)),
			Amount:   rng.Int64N(5000),
			Merchant: fmt.Sprintf("m%d", rng.IntN(9)),
			At:       time.UnixMicro(int64(t0 + base + rng.IntN(1_000_000))).UTC(),
		}
	}
	return out
}

func mustWrite[T any](t testing.TB, path string, rows []T, perGroup int) {
	t.Helper()
	if err := parquet.WriteFile(path, rows, perGroup); err != nil {
		t.Fatal(err)
	}
}

func TestSourceConformance(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	a, b, c := mkTxns(rng, 0, 250), mkTxns(rng, 5_000_000, 100), mkTxns(rng, 9_000_000, 37)
	// Written in an order unlike the listing: splits sort by path.
	mustWrite(t, filepath.Join(dir, "c.parquet"), c, 10)
	mustWrite(t, filepath.Join(dir, "a.parquet"), a, 100)
	mustWrite(t, filepath.Join(dir, "b.parquet"), b, 0)

	// A truncated file: one dead letter.
	mustWrite(t, filepath.Join(dir, "d.parquet"), a, 100)
	truncate(t, filepath.Join(dir, "d.parquet"), 100)
	// A file without the merchant column, 3 row groups: a dead letter each.
	type noMerchant struct {
		UserID string    `parquet:"user_id"`
		Amount int64     `parquet:"amount"`
		At     time.Time `parquet:"ts,timestamp(microsecond)"`
	}
	mustWrite(t, filepath.Join(dir, "e.parquet"), make([]noMerchant, 30), 10)

	for _, generic := range []bool{false, true} {
		t.Run(fmt.Sprintf("GenericReader=%v", generic), func(t *testing.T) {
			iotest.TestSource(t, iotest.SourceCase[txn]{
				Source:   parquet.NewSource[txn](filepath.Join(dir, "*.parquet"), parquet.SourceOptions{GenericReader: generic}),
				Want:     slices.Concat(a, b, c),
				WantDead: 4,
				Equal:    eqTxn,
			})
		})
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func TestSplits(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := mkTxns(rng, 7_000_000, 250), mkTxns(rng, 0, 50)
	mustWrite(t, filepath.Join(dir, "b.parquet"), b, 0)
	mustWrite(t, filepath.Join(dir, "a.parquet"), a, 100)
	splits, err := parquet.NewSource[txn](filepath.Join(dir, "*.parquet"), parquet.SourceOptions{}).Splits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		id   string
		rows []txn
	}
	wants := []want{
		{filepath.Join(dir, "a.parquet#rg0000"), a[:100]},
		{filepath.Join(dir, "a.parquet#rg0001"), a[100:200]},
		{filepath.Join(dir, "a.parquet#rg0002"), a[200:]},
		{filepath.Join(dir, "b.parquet#rg0000"), b},
	}
	if len(splits) != len(wants) {
		t.Fatalf("got %d splits, want %d", len(splits), len(wants))
	}
	for i, w := range wants {
		s := splits[i]
		if s.ID() != w.id {
			t.Errorf("split %d: ID %q, want %q", i, s.ID(), w.id)
		}
		st := s.(sdk.SplitStats)
		if st.Rows() != int64(len(w.rows)) {
			t.Errorf("%s: Rows %d, want %d", w.id, st.Rows(), len(w.rows))
		}
		minTS, ok := st.MinEventTime()
		if want := minOf(w.rows); !ok || minTS != want {
			t.Errorf("%s: MinEventTime %v %v, want %v", w.id, minTS, ok, want)
		}
	}
}

func minOf(rows []txn) sdk.Timestamp {
	m := sdk.MaxTimestamp
	for _, r := range rows {
		m = min(m, sdk.Timestamp(r.At.UnixMicro()))
	}
	return m
}

// Files whose event-time column has another unit, or is a plain INT64.
type txnMillis struct {
	UserID   string    `parquet:"user_id"`
	Amount   int64     `parquet:"amount"`
	Merchant string    `parquet:"merchant"`
	At       time.Time `parquet:"ts,timestamp(millisecond)" weir:"eventtime"`
}

type txnNanos struct {
	UserID   string    `parquet:"user_id"`
	Amount   int64     `parquet:"amount"`
	Merchant string    `parquet:"merchant"`
	At       time.Time `parquet:"ts,timestamp(nanosecond)" weir:"eventtime"`
}

type txnInt struct {
	UserID   string `parquet:"user_id"`
	Amount   int64  `parquet:"amount"`
	Merchant string `parquet:"merchant"`
	At       int64  `parquet:"ts" weir:"eventtime"`
}

// Epoch milliseconds in a plain INT64 column.
type txnIntMillis struct {
	UserID   string `parquet:"user_id"`
	Amount   int64  `parquet:"amount"`
	Merchant string `parquet:"merchant"`
	At       int64  `parquet:"ts" weir:"eventtime,unixmilli"`
}

func TestMinEventTimeUnits(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	rows := mkTxns(rng, 0, 300)
	// Negative times too: rounding must go down.
	rows[17].At = time.UnixMicro(-1_234_567).UTC()
	var ms []txnMillis
	var ns []txnNanos
	var ints []txnInt
	var intMs []txnIntMillis
	for _, r := range rows {
		intMs = append(intMs, txnIntMillis{r.UserID, r.Amount, r.Merchant, r.At.UnixMilli()})
		ms = append(ms, txnMillis{r.UserID, r.Amount, r.Merchant, r.At})
		ns = append(ns, txnNanos{r.UserID, r.Amount, r.Merchant, r.At})
		ints = append(ints, txnInt{r.UserID, r.Amount, r.Merchant, r.At.UnixMicro()})
	}
	mustWrite(t, filepath.Join(dir, "ms.parquet"), ms, 0)
	mustWrite(t, filepath.Join(dir, "ns.parquet"), ns, 0)
	mustWrite(t, filepath.Join(dir, "int.parquet"), ints, 0)
	mustWrite(t, filepath.Join(dir, "int-ms.parquet"), intMs, 0)
	floorMs := func(us int64) sdk.Timestamp {
		q := us / 1000
		if us%1000 != 0 && us < 0 {
			q--
		}
		return sdk.Timestamp(q * 1000)
	}
	for _, c := range []struct {
		file string
		want sdk.Timestamp
	}{
		{"ms.parquet", floorMs(-1_234_567)},
		{"ns.parquet", -1_234_567},
		{"int.parquet", -1_234_567},
		{"int-ms.parquet", floorMs(-1_234_567)},
	} {
		splits, err := parquet.NewSource[txn](filepath.Join(dir, c.file), parquet.SourceOptions{}).Splits(context.Background())
		switch c.file {
		case "int.parquet":
			splits, err = parquet.NewSource[txnInt](filepath.Join(dir, c.file), parquet.SourceOptions{}).Splits(context.Background())
		case "int-ms.parquet":
			splits, err = parquet.NewSource[txnIntMillis](filepath.Join(dir, c.file), parquet.SourceOptions{}).Splits(context.Background())
		}
		if err != nil {
			t.Fatal(err)
		}
		got, ok := splits[0].(sdk.SplitStats).MinEventTime()
		if !ok || got != c.want {
			t.Errorf("%s: MinEventTime %d %v, want %d", c.file, got, ok, c.want)
		}
	}
	// The values read through T (microseconds) are converted too.
	chunks, err := iotest.ReadAll[txn](context.Background(), parquet.NewSource[txn](filepath.Join(dir, "ns.parquet"), parquet.SourceOptions{}), 64)
	if err != nil {
		t.Fatal(err)
	}
	if got := chunks[0].Rows; len(got) != len(rows) || !got[17].At.Equal(rows[17].At) || !got[3].At.Equal(rows[3].At) {
		t.Errorf("nanosecond file read as microseconds: got %v, want %v", got[17].At, rows[17].At)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	pattern := filepath.Join(dir, "*.parquet")
	_, err := parquet.NewSource[txn](pattern, parquet.SourceOptions{}).Splits(ctx)
	if want := fmt.Sprintf("parquet: no files match %q", pattern); err == nil || err.Error() != want {
		t.Errorf("empty glob: got %v, want %s", err, want)
	}

	type amountString struct {
		UserID   string    `parquet:"user_id"`
		Amount   string    `parquet:"amount"`
		Merchant string    `parquet:"merchant"`
		At       time.Time `parquet:"ts,timestamp(microsecond)"`
	}
	type noTS struct {
		UserID   string `parquet:"user_id"`
		Amount   int64  `parquet:"amount"`
		Merchant string `parquet:"merchant"`
	}
	mustWrite(t, filepath.Join(dir, "amount.parquet"), make([]amountString, 3), 0)
	mustWrite(t, filepath.Join(dir, "nots.parquet"), make([]noTS, 3), 0)
	mustWrite(t, filepath.Join(dir, "trunc.parquet"), mkTxns(rand.New(rand.NewPCG(1, 1)), 0, 10), 0)
	truncate(t, filepath.Join(dir, "trunc.parquet"), 20)
	if err := os.WriteFile(filepath.Join(dir, "zero.parquet"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	chunks, err := iotest.ReadAll[txn](ctx, parquet.NewSource[txn](pattern, parquet.SourceOptions{}), 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range chunks {
		if len(c.Rows) != 0 {
			t.Errorf("%s: %d rows, want none", c.Split.ID(), len(c.Rows))
		}
		for _, d := range c.Dead {
			got = append(got, d.Source+": "+strings.ReplaceAll(d.Reason, dir+"/", ""))
		}
	}
	t.Logf("dead letters:\n%s", strings.Join(got, "\n"))
	p := func(s string) string { return filepath.Join(dir, s) }
	want := []string{
		p("amount.parquet") + " row group 0: parquet: amount.parquet: column amount: want INT64, got BYTE_ARRAY",
		p("nots.parquet") + ` row group 0: parquet: nots.parquet: column "ts" missing`,
		p("trunc.parquet") + ": parquet: trunc.parquet: unreadable file: ",
		p("zero.parquet") + ": parquet: zero.parquet: unreadable file: ",
	}
	if len(got) != len(want) {
		t.Fatalf("dead letters:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("dead letter %d:\n got %s\nwant %s...", i, got[i], want[i])
		}
	}
}

// TestCorruptPage garbles the pages of one row group: that row group gives
// a dead letter naming its rows, the others are read in full.
func TestCorruptPage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.parquet")
	rows := mkTxns(rand.New(rand.NewPCG(7, 8)), 0, 300)
	mustWrite(t, path, rows, 100)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	pf, err := pq.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	md := pf.Metadata().RowGroups[1].Columns
	f.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range md {
		off := c.MetaData.DataPageOffset
		if d := c.MetaData.DictionaryPageOffset; d > 0 && d < off {
			off = d
		}
		for i := off; i < off+24 && i < int64(len(data)); i++ {
			data[i] = 0xff
		}
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	chunks, err := iotest.ReadAll[txn](context.Background(), parquet.NewSource[txn](path, parquet.SourceOptions{}), 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 3 {
		t.Fatalf("got %d splits, want 3", len(chunks))
	}
	for i, c := range chunks {
		if i == 1 {
			t.Logf("%+v", c.Dead)
			if len(c.Dead) != 1 || !strings.Contains(c.Dead[0].Reason, "rows 0-99") || c.Dead[0].Source != path+" row group 1" {
				t.Errorf("corrupt row group: got %d rows, dead %+v", len(c.Rows), c.Dead)
			}
			continue
		}
		if len(c.Dead) != 0 || !iotestEqual(c.Rows, rows[i*100:(i+1)*100]) {
			t.Errorf("row group %d: %d rows, %d dead letters", i, len(c.Rows), len(c.Dead))
		}
	}
}

func iotestEqual(a, b []txn) bool { return slices.EqualFunc(a, b, eqTxn) }

// readDir reads the committed *.parquet files of dir; any dead letter (a
// partial or corrupt file) is an error.
func readDir(dir string) func() ([]txn, error) {
	return func() ([]txn, error) {
		src := parquet.NewSource[txn](filepath.Join(dir, "*.parquet"), parquet.SourceOptions{})
		if _, err := src.Splits(context.Background()); err != nil {
			return nil, nil // nothing committed yet
		}
		chunks, err := iotest.ReadAll[txn](context.Background(), src, 1024)
		if err != nil {
			return nil, err
		}
		var out []txn
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
	recs := mkTxns(rand.New(rand.NewPCG(9, 10)), 0, 200)
	for _, size := range []int64{0, 1} { // 1 byte: a new file after every write
		t.Run(fmt.Sprintf("target=%d", size), func(t *testing.T) {
			iotest.TestSink(t, iotest.SinkCase[txn]{
				NewSink: func(t *testing.T) (sdk.Sink[txn], func() ([]txn, error)) {
					dir := t.TempDir()
					return parquet.NewSink[txn](dir, parquet.SinkOptions{TargetFileSize: size}), readDir(dir)
				},
				Records: recs,
				Equal:   eqTxn,
			})
		})
	}
}

func TestSinkNames(t *testing.T) {
	dir := t.TempDir()
	w, err := parquet.NewSink[txn](dir, parquet.SinkOptions{}).Open(sdk.SinkContext{Context: context.Background(), Task: 3, Tasks: 4})
	if err != nil {
		t.Fatal(err)
	}
	b := sdk.NewBatch[txn](4)
	b.Values = mkTxns(rand.New(rand.NewPCG(1, 1)), 0, 4)
	ls := func() []string {
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	check := func(step string, want ...string) {
		t.Helper()
		if got := ls(); !slices.Equal(got, want) {
			t.Errorf("%s: files %v, want %v", step, got, want)
		}
	}
	if err := w.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	check("write", "part-00003-000000.parquet.inprogress")
	if err := w.PreCommit(7); err != nil {
		t.Fatal(err)
	}
	check("pre-commit", "part-00003-000000.parquet.staged-7")
	if err := w.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(7); err != nil {
		t.Fatal(err)
	}
	check("commit", "part-00003-000000.parquet", "part-00003-000001.parquet.inprogress")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	check("close", "part-00003-000000.parquet")
}

// TestRandomCorruption garbles random bytes of a file, many times: reading
// must never panic or fail the job; rows either come back or become dead
// letters.
func TestRandomCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.parquet")
	rows := mkTxns(rand.New(rand.NewPCG(11, 12)), 0, 300)
	mustWrite(t, path, rows, 100)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 200
	if testing.Short() {
		n = 20
	}
	for seed := range n {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		data := slices.Clone(orig)
		at := rng.IntN(len(data) - 8)
		for i := range 1 + rng.IntN(8) {
			data[at+i] = byte(rng.IntN(256))
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		chunks, err := iotest.ReadAll[txn](context.Background(), parquet.NewSource[txn](path, parquet.SourceOptions{}), 64)
		if err != nil {
			t.Fatalf("seed %d (bytes at %d): %v", seed, at, err)
		}
		got := 0
		for _, c := range chunks {
			got += len(c.Rows)
			for _, d := range c.Dead {
				if !strings.HasPrefix(d.Reason, "parquet: ") {
					t.Errorf("seed %d: dead letter %+v", seed, d)
				}
			}
		}
		if got > len(rows) {
			t.Errorf("seed %d: %d rows from a file of %d", seed, got, len(rows))
		}
	}
}

// TestExtraColumnsNotRead garbles every page of a column T does not have:
// reading T must not touch it, so no dead letter and every row comes back.
func TestExtraColumnsNotRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wide.parquet")
	rows := mkTxns(rand.New(rand.NewPCG(13, 14)), 0, 300)
	wide := make([]wideTxn, len(rows))
	for i, r := range rows {
		wide[i] = wideTxn{r.UserID, r.Amount, r.Merchant, r.At, "note", "device"}
	}
	mustWrite(t, path, wide, 100)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := pq.OpenFile(f, int64(len(data)))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	note, _ := pf.Schema().Lookup("note")
	for _, rg := range pf.Metadata().RowGroups {
		md := rg.Columns[note.ColumnIndex].MetaData
		start := md.DataPageOffset
		if d := md.DictionaryPageOffset; d > 0 && d < start {
			start = d
		}
		for i := start; i < start+md.TotalCompressedSize; i++ {
			data[i] = 0xff
		}
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	chunks, err := iotest.ReadAll[txn](context.Background(), parquet.NewSource[txn](path, parquet.SourceOptions{}), 64)
	if err != nil {
		t.Fatal(err)
	}
	var got []txn
	for _, c := range chunks {
		if len(c.Dead) > 0 {
			t.Fatalf("dead letter: the extra column was read: %+v", c.Dead[0])
		}
		got = append(got, c.Rows...)
	}
	if !iotestEqual(got, rows) {
		t.Errorf("got %d rows, want %d", len(got), len(rows))
	}
	// The same garbled file read as wideTxn does fail: the test garbles
	// something that matters.
	wchunks, err := iotest.ReadAll[wideTxn](context.Background(), parquet.NewSource[wideTxn](path, parquet.SourceOptions{}), 64)
	if err != nil {
		t.Fatal(err)
	}
	if len(wchunks[0].Dead) == 0 {
		t.Errorf("reading the garbled column gave no dead letter")
	}
}

func TestEventTimeColumnOption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.parquet")
	rows := mkTxns(rand.New(rand.NewPCG(15, 16)), 0, 50)
	mustWrite(t, path, rows, 0)
	minAmount := rows[0].Amount
	for _, r := range rows {
		minAmount = min(minAmount, r.Amount)
	}
	for _, c := range []struct {
		col    string
		want   sdk.Timestamp
		wantOK bool
	}{
		{"", minOf(rows), true},
		{"-", 0, false},
		{"amount", sdk.Timestamp(minAmount), true}, // a plain INT64 counts µs
		{"nope", 0, false},
	} {
		splits, err := parquet.NewSource[txn](path, parquet.SourceOptions{EventTimeColumn: c.col}).Splits(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got, ok := splits[0].(sdk.SplitStats).MinEventTime()
		if got != c.want || ok != c.wantOK {
			t.Errorf("EventTimeColumn %q: got %v %v, want %v %v", c.col, got, ok, c.want, c.wantOK)
		}
	}
}

// Files written with other encodings and repetitions read the same through
// the column decoder and through GenericReader.
type txnDict struct {
	UserID   string    `parquet:"user_id,dict"`
	Amount   int64     `parquet:"amount,delta"`
	Merchant string    `parquet:"merchant,dict,zstd"`
	At       time.Time `parquet:"ts,timestamp(millisecond),delta"`
}

type txnOptional struct {
	UserID   string     `parquet:"user_id,optional"`
	Amount   *int64     `parquet:"amount,optional"`
	Merchant string     `parquet:"merchant,optional"`
	At       *time.Time `parquet:"ts,optional,timestamp(microsecond)"`
}

type txnReordered struct {
	Extra    float64   `parquet:"extra"`
	At       time.Time `parquet:"ts,timestamp(nanosecond)"`
	Merchant string    `parquet:"merchant"`
	Amount   int64     `parquet:"amount"`
	UserID   string    `parquet:"user_id"`
}

func TestEncodings(t *testing.T) {
	dir := t.TempDir()
	rows := mkTxns(rand.New(rand.NewPCG(17, 18)), 0, 500)
	for i := range rows {
		rows[i].At = rows[i].At.Truncate(time.Millisecond)
		if i%7 == 0 {
			rows[i].UserID, rows[i].Merchant = "", ""
		}
	}
	var dict []txnDict
	var opt []txnOptional
	var reord []txnReordered
	for i, r := range rows {
		reord = append(reord, txnReordered{float64(i), r.At, r.Merchant, r.Amount, r.UserID})
		dict = append(dict, txnDict{r.UserID, r.Amount, r.Merchant, r.At})
		o := txnOptional{UserID: r.UserID, Merchant: r.Merchant}
		if i%5 != 0 {
			amount, at := r.Amount, r.At
			o.Amount, o.At = &amount, &at
		}
		opt = append(opt, o)
	}
	mustWrite(t, filepath.Join(dir, "dict.parquet"), dict, 128)
	mustWrite(t, filepath.Join(dir, "opt.parquet"), opt, 128)
	mustWrite(t, filepath.Join(dir, "reordered.parquet"), reord, 128)
	wantOpt := slices.Clone(rows)
	for i := range wantOpt {
		if i%5 == 0 {
			wantOpt[i].Amount, wantOpt[i].At = 0, time.Time{}
		}
	}
	for _, c := range []struct {
		file string
		want []txn
	}{{"dict.parquet", rows}, {"opt.parquet", wantOpt}, {"reordered.parquet", rows}} {
		for _, generic := range []bool{false, true} {
			// A null timestamp is the zero time.Time (a missing event
			// time) with both readers, although parquet-go alone
			// converts it into a required one as the epoch.
			want := c.want
			t.Run(fmt.Sprintf("%s/GenericReader=%v", c.file, generic), func(t *testing.T) {
				iotest.TestSource(t, iotest.SourceCase[txn]{
					Source: parquet.NewSource[txn](filepath.Join(dir, c.file), parquet.SourceOptions{GenericReader: generic}),
					Want:   want,
					Equal:  eqTxn,
				})
			})
		}
	}
}

// TestManyPages reads row groups of many pages, in batches that end
// mid-page, and resumes mid-page.
func TestManyPages(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.parquet")
	rows := mkTxns(rand.New(rand.NewPCG(19, 20)), 0, 200_000)
	mustWrite(t, path, rows, 150_000)
	f, _ := os.Open(path)
	st, _ := f.Stat()
	pf, err := pq.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	ci, _ := pf.RowGroups()[0].ColumnChunks()[1].OffsetIndex()
	f.Close()
	if ci.NumPages() < 3 {
		t.Fatalf("amount column has %d pages in row group 0; the test needs several", ci.NumPages())
	}
	for _, generic := range []bool{false, true} {
		src := parquet.NewSource[txn](path, parquet.SourceOptions{GenericReader: generic})
		chunks, err := iotest.ReadAll[txn](context.Background(), src, 1013)
		if err != nil {
			t.Fatal(err)
		}
		var got []txn
		for _, c := range chunks {
			got = append(got, c.Rows...)
		}
		if !iotestEqual(got, rows) {
			t.Fatalf("GenericReader=%v: read back differs", generic)
		}
		for _, at := range []int{1, 77_777, 149_999} {
			rest, _, _, err := iotest.ReadSplit[txn](context.Background(), src, chunks[0].Split, binaryPos(at), 999)
			if err != nil {
				t.Fatal(err)
			}
			if !iotestEqual(rest, rows[at:150_000]) {
				t.Errorf("GenericReader=%v: resume at row %d differs", generic, at)
			}
		}
	}
}

func binaryPos(row int) []byte {
	var b []byte
	for v := uint64(row); ; v >>= 7 {
		if v < 0x80 {
			return append(b, byte(v))
		}
		b = append(b, byte(v)|0x80)
	}
}
