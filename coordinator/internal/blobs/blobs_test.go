package blobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func shaOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// content returns n seeded pseudo-random bytes.
func content(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func open(t *testing.T) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestPut(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		limit   int64
		wantErr error
	}{
		{"empty", 0, 10, nil},
		{"small", 100, 1000, nil},
		{"at the limit", 1000, 1000, nil},
		{"no limit", 1 << 20, 0, nil},
		{"one byte over", 1001, 1000, ErrTooLarge},
		{"far over", 1 << 20, 1000, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := open(t)
			data := content(uint64(tc.size), tc.size)
			b, err := s.Put(bytes.NewReader(data), tc.limit)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Put: %v, want %v", err, tc.wantErr)
				}
				if left := names(t, dir); len(left) != 0 {
					t.Fatalf("left behind: %v", left)
				}
				if s.Has(shaOf(data)) {
					t.Fatal("Has after a refused Put")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sha := shaOf(data)
			if b.SHA256 != sha || b.Size != int64(tc.size) {
				t.Fatalf("Put = %+v, want %s, %d bytes", b, sha, tc.size)
			}
			if !s.Has(sha) {
				t.Fatal("not Has after Put")
			}
			if got := names(t, dir); !slices.Equal(got, []string{sha}) {
				t.Fatalf("dir holds %v", got)
			}
			f, size, err := s.Open(sha)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := io.ReadAll(f)
			if err != nil || size != int64(tc.size) || !bytes.Equal(got, data) {
				t.Fatalf("Open: %d bytes (size %d), %v; want the content", len(got), size, err)
			}
			if err := s.Verify(sha); err != nil {
				t.Fatal(err)
			}
			// Again: same record, still one file.
			if b2, err := s.Put(bytes.NewReader(data), tc.limit); err != nil || b2.SHA256 != b.SHA256 || b2.Size != b.Size {
				t.Fatalf("second Put = %+v, %v", b2, err)
			}
			if got := names(t, dir); len(got) != 1 {
				t.Fatalf("dir holds %v after a second Put", got)
			}
		})
	}
}

func TestPutExpect(t *testing.T) {
	data := content(7, 4096)
	other := content(8, 4096)
	for _, tc := range []struct {
		name    string
		sha     string
		data    []byte
		limit   int64
		wantErr error
	}{
		{"match", shaOf(data), data, 1 << 20, nil},
		{"mismatch", shaOf(data), other, 1 << 20, ErrMismatch},
		{"too large", shaOf(data), data, 100, ErrTooLarge},
		{"upper-case sha", strings.ToUpper(shaOf(data)), data, 1 << 20, ErrBadSHA},
		{"path in sha", "../" + shaOf(data)[3:], data, 1 << 20, ErrBadSHA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := open(t)
			err := s.PutExpect(bytes.NewReader(tc.data), tc.sha, tc.limit)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("PutExpect: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if left := names(t, dir); len(left) != 0 {
					t.Fatalf("left behind: %v", left)
				}
				return
			}
			if !s.Has(tc.sha) || s.Verify(tc.sha) != nil {
				t.Fatal("not stored")
			}
		})
	}
}

// failingReader fails after some bytes, like a client that disconnects.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), r.n)
	r.n -= k
	return k, nil
}

func TestPutReadError(t *testing.T) {
	s, dir := open(t)
	if _, err := s.Put(&failingReader{n: 5000}, 1<<20); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Put: %v, want the read error", err)
	}
	if left := names(t, dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestVerifyAltered(t *testing.T) {
	data := content(3, 10000)
	for _, at := range []int{0, 5000, 9999} {
		s, _ := open(t)
		b, err := s.Put(bytes.NewReader(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(s.Path(b.SHA256), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{data[at] ^ 0x01}, int64(at)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		err = s.Verify(b.SHA256)
		if !errors.Is(err, ErrAltered) || !strings.Contains(err.Error(), b.SHA256+" altered on disk") {
			t.Fatalf("Verify after flipping byte %d: %v", at, err)
		}
	}
}

func TestMissingAndInvalid(t *testing.T) {
	s, dir := open(t)
	missing := shaOf([]byte("never stored"))
	if s.Has(missing) || s.Has("not a sha") {
		t.Fatal("Has of a binary never stored")
	}
	if _, _, err := s.Open(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing binary: %v", err)
	}
	if err := s.Verify(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Verify of a missing binary: %v", err)
	}
	if _, _, err := s.Open("../etc/passwd"); !errors.Is(err, ErrBadSHA) {
		t.Fatalf("Open of a path: %v", err)
	}
	if p := s.Path("../x"); filepath.Dir(p) != dir {
		t.Fatalf("Path of an invalid sha left the store: %s", p)
	}
}

func TestModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "blobs")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Put(strings.NewReader("#!/bin/sh\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700},
		{filepath.Dir(dir), 0o700},
		{s.Path(b.SHA256), 0o700}, // executable by its owner alone
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.want {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode().Perm(), c.want)
		}
	}
}

func TestOpenRemovesPartialWrites(t *testing.T) {
	s, dir := open(t)
	b, err := s.Put(strings.NewReader("kept"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tmpPrefix+"123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{b.SHA256}) {
		t.Fatalf("after Open: %v", got)
	}
}
