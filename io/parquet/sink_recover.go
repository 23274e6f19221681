package parquet

import (
	"context"
	"fmt"

	"github.com/weirflow/weir/io/internal/filecommit"
	"github.com/weirflow/weir/sdk"
)

// Recover settles the files an earlier run of the job left in the
// directory, before any writer opens (sdk.RecoverableSink): files of any
// task staged under checkpoint ids <= rc.Checkpoint are committed, files
// staged under later ids and in-progress files are removed. On a fresh
// start (Checkpoint 0) everything not committed is removed, and files an
// earlier run committed are refused (an [*sdk.OutputExistsError], nothing
// changed), replaced at the first commit or appended to, as rc.Existing
// says. It is idempotent, and works whatever the earlier run's
// parallelism was.
func (s *Sink[T]) Recover(_ context.Context, rc sdk.RecoverContext) error {
	if err := filecommit.Recover(s.dir, ".parquet", uint64(rc.Checkpoint), rc.Existing); err != nil {
		return fmt.Errorf("parquet: recover %s at checkpoint %d: %w", s.dir, rc.Checkpoint, err)
	}
	return nil
}

// CheckRecover tells, changing nothing, that Recover would refuse the
// directory (sdk.RecoverChecker).
func (s *Sink[T]) CheckRecover(_ context.Context, rc sdk.RecoverContext) error {
	if err := filecommit.Check(s.dir, ".parquet", uint64(rc.Checkpoint), rc.Existing); err != nil {
		return fmt.Errorf("parquet: recover %s at checkpoint %d: %w", s.dir, rc.Checkpoint, err)
	}
	return nil
}
