package state

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func listOf(t *testing.T, l *ListState, kg uint16, key string) []string {
	t.Helper()
	var out []string
	must(t, l.Iterate(kg, []byte(key), func(e []byte) error { out = append(out, string(e)); return nil }))
	return out
}

// writeBack writes the cache's dirty entries into the pending batch and
// returns the batch's operations ("SET key", "MERGE key=value", ...),
// then commits it.
func writeBack(t *testing.T, b *Backend) []string {
	t.Helper()
	must(t, b.cache.writeDirty(b.wb))
	var ops []string
	r := b.wb.Reader()
	for {
		kind, k, v, ok, err := r.Next()
		must(t, err)
		if !ok {
			break
		}
		op := fmt.Sprintf("%s %q", kind, k)
		if kind == pebble.InternalKeyKindMerge {
			op += fmt.Sprintf("=%q", v)
		}
		ops = append(ops, op)
	}
	must(t, b.commitWB())
	return ops
}

// TestListWrites: a list rewritten on every record (read, Clear, Append:
// sdk's ListState.Update) leaves no range deletion, which made every later
// Pebble read slower (quadratic time), and writes back one operation per
// list; appends write back only the new elements, as a Pebble merge, and
// an append to a list not in the cache reads nothing.
func TestListWrites(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{Dir: "db", FS: fs, MaxParallelism: 8}
	b, err := Open(opts)
	must(t, err)
	l, err := b.List("recent")
	must(t, err)
	key := string(l.key(3, []byte("u1")))
	for i := range 100 {
		got := listOf(t, l, 3, "u1")
		if len(got) > 2 {
			got = got[1:]
		}
		must(t, l.Clear(3, []byte("u1")))
		for _, e := range append(got, fmt.Sprint(i)) {
			must(t, l.Append(3, []byte("u1"), []byte(e)))
		}
	}
	if ops := writeBack(t, b); !slices.Equal(ops, []string{fmt.Sprintf("SET %q", key)}) {
		t.Fatalf("write-back of a rewritten list: %v", ops)
	}
	if got := listOf(t, l, 3, "u1"); !slices.Equal(got, []string{"97", "98", "99"}) {
		t.Fatalf("list = %v", got)
	}
	must(t, b.Close())

	// Reopened, nothing is cached: an append reads nothing and writes back
	// only itself.
	b, err = Open(opts)
	must(t, err)
	defer b.Close()
	l, err = b.List("recent")
	must(t, err)
	must(t, l.Append(3, []byte("u1"), []byte("a")))
	if st := b.CacheStats(); st.Entries != 1 || st.Dirty != 1 {
		t.Fatalf("after a blind append: %+v", st)
	}
	if ops := writeBack(t, b); !slices.Equal(ops, []string{fmt.Sprintf("MERGE %q=\"\\x01a\"", key)}) {
		t.Fatalf("write-back of an append to an uncached list: %v", ops)
	}
	if st := b.CacheStats(); st.Entries != 0 {
		t.Fatalf("a written-back partial list stays cached: %+v", st)
	}
	// A partial list read before its write-back: stored part first.
	must(t, l.Append(3, []byte("u1"), []byte("b")))
	if got := listOf(t, l, 3, "u1"); !slices.Equal(got, []string{"97", "98", "99", "a", "b"}) {
		t.Fatalf("list = %v", got)
	}
	must(t, l.Append(3, []byte("u1"), []byte("c")))
	if ops := writeBack(t, b); !slices.Equal(ops, []string{fmt.Sprintf("MERGE %q=\"\\x01b\\x01c\"", key)}) {
		t.Fatalf("write-back of appends to a read list: %v", ops)
	}
	must(t, l.Append(3, []byte("u1"), []byte("d")))
	if ops := writeBack(t, b); !slices.Equal(ops, []string{fmt.Sprintf("MERGE %q=\"\\x01d\"", key)}) {
		t.Fatalf("write-back of an append after a write-back: %v", ops)
	}
	if n, err := l.Len(3, []byte("u1")); n != 7 || err != nil {
		t.Fatalf("Len = %d, %v", n, err)
	}
	must(t, l.Clear(3, []byte("u1")))
	if ops := writeBack(t, b); !slices.Equal(ops, []string{fmt.Sprintf("DEL %q", key)}) {
		t.Fatalf("write-back of a Clear: %v", ops)
	}
	if got := listOf(t, l, 3, "u1"); len(got) != 0 {
		t.Fatalf("after Clear: %v", got)
	}
}

// TestListIterateWhileChanging: fn may append to or clear the list it
// iterates; it sees the elements of the start, intact.
func TestListIterateWhileChanging(t *testing.T) {
	b, _ := newMem(t, Options{})
	l, err := b.List("l")
	must(t, err)
	k := []byte("k")
	for _, e := range []string{"a", "b", "c"} {
		must(t, l.Append(0, k, []byte(e)))
	}
	var seen []string
	must(t, l.Iterate(0, k, func(e []byte) error {
		seen = append(seen, string(e))
		must(t, l.Clear(0, k))
		must(t, l.Append(0, k, []byte(strings.Repeat("x", 5))))
		must(t, l.Append(0, k, []byte("new-"+string(e))))
		return nil
	}))
	if !slices.Equal(seen, []string{"a", "b", "c"}) {
		t.Fatalf("seen %v", seen)
	}
	if got := listOf(t, l, 0, "k"); !slices.Equal(got, []string{"xxxxx", "new-c"}) {
		t.Fatalf("list = %v", got)
	}
}

