package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/sdk"
)

// txnKeys are the requests an exactly-once sink needs besides producing:
// InitProducerId, AddPartitionsToTxn and EndTxn.
var txnKeys = []struct {
	key  int16
	name string
}{{22, "InitProducerId"}, {24, "AddPartitionsToTxn"}, {26, "EndTxn"}}

// checkSink refuses to start a sink that cannot write: its topic does not
// exist, or, exactly-once, a broker does not support transactions. It
// runs from Recover, before the job reads any input.
func (s *Sink[T]) checkSink(ctx context.Context, cl *kgo.Client) error {
	o := &s.opts
	brokers := strings.Join(o.Brokers, ",")
	adm := kadm.NewClient(cl)
	var tds kadm.TopicDetails
	err := retry(ctx, o.ConnectTimeout, func(ctx context.Context) error {
		var err error
		tds, err = adm.ListTopics(ctx, o.Topic)
		if err == nil {
			if td, ok := tds[o.Topic]; ok && !errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
				// LEADER_NOT_AVAILABLE while a topic is being
				// created is retriable; a missing topic is final.
				err = td.Err
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("kafka: topic %s on %s: %w", o.Topic, brokers, err)
	}
	if td, ok := tds[o.Topic]; !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		create := "weir topic create " + o.Topic
		if !slices.Equal(o.Brokers, DefaultBrokers) {
			create = "weir topic create --brokers=" + brokers + " " + o.Topic
		}
		return fmt.Errorf("kafka: topic %s does not exist on %s; create it first (%s)", o.Topic, brokers, create)
	}
	if !o.ExactlyOnce {
		return nil
	}
	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		return fmt.Errorf("kafka: api versions of %s: %w", brokers, err)
	}
	for _, v := range vs.Sorted() {
		if v.Err != nil {
			return fmt.Errorf("kafka: api versions of broker %d of %s: %w", v.NodeID, brokers, v.Err)
		}
		for _, k := range txnKeys {
			if _, ok := v.KeyMaxVersion(k.key); !ok {
				return fmt.Errorf("kafka: broker %d of %s does not support transactions (its ApiVersions lists no %s), which exactly-once output to topic %s needs; use a broker with transactions, or write at-least-once",
					v.NodeID, brokers, k.name, o.Topic)
			}
		}
	}
	return nil
}

// CheckRecover tells, changing nothing, that Recover would refuse to start
// (sdk.RecoverChecker): the topic is missing, or a broker cannot do
// transactions. The runner asks every sink before any recovers, so a
// missing TOPIC-late topic refuses the job before the main sink settles
// its transactions.
func (s *Sink[T]) CheckRecover(ctx context.Context, _ sdk.RecoverContext) error {
	cl, err := s.checkedClient(ctx)
	if err != nil {
		return err
	}
	cl.Close()
	return nil
}

// checkedClient connects to the sink's brokers and checks that the sink
// can write (checkSink), for CheckRecover and Recover.
func (s *Sink[T]) checkedClient(ctx context.Context) (*kgo.Client, error) {
	o := &s.opts
	if o.Topic == "" {
		return nil, errors.New("kafka: sink has no topic; set SinkOptions.Topic")
	}
	cl, err := kgo.NewClient(clientOpts(o.Brokers, o.TLS, o.SASL, o.ConnectTimeout)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if err := ping(ctx, cl, o.Brokers, o.ConnectTimeout); err != nil {
		cl.Close()
		return nil, err
	}
	if err := s.checkSink(ctx, cl); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}
