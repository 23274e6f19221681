package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestBinaryRoundTrip(t *testing.T) {
	ts := []time.Time{
		{},
		time.Unix(0, 0).UTC(),
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1500, 3, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2024, 1, 1, 0, 5, 0, 0, time.FixedZone("X", -3600)),
		time.Now(), // has a monotonic reading
	}
	var b []byte
	b = AppendBool(b, true)
	b = AppendInt(b, math.MinInt64)
	b = AppendUint(b, math.MaxUint64)
	b = AppendFloat32(b, -1.5)
	b = AppendFloat64(b, math.Inf(-1))
	b = AppendString(b, "héllo")
	b = AppendBytes(b, nil)
	b = AppendBytes(b, []byte{})
	b = AppendBytes(b, []byte{1, 2})
	b = AppendLen(b, 3, false)
	b = AppendLen(b, 0, true)
	for _, x := range ts {
		b = AppendTime(b, x)
	}
	b = AppendDuration(b, -time.Hour)

	r := NewReader(b)
	if !r.Bool() || r.Int() != math.MinInt64 || r.Uint() != math.MaxUint64 || r.Float32() != -1.5 ||
		!math.IsInf(r.Float64(), -1) || r.String() != "héllo" {
		t.Fatal("scalars differ")
	}
	if x := r.Bytes(); x != nil {
		t.Errorf("nil bytes = %#v", x)
	}
	if x := r.Bytes(); x == nil || len(x) != 0 {
		t.Errorf("empty bytes = %#v", x)
	}
	if x := r.Bytes(); !bytes.Equal(x, []byte{1, 2}) {
		t.Errorf("bytes = %v", x)
	}
	// Len checks the remaining input, which is longer than 3.
	if n := r.Len(); n != 3 {
		t.Errorf("Len = %d", n)
	}
	if n := r.Len(); n != -1 {
		t.Errorf("nil Len = %d", n)
	}
	for _, want := range ts {
		got := r.Time()
		if got != want.Round(0).UTC() {
			t.Errorf("time %v: got %v", want, got)
		}
		if got.Location() != time.UTC {
			t.Errorf("time %v: location %v", want, got.Location())
		}
	}
	if d := r.Duration(); d != -time.Hour {
		t.Errorf("duration = %v", d)
	}
	if n, err := r.Done(); n != len(b) || err != nil {
		t.Errorf("Done = %d, %v; want %d", n, err, len(b))
	}
	if (time.Time{}) != NewReaderTime(AppendTime(nil, time.Time{})) {
		t.Error("zero time does not round-trip to the zero value")
	}
}

func NewReaderTime(b []byte) time.Time {
	r := NewReader(b)
	return r.Time()
}

func TestBinaryErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		read func(*Reader)
		want error
	}{
		{"bool", nil, func(r *Reader) { r.Bool() }, ErrTruncated},
		{"int", []byte{0x80}, func(r *Reader) { r.Int() }, ErrTruncated},
		{"overlong", bytes.Repeat([]byte{0xff}, 11), func(r *Reader) { r.Uint() }, ErrCorrupt},
		{"float32", []byte{1, 2, 3}, func(r *Reader) { r.Float32() }, ErrTruncated},
		{"float64", []byte{1, 2, 3}, func(r *Reader) { r.Float64() }, ErrTruncated},
		{"string", []byte{5, 'a'}, func(r *Reader) { _ = r.String() }, ErrTruncated},
		{"bytes", []byte{9, 'a'}, func(r *Reader) { r.Bytes() }, ErrTruncated},
		{"len", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, func(r *Reader) { r.Len() }, ErrTruncated},
		{"nanos", []byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f}, func(r *Reader) { r.Time() }, ErrCorrupt},
	}
	for _, tt := range tests {
		r := NewReader(tt.in)
		tt.read(&r)
		if err := r.Err(); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		// Sticky: later reads return zero values.
		if r.Int() != 0 || r.String() != "" || r.Len() != -1 {
			t.Errorf("%s: reads after an error are not zero", tt.name)
		}
	}
	r := NewReader([]byte{5, 'a'})
	_ = r.String()
	if got := r.Err().Error(); got != "codec: truncated input reading string at offset 1" {
		t.Errorf("message = %q", got)
	}
}

