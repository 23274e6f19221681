package codec

import (
	"time"

	"github.com/weirflow/weir/internal/base"
)

// The hash functions of generated code. Hashes are stable across processes,
// platforms and releases: shuffles and key-group assignment depend on them.
// They are internal/base's key hash (FNV-1a finished with a 64-bit mixer),
// its one implementation; these names are the API generated code calls.

// Mix finalizes a 64-bit hash (the splitmix64 finalizer).
func Mix(h uint64) uint64 { return base.Mix(h) }

// HashString hashes s.
func HashString(s string) uint64 { return base.HashString(s) }

// HashBytes hashes b; equal to HashString(string(b)).
func HashBytes(b []byte) uint64 { return base.HashBytes(b) }

// HashUint64 hashes an integer (signed values are converted with uint64(v)).
func HashUint64(v uint64) uint64 { return base.HashUint64(v) }

// HashFloat64 hashes a float by its bits, with -0 equal to +0.
func HashFloat64(f float64) uint64 { return base.HashFloat64(f) }

// Combine folds the hash of one more field into h.
func Combine(h, field uint64) uint64 { return base.Combine(h, field) }

// HashBool hashes b as HashUint64(1) or HashUint64(0).
func HashBool(b bool) uint64 { return base.HashBool(b) }

// HashInt hashes a signed integer; equal to HashUint64(uint64(v)).
func HashInt(v int64) uint64 { return base.HashInt(v) }

// HashTime hashes the instant t (its location does not matter).
func HashTime(t time.Time) uint64 { return base.HashTime(t) }
