package roundtrip

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/weirflow/weir/sdk"
)

// gen builds a pseudo-random All from a seed, with s and raw mixed in.
type gen struct {
	r   *rand.Rand
	s   string
	raw []byte
}

func (g *gen) str() string {
	switch g.r.IntN(4) {
	case 0:
		return ""
	case 1:
		return strings.ToValidUTF8(g.s, "\uFFFD")
	case 2:
		return "a \"quoted\" \\ line\n\t\x01 é ☃ 🙂"
	}
	return string(rune('a' + g.r.IntN(26)))
}

func (g *gen) time() time.Time {
	if g.r.IntN(8) == 0 {
		return time.Time{}
	}
	// 1900 to 2200, before and after 1970, with nanoseconds.
	sec := g.r.Int64N(9_500_000_000) - 2_208_988_800
	return time.Unix(sec, g.r.Int64N(1e9)).UTC()
}

func (g *gen) bytes() []byte {
	switch g.r.IntN(3) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	return append([]byte(nil), g.raw...)
}

func (g *gen) inner(depth int) Inner {
	in := Inner{Name: g.str()}
	if g.r.IntN(3) > 0 {
		in.Tags = []string{}
		for range g.r.IntN(3) {
			in.Tags = append(in.Tags, g.str())
		}
	}
	if g.r.IntN(3) > 0 {
		in.Score = map[string]int{}
		for range g.r.IntN(3) {
			in.Score[g.str()] = g.r.IntN(1000) - 500
		}
	}
	if depth < 2 && g.r.IntN(2) == 0 {
		n := g.inner(depth + 1)
		in.Next = &n
	}
	return in
}

func (g *gen) float() float64 {
	switch g.r.IntN(6) {
	case 0:
		return math.Inf(1)
	case 1:
		return math.Inf(-1)
	case 2:
		return math.Copysign(0, -1)
	case 3:
		return g.r.NormFloat64() * 1e300
	}
	return g.r.NormFloat64()
}

func newAll(seed uint64, s string, raw []byte) All {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), s: s, raw: raw}
	r := g.r
	a := All{
		B: r.IntN(2) == 0, I: int(r.Int64()), I8: int8(r.Int()), I16: int16(r.Int()), I32: int32(r.Int()), I64: -r.Int64(),
		U: uint(r.Uint64()), U8: uint8(r.Uint32()), U16: uint16(r.Uint32()), U32: r.Uint32(), U64: r.Uint64(),
		F32: float32(r.NormFloat64()), F64: g.float(), S: g.str(), Raw: g.bytes(),
		At: g.time(), T2: g.time(), D: time.Duration(r.Int64() - r.Int64()),
		L: Label(g.str()), Bl: Blob(g.bytes()), Ms: Millis(r.Int64N(1e12)),
		In: g.inner(0), Hid: g.str(), priv: r.IntN(100),
	}
	if r.IntN(2) == 0 {
		in := g.inner(1)
		a.InP = &in
	}
	for range r.IntN(3) {
		a.Ins = append(a.Ins, g.inner(1))
	}
	for range r.IntN(3) {
		a.Pts = append(a.Pts, Point{g.float(), r.Float64()})
	}
	if r.IntN(2) == 0 {
		x := r.Int64()
		a.IntP = &x
	}
	switch r.IntN(3) {
	case 1:
		var p *string
		a.StrPP = &p
	case 2:
		s := g.str()
		p := &s
		a.StrPP = &p
	}
	if r.IntN(2) == 0 {
		t := g.time()
		a.TimeP = &t
	}
	if r.IntN(2) == 0 {
		a.Ints = []int32{}
		for range r.IntN(4) {
			a.Ints = append(a.Ints, int32(r.Int()))
		}
	}
	for range r.IntN(3) {
		var row []uint16
		if r.IntN(3) > 0 {
			row = []uint16{uint16(r.Int()), 7}
		}
		a.Grid = append(a.Grid, row)
	}
	if r.IntN(2) == 0 {
		a.ByU = map[uint8]Label{uint8(r.Int()): Label(g.str()), 0: "zero"}
	}
	if r.IntN(2) == 0 {
		a.ByI = map[int64][]string{-r.Int64(): {g.str()}, 3: nil, 4: {}}
	}
	if r.IntN(2) == 0 {
		a.ByF = map[float64]bool{g.float(): true, 0.1: false}
	}
	if r.IntN(2) == 0 {
		a.ByL = map[Label]*Point{Label(g.str()): {1, 2}, "nil": nil}
	}
	return a
}

