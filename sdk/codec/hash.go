package codec

import (
	"math"
	"time"
	"unsafe"
)

// Hashes are stable across processes, platforms and releases: shuffles and
// key-group assignment depend on them. FNV-1a over the bytes, finished with
// a 64-bit mixer so that the low bits (key group = hash mod 128) are well
// spread.

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

// HashFloat64 hashes a float by its bits, with -0 equal to +0.
func HashFloat64(f float64) uint64 {
	if f == 0 {
		f = 0
	}
	return HashUint64(math.Float64bits(f))
}

// Combine folds the hash of one more field into h.
func Combine(h, field uint64) uint64 { return Mix(h*31 + field) }

// HashBool hashes b as HashUint64(1) or HashUint64(0).
func HashBool(b bool) uint64 {
	if b {
		return HashUint64(1)
	}
	return HashUint64(0)
}

// HashInt hashes a signed integer; equal to HashUint64(uint64(v)).
func HashInt(v int64) uint64 { return HashUint64(uint64(v)) }

// HashTime hashes the instant t (its location does not matter).
func HashTime(t time.Time) uint64 {
	return Combine(HashUint64(uint64(t.Unix())), uint64(t.Nanosecond()))
}
