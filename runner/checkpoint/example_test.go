package checkpoint_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/weirflow/weir/runner/checkpoint"
	"github.com/weirflow/weir/state"
)

// A task's keyed state is snapshotted, uploaded and recorded in a
// completed checkpoint; a restart lists it and materializes the snapshot
// for state.Restore.
func Example() {
	work, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)

	b, err := state.Open(state.Options{Dir: filepath.Join(work, "db")})
	if err != nil {
		log.Fatal(err)
	}
	v, _ := b.Value("count")
	v.Put(7, []byte("user-1"), []byte("42"))

	s, err := checkpoint.Open(filepath.Join(work, "ckpt"), checkpoint.Options{})
	if err != nil {
		log.Fatal(err)
	}
	id := s.NextID()
	snap, err := b.Snapshot(filepath.Join(work, "snap-1")) // on the task goroutine
	if err != nil {
		log.Fatal(err)
	}
	h, _, err := s.NewUploader("sum-0-run1").Upload(id, snap) // in the background
	if err != nil {
		log.Fatal(err)
	}
	b.Close()
	err = s.Complete(&checkpoint.Metadata{ID: id, Job: "example", Parallelism: 1, MaxParallelism: 128,
		State: map[string][]checkpoint.TaskState{"sum": {{KeyGroupStart: 0, KeyGroupEnd: 128, State: &h}}}})
	if err != nil {
		log.Fatal(err)
	}

	// After a restart:
	s, _ = checkpoint.Open(filepath.Join(work, "ckpt"), checkpoint.Options{})
	ms, skipped, err := s.Completed()
	if err != nil {
		log.Fatal(err)
	}
	for _, err := range skipped {
		log.Print(err)
	}
	latest := ms[0]
	dir := filepath.Join(work, "restore-sum-0")
	if err := s.Materialize(*latest.State["sum"][0].State, dir); err != nil {
		log.Fatal(err)
	}
	r, err := state.Restore(state.Options{Dir: filepath.Join(work, "db2")}, []string{dir})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	v, _ = r.Value("count")
	got, _, _ := v.Get(7, []byte("user-1"))
	fmt.Printf("checkpoint %d, next %d: user-1 = %s\n", latest.ID, s.NextID(), got)
	// Output: checkpoint 1, next 2: user-1 = 42
}
