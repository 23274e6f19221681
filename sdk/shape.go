package sdk

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A record's shape is what its generated code depends on: for the record
// and every struct type of its package it reaches, one line per field, in
// order, "Struct.Field Type tags". Type is the field's type with basic
// types by kind ("uint8" for byte), named types by package name and type
// name, and a named non-struct type followed by its underlying type in
// parentheses ("roundtrip.Label(string)"); tags are the JSON name weir gen
// derives (json:"name", none when the field is left out of JSON) and the
// weir tag. Other tags (parquet) do not change generated code and are not
// part of it. Structs reached are taken breadth first, in field order.
//
// weir gen writes the shape it saw into RecordCodec.Shape; RegisterRecord
// computes the shape of the compiled type once, with reflect, and a
// difference makes the codec stale: the generated code would silently drop
// or misread a field. gen/shape.go computes the same lines from go/types;
// the two must stay in step.

// generatedFile names the file weir gen writes (gen.FileName), for messages.
const generatedFile = "weir_gen.go"

var timeType = reflect.TypeFor[time.Time]()

// recordShape returns the shape of the struct type t.
func recordShape(t reflect.Type) []string {
	lines := []string{}
	seen := map[reflect.Type]bool{t: true}
	queue := []reflect.Type{t}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for i := 0; i < s.NumField(); i++ {
			f := s.Field(i)
			if f.Name == "_" {
				continue
			}
			lines = append(lines, s.Name()+"."+f.Name+" "+shapeType(f.Type)+shapeTags(f))
			reachStructs(f.Type, t.PkgPath(), func(st reflect.Type) {
				if !seen[st] {
					seen[st] = true
					queue = append(queue, st)
				}
			})
		}
	}
	return lines
}

// named reports whether t is a defined type of some package (not a
// predeclared type such as int64).
func named(t reflect.Type) bool { return t.Name() != "" && t.PkgPath() != "" }

// reachStructs calls visit for each named struct type of package pkg that
// t refers to, in order (map keys before values).
func reachStructs(t reflect.Type, pkg string, visit func(reflect.Type)) {
	if t == timeType {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if named(t) && t.PkgPath() == pkg {
			visit(t)
		}
	case reflect.Slice, reflect.Pointer:
		reachStructs(t.Elem(), pkg, visit)
	case reflect.Map:
		reachStructs(t.Key(), pkg, visit)
		reachStructs(t.Elem(), pkg, visit)
	}
}

// shapeType renders t as in a shape line.
func shapeType(t reflect.Type) string {
	switch {
	case t == timeType:
		return "time.Time"
	case named(t) && t.Kind() == reflect.Struct:
		return t.String()
	case named(t):
		return t.String() + "(" + shapeKind(t) + ")"
	}
	return shapeKind(t)
}

// shapeKind renders t by its kind, ignoring its name.
func shapeKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return t.Kind().String()
	case reflect.Slice:
		return "[]" + shapeType(t.Elem())
	case reflect.Pointer:
		return "*" + shapeType(t.Elem())
	case reflect.Map:
		return "map[" + shapeType(t.Key()) + "]" + shapeType(t.Elem())
	}
	// A type weir gen does not support: any rendering differs from what it
	// generated for, and go generate then says what is wrong.
	return strings.ReplaceAll(t.String(), " ", "")
}

// shapeTags renders the tags of f that generated code depends on: the JSON
// name, derived as weir gen and encoding/json do, and the weir tag.
func shapeTags(f reflect.StructField) string {
	var b strings.Builder
	if name := jsonName(f); name != "" {
		b.WriteString(" json:" + strconv.Quote(name))
	}
	if w, ok := f.Tag.Lookup("weir"); ok {
		b.WriteString(" weir:" + strconv.Quote(w))
	}
	return b.String()
}

// jsonName is the JSON name of f, or "" when it is left out of JSON.
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name := f.Name
	if j, ok := f.Tag.Lookup("json"); ok {
		n, _, _ := strings.Cut(j, ",")
		switch {
		case n == "-" && !strings.Contains(j, ","):
			return ""
		case n != "":
			name = n
		}
	}
	return name
}

// StaleCodecError says that a record type changed after weir gen generated
// its code: the codecs would drop or misread fields. A pipeline that uses
// the type reports it from [Pipeline.Err], so the job refuses to start.
type StaleCodecError struct {
	Type   string // package-qualified: "fraud.Txn"
	Change string // what changed: "field Country is new"
}

// Error says which type changed, how, and what to run.
func (e StaleCodecError) Error() string {
	return fmt.Sprintf("sdk: %s changed since %s was generated (%s); run \"go generate ./...\"", e.Type, generatedFile, e.Change)
}

// shapeChange describes how the compiled shape differs from the generated
// one, or returns "" when they are equal. record is the record's own type
// name: its fields are named alone, those of nested structs as
// "Struct.Field".
func shapeChange(record string, generated, compiled []string) string {
	if slices.Equal(generated, compiled) {
		return ""
	}
	split := func(lines []string) ([]string, map[string]string) {
		keys := make([]string, 0, len(lines))
		desc := make(map[string]string, len(lines))
		for _, l := range lines {
			k, d, _ := strings.Cut(l, " ")
			if _, dup := desc[k]; !dup {
				keys = append(keys, k)
			}
			desc[k] = d
		}
		return keys, desc
	}
	genKeys, genDesc := split(generated)
	keys, desc := split(compiled)
	field := func(k string) string {
		if s, f, ok := strings.Cut(k, "."); ok && s == record {
			return "field " + f
		}
		return "field " + k
	}
	var changes []string
	for _, k := range keys {
		old, ok := genDesc[k]
		switch {
		case !ok:
			changes = append(changes, field(k)+" is new")
		case old != desc[k]:
			oldType, oldTags := splitDesc(old)
			newType, newTags := splitDesc(desc[k])
			if oldType != newType {
				changes = append(changes, fmt.Sprintf("%s is %s, was %s", field(k), newType, oldType))
			} else {
				changes = append(changes, fmt.Sprintf("%s has %s, had %s", field(k), orNone(newTags), orNone(oldTags)))
			}
		}
	}
	for _, k := range genKeys {
		if _, ok := desc[k]; !ok {
			changes = append(changes, field(k)+" is gone")
		}
	}
	switch n := len(changes); {
	case n == 0:
		return "its fields are in another order"
	case n > 3:
		changes = append(changes[:3], fmt.Sprintf("and %d more", n-3))
	}
	return strings.Join(changes, ", ")
}

// splitDesc splits the description of a field into its type and its tags.
func splitDesc(d string) (typ, tags string) {
	i := len(d)
	for _, t := range []string{` json:"`, ` weir:"`} {
		if j := strings.Index(d, t); j >= 0 && j < i {
			i = j
		}
	}
	return d[:i], strings.TrimSpace(d[i:])
}

func orNone(tags string) string {
	if tags == "" {
		return "no tags"
	}
	return tags
}
