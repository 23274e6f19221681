package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/weirflow/weir/io/kafka"
	"github.com/weirflow/weir/sdk"
)

// TestSinkRecoverChecksTopic: Recover, which the runner calls before any
// input is read, refuses a sink whose topic does not exist, at least once
// and exactly once, and names the topic and the command that creates it.
func TestSinkRecoverChecksTopic(t *testing.T) {
	brokers := cluster(t, 1, "out")
	for _, eo := range []bool{false, true} {
		for _, c := range []struct {
			topic, err string
		}{
			{"out", ""},
			{"out-late", "kafka: topic out-late does not exist on " + brokers[0] + "; create it first (weir topic create --brokers=" + brokers[0] + " out-late)"},
		} {
			s := kafka.NewSink(kafka.SinkOptions[txn]{Brokers: brokers, Topic: c.topic, ExactlyOnce: eo, ConnectTimeout: 5 * time.Second})
			var _ sdk.RecoverableSink = s
			err := s.Recover(context.Background(), sdk.RecoverContext{Job: "j", Node: "n", Tasks: 1})
			if got := errString(err); got != c.err {
				t.Errorf("exactly-once=%v, topic %s: Recover = %q, want %q", eo, c.topic, got, c.err)
			}
		}
	}
}

// TestSinkRecoverChecksTransactions: an exactly-once sink refuses a broker
// whose ApiVersions lacks a transaction request; at least once it starts.
func TestSinkRecoverChecksTransactions(t *testing.T) {
	for _, k := range []struct {
		key  int16
		name string
	}{{22, "InitProducerId"}, {24, "AddPartitionsToTxn"}, {26, "EndTxn"}} {
		t.Run(k.name, func(t *testing.T) {
			v := kversion.Stable()
			v.SetMaxKeyVersion(k.key, -1)
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "out"), kfake.MaxVersions(v))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			brokers := c.ListenAddrs()
			for _, eo := range []bool{false, true} {
				want := ""
				if eo {
					want = "kafka: broker 0 of " + brokers[0] + " does not support transactions (its ApiVersions lists no " + k.name +
						"), which exactly-once output to topic out needs; use a broker with transactions, or write at-least-once"
				}
				s := kafka.NewSink(kafka.SinkOptions[txn]{Brokers: brokers, Topic: "out", ExactlyOnce: eo, ConnectTimeout: 5 * time.Second})
				err := s.Recover(context.Background(), sdk.RecoverContext{Job: "j", Node: "n", Tasks: 1})
				if got := errString(err); got != want {
					t.Errorf("exactly-once=%v: Recover = %q, want %q", eo, got, want)
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