func TestSortedKeys(t *testing.T) {
	got := SortedKeys(map[string]int{"b": 1, "a": 2, "c": 3})
	if strings.Join(got, "") != "abc" {
		t.Errorf("SortedKeys = %v", got)
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "\n\r\t\b\f\x00\x1f\x7f", "é☃🙂", "bad \xff utf8 \xc3", "\u2028"} {
		got := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q: %s is not JSON: %v", s, got, err)
			continue
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want {
			t.Errorf("%q: decodes to %q", s, back)
		}
		d := NewJSONReader(got)
		if r := d.String(); r != back || d.Finish() != nil {
			t.Errorf("%q: JSONReader reads %q, %v", s, r, d.Err())
		}
	}
}

func TestAppendJSONValues(t *testing.T) {
	tests := []struct {
		got  []byte
		want string
	}{
		{AppendJSONTime(nil, time.Date(2024, 1, 1, 0, 5, 0, 0, time.UTC)), `"2024-01-01T00:05:00Z"`},
		{AppendJSONTime(nil, time.Date(2024, 1, 1, 1, 5, 0, 250_000_000, time.FixedZone("X", 3600))), `"2024-01-01T00:05:00.25Z"`},
		{AppendJSONTime(nil, time.Date(1969, 7, 20, 20, 17, 0, 1, time.UTC)), `"1969-07-20T20:17:00.000000001Z"`},
		{AppendJSONFloat(nil, 1e21, 64), `1e+21`},
		{AppendJSONFloat(nil, 0.1, 64), `0.1`},
		{AppendJSONFloat(nil, 1e-7, 64), `1e-7`},
		{AppendJSONFloat(nil, float64(float32(0.1)), 32), `0.1`},
		{AppendJSONFloat(nil, math.NaN(), 64), `"NaN"`},
		{AppendJSONFloat(nil, math.Inf(1), 64), `"+Inf"`},
		{AppendJSONInt(nil, -5), `-5`},
		{AppendJSONUint(nil, math.MaxUint64), `18446744073709551615`},
		{AppendJSONBytes(nil, []byte("hi")), `"aGk="`},
		{AppendJSONBytes(nil, nil), `null`},
		{AppendJSONDuration(nil, time.Second), `1000000000`},
		{AppendJSONIntKey(nil, -3), `"-3"`},
		{AppendJSONBool(nil, true), `true`},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
	// Floats agree with encoding/json where it can encode them.
	for _, f := range []float64{0, -0.5, 123456789, 1e20, 1e21, 1e-6, 1e-7, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		want, _ := json.Marshal(f)
		if got := AppendJSONFloat(nil, f, 64); string(got) != string(want) {
			t.Errorf("%v: got %s, encoding/json %s", f, got, want)
		}
	}
}

func TestJSONReaderSkipAndErrors(t *testing.T) {
	doc := `{"skip1": {"a": [1, -2.5e3, "x\"]", {"b": null}], "c": {}}, "skip2": [[], [[true]], false],
	  "n": 42, "s": "\u00e9\ud83d\ude42", "t": "2024-01-01T00:05:00.5+01:00", "d": "1.5s", "f": "-Inf"}`
	d := NewJSONReader([]byte(doc))
	if !d.BeginObject() {
		t.Fatal(d.Err())
	}
	got := map[string]any{}
	for d.NextKey() {
		switch d.Key() {
		case "n":
			got["n"] = d.Int(8)
		case "s":
			got["s"] = d.String()
		case "t":
			got["t"] = d.Time()
		case "d":
			got["d"] = d.Duration()
		case "f":
			got["f"] = d.Float(64)
		default:
			d.Skip()
		}
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if got["n"] != int64(42) || got["s"] != "é🙂" || got["d"] != 1500*time.Millisecond || !math.IsInf(got["f"].(float64), -1) ||
		got["t"] != time.Date(2023, 12, 31, 23, 5, 0, 5e8, time.UTC) {
		t.Errorf("got %v", got)
	}

	bad := []struct{ in, want string }{
		{`{"a":1`, "field a: unexpected end of input (truncated JSON?) at offset 6"},
		{`{"a" 1}`, "want ':' after object key, got number at offset 5"},
		{`{"a":tru}`, "field a: invalid literal at offset 5"},
		{`{"a":"x`, "field a: unexpected end of input (truncated JSON?) at offset 7"},
		{`{"a":[1,]}`, "field a: want value, got ']'"},
		{`{"a":{"b":[1 2]}}`, "field a: want ',' or ']', got number at offset 13"},
		{`{"a":"\q"}`, "field a: invalid escape at offset 7"},
		{`{"a":1}}`, "unexpected data after the JSON object at offset 7"},
		{strings.Repeat("[", 2000), "field x: nested too deeply at offset 1004"},
	}
	for _, tt := range bad {
		d := NewJSONReader([]byte(`{"x":` + tt.in + `}`))
		if tt.in[0] == '{' {
			d = NewJSONReader([]byte(tt.in))
		}
		if d.BeginObject() {
			for d.NextKey() {
				d.Skip()
			}
		}
		if err := d.Finish(); err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %s", tt.in, err, tt.want)
		}
	}
}

func TestHashes(t *testing.T) {
	t1 := time.Date(2024, 1, 1, 0, 0, 0, 5, time.UTC)
	if HashTime(t1) != HashTime(t1.In(time.FixedZone("X", 7200))) {
		t.Error("HashTime depends on the location")
	}
	if HashBool(true) != HashUint64(1) || HashInt(-1) != HashUint64(math.MaxUint64) {
		t.Error("HashBool or HashInt disagree with HashUint64")
	}
	// Pinned: shuffles depend on these values never changing.
	if got := HashTime(t1); got != 0xbfcd298f2f93c5b6 {
		t.Errorf("HashTime = %#x", got)
	}
	// The names generated code calls are internal/base's key hash (pinned
	// in full there).
	for _, tc := range []struct {
		name      string
		got, want uint64
	}{
		{"HashString", HashString("user-42"), 0x7a1596f0e94b5793},
		{"HashBytes", HashBytes([]byte("user-42")), 0x7a1596f0e94b5793},
		{"HashInt", HashInt(-1), 0x7ddc93b2b3a915af},
		{"HashFloat64", HashFloat64(1.5), 0xb0935ff2930cb2d8},
		{"HashBool", HashBool(true), 0x7f555c6a530fdf81},
		{"Combine", Combine(1, 2), 0xb4941eef820868c7},
		{"Mix", Mix(42), 0xa759ea27d4727622},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	s := "user-123456 bought something at merchant-77"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	buf := make([]byte, 0, 128)
	for b.Loop() {
		buf = AppendJSONString(buf[:0], s)
	}
}

func TestParseUTCMatchesTimeParse(t *testing.T) {
	for _, s := range []string{
		"2024-01-01T00:05:00Z", "2024-01-01T00:05:00.5Z", "1969-12-31T23:59:59.999999999Z",
		"0001-01-01T00:00:00Z", "2024-02-29T12:00:00.000001z", "2023-02-29T12:00:00Z",
		"2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00.Z",
		"2024-01-01T00:00:00.1234567891Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00+01:00",
		"+024-01-01T00:00:00Z", "2024-01-01T00:00:60Z",
	} {
		want, werr := time.Parse(time.RFC3339Nano, s)
		d := NewJSONReader([]byte(`"` + s + `"`))
		got := d.Time()
		if (werr == nil) != (d.Err() == nil) || werr == nil && !got.Equal(want) {
			t.Errorf("%s: got %v, %v; time.Parse %v, %v", s, got, d.Err(), want, werr)
		}
	}
}

// TestTimesAtTheExtremes round-trips times over the whole range of event
// times (years 0001-9999) and the window bounds just beyond it through
// both codecs.
func TestTimesAtTheExtremes(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		json string
	}{
		{time.Time{}, `"0001-01-01T00:00:00Z"`},
		{time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), `"0001-01-01T00:00:00.000001Z"`},
		{time.Date(1677, 9, 21, 0, 12, 43, 145224191, time.UTC), `"1677-09-21T00:12:43.145224191Z"`},
		{time.Date(2262, 4, 11, 23, 47, 16, 854775808, time.UTC), `"2262-04-11T23:47:16.854775808Z"`},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), `"9999-12-31T23:59:59.999999999Z"`},
		{time.Date(9999, 12, 31, 23, 55, 0, 0, time.FixedZone("X", 3600)), `"9999-12-31T22:55:00Z"`},
		// The end of the last windows of 9999, and the start of a week
		// window holding 0001-01-01: expanded years.
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), `"+10000-01-01T00:00:00Z"`},
		{time.Date(10000, 2, 29, 1, 2, 3, 400, time.UTC), `"+10000-02-29T01:02:03.0000004Z"`},
		{time.Date(0, 12, 28, 0, 0, 0, 0, time.UTC), `"0000-12-28T00:00:00Z"`},
		{time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC), `"-0001-12-31T00:00:00Z"`},
		{time.Date(-12344, 2, 29, 0, 0, 0, 5, time.UTC), `"-12344-02-29T00:00:00.000000005Z"`},
		{time.Date(292000, 6, 1, 0, 0, 0, 0, time.UTC), `"+292000-06-01T00:00:00Z"`},
	} {
		got := AppendJSONTime(nil, tc.t)
		if string(got) != tc.json {
			t.Errorf("AppendJSONTime(%v) = %s, want %s", tc.t, got, tc.json)
		}
		d := NewJSONReader(got)
		if back := d.Time(); d.Finish() != nil || !back.Equal(tc.t) || back.Location() != time.UTC {
			t.Errorf("JSON %s read back as %v, %v; want %v", got, back, d.Err(), tc.t)
		}
		r := NewReader(AppendTime(nil, tc.t))
		if back := r.Time(); r.Err() != nil || !back.Equal(tc.t) {
			t.Errorf("binary %v read back as %v, %v", tc.t, back, r.Err())
		}
	}
	// An offset is allowed with an expanded year too.
	d := NewJSONReader([]byte(`"+10000-01-01T00:30:00+01:00"`))
	if got, want := d.Time(), time.Date(9999, 12, 31, 23, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("expanded year with an offset: got %v, %v, want %v", got, d.Err(), want)
	}
	// Forms that are not expanded years, and years a microsecond
	// timestamp cannot hold.
	for _, s := range []string{
		"+2024-01-01T00:00:00Z", "+09999-01-01T00:00:00Z", "-0000-01-01T00:00:00Z", "-001-01-01T00:00:00Z",
		"+10000-13-01T00:00:00Z", "+10000-01-01", "+1-01-01T00:00:00Z", "+-10000-01-01T00:00:00Z",
		"+300000-01-01T00:00:00Z", "-300000-01-01T00:00:00Z", "+99999999999-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
	} {
		d := NewJSONReader([]byte(`"` + s + `"`))
		d.Time()
		if err := d.Err(); err == nil || err.Error() != `want RFC 3339 time, got "`+s+`"` {
			t.Errorf("%s: err = %v", s, err)
		}
	}
}

