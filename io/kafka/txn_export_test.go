package kafka

import (
	"context"

	"github.com/weirflow/weir/sdk"
)

// Crash simulates a crash of an exactly-once writer for tests: written
// records are flushed, so that they sit in open transactions on the
// broker, and the producers are closed without ending any transaction.
func Crash[T any](w sdk.CommittingSink[T]) error {
	tw := w.(*txnWriter[T])
	for i := range tw.txn.slots {
		if s := &tw.txn.slots[i]; s.open {
			if err := s.cl.Flush(context.Background()); err != nil {
				return err
			}
		}
	}
	tw.txn.closeClients()
	return nil
}
