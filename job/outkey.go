package job

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// fieldKey returns the Kafka record key of --out-key=name for records of
// type T: the field of T whose JSON name (else Go name) is name, as bytes
// (a string or []byte as is, an integer in decimal, a bool as true or
// false). A field that is missing or of another type is an error naming
// what would do.
func fieldKey[T any](name string) (func(*T) []byte, error) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("--out-key=%s: the output's records are %s, not a struct with fields", name, t)
	}
	var names []string
	idx := -1
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		js, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if js == "" || js == "-" {
			js = f.Name
		}
		names = append(names, js)
		if js == name || f.Name == name {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("--out-key=%s: %s has no field %s; its fields are %s", name, t, name, strings.Join(names, ", "))
	}
	f := t.Field(idx)
	var key func(reflect.Value) []byte
	switch k := f.Type.Kind(); {
	case k == reflect.String:
		key = func(v reflect.Value) []byte { return []byte(v.String()) }
	case k == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8:
		key = func(v reflect.Value) []byte { return append([]byte(nil), v.Bytes()...) }
	case k >= reflect.Int && k <= reflect.Int64:
		key = func(v reflect.Value) []byte { return strconv.AppendInt(nil, v.Int(), 10) }
	case k >= reflect.Uint && k <= reflect.Uint64:
		key = func(v reflect.Value) []byte { return strconv.AppendUint(nil, v.Uint(), 10) }
	case k == reflect.Bool:
		key = func(v reflect.Value) []byte { return strconv.AppendBool(nil, v.Bool()) }
	default:
		return nil, fmt.Errorf("--out-key=%s: field %s of %s is a %s; a key must be a string, []byte, integer or bool", name, f.Name, t, f.Type)
	}
	return func(v *T) []byte { return key(reflect.ValueOf(v).Elem().Field(idx)) }, nil
}
