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
	for _, s := range tw.txn.slots {
		if s.open && s.cl != nil {
			if err := s.cl.Flush(context.Background()); err != nil {
				return err
			}
		}
	}
	tw.txn.closeClients()
	return nil
}

// TxnSlots returns how many transactional producers an exactly-once
// writer has opened.
func TxnSlots[T any](w sdk.CommittingSink[T]) int {
	return len(w.(*txnWriter[T]).txn.slots)
}

// TxnClients returns how many producers an exactly-once writer has open.
func TxnClients[T any](w sdk.CommittingSink[T]) int {
	return w.(*txnWriter[T]).txn.clients()
}

// TxnDials returns how many producers an exactly-once writer has dialed.
func TxnDials[T any](w sdk.CommittingSink[T]) int {
	return w.(*txnWriter[T]).txn.dials
}

// SkipNextEndTxn makes the writer's next commit or abort of a transaction
// through its producer send no EndTxn and return success, as franz-go's
// EndTransaction does when it believes nothing was added to the
// transaction.
func SkipNextEndTxn[T any](w sdk.CommittingSink[T]) {
	w.(*txnWriter[T]).txn.testSkipEnd = true
}
