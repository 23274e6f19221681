package iotest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/weirflow/weir/sdk"
)

// JSONCodec returns a codec for a test record type T built on encoding/json,
// for connector tests that cannot depend on generated code. timeField is the
// JSON name of the event-time field, required when decoding as generated
// codecs require it; at reads the event time (zero means missing).
//
//	func init() { sdk.RegisterRecord(iotest.JSONCodec("ts", func(t *txn) time.Time { return t.At })) }
func JSONCodec[T any](timeField string, at func(*T) time.Time) sdk.RecordCodec[T] {
	return sdk.RecordCodec[T]{
		Name: fmt.Sprintf("%T", *new(T)),
		AppendJSON: func(dst []byte, v *T) []byte {
			b, _ := json.Marshal(v)
			return append(dst, b...)
		},
		DecodeJSON: func(src []byte, v *T) error {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(src, &m); err != nil {
				return err
			}
			if _, ok := m[timeField]; !ok {
				return fmt.Errorf("missing event time field %s", timeField)
			}
			return json.Unmarshal(src, v)
		},
		EventTime: func(v *T) (sdk.Timestamp, bool) {
			t := at(v)
			return sdk.Timestamp(t.UnixMicro()), !t.IsZero()
		},
		EventTimeField: timeField,
		// The binary form is the JSON, length-prefixed: enough for the
		// network exchange and state in tests.
		AppendBinary: func(dst []byte, v *T) []byte {
			b, _ := json.Marshal(v)
			dst = binary.AppendUvarint(dst, uint64(len(b)))
			return append(dst, b...)
		},
		DecodeBinary: func(src []byte, v *T) (int, error) {
			n, k := binary.Uvarint(src)
			if k <= 0 || uint64(len(src)-k) < n {
				return 0, fmt.Errorf("iotest: a truncated %T", *v)
			}
			return k + int(n), json.Unmarshal(src[k:k+int(n)], v)
		},
	}
}
