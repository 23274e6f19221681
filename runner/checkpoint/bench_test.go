package checkpoint

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/weirflow/weir/state"
)

// BenchmarkUpload measures Upload plus Complete of a snapshot of eight
// 1 MiB SSTs and a manifest: "full" uploads it under a new instance each
// time (a first checkpoint), "incremental" adds one 64 KiB SST per
// checkpoint to the same instance. Bytes/s counts the bytes written.
func BenchmarkUpload(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	data := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		return p
	}
	base := b.TempDir()
	h := state.Handle{Dir: base}
	for i := range 8 {
		name := fmt.Sprintf("%06d.sst", i+1)
		if err := os.WriteFile(filepath.Join(base, name), data(1<<20), 0o644); err != nil {
			b.Fatal(err)
		}
		h.Files = append(h.Files, state.File{Name: name, Size: 1 << 20})
	}
	man := data(4 << 10)
	if err := os.WriteFile(filepath.Join(base, "MANIFEST-000001"), man, 0o644); err != nil {
		b.Fatal(err)
	}
	h.Files = append(h.Files, state.File{Name: "MANIFEST-000001", Size: int64(len(man))})

	b.Run("full", func(b *testing.B) {
		s := open(b, b.TempDir(), Options{Retain: 1})
		b.ReportAllocs()
		var total int64
		for i := 0; b.Loop(); i++ {
			id := uint64(i + 1)
			sh, n, err := s.NewUploader(fmt.Sprint("inst-", i)).Upload(id, h)
			if err != nil {
				b.Fatal(err)
			}
			total += n
			if err := s.Complete(meta(id, sh)); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(total / int64(b.N))
	})
	b.Run("incremental", func(b *testing.B) {
		s := open(b, b.TempDir(), Options{Retain: 1})
		u := s.NewUploader("inst")
		hi := h
		b.ReportAllocs()
		var total int64
		for i := 0; b.Loop(); i++ {
			id := uint64(i + 1)
			name := fmt.Sprintf("%06d.sst", 100+i)
			b.StopTimer()
			if err := os.WriteFile(filepath.Join(base, name), data(64<<10), 0o644); err != nil {
				b.Fatal(err)
			}
			hi.Files = append(hi.Files[:len(hi.Files):len(hi.Files)], state.File{Name: name, Size: 64 << 10})
			b.StartTimer()
			sh, n, err := u.Upload(id, hi)
			if err != nil {
				b.Fatal(err)
			}
			total += n
			if err := s.Complete(meta(id, sh)); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(total / int64(b.N))
	})
}
