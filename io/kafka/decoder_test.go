package kafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/sdk"
)

// TestDecoder: a source's decoder sees each record's key, headers and
// position besides its value; a record it refuses is a dead letter with
// its reason.
func TestDecoder(t *testing.T) {
	brokers := cluster(t, 1, "txns")
	cl := producer(t, brokers)
	ctx := context.Background()
	recs := []*kgo.Record{
		{Topic: "txns", Key: []byte("ann"), Value: js(mkTxn(1)), Headers: []kgo.RecordHeader{{Key: "merchant", Value: []byte("acme")}}},
		{Topic: "txns", Key: []byte("bob"), Value: js(mkTxn(2))},
		{Topic: "txns", Value: js(mkTxn(3))}, // no key: refused
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	src := kafka.NewSource[txn](kafka.SourceOptions{Brokers: brokers, Topics: []string{"txns"}}).
		WithDecoder(func(r *kafka.Record, v *txn) error {
			if len(r.Key) == 0 {
				return errors.New("no key: the producer keys transactions by user")
			}
			if err := kafka.DecodeJSON(r, v); err != nil {
				return err
			}
			v.UserID = string(r.Key)
			if m, ok := r.Header("merchant"); ok {
				v.Merchant = string(m)
			}
			if r.Topic != "txns" || r.Partition != 0 || r.Offset != int64(v.Amount/10-1) {
				return errors.New("wrong position")
			}
			return nil
		})
	r, err := src.Open(ctx, &kafka.Split{Topic: "txns"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, dead := readUntil(t, r, 2)
	want1, want2 := mkTxn(1), mkTxn(2)
	want1.UserID, want1.Merchant, want2.UserID = "ann", "acme", "bob"
	if len(got) != 2 || got[0] != want1 || got[1] != want2 {
		t.Errorf("got %+v, want %+v and %+v", got, want1, want2)
	}
	b := sdk.NewBatch[txn](1)
	deadline := time.Now().Add(10 * time.Second)
	for len(dead) == 0 && time.Now().Before(deadline) {
		d, err := r.ReadBatch(ctx, b, 1)
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, d...)
	}
	if len(dead) != 1 || len(b.Values) != 0 {
		t.Fatalf("%d dead letters and %d records after the two, want the one dead letter", len(dead), len(b.Values))
	}
	if d := dead[0]; d.Source != "kafka txns/0 offset 2" || !strings.HasPrefix(d.Reason, "decode: no key") {
		t.Errorf("dead letter %+v", d)
	}
}

// TestDecodeJSONTombstone: a null value (a compacted topic's deletion) is
// ErrTombstone, not a JSON syntax error.
func TestDecodeJSONTombstone(t *testing.T) {
	var v txn
	if err := kafka.DecodeJSON(&kafka.Record{Key: []byte("ann")}, &v); !errors.Is(err, kafka.ErrTombstone) {
		t.Errorf("DecodeJSON of a null value: %v, want ErrTombstone", err)
	}
	if err := kafka.DecodeJSON(&kafka.Record{Value: []byte{}}, &v); err == nil || errors.Is(err, kafka.ErrTombstone) {
		t.Errorf("DecodeJSON of an empty value: %v, want a JSON error", err)
	}
}
