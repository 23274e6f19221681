package kafka

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/sdk"
)

// Record is a Kafka record as a [Decoder] sees it. Its slices belong to
// the source: a decoder copies what it keeps (a string conversion does).
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	// Timestamp is the record's Kafka timestamp (create or log-append
	// time), not necessarily its event time.
	Timestamp time.Time
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Header returns the value of the first header named key.
func (r *Record) Header(key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// Decoder turns a record into v (the zero T on entry). An error makes the
// record a dead letter with the error as its reason (Flink's
// KafkaRecordDeserializationSchema).
type Decoder[T any] func(r *Record, v *T) error

// WithDecoder makes the source decode records with decode, which sees the
// key, the headers and the position besides the value, instead of
// decoding the value as JSON; [DecodeJSON] decodes the value as the
// default does. It returns s, to be called before the source is used.
//
//	src := kafka.NewSource[Click](opts).WithDecoder(func(r *kafka.Record, c *Click) error {
//		if err := kafka.DecodeJSON(r, c); err != nil {
//			return err
//		}
//		c.UserID = string(r.Key) // the producer keyed clicks by user
//		return nil
//	})
func (s *Source[T]) WithDecoder(decode Decoder[T]) *Source[T] {
	s.decoder = decode
	return s
}

// ErrTombstone is what JSON decoding returns for a record whose value is
// null: a deletion of its key in a compacted topic (a changelog). The
// record becomes a dead letter with this reason, nothing is dropped
// silently; a source reading deletions decodes them with its own
// [Decoder] (Record.Value is nil), for instance into a version that says
// the key was deleted.
var ErrTombstone = errors.New("tombstone (null value): a deletion, which JSON decoding does not apply (decode it with WithDecoder)")

// DecodeJSON decodes the value of r as JSON into v with T's generated
// codec (what a source without a decoder does); a null value is
// [ErrTombstone].
func DecodeJSON[T any](r *Record, v *T) error {
	if r.Value == nil {
		return ErrTombstone
	}
	c, err := sdk.CodecOf[T]()
	if err != nil {
		return err
	}
	return c.DecodeJSON(r.Value, v)
}

// recordDecoder is the reader's decode function: JSON values by default,
// else the source's decoder given a Record of rec.
func (s *Source[T]) recordDecoder() (func(rec *kgo.Record, v *T) error, string) {
	if s.decoder == nil {
		c, _ := sdk.CodecOf[T]()
		return func(rec *kgo.Record, v *T) error {
			if rec.Value == nil {
				return ErrTombstone
			}
			return c.DecodeJSON(rec.Value, v)
		}, "json: "
	}
	var r Record
	return func(rec *kgo.Record, v *T) error {
		r = Record{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value,
			Headers: r.Headers[:0], Timestamp: rec.Timestamp}
		for _, h := range rec.Headers {
			r.Headers = append(r.Headers, Header{Key: h.Key, Value: h.Value})
		}
		return s.decoder(&r, v)
	}, "decode: "
}
