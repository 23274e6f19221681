package keyed

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/weirflow/weir/state"
)

func TestViewsAreNamespaced(t *testing.T) {
	b, err := state.Open(state.Options{Dir: "db", FS: vfs.NewMem(), MaxParallelism: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, c := NewView(b, "a"), NewView(b, "c")
	va, err := a.Value("n")
	if err != nil {
		t.Fatal(err)
	}
	vc, err := c.Value("n")
	if err != nil {
		t.Fatal(err)
	}
	if err := va.Put(3, []byte("k"), []byte("from a")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := vc.Get(3, []byte("k")); err != nil || ok {
		t.Fatalf("view c sees a's value: ok=%v err=%v", ok, err)
	}
	got, ok, err := va.Get(3, []byte("k"))
	if err != nil || !ok || string(got) != "from a" {
		t.Fatalf("Get = %q, %v, %v", got, ok, err)
	}
	tm, err := a.Timers("t")
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range []int64{30, 10, 20} {
		if err := tm.Register(1, ts, []byte("k")); err != nil {
			t.Fatal(err)
		}
	}
	var seen []int64
	n, err := tm.PopUpTo(20, func(kg uint16, ts int64, key []byte) error {
		seen = append(seen, ts)
		return nil
	})
	if err != nil || n != 2 || len(seen) != 2 || seen[0] != 10 || seen[1] != 20 {
		t.Fatalf("PopUpTo = %d %v %v", n, seen, err)
	}
	if s, e := a.KeyGroups(); s != 0 || e != 8 {
		t.Fatalf("KeyGroups = %d, %d", s, e)
	}
}

func TestViewMapClear(t *testing.T) {
	b, err := state.Open(state.Options{Dir: "db", FS: vfs.NewMem(), MaxParallelism: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m, err := NewView(b, "w").Map("panes")
	if err != nil {
		t.Fatal(err)
	}
	for _, mk := range []string{"w1", "w2"} {
		if err := m.Put(2, []byte("k"), []byte(mk), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if empty, err := m.IsEmpty(2, []byte("k")); empty || err != nil {
		t.Fatalf("IsEmpty before Clear = %v, %v", empty, err)
	}
	if err := m.Clear(2, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if empty, err := m.IsEmpty(2, []byte("k")); !empty || err != nil {
		t.Fatalf("IsEmpty after Clear = %v, %v", empty, err)
	}
}