// TestJSONRecordErrors: the messages a malformed JSON line gets say what
// is wrong where.
func TestJSONRecordErrors(t *testing.T) {
	const obj = `{"user_id":"a","amount":5,"ts":"2024-01-01T00:00:00Z"}`
	for _, tc := range []struct{ in, want string }{
		{obj + ` true`, "unexpected data after the JSON object at offset 55"},
		{obj + `}`, "unexpected data after the JSON object at offset 54"},
		{obj + `,{"user_id":"b"}`, "unexpected data after the JSON object at offset 54"},
		{obj[:len(obj)-1], "field ts: unexpected end of input (truncated JSON?) at offset 53"},
		{obj[:40], "field ts: unexpected end of input (truncated JSON?) at offset 40"},
		{`{"user_id":"a","amount":`, "field amount: unexpected end of input (truncated JSON?) at offset 24"},
		{`{"user_id":"a",`, "unexpected end of input (truncated JSON?) at offset 15"},
		{`{"user_id":"a","amount":"5"}`, "field amount: want number, got string"},
		{`{"user_id":"a","amount":5.5}`, "field amount: want integer, got 5.5"},
		{`{"user_id":"a","ts":"yesterday"}`, `field ts: want RFC 3339 time, got "yesterday"`},
		{`{"user_id":"a","ts":12}`, "field ts: want RFC 3339 time string, got number"},
		{`null`, "want object, got null"},
		{`[1]`, "want object, got array"},
		{`  `, "want object, got end of input"},
		{`{"user_id":"a"} `, ""},
	} {
		d := NewJSONReader([]byte(tc.in))
		if d.BeginObject() {
			for d.NextKey() {
				switch d.Key() {
				case "amount":
					d.Int(64)
				case "ts":
					d.Time()
				default:
					_ = d.String()
				}
			}
		}
		err := d.Finish()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.in, err, tc.want)
		}
	}
	// Another top-level value than an object: "the JSON value".
	d := NewJSONReader([]byte(`"x" 1`))
	_ = d.String()
	if err := d.Finish(); err == nil || err.Error() != "unexpected data after the JSON value at offset 4" {
		t.Errorf("trailing data after a string: %v", err)
	}
}
