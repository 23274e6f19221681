package base

import (
	"math"
	"time"
	"unsafe"
)

// The key hash: what a key's key group (and so its task, and where its
// state lives in a checkpoint) is computed from. Values are stable across
// processes, platforms and releases: shuffles, checkpoints and savepoints
// depend on them, so changing one is a breaking change (hash_test.go pins
// them). FNV-1a over the bytes, finished with a 64-bit mixer so that the
// low bits (key group = hash mod maxParallelism) are well spread.
//
// This is the only implementation: sdk/codec exports it to generated code
// (codec.HashString, codec.Combine, ...) and the SDK and operators use
// [BuiltinHash] for keys of basic types.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Mix finalizes a 64-bit hash (the splitmix64 finalizer).
func Mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// HashString hashes s.
func HashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return Mix(h)
}

// HashBytes hashes b; equal to HashString(string(b)).
func HashBytes(b []byte) uint64 {
	return HashString(unsafe.String(unsafe.SliceData(b), len(b)))
}

// HashUint64 hashes an integer (signed values are converted with uint64(v)).
func HashUint64(v uint64) uint64 { return Mix(v ^ fnvOffset) }

// HashInt hashes a signed integer; equal to HashUint64(uint64(v)).
func HashInt(v int64) uint64 { return HashUint64(uint64(v)) }

// HashFloat64 hashes a float by its bits, with -0 equal to +0.
func HashFloat64(f float64) uint64 {
	if f == 0 {
		f = 0
	}
	return HashUint64(math.Float64bits(f))
}

// HashBool hashes b as HashUint64(1) or HashUint64(0).
func HashBool(b bool) uint64 {
	if b {
		return HashUint64(1)
	}
	return HashUint64(0)
}

// HashTime hashes the instant t (its location does not matter).
func HashTime(t time.Time) uint64 {
	return Combine(HashUint64(uint64(t.Unix())), uint64(t.Nanosecond()))
}

// Combine folds the hash of one more field into h.
func Combine(h, field uint64) uint64 { return Mix(h*31 + field) }

// BuiltinHash returns the key hash of a basic key type (string, bool, the
// integer and float types; not named types over them), or nil when K is
// not one: records get theirs from generated code.
func BuiltinHash[K comparable]() func(K) uint64 {
	var zero K
	switch any(zero).(type) {
	case string:
		return func(k K) uint64 { return HashString(*(*string)(unsafe.Pointer(&k))) }
	case int:
		return func(k K) uint64 { return HashUint64(uint64(*(*int)(unsafe.Pointer(&k)))) }
	case int64:
		return func(k K) uint64 { return HashUint64(uint64(*(*int64)(unsafe.Pointer(&k)))) }
	case int32:
		return func(k K) uint64 { return HashUint64(uint64(*(*int32)(unsafe.Pointer(&k)))) }
	case int16:
		return func(k K) uint64 { return HashUint64(uint64(*(*int16)(unsafe.Pointer(&k)))) }
	case int8:
		return func(k K) uint64 { return HashUint64(uint64(*(*int8)(unsafe.Pointer(&k)))) }
	case uint:
		return func(k K) uint64 { return HashUint64(uint64(*(*uint)(unsafe.Pointer(&k)))) }
	case uint64:
		return func(k K) uint64 { return HashUint64(*(*uint64)(unsafe.Pointer(&k))) }
	case uint32:
		return func(k K) uint64 { return HashUint64(uint64(*(*uint32)(unsafe.Pointer(&k)))) }
	case uint16:
		return func(k K) uint64 { return HashUint64(uint64(*(*uint16)(unsafe.Pointer(&k)))) }
	case uint8:
		return func(k K) uint64 { return HashUint64(uint64(*(*uint8)(unsafe.Pointer(&k)))) }
	case bool:
		return func(k K) uint64 { return HashBool(*(*bool)(unsafe.Pointer(&k))) }
	case float64:
		return func(k K) uint64 { return HashFloat64(*(*float64)(unsafe.Pointer(&k))) }
	case float32:
		return func(k K) uint64 { return HashFloat64(float64(*(*float32)(unsafe.Pointer(&k)))) }
	}
	return nil
}
