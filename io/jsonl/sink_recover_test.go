package jsonl_test

import (
	"fmt"
	"testing"

	"github.com/weirflow/weir/io/iotest"
	"github.com/weirflow/weir/io/jsonl"
	"github.com/weirflow/weir/sdk"
)

func TestSinkRecover(t *testing.T) {
	var recs []txn
	for i := range 64 {
		recs = append(recs, mkTxn(i))
	}
	for _, size := range []int64{0, 200} { // 200 bytes: a file every few records
		t.Run(fmt.Sprintf("target=%d", size), func(t *testing.T) {
			iotest.TestSinkRecover(t, iotest.SinkCase[txn]{
				NewSink: func(t *testing.T) (sdk.Sink[txn], func() ([]txn, error)) {
					dir := t.TempDir()
					return jsonl.NewSink[txn](dir, jsonl.SinkOptions{TargetFileSize: size}), readDir[txn](dir)
				},
				Records: recs,
			})
		})
	}
}
