package runner

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/weirflow/weir/sdk"
	"github.com/weirflow/weir/sdk/codec"
)

// TestMain runs the package's tests with every job placed over
// WEIR_NETWORK_WORKERS workers when it is set (make test runs the package
// a second time with 2): every test at parallelism 2 or more then passes
// its keyed batches, watermarks, statuses, barriers and ends through the
// network exchange, and must give the same results.
func TestMain(m *testing.M) {
	if v := os.Getenv("WEIR_NETWORK_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			fmt.Fprintf(os.Stderr, "WEIR_NETWORK_WORKERS=%q: want a number of workers, 2 or more\n", v)
			os.Exit(2)
		}
		forceNetworkWorkers = n
	}
	os.Exit(m.Run())
}

// The test record's codec, written by hand (the runner's tests cannot run
// weir gen on themselves without a cycle): what the network exchange needs.
func init() {
	sdk.RegisterRecord(sdk.RecordCodec[ev]{
		Name: "runner.ev",
		AppendBinary: func(dst []byte, v *ev) []byte {
			dst = codec.AppendString(dst, v.Key)
			dst = codec.AppendInt(dst, int64(v.V))
			return codec.AppendTime(dst, v.At)
		},
		DecodeBinary: func(src []byte, v *ev) (int, error) {
			r := codec.NewReader(src)
			v.Key, v.V, v.At = r.String(), int(r.Int()), r.Time()
			return r.Done()
		},
	})
}

// skipArrivalOrder skips a test whose results depend on the order in which
// messages of two channels reach a task: a split added at run time is idle
// until its first record, and its rows are late by the rules (as in
// Flink) if the other channel ends first. Between local tasks the test's
// waits make that order all but certain; the network exchange delays one
// channel and not the other, so there the order is a race.
func skipArrivalOrder(t *testing.T) {
	if forceNetworkWorkers > 1 {
		t.Skip("results depend on the arrival order of an idle channel and an ending one")
	}
}