// writeV1 writes an instance in layout 1 (before formatKey existed), as
// the earlier ListState did: a count key and one key per element, and a
// Clear as a range deletion of the elements plus a deletion of the count.
// lists maps "kg/key" to elements; cleared lists are written, then
// cleared, first.
func writeV1(t *testing.T, fs vfs.FS, dir string, maxPar int, lists map[string][]string, cleared []string) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{FS: fs, Logger: quietLogger{}})
	must(t, err)
	must(t, db.Set(maxParKey, binary.BigEndian.AppendUint32(nil, uint32(maxPar)), nil))
	const id = 1
	must(t, db.Set(append(append([]byte(nil), metaPrefix...), "l"...), []byte{byte(kindList), 0, id}, nil))
	write := func(k string, elems []string) []byte {
		var kg uint16
		fmt.Sscanf(k, "%d/", &kg)
		p := appendPrefix(nil, kg, id, []byte(k[strings.IndexByte(k, '/')+1:]))
		for i, e := range elems {
			must(t, db.Set(binary.BigEndian.AppendUint64(append(p[:len(p):len(p)], 0x01), uint64(i)), []byte(e), nil))
		}
		must(t, db.Set(append(p[:len(p):len(p)], 0x00), binary.BigEndian.AppendUint64(nil, uint64(len(elems))), nil))
		return p
	}
	for _, k := range cleared {
		p := write(k, []string{"gone1", "gone2"})
		must(t, db.DeleteRange(append(p[:len(p):len(p)], 0x01), append(p[:len(p):len(p)], 0x02), nil))
		must(t, db.Delete(append(p[:len(p):len(p)], 0x00), nil))
	}
	for k, elems := range lists {
		write(k, elems)
	}
	must(t, db.Close())
}

// TestListFormatV1: lists written in layout 1 read the same after Open,
// after a Restore from one snapshot and after a rescaling Restore from
// several, are converted (no layout-1 key is left: dump fails on one),
// and keep working.
func TestListFormatV1(t *testing.T) {
	const maxPar = 8
	fs := vfs.NewMem()
	all := newModel()
	var dirs []string
	for task := range 2 {
		kr := keyGroupRange(task, 2, maxPar)
		lists := map[string][]string{}
		var cleared []string
		for kg := kr.Start; kg < kr.End; kg++ {
			for i := range 3 {
				k := fmt.Sprintf("%d/key%d", kg, i)
				for j := range i + int(kg)%3 {
					lists[k] = append(lists[k], fmt.Sprintf("%s#%d", k, j))
				}
				if len(lists[k]) == 0 {
					delete(lists, k)
					cleared = append(cleared, k)
				}
			}
			lists[fmt.Sprintf("%d/", kg)] = []string{"empty key"}
		}
		dir := fmt.Sprint("v1-", task)
		writeV1(t, fs, dir, maxPar, lists, cleared)
		dirs = append(dirs, dir)
		for k, l := range lists {
			all.lists[k] = l
		}
	}
	check := func(b *Backend, kr KeyGroupRange) {
		t.Helper()
		checkAll(t, b, all.split(kr))
		l, err := b.List("l")
		must(t, err)
		for k, want := range all.split(kr).lists {
			var kg uint16
			fmt.Sscanf(k, "%d/", &kg)
			if got := listOf(t, l, kg, k[strings.IndexByte(k, '/')+1:]); !slices.Equal(got, want) {
				t.Fatalf("%s = %v, want %v", k, got, want)
			}
		}
	}
	// Open in place (a task's working copy restored by an older weir).
	b, err := Open(Options{Dir: dirs[0], FS: fs, MaxParallelism: maxPar, KeyGroups: keyGroupRange(0, 2, maxPar)})
	must(t, err)
	check(b, keyGroupRange(0, 2, maxPar))
	must(t, b.Close())
	// Restore from one layout-1 snapshot, and rescale from both.
	for i, from := range [][]string{{dirs[1]}, dirs} {
		kr := keyGroupRange(1, 2, maxPar)
		if len(from) > 1 {
			kr = KeyGroupRange{0, maxPar}
		}
		r, err := Restore(Options{Dir: fmt.Sprint("restored-", i), FS: fs, MaxParallelism: maxPar, KeyGroups: kr}, from)
		must(t, err)
		check(r, kr)
		ver, err := readFormat(r.db, "")
		must(t, err)
		if ver != formatVersion {
			t.Fatalf("format after restore: %d", ver)
		}
		// Still a working list state.
		l, err := r.List("l")
		must(t, err)
		must(t, l.Append(kr.Start, []byte("key1"), []byte("more")))
		k := fmt.Sprintf("%d/key1", kr.Start)
		want := append(slices.Clone(all.lists[k]), "more")
		if got := listOf(t, l, kr.Start, "key1"); !slices.Equal(got, want) {
			t.Fatalf("after append: %v, want %v", got, want)
		}
		must(t, r.Close())
	}
}

// TestFormatNewer: an instance of a newer layout is refused with a hint.
func TestFormatNewer(t *testing.T) {
	fs := vfs.NewMem()
	db, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: quietLogger{}})
	must(t, err)
	must(t, db.Set(formatKey, []byte{formatVersion + 1}, nil))
	must(t, db.Close())
	_, err = Open(Options{Dir: "db", FS: fs})
	if err == nil || !strings.Contains(err.Error(), "newer than this build") {
		t.Fatalf("Open of a newer format: %v", err)
	}
}
