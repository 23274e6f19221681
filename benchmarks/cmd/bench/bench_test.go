package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadAndCompareRows(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	b := filepath.Join(dir, "b.jsonl")
	// The same two rows, in another order, time zone spelling and field order.
	os.WriteFile(a, []byte(`{"user_id":"u1","window_start":"2024-01-01T00:05:00Z","window_end":"2024-01-01T00:10:00Z","total":2000,"count":1}
{"user_id":"u0","window_start":"1969-12-31T23:55:00Z","window_end":"1970-01-01T00:00:00Z","total":1500,"count":1}
`), 0o644)
	os.WriteFile(b, []byte(`{"count":1,"total":1500,"user_id":"u0","window_start":"1969-12-31T23:55:00.000000Z","window_end":"1970-01-01T00:00:00+00:00"}

{"user_id":"u1","window_start":"2024-01-01T01:05:00+01:00","window_end":"2024-01-01T00:10:00Z","total":2000,"count":1}
`), 0o644)
	ra, err := readRows([]string{a})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := readRows([]string{b})
	if err != nil {
		t.Fatal(err)
	}
	if d := compareRows(ra, rb); d != "" {
		t.Errorf("equal rows compare different: %s", d)
	}
	if d := compareRows(ra[:1], rb); d == "" {
		t.Error("a missing row compares equal")
	}
	rb[1] = rb[1] + "x"
	if d := compareRows(ra, rb); d == "" {
		t.Error("a changed row compares equal")
	}
	os.WriteFile(b, []byte("{not json\n"), 0o644)
	if _, err := readRows([]string{b}); err == nil {
		t.Error("bad JSON: no error")
	}
}
