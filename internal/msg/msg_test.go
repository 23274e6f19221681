package msg

import (
	"errors"
	"fmt"
	"testing"
)

func TestLine(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{errors.New("runner: checkpoint directory ck is in use by pid 7"), "checkpoint directory ck is in use by pid 7"},
		{fmt.Errorf("recover sink %q: %w", "late", errors.New("kafka: topic t-late does not exist")), `recover sink "late": kafka: topic t-late does not exist`},
		{errors.New("kafka: broker gone"), "kafka: broker gone"},
		{errors.Join(errors.New("runner: one"), errors.New("checkpoint: two")), "one; checkpoint: two"},
		{errors.New("  sdk: fraud.Txn changed\n\n"), "fraud.Txn changed"},
		{errors.New("transform \"Map\": panicked: line 1\nline 2"), `transform "Map": panicked: line 1; line 2`},
		{errors.New("runner: runner: once only"), "runner: once only"},
		{fmt.Errorf("Read %q: %w", "in", errors.New("sdk: type T has no codec")), `Read "in": type T has no codec`},
		{fmt.Errorf("new topics: %w", errors.New("devbroker: 0 partitions")), "new topics: 0 partitions"},
		{errors.Join(errors.New("a"), errors.New("ops: b")), "a; b"},
		{errors.New("kafka: deploys: nothing"), "kafka: deploys: nothing"},
	} {
		if got := Line(c.err); got != c.want {
			t.Errorf("Line(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}
