package parquet

import (
	"path/filepath"
	"testing"
	"time"
)

type flat struct {
	UserID string    `parquet:"user_id"`
	Amount int64     `parquet:"amount"`
	At     time.Time `parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
	skip   int
}

type flatMillis struct {
	UserID string    `parquet:"user_id"`
	Amount int64     `parquet:"amount"`
	At     time.Time `parquet:"ts,timestamp(millisecond)"`
}

type intMicros struct {
	UserID string `parquet:"user_id"`
	Amount int64  `parquet:"amount"`
	At     int64  `parquet:"ts,timestamp(microsecond)"`
}

type nested struct {
	UserID string `parquet:"user_id"`
	Inner  struct {
		A int64 `parquet:"a"`
	} `parquet:"inner"`
}

// plan reports whether the column decoder reads file into T.
func plan[T any](t *testing.T, file string) bool {
	t.Helper()
	osf, f, err := openFile(file, false)
	if err != nil {
		t.Fatal(err)
	}
	defer osf.Close()
	ri := recordOf[T]()
	return planFast(ri.fast, ri.schema, f.Schema(), f.RowGroups()[0], "") != nil
}

func TestColumnDecoderChoice(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, rows any) string {
		p := filepath.Join(dir, name)
		var err error
		switch r := rows.(type) {
		case []flat:
			err = WriteFile(p, r, 0)
		case []flatMillis:
			err = WriteFile(p, r, 0)
		case []nested:
			err = WriteFile(p, r, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	micros := write("micros.parquet", []flat{{UserID: "a"}})
	millis := write("millis.parquet", []flatMillis{{UserID: "a"}})
	nest := write("nested.parquet", []nested{{UserID: "a"}})
	for _, c := range []struct {
		name string
		got  bool
		want bool
	}{
		{"flat record", plan[flat](t, micros), true},
		{"time.Time over another unit (decoder converts)", plan[flat](t, millis), true},
		{"int64 timestamp over another unit (GenericReader converts)", plan[intMicros](t, millis), false},
		{"int64 timestamp, same unit", plan[intMicros](t, micros), true},
		{"nested record", plan[nested](t, nest), false},
	} {
		if c.got != c.want {
			t.Errorf("%s: column decoder %v, want %v", c.name, c.got, c.want)
		}
	}
	if recordOf[nested]().fast != nil {
		t.Errorf("nested record has column decoder fields")
	}
}
