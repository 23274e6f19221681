package job

import (
	"strings"
	"testing"
	"time"
)

type keyed struct {
	User   string    `json:"user_id"`
	Shard  int32     `json:"shard"`
	ID     uint64    `json:"-"`
	Raw    []byte    `json:"raw"`
	Flag   bool      `json:"flag"`
	At     time.Time `json:"ts"`
	hidden string
}

func TestFieldKey(t *testing.T) {
	r := keyed{User: "u1", Shard: -3, ID: 42, Raw: []byte("r"), Flag: true, hidden: "h"}
	for _, tc := range []struct{ field, want string }{
		{"user_id", "u1"}, {"User", "u1"}, {"shard", "-3"}, {"ID", "42"}, {"raw", "r"}, {"flag", "true"},
	} {
		key, err := fieldKey[keyed](tc.field)
		if err != nil {
			t.Fatalf("%s: %v", tc.field, err)
		}
		if got := string(key(&r)); got != tc.want {
			t.Errorf("%s: key %q, want %q", tc.field, got, tc.want)
		}
	}
	for _, tc := range []struct{ field, err string }{
		{"nope", "--out-key=nope: job.keyed has no field nope; its fields are user_id, shard, ID, raw, flag, ts"},
		{"hidden", "has no field hidden"},
		{"ts", "field At of job.keyed is a time.Time; a key must be a string, []byte, integer or bool"},
	} {
		if _, err := fieldKey[keyed](tc.field); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.field, err, tc.err)
		}
	}
	if _, err := fieldKey[string]("x"); err == nil || !strings.Contains(err.Error(), "not a struct") {
		t.Errorf("a string record: %v", err)
	}
}
