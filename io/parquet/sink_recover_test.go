package parquet_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/weirflow/weir/io/iotest"
	"github.com/weirflow/weir/io/parquet"
	"github.com/weirflow/weir/sdk"
)

func TestSinkRecover(t *testing.T) {
	recs := mkTxns(rand.New(rand.NewPCG(11, 12)), 0, 96)
	for _, size := range []int64{0, 1} { // 1 byte: a new file after every write
		t.Run(fmt.Sprintf("target=%d", size), func(t *testing.T) {
			iotest.TestSinkRecover(t, iotest.SinkCase[txn]{
				NewSink: func(t *testing.T) (sdk.Sink[txn], func() ([]txn, error)) {
					dir := t.TempDir()
					return parquet.NewSink[txn](dir, parquet.SinkOptions{TargetFileSize: size}), readDir(dir)
				},
				Records: recs,
				Equal:   eqTxn,
			})
		})
	}
}
