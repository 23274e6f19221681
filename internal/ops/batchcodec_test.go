package ops

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/weirflow/weir/internal/base"
)

var strCodec = Codec[string]{
	Append: func(dst []byte, v *string) []byte {
		dst = binary.AppendUvarint(dst, uint64(len(*v)))
		return append(dst, *v...)
	},
	Decode: func(src []byte, v *string) (int, error) {
		n, k := binary.Uvarint(src)
		if k <= 0 || uint64(len(src)-k) < n {
			return 0, errors.New("short string")
		}
		*v = string(src[k : k+int(n)])
		return k + int(n), nil
	},
}

func TestBatchCodecRoundTrip(t *testing.T) {
	bc := NewBatchCodec(strCodec)
	marked := base.NewBatch[string](4)
	marked.AppendMarked("a", 1_000_000, base.MinTimestamp) // a split's first record
	marked.AppendMarked("", 999_000, 500)
	marked.AppendMarked("ccc", base.MaxTimestamp, base.MaxTimestamp-1)
	plain := base.NewBatch[string](2)
	plain.Append("x", -5)
	plain.Append("y", base.MinTimestamp)
	for name, b := range map[string]*base.Batch[string]{"marked": marked, "plain": plain, "empty": base.NewBatch[string](0)} {
		enc := bc.AppendBatch([]byte("prefix"), b)
		got, err := bc.DecodeBatch(enc[len("prefix"):])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g := got.(*base.Batch[string])
		if !slices.Equal(g.Values, b.Values) || !slices.Equal(g.Times, b.Times) || !slices.Equal(g.Marks, b.Marks) {
			t.Errorf("%s: decoded %+v, want %+v", name, g, b)
		}
	}
}

func TestBatchCodecCorrupt(t *testing.T) {
	bc := NewBatchCodec(strCodec)
	b := base.NewBatch[string](2)
	b.Append("hello", 10)
	b.Append("world", 20)
	enc := bc.AppendBatch(nil, b)
	far := base.NewBatch[string](2)
	far.Append("a", 1_000_000) // times of three bytes each
	far.Append("b", 3_000_000)
	farEnc := bc.AppendBatch(nil, far)
	badFlag := append([]byte{}, enc...)
	badFlag[1] = 2
	for _, tc := range []struct {
		name string
		src  []byte
		want string
	}{
		{"empty", nil, "bad header"},
		{"huge count", binary.AppendUvarint(nil, 1<<40), "bad header"},
		{"more rows than bytes", enc[:3], "bad header"},
		{"a marks flag that is neither 0 nor 1", badFlag, "bad header"},
		{"truncated times", farEnc[:5], "truncated times"},
		{"truncated row", enc[:len(enc)-2], "row 1"},
		{"trailing bytes", append(append([]byte{}, enc...), 0), "after the last row"},
	} {
		_, err := bc.DecodeBatch(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
