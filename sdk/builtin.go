package sdk

import "github.com/weirflow/weir/sdk/codec"

// The codecs of the basic types, so that a collection of strings or
// int64s can cross a shuffle or go to a jsonl sink without generated code.
// The JSON form of a basic value is a bare JSON value ("abc", 12, true,
// "2024-01-01T00:05:00Z", base64 for []byte). Hashes agree with the
// built-in key hashes of the partitioner. None has an event time.
func init() {
	RegisterRecord(basicCodec("string", codec.AppendString, (*codec.Reader).String,
		codec.AppendJSONString, (*codec.JSONReader).String, codec.HashString))
	RegisterRecord(basicCodec("int",
		func(dst []byte, v int) []byte { return codec.AppendInt(dst, int64(v)) },
		func(r *codec.Reader) int { return int(r.Int()) },
		func(dst []byte, v int) []byte { return codec.AppendJSONInt(dst, int64(v)) },
		func(d *codec.JSONReader) int { return int(d.Int(64)) },
		func(v int) uint64 { return codec.HashInt(int64(v)) }))
	RegisterRecord(basicCodec("int64", codec.AppendInt, (*codec.Reader).Int,
		codec.AppendJSONInt, func(d *codec.JSONReader) int64 { return d.Int(64) }, codec.HashInt))
	RegisterRecord(basicCodec("int32",
		func(dst []byte, v int32) []byte { return codec.AppendInt(dst, int64(v)) },
		func(r *codec.Reader) int32 { return int32(r.Int()) },
		func(dst []byte, v int32) []byte { return codec.AppendJSONInt(dst, int64(v)) },
		func(d *codec.JSONReader) int32 { return int32(d.Int(32)) },
		func(v int32) uint64 { return codec.HashInt(int64(v)) }))
	RegisterRecord(basicCodec("uint64", codec.AppendUint, (*codec.Reader).Uint,
		codec.AppendJSONUint, func(d *codec.JSONReader) uint64 { return d.Uint(64) }, codec.HashUint64))
	RegisterRecord(basicCodec("float64", codec.AppendFloat64, (*codec.Reader).Float64,
		func(dst []byte, v float64) []byte { return codec.AppendJSONFloat(dst, v, 64) },
		func(d *codec.JSONReader) float64 { return d.Float(64) }, codec.HashFloat64))
	RegisterRecord(basicCodec("bool", codec.AppendBool, (*codec.Reader).Bool,
		codec.AppendJSONBool, (*codec.JSONReader).Bool, codec.HashBool))
	RegisterRecord(basicCodec("[]byte", codec.AppendBytes, (*codec.Reader).Bytes,
		codec.AppendJSONBytes, (*codec.JSONReader).Bytes, codec.HashBytes))
	RegisterRecord(basicCodec("time.Time", codec.AppendTime, (*codec.Reader).Time,
		codec.AppendJSONTime, (*codec.JSONReader).Time, codec.HashTime))
}

// basicCodec builds the RecordCodec of a basic type from its primitives.
func basicCodec[T any](
	name string,
	appendBin func([]byte, T) []byte,
	readBin func(*codec.Reader) T,
	appendJSON func([]byte, T) []byte,
	readJSON func(*codec.JSONReader) T,
	hash func(T) uint64,
) RecordCodec[T] {
	appendBinary := func(dst []byte, v *T) []byte { return appendBin(dst, *v) }
	return RecordCodec[T]{
		Name:         name,
		AppendBinary: appendBinary,
		DecodeBinary: func(src []byte, v *T) (int, error) {
			r := codec.NewReader(src)
			*v = readBin(&r)
			return r.Done()
		},
		AppendJSON: func(dst []byte, v *T) []byte { return appendJSON(dst, *v) },
		DecodeJSON: func(src []byte, v *T) error {
			d := codec.NewJSONReader(src)
			*v = readJSON(&d)
			return d.Finish()
		},
		Hash:      func(v *T) uint64 { return hash(*v) },
		AppendKey: appendBinary,
	}
}
