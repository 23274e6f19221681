package roundtrip

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/weirflow/weir/sdk"
)

func TestEpochEventTimes(t *testing.T) {
	clicks, err := sdk.CodecOf[Click]()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ms   int64
		want sdk.Timestamp
	}{
		{at.UnixMilli(), sdk.TimestampOf(at)},
		{0, 0}, // the epoch is a time, not a missing one
		{-1, -1000},
		{math.MaxInt64, sdk.TimestampOf(time.Unix(1<<62, 0))}, // saturates
		{math.MinInt64, sdk.TimestampOf(time.Unix(-1<<62, 0))},
	} {
		c := Click{User: "u", TS: tc.ms}
		if got, ok := clicks.EventTime(&c); !ok || got != tc.want {
			t.Errorf("ms %d: event time %d %v, want %d", tc.ms, got, ok, tc.want)
		}
	}
	views, err := sdk.CodecOf[View]()
	if err != nil {
		t.Fatal(err)
	}
	v := View{Page: "/", At: Micros(at.UnixMicro())}
	if got, ok := views.EventTime(&v); !ok || got != sdk.TimestampOf(at) {
		t.Errorf("view: event time %d %v, want %d", got, ok, sdk.TimestampOf(at))
	}
	// JSON: the number round-trips; a missing event time is an error.
	var c Click
	if err := clicks.DecodeJSON([]byte(`{"user":"a","ts":1764939600000}`), &c); err != nil || c.TS != 1764939600000 {
		t.Errorf("decode: %+v %v", c, err)
	}
	if got := string(clicks.AppendJSON(nil, &c)); got != `{"user":"a","ts":1764939600000}` {
		t.Errorf("encode: %s", got)
	}
	if err := clicks.DecodeJSON([]byte(`{"user":"a"}`), &c); err == nil || !strings.Contains(err.Error(), "missing event time field ts") {
		t.Errorf("decode without ts: %v", err)
	}
}
