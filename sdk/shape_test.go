package sdk

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

type shapeLabel string

type shapeInner struct {
	N    int32             `json:"n"`
	Tags map[string][]byte `json:"tags,omitempty"`
}

type shapeRec struct {
	Name   string        `json:"name" parquet:"name"`
	At     time.Time     `json:"ts" weir:"eventtime"`
	In     *shapeInner   `json:"in"`
	Ins    []shapeInner  `json:"-"`
	Labels []shapeLabel  `json:"-,"`
	D      time.Duration `json:",omitempty"`
	_      int
	hidden bool
}

// The shape is the fields generated code depends on, with the JSON names
// weir gen derives; parquet tags are not part of it.
func TestRecordShape(t *testing.T) {
	got := recordShape(reflect.TypeFor[shapeRec]())
	want := []string{
		`shapeRec.Name string json:"name"`,
		`shapeRec.At time.Time json:"ts" weir:"eventtime"`,
		`shapeRec.In *sdk.shapeInner json:"in"`,
		`shapeRec.Ins []sdk.shapeInner`,
		`shapeRec.Labels []sdk.shapeLabel(string) json:"-"`,
		`shapeRec.D time.Duration(int64) json:"D"`,
		`shapeRec.hidden bool`,
		`shapeInner.N int32 json:"n"`,
		`shapeInner.Tags map[string][]uint8 json:"tags"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("recordShape:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestShapeChange(t *testing.T) {
	gen := []string{
		`Txn.UserID string json:"user_id"`,
		`Txn.Amount int64 json:"amount"`,
		`Txn.At time.Time json:"ts" weir:"eventtime"`,
		`Geo.Lat float64 json:"lat"`,
	}
	with := func(edit func([]string) []string) []string { return edit(slices.Clone(gen)) }
	for _, tc := range []struct {
		name     string
		compiled []string
		want     string
	}{
		{"same", gen, ""},
		{"new field", with(func(s []string) []string {
			return slices.Insert(s, 3, `Txn.Country string json:"country"`)
		}), "field Country is new"},
		{"gone field", with(func(s []string) []string { return slices.Delete(s, 1, 2) }), "field Amount is gone"},
		{"type", with(func(s []string) []string {
			s[1] = `Txn.Amount float64 json:"amount"`
			return s
		}), "field Amount is float64, was int64"},
		{"json name", with(func(s []string) []string {
			s[1] = `Txn.Amount int64 json:"amt"`
			return s
		}), `field Amount has json:"amt", had json:"amount"`},
		{"event time tag dropped", with(func(s []string) []string {
			s[2] = `Txn.At time.Time json:"ts"`
			return s
		}), `field At has json:"ts", had json:"ts" weir:"eventtime"`},
		{"left out of JSON", with(func(s []string) []string {
			s[0] = `Txn.UserID string`
			return s
		}), `field UserID has no tags, had json:"user_id"`},
		{"nested", with(func(s []string) []string { return append(s, `Geo.Lon float64 json:"lon"`) }), "field Geo.Lon is new"},
		{"order", with(func(s []string) []string {
			s[0], s[1] = s[1], s[0]
			return s
		}), "its fields are in another order"},
		{"many", with(func(s []string) []string {
			return append(s[1:], `Txn.A int`, `Txn.B int`, `Txn.C int`)
		}), "field A is new, field B is new, field C is new, and 1 more"},
	} {
		if got := shapeChange("Txn", gen, tc.compiled); got != tc.want {
			t.Errorf("%s: shapeChange = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// staleRec stands for a record changed after weir gen ran: its generated
// shape lacks Country.
type staleRec struct {
	User    string `json:"user"`
	Country string `json:"country"`
}

func init() {
	RegisterRecord(RecordCodec[staleRec]{
		Name:  "sdk.staleRec",
		Shape: []string{`staleRec.User string json:"user"`},
	})
}

const staleRecLine = `sdk: sdk.staleRec changed since weir_gen.go was generated (field Country is new); run "go generate ./..."`

func TestCodecOfStale(t *testing.T) {
	c, err := CodecOf[staleRec]()
	if c != nil || err == nil || err.Error() != staleRecLine {
		t.Fatalf("CodecOf = %v, %v; want the stale error %q", c, err, staleRecLine)
	}
	var se StaleCodecError
	if !errors.As(err, &se) || se.Type != "sdk.staleRec" || se.Change != "field Country is new" {
		t.Errorf("error %#v is not the StaleCodecError", err)
	}
	// A codec whose shape matches, or a hand-written one without a shape,
	// is not stale.
	if _, err := CodecOf[userRecord](); err != nil {
		t.Errorf("hand-written codec: %v", err)
	}
}
