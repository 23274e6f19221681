package ops

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/weirflow/weir/internal/base"
	"github.com/weirflow/weir/internal/graph"
)

// NewBatchCodec returns the network exchange's codec of *base.Batch[T],
// built on T's record codec c (which must be Ok).
//
// Encoding: the row count (uvarint), a byte telling whether the batch
// carries marks, the event times as zig-zag varint deltas from the row
// before (the first from 0), the marks likewise when present, then each
// value as c encodes it. Times within a batch are close, so a delta takes
// one to three bytes where a fixed-width time takes eight.
func NewBatchCodec[T any](c Codec[T]) graph.BatchCodec { return batchCodec[T]{c} }

type batchCodec[T any] struct{ c Codec[T] }

// maxDecodeRows bounds the row count a decoded header may claim, so a
// corrupt frame cannot make the decoder allocate without limit.
const maxDecodeRows = 1 << 24

func (bc batchCodec[T]) AppendBatch(dst []byte, batch any) []byte {
	b := batch.(*base.Batch[T])
	n := len(b.Values)
	dst = binary.AppendUvarint(dst, uint64(n))
	marked := n > 0 && b.Marked()
	if marked {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = appendDeltas(dst, b.Times)
	if marked {
		dst = appendDeltas(dst, b.Marks)
	}
	for i := range b.Values {
		dst = bc.c.Append(dst, &b.Values[i])
	}
	return dst
}

func appendDeltas(dst []byte, ts []base.Timestamp) []byte {
	var prev int64
	for _, t := range ts {
		dst = binary.AppendVarint(dst, int64(t)-prev) // wraps for ±∞ marks; decoding wraps back
		prev = int64(t)
	}
	return dst
}

func (bc batchCodec[T]) DecodeBatch(src []byte) (any, error) {
	n64, k := binary.Uvarint(src)
	// Every row takes a byte at least (its time), so a count above the
	// bytes left is corrupt: no allocation beyond what the frame can hold.
	if k <= 0 || n64 > maxDecodeRows || len(src) < k+1 || n64 > uint64(len(src)-k-1) || src[k] > 1 {
		return nil, errors.New("batch codec: bad header")
	}
	n := int(n64)
	marked := src[k] == 1
	src = src[k+1:]
	b := base.NewBatch[T](n)
	var err error
	if b.Times, src, err = decodeDeltas(b.Times, src, n); err != nil {
		return nil, err
	}
	if marked {
		if b.Marks, src, err = decodeDeltas(make([]base.Timestamp, 0, n), src, n); err != nil {
			return nil, err
		}
	}
	b.Values = b.Values[:n]
	for i := range b.Values {
		m, err := bc.c.Decode(src, &b.Values[i])
		if err != nil {
			return nil, fmt.Errorf("batch codec: row %d: %w", i, err)
		}
		src = src[m:]
	}
	if len(src) != 0 {
		return nil, fmt.Errorf("batch codec: %d bytes after the last row", len(src))
	}
	return b, nil
}

func decodeDeltas(dst []base.Timestamp, src []byte, n int) ([]base.Timestamp, []byte, error) {
	var prev int64
	for range n {
		d, k := binary.Varint(src)
		if k <= 0 {
			return nil, nil, errors.New("batch codec: truncated times")
		}
		prev += d
		dst = append(dst, base.Timestamp(prev))
		src = src[k:]
	}
	return dst, src, nil
}
