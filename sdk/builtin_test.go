package sdk

import (
	"bytes"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/ops"
)

func roundTrip[T any](t *testing.T, v T, wantJSON string, eq func(a, b T) bool) {
	t.Helper()
	c, err := CodecOf[T]()
	if err != nil {
		t.Fatal(err)
	}
	bin := c.AppendBinary(nil, &v)
	var got T
	n, err := c.DecodeBinary(bin, &got)
	if err != nil || n != len(bin) || !eq(got, v) {
		t.Errorf("%s binary: got %v, %d, %v; want %v, %d", c.Name, got, n, err, v, len(bin))
	}
	js := c.AppendJSON(nil, &v)
	if string(js) != wantJSON {
		t.Errorf("%s JSON = %s, want %s", c.Name, js, wantJSON)
	}
	var got2 T
	if err := c.DecodeJSON(js, &got2); err != nil || !eq(got2, v) {
		t.Errorf("%s JSON round trip: got %v, %v; want %v", c.Name, got2, err, v)
	}
	if !bytes.Equal(c.AppendKey(nil, &v), bin) {
		t.Errorf("%s AppendKey differs from binary", c.Name)
	}
	if c.EventTime != nil {
		t.Errorf("%s has an event time", c.Name)
	}
}

func eq[T comparable](a, b T) bool { return a == b }

func hashAgrees[K comparable](t *testing.T, k K) {
	t.Helper()
	c, err := CodecOf[K]()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Hash(&k), ops.BuiltinHash[K]()(k); got != want {
		t.Errorf("%s hash %x, partitioner %x", c.Name, got, want)
	}
}

func TestBuiltinCodecs(t *testing.T) {
	roundTrip(t, "a \"b\"\n", `"a \"b\"\n"`, eq[string])
	roundTrip(t, -7, `-7`, eq[int])
	roundTrip(t, int64(1)<<62, `4611686018427387904`, eq[int64])
	roundTrip(t, int32(-3), `-3`, eq[int32])
	roundTrip(t, uint64(1)<<63, `9223372036854775808`, eq[uint64])
	roundTrip(t, 1.5, `1.5`, eq[float64])
	roundTrip(t, true, `true`, eq[bool])
	roundTrip(t, []byte("hi"), `"aGk="`, bytes.Equal)
	ts := time.Date(2024, 1, 1, 0, 5, 0, 0, time.UTC)
	roundTrip(t, ts, `"2024-01-01T00:05:00Z"`, time.Time.Equal)
	hashAgrees(t, "user-1")
	hashAgrees(t, 42)
	hashAgrees(t, int64(-42))
	hashAgrees(t, int32(-42))
	hashAgrees(t, uint64(42))
	hashAgrees(t, 2.5)
	hashAgrees(t, true)
}

func TestBuiltinDecodeErrors(t *testing.T) {
	c, _ := CodecOf[int64]()
	var v int64
	if err := c.DecodeJSON([]byte(`"x"`), &v); err == nil || err.Error() != "want number, got string" {
		t.Errorf("DecodeJSON error = %v", err)
	}
	if _, err := c.DecodeBinary(nil, &v); err == nil {
		t.Error("DecodeBinary of nothing: no error")
	}
}
