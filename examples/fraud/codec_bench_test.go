package fraud

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/weirflow/weir/sdk"
)

// benchTxns returns n deterministic transactions.
func benchTxns(n int) []Txn {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	txns := make([]Txn, n)
	for i := range txns {
		txns[i] = Txn{
			UserID:   fmt.Sprintf("user-%d", r.IntN(10_000)),
			Amount:   r.Int64N(5_000),
			Merchant: fmt.Sprintf("merchant-%d", r.IntN(500)),
			At:       base.Add(time.Duration(i)*time.Second + time.Duration(r.IntN(1e6))*time.Microsecond),
		}
	}
	return txns
}

// BenchmarkCodec compares the generated codecs of Txn with encoding/gob
// (one stream encoder and decoder, as an exchange would use them) and
// encoding/json. One op is one record.
func BenchmarkCodec(b *testing.B) {
	const n = 1024
	txns := benchTxns(n)
	c, err := sdk.CodecOf[Txn]()
	if err != nil {
		b.Fatal(err)
	}
	binRecs := make([][]byte, n)
	jsonRecs := make([][]byte, n)
	var binBytes, jsonBytes int
	for i := range txns {
		binRecs[i] = c.AppendBinary(nil, &txns[i])
		jsonRecs[i] = c.AppendJSON(nil, &txns[i])
		binBytes += len(binRecs[i])
		jsonBytes += len(jsonRecs[i])
	}

	b.Run("gen-binary/encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(binBytes / n))
		buf := make([]byte, 0, 256)
		for i := 0; b.Loop(); i++ {
			buf = c.AppendBinary(buf[:0], &txns[i%n])
		}
	})
	b.Run("gen-binary/decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(binBytes / n))
		var v Txn
		for i := 0; b.Loop(); i++ {
			if _, err := c.DecodeBinary(binRecs[i%n], &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gen-json/encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(jsonBytes / n))
		buf := make([]byte, 0, 256)
		for i := 0; b.Loop(); i++ {
			buf = c.AppendJSON(buf[:0], &txns[i%n])
		}
	})
	b.Run("gen-json/decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(jsonBytes / n))
		var v Txn
		for i := 0; b.Loop(); i++ {
			if err := c.DecodeJSON(jsonRecs[i%n], &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gob/encode", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		for i := 0; b.Loop(); i++ {
			if buf.Len() > 1<<20 {
				buf.Reset()
			}
			if err := enc.Encode(&txns[i%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gob/decode", func(b *testing.B) {
		var stream bytes.Buffer
		enc := gob.NewEncoder(&stream)
		for i := range txns {
			if err := enc.Encode(&txns[i]); err != nil {
				b.Fatal(err)
			}
		}
		data := stream.Bytes()
		b.ReportAllocs()
		dec := gob.NewDecoder(bytes.NewReader(data))
		var v Txn
		for b.Loop() {
			err := dec.Decode(&v)
			if err == io.EOF {
				dec = gob.NewDecoder(bytes.NewReader(data)) // type info again every 1,024 records
				err = dec.Decode(&v)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json/encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(jsonBytes / n))
		for i := 0; b.Loop(); i++ {
			if _, err := json.Marshal(&txns[i%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json/decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(jsonBytes / n))
		var v Txn
		for i := 0; b.Loop(); i++ {
			if err := json.Unmarshal(jsonRecs[i%n], &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCodecMatchesEncodingJSON checks that the generated JSON of Txn reads
// back the same with encoding/json and the other way round.
func TestCodecMatchesEncodingJSON(t *testing.T) {
	c, err := sdk.CodecOf[Txn]()
	if err != nil {
		t.Fatal(err)
	}
	for _, txn := range benchTxns(16) {
		var viaStd Txn
		if err := json.Unmarshal(c.AppendJSON(nil, &txn), &viaStd); err != nil || viaStd != txn {
			t.Fatalf("encoding/json read %+v, %v; want %+v", viaStd, err, txn)
		}
		std, _ := json.Marshal(&txn)
		var viaGen Txn
		if err := c.DecodeJSON(std, &viaGen); err != nil || viaGen != txn {
			t.Fatalf("generated decoder read %+v, %v; want %+v", viaGen, err, txn)
		}
	}
	var v Txn
	if err := c.DecodeJSON([]byte(`{"user_id":"u","amount":"12","ts":"2024-01-01T00:05:00Z"}`), &v); err == nil || err.Error() != "field amount: want number, got string" {
		t.Errorf("error = %v", err)
	}
	if err := c.DecodeJSON([]byte(`{"user_id":"u","amount":12}`), &v); err == nil || err.Error() != "missing event time field ts" {
		t.Errorf("error = %v", err)
	}
}

// BenchmarkKernelLarge compares the generated filter kernel of Large with
// the generic path (a loop calling the function through a func value) and
// a hand-written loop. One op is one 1,024-row batch.
func BenchmarkKernelLarge(b *testing.B) {
	in := sdk.NewBatch[Txn](1024)
	for i, t := range benchTxns(1024) {
		in.Append(t, sdk.Timestamp(i))
	}
	out := sdk.NewBatch[Txn](1024)
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out.Reset()
			weirFilterLarge(in, out)
		}
	})
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		fn := func(t Txn) bool { return Large(t) }
		var f func(Txn) bool = Large
		if b.N < 0 {
			f = fn // keep f opaque to the compiler
		}
		for b.Loop() {
			out.Reset()
			for i := range in.Values {
				if f(in.Values[i]) {
					out.Values = append(out.Values, in.Values[i])
					out.Times = append(out.Times, in.Times[i])
				}
			}
		}
	})
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out.Reset()
			for i, t := range in.Values {
				if t.Amount > Threshold {
					out.Values = append(out.Values, t)
					out.Times = append(out.Times, in.Times[i])
				}
			}
		}
	})
}
