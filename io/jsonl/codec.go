package jsonl

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/weirflow/weir/sdk"
)

type codec[T any] struct {
	decode     func([]byte, *T) error
	appendJSON func([]byte, *T) []byte
}

// codecFor returns the registered codec of T or, for [sdk.DeadLetter], the
// built-in one; otherwise the sdk's error saying how to generate a codec.
func codecFor[T any]() (codec[T], error) {
	if c, err := sdk.CodecOf[T](); err == nil {
		if c.DecodeJSON == nil || c.AppendJSON == nil {
			return codec[T]{}, fmt.Errorf("jsonl: codec of %s has no JSON functions; regenerate it with \"go generate ./...\"", c.Name)
		}
		return codec[T]{decode: c.DecodeJSON, appendJSON: c.AppendJSON}, nil
	} else if reflect.TypeFor[T]() != reflect.TypeFor[sdk.DeadLetter]() {
		return codec[T]{}, err
	}
	dl := codec[sdk.DeadLetter]{decode: decodeDeadLetter, appendJSON: AppendDeadLetter}
	return any(dl).(codec[T]), nil
}

// deadLetterJSON is the JSON form of a dead letter: the record as a string
// so that a person can read it (bytes that are not UTF-8 become U+FFFD).
type deadLetterJSON struct {
	Record string `json:"record"`
	Reason string `json:"reason"`
	Source string `json:"source"`
	Input  string `json:"input,omitempty"`
}

// AppendDeadLetter appends d as one JSON object,
// {"record": "...", "reason": "...", "source": "...", "input": "..."}
// (input only when known), to dst.
func AppendDeadLetter(dst []byte, d *sdk.DeadLetter) []byte {
	// A struct of strings always marshals.
	b, _ := json.Marshal(deadLetterJSON{Record: string(d.Record), Reason: d.Reason, Source: d.Source, Input: d.Input})
	return append(dst, b...)
}

func decodeDeadLetter(src []byte, d *sdk.DeadLetter) error {
	var j deadLetterJSON
	if err := json.Unmarshal(src, &j); err != nil {
		return err
	}
	*d = sdk.DeadLetter{Reason: j.Reason, Source: j.Source, Input: j.Input}
	if j.Record != "" {
		d.Record = []byte(j.Record)
	}
	return nil
}
