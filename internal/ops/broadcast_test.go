package ops

import (
	"errors"
	"fmt"
	"testing"
)

// TestBroadcastStore: writes only while a broadcast record is processed;
// the encoding round-trips every map, and a corrupt one is refused.
func TestBroadcastStore(t *testing.T) {
	var b BroadcastStore
	if err := b.Put("m", []byte("k"), []byte("v")); !errors.Is(err, errBroadcastReadOnly) {
		t.Fatalf("Put outside a broadcast record: %v", err)
	}
	b.write = true
	for i := range 5 {
		if err := b.Put("m", []byte(fmt.Sprint("k", i)), []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Put("other", []byte{}, []byte{0, 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete("m", []byte("k2")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put("empty", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete("empty", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if !b.dirty {
		t.Error("not dirty after writes")
	}
	enc := b.encode()
	var c BroadcastStore
	if err := c.decode(enc); err != nil {
		t.Fatal(err)
	}
	dump := func(s *BroadcastStore) string {
		out := ""
		for _, n := range []string{"m", "other", "empty"} {
			out += fmt.Sprintf("%s:%d[", n, s.Len(n))
			_ = s.Range(n, func(k, v []byte) error { out += fmt.Sprintf("%s=%x ", k, v); return nil })
			out += "] "
		}
		return out
	}
	if got, want := dump(&c), dump(&b); got != want {
		t.Errorf("decoded %s, want %s", got, want)
	}
	if want := "m:4[k0=7630 k1=7631 k3=7633 k4=7634 ] other:1[=0001 ] empty:0[] "; dump(&c) != want {
		t.Errorf("decoded %s, want %s", dump(&c), want)
	}
	// Range's order is kept between writes, and a write renews it.
	c.write = true
	before := dump(&c)
	if err := c.Put("m", []byte("k25"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("m", []byte("k0")); err != nil {
		t.Fatal(err)
	}
	if want := "m:4[k1=7631 k25=78 k3=7633 k4=7634 ] other:1[=0001 ] empty:0[] "; dump(&c) != want || before == want {
		t.Errorf("after a put and a delete: %s, want %s", dump(&c), want)
	}
	for _, bad := range [][]byte{nil, enc[:len(enc)-1], append(append([]byte{}, enc...), 0)} {
		if err := new(BroadcastStore).decode(bad); err == nil {
			t.Errorf("decode(%x) accepted", bad)
		}
	}
}