// hasNaN reports whether a holds a NaN, which reflect.DeepEqual never
// finds equal.
func hasNaN(a *All) bool {
	if math.IsNaN(a.F64) || math.IsNaN(float64(a.F32)) {
		return true
	}
	for _, p := range a.Pts {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) {
			return true
		}
	}
	for k := range a.ByF {
		if math.IsNaN(k) {
			return true
		}
	}
	return false
}

// jsonVisible zeroes the fields that JSON leaves out.
func jsonVisible(a All) All {
	a.Hid, a.priv = "", 0
	if a.StrPP != nil && *a.StrPP == nil {
		a.StrPP = nil // JSON has one null for both levels of pointer
	}
	return a
}

func codecOf(t testing.TB) *sdk.RecordCodec[All] {
	c, err := sdk.CodecOf[All]()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkRoundTrip(t *testing.T, a All) {
	c := codecOf(t)
	bin := c.AppendBinary([]byte("prefix"), &a)[len("prefix"):]
	var got All
	n, err := c.DecodeBinary(append(bin, "trailing"...), &got)
	if err != nil || n != len(bin) {
		t.Fatalf("DecodeBinary = %d, %v; want %d, nil", n, err, len(bin))
	}
	if again := c.AppendBinary(nil, &got); !bytes.Equal(again, bin) {
		t.Fatalf("binary round trip changed the encoding:\n%x\n%x", bin, again)
	}
	if !hasNaN(&a) && !reflect.DeepEqual(got, a) {
		t.Fatalf("binary round trip:\n got %+v\nwant %+v", got, a)
	}
	if c.Hash(&got) != c.Hash(&a) {
		t.Fatal("hash changed across the binary round trip")
	}

	js := c.AppendJSON(nil, &a)
	if !utf8.Valid(js) {
		t.Fatalf("AppendJSON wrote invalid UTF-8: %s", js)
	}
	var fromJSON All
	if err := c.DecodeJSON(js, &fromJSON); err != nil {
		t.Fatalf("DecodeJSON: %v\n%s", err, js)
	}
	want := jsonVisible(a)
	if a1, a2 := c.AppendBinary(nil, &fromJSON), c.AppendBinary(nil, &want); !bytes.Equal(a1, a2) {
		t.Fatalf("JSON round trip:\n got %+v\nwant %+v\n%s", fromJSON, want, js)
	}
	if !hasNaN(&a) && !reflect.DeepEqual(fromJSON, want) {
		t.Fatalf("JSON round trip (DeepEqual):\n got %+v\nwant %+v\n%s", fromJSON, want, js)
	}
}

func FuzzRoundTrip(f *testing.F) {
	for seed := range uint64(64) {
		f.Add(seed, "hello wörld", []byte{0, 1, 2, 255})
	}
	f.Add(uint64(99), "\xff\xfe bad utf8", []byte(nil))
	f.Fuzz(func(t *testing.T, seed uint64, s string, raw []byte) {
		checkRoundTrip(t, newAll(seed, s, raw))
	})
}

func TestRoundTripSpecialValues(t *testing.T) {
	a := newAll(1, "x", nil)
	a.F64 = math.NaN()
	a.At = time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	checkRoundTrip(t, a)
	a.At = time.Date(2024, 1, 1, 0, 5, 0, 0, time.FixedZone("X", 3600)) // location normalized to UTC
	c := codecOf(t)
	var got All
	if _, err := c.DecodeBinary(c.AppendBinary(nil, &a), &got); err != nil || got.At != a.At.UTC() {
		t.Errorf("time in a zone: got %v, %v; want %v", got.At, err, a.At.UTC())
	}
	checkRoundTrip(t, All{})
}

// FuzzDecode feeds arbitrary bytes to the decoders: they must not panic,
// and whatever decodes must re-encode stably.
func FuzzDecode(f *testing.F) {
	c := codecOf(f)
	for seed := range uint64(8) {
		a := newAll(seed, "s", []byte("raw"))
		f.Add(c.AppendBinary(nil, &a))
		f.Add(c.AppendJSON(nil, &a))
	}
	f.Add([]byte(`{"at":"2024-01-01T00:00:00Z","in":{"next":{"next":null}},"x":[1,{"a":[]}]}`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var a All
		if n, err := c.DecodeBinary(data, &a); err == nil {
			bin := c.AppendBinary(nil, &a)
			var b All
			if _, err := c.DecodeBinary(bin, &b); err != nil || !bytes.Equal(c.AppendBinary(nil, &b), bin) {
				t.Fatalf("re-decode of %x (%d bytes used): %v", data, n, err)
			}
		}
		var j All
		if err := c.DecodeJSON(data, &j); err == nil {
			js := c.AppendJSON(nil, &j)
			var k All
			if err := c.DecodeJSON(js, &k); err != nil {
				t.Fatalf("re-decode of %s: %v", js, err)
			}
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	c := codecOf(t)
	tests := []struct{ in, want string }{
		{`{"i":"x","at":"2024-01-01T00:00:00Z"}`, "field i: want number, got string"},
		{`{"i":1}`, "missing event time field at"},
		{`{"at":null}`, "missing event time field at"},
		{`{"at":"yesterday"}`, `field at: want RFC 3339 time, got "yesterday"`},
		{`{"at":"2024-01-01T00:00:00Z","in":{"name":5}}`, "field in.name: want string, got number"},
		{`{"at":"2024-01-01T00:00:00Z","ins":[{"tags":[1]}]}`, "field ins.tags: want string, got number"},
		{`{"at":"2024-01-01T00:00:00Z","i8":300}`, "field i8: value 300 out of range for int8"},
		{`{"at":"2024-01-01T00:00:00Z","i":1.5}`, "field i: want integer, got 1.5"},
		{`{"at":"2024-01-01T00:00:00Z","u":-1}`, "field u: value -1 out of range for uint64"},
		{`{"at":"2024-01-01T00:00:00Z"} x`, "unexpected data after the JSON object at offset 30"},
		{`{"at":"2024-01-01T00:00:00Z",`, "unexpected end of input (truncated JSON?) at offset 29"},
		{`null`, "want object, got null"},
		{`[]`, "want object, got array"},
	}
	for _, tt := range tests {
		var a All
		err := c.DecodeJSON([]byte(tt.in), &a)
		if err == nil || err.Error() != tt.want {
			t.Errorf("DecodeJSON(%s) = %v, want %s", tt.in, err, tt.want)
		}
	}
	a := newAll(3, "s", nil)
	bin := c.AppendBinary(nil, &a)
	for i := range len(bin) {
		var b All
		if _, err := c.DecodeBinary(bin[:i], &b); err == nil || !strings.HasPrefix(err.Error(), "codec: truncated input") {
			t.Fatalf("DecodeBinary of %d of %d bytes: %v", i, len(bin), err)
		}
	}
}

func TestUnknownKeysSkipped(t *testing.T) {
	c := codecOf(t)
	var a All
	in := `{"zzz":{"a":[1,2,{"b":"}"}],"c":null},"at":"2024-01-01T00:05:00.5Z","s":"x\u00e9\ud83d\ude42","yyy":[[],{}],"b":true}`
	if err := c.DecodeJSON([]byte(in), &a); err != nil {
		t.Fatal(err)
	}
	if !a.B || a.S != "xé🙂" || !a.At.Equal(time.Date(2024, 1, 1, 0, 5, 0, 5e8, time.UTC)) {
		t.Errorf("got %+v", a)
	}
	ts, ok := c.EventTime(&a)
	if !ok || ts != sdk.Timestamp(a.At.UnixMicro()) || c.EventTimeField != "at" {
		t.Errorf("EventTime = %v, %v (field %q)", ts, ok, c.EventTimeField)
	}
	if _, ok := c.EventTime(&All{}); ok {
		t.Error("EventTime of the zero time is ok")
	}
	// Times beyond the microseconds of an int64 saturate rather than wrap
	// into ordinary event times.
	for _, tc := range []struct {
		at   time.Time
		want sdk.Timestamp
	}{
		{time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), -62135596800_000000 + 1},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), 253402300800_000000},
		{time.UnixMilli(math.MaxInt64), sdk.MaxTimestamp},
		{time.UnixMilli(math.MinInt64), sdk.MinTimestamp},
	} {
		if ts, ok := c.EventTime(&All{At: tc.at}); !ok || ts != tc.want {
			t.Errorf("EventTime at %v = %d, %v; want %d", tc.at, ts, ok, tc.want)
		}
	}
}

// TestHashStable pins the hash of one value: shuffles depend on it staying
// the same across releases.
func TestHashStable(t *testing.T) {
	c := codecOf(t)
	a := All{I: 1, S: "x", At: time.Unix(1700000000, 5).UTC(), ByI: map[int64][]string{1: {"a"}, 2: nil}}
	b := a
	b.At = a.At.In(time.FixedZone("Y", -7200))
	b.ByI = map[int64][]string{2: nil, 1: {"a"}}
	if c.Hash(&a) != c.Hash(&b) {
		t.Error("equal values hash differently")
	}
	const want = uint64(0xda61b66a920866d5)
	if got := c.Hash(&a); got != want {
		t.Errorf("Hash = %#x, want %#x", got, want)
	}
}

func TestKernels(t *testing.T) {
	in := sdk.NewBatch[All](4)
	in.Append(All{I: 1}, 10)
	in.Append(All{I: -1}, 20)
	in.Append(All{I: 2, In: Inner{Name: "a b"}}, 30)
	if !sdk.HasKernel(Positive) || !sdk.HasKernel(NameOf) || !sdk.HasKernel(Words) {
		t.Fatal("kernels not registered")
	}
	f := sdk.NewBatch[All](4)
	weirFilterPositive(in, f)
	if f.Len() != 2 || f.Times[1] != 30 {
		t.Errorf("filter: %+v", f)
	}
	m := sdk.NewBatch[bool](4)
	weirMapPositive(in, m)
	if !reflect.DeepEqual(m.Values, []bool{true, false, true}) || !reflect.DeepEqual(m.Times, in.Times) {
		t.Errorf("map: %+v", m)
	}
	ins := sdk.NewBatch[Inner](2)
	ins.Append(Inner{Name: "x y z"}, 5)
	ins.Append(Inner{Name: "w"}, 6)
	w := sdk.NewBatch[string](4)
	weirFlatMapWords(ins, w)
	if !reflect.DeepEqual(w.Values, []string{"x", "y", "z", "w"}) || !reflect.DeepEqual(w.Times, []sdk.Timestamp{5, 5, 5, 6}) {
		t.Errorf("flat map: %+v", w)
	}
}

// TestKernelsMarks: generated kernels carry each row's mark when the input
// batch has marks, and leave marks absent when it has none.
func TestKernelsMarks(t *testing.T) {
	in := sdk.NewBatch[All](4)
	in.AppendMarked(All{I: 1}, 10, 1)
	in.AppendMarked(All{I: -1}, 20, 2)
	in.AppendMarked(All{I: 2}, 30, 3)
	f := sdk.NewBatch[All](4)
	weirFilterPositive(in, f)
	if !reflect.DeepEqual(f.Marks, []sdk.Timestamp{1, 3}) {
		t.Errorf("filter marks %v", f.Marks)
	}
	m := sdk.NewBatch[bool](4)
	weirMapPositive(in, m)
	if !reflect.DeepEqual(m.Marks, in.Marks) {
		t.Errorf("map marks %v", m.Marks)
	}
	ins := sdk.NewBatch[Inner](2)
	ins.AppendMarked(Inner{Name: "x y"}, 5, 7)
	ins.AppendMarked(Inner{Name: "w"}, 6, 8)
	w := sdk.NewBatch[string](4)
	weirFlatMapWords(ins, w)
	if !reflect.DeepEqual(w.Marks, []sdk.Timestamp{7, 7, 8}) {
		t.Errorf("flat map marks %v", w.Marks)
	}
	ins.DropMarks()
	w.Reset()
	weirFlatMapWords(ins, w)
	if len(w.Marks) != 0 {
		t.Errorf("flat map without marks: marks %v", w.Marks)
	}
}

// TestShapesAgree checks that the shape weir gen wrote for each record (from
// go/types) equals the shape the sdk computes from the compiled type (with
// reflect), over every field type the generator supports: otherwise every
// job using the record would be refused as stale.
func TestShapesAgree(t *testing.T) {
	for name, err := range map[string]error{
		"All":    codecErr[All](),
		"Inner":  codecErr[Inner](),
		"Embeds": codecErr[Embeds](),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	c, err := sdk.CodecOf[Embeds]()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`Embeds.Point roundtrip.Point json:"Point"`,
		`Embeds.Inner *roundtrip.Inner json:"Inner"`,
		`Embeds.Label roundtrip.Label(string) json:"label"`,
		`Embeds.note roundtrip.Blob([]uint8)`,
		`Point.X float64 json:"X"`,
		`Point.Y float64 json:"Y"`,
		`Inner.Name string json:"name"`,
		`Inner.Tags []string json:"tags"`,
		`Inner.Score map[string]int json:"score"`,
		`Inner.Next *roundtrip.Inner json:"next"`,
	}
	if !slices.Equal(c.Shape, want) {
		t.Errorf("Embeds shape:\n%s\nwant:\n%s", strings.Join(c.Shape, "\n"), strings.Join(want, "\n"))
	}
}

func codecErr[T any]() error {
	_, err := sdk.CodecOf[T]()
	return err
}
