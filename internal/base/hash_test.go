package base

import (
	"math"
	"testing"
	"time"
)

// TestHashPinned pins key-hash values: shuffles, checkpoints and savepoints
// place keys by them, so a change here breaks restoring state written by an
// earlier weir. Never update these values to make the test pass.
func TestHashPinned(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  uint64
		want uint64
	}{
		{`HashString("")`, HashString(""), 0xf52a15e9a9b5e89b},
		{`HashString("user-42")`, HashString("user-42"), 0x7a1596f0e94b5793},
		{`HashBytes("user-42")`, HashBytes([]byte("user-42")), 0x7a1596f0e94b5793},
		{"HashUint64(0)", HashUint64(0), 0xf52a15e9a9b5e89b},
		{"HashInt(-1)", HashInt(-1), 0x7ddc93b2b3a915af},
		{"HashFloat64(1.5)", HashFloat64(1.5), 0xb0935ff2930cb2d8},
		{"HashFloat64(-0)", HashFloat64(math.Copysign(0, -1)), HashFloat64(0)},
		{"HashBool(true)", HashBool(true), 0x7f555c6a530fdf81},
		{"HashBool(false)", HashBool(false), HashUint64(0)},
		{"HashTime", HashTime(time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)), 0x7104b96545b9b1d9},
		{"HashTime in another zone", HashTime(time.Date(2024, 1, 2, 4, 4, 5, 6000, time.FixedZone("X", 3600))), 0x7104b96545b9b1d9},
		{"Combine(1, 2)", Combine(1, 2), 0xb4941eef820868c7},
		{"Mix(42)", Mix(42), 0xa759ea27d4727622},
		{"BuiltinHash[string]", BuiltinHash[string]()("user-42"), 0x7a1596f0e94b5793},
		{"BuiltinHash[int32](-7)", BuiltinHash[int32]()(-7), 0xc1d39a33270ff02e},
		{"BuiltinHash[int](-7)", BuiltinHash[int]()(-7), 0xc1d39a33270ff02e},
		{"BuiltinHash[uint8](0)", BuiltinHash[uint8]()(0), 0xf52a15e9a9b5e89b},
		{"BuiltinHash[bool](true)", BuiltinHash[bool]()(true), 0x7f555c6a530fdf81},
		{"BuiltinHash[float32](1.5)", BuiltinHash[float32]()(1.5), 0xb0935ff2930cb2d8},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	// Key groups of the default 128, as a checkpoint records them.
	for key, want := range map[string]KeyGroup{"u1": 31, "u2": 112, "user-0042": 61} {
		if got := KeyGroupOf(HashString(key), DefaultMaxParallelism); got != want {
			t.Errorf("KeyGroupOf(HashString(%q), 128) = %d, want %d", key, got, want)
		}
	}
	type named string
	if BuiltinHash[named]() != nil || BuiltinHash[struct{ A int }]() != nil {
		t.Error("BuiltinHash of a named or struct type is not nil")
	}
}
