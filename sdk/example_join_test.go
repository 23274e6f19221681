package sdk_test

import (
	"fmt"
	"time"

	"github.com/weirflow/weir/runner/runnertest"
	"github.com/weirflow/weir/sdk"
	"github.com/weirflow/weir/sdk/codec"
)

// Profile is a version of a user's profile: a changelog record.
type Profile struct {
	User    string
	Segment string
	At      time.Time
}

// The joins keep records in keyed state, so their types need codecs:
// weir gen writes these for //weir:record types; the examples register
// them by hand.
func init() {
	sdk.RegisterRecord(sdk.RecordCodec[Click]{
		Name: "sdk_test.Click",
		AppendBinary: func(dst []byte, v *Click) []byte {
			return codec.AppendTime(codec.AppendString(codec.AppendString(dst, v.User), v.Page), v.At)
		},
		DecodeBinary: func(src []byte, v *Click) (int, error) {
			r := codec.NewReader(src)
			v.User, v.Page, v.At = r.String(), r.String(), r.Time()
			return r.Done()
		},
	})
	sdk.RegisterRecord(sdk.RecordCodec[Payment]{
		Name: "sdk_test.Payment",
		AppendBinary: func(dst []byte, v *Payment) []byte {
			return codec.AppendTime(codec.AppendInt(codec.AppendString(dst, v.User), v.Amount), v.At)
		},
		DecodeBinary: func(src []byte, v *Payment) (int, error) {
			r := codec.NewReader(src)
			v.User, v.Amount, v.At = r.String(), r.Int(), r.Time()
			return r.Done()
		},
	})
	sdk.RegisterRecord(sdk.RecordCodec[Profile]{
		Name: "sdk_test.Profile",
		AppendBinary: func(dst []byte, v *Profile) []byte {
			return codec.AppendTime(codec.AppendString(codec.AppendString(dst, v.User), v.Segment), v.At)
		},
		DecodeBinary: func(src []byte, v *Profile) (int, error) {
			r := codec.NewReader(src)
			v.User, v.Segment, v.At = r.String(), r.String(), r.Time()
			return r.Done()
		},
	})
}

// Each click with the segment of the user's profile as it was at the
// click's time, whatever order clicks and profile changes arrive in.
func ExampleTemporalJoin() {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	clicks := &runnertest.Source[Click]{Data: [][]Click{{
		{"ann", "/home", at(1)},
		{"bob", "/home", at(2)},
		{"ann", "/cart", at(6)},
		{"ann", "/pay", at(4)},
	}}}
	profiles := &runnertest.Source[Profile]{Data: [][]Profile{{
		{"ann", "new", at(0)},
		{"ann", "regular", at(5)},
		{"bob", "new", at(3)}, // after bob's click: no profile for it
	}}}
	p := sdk.NewPipeline()
	c := sdk.Read(p, clicks, sdk.Timestamps(func(c Click) time.Time { return c.At }), sdk.BoundedOutOfOrderness(5*time.Minute))
	pr := sdk.Read(p, profiles, sdk.Timestamps(func(p Profile) time.Time { return p.At }))
	enriched := sdk.TemporalJoin(
		sdk.KeyBy(c, userOf),
		sdk.KeyBy(pr, func(p Profile) string { return p.User }),
		func(c Click, p Profile, ok bool) string {
			if !ok {
				p.Segment = "-"
			}
			return fmt.Sprintf("%s %s %s %s", c.At.Format("15:04"), c.User, c.Page, p.Segment)
		})
	out := &runnertest.Sink[string]{}
	sdk.Write(enriched, out)
	run(p, out)
	// Output:
	// 12:01 ann /home new
	// 12:02 bob /home -
	// 12:04 ann /pay new
	// 12:06 ann /cart regular
}

// Payments and clicks of the same user no more than two minutes apart,
// either way.
func ExampleIntervalJoin() {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	clicks := &runnertest.Source[Click]{Data: [][]Click{{
		{"ann", "/pay", at(1)},
		{"bob", "/pay", at(2)},
		{"ann", "/pay", at(9)},
	}}}
	pays := &runnertest.Source[Payment]{Data: [][]Payment{{
		{"ann", 900, at(2)},
		{"bob", 20, at(5)},
		{"ann", 40, at(10)},
	}}}
	p := sdk.NewPipeline()
	c := sdk.KeyBy(sdk.Read(p, clicks, sdk.Timestamps(func(c Click) time.Time { return c.At })), userOf)
	pay := sdk.KeyBy(sdk.Read(p, pays, sdk.Timestamps(paymentTime)), payer)
	pairs := sdk.IntervalJoin(c, pay, -2*time.Minute, 2*time.Minute, func(c Click, p Payment) string {
		return fmt.Sprintf("%s: click %s, payment %d at %s", c.User, c.At.Format("15:04"), p.Amount, p.At.Format("15:04"))
	})
	out := &runnertest.Sink[string]{}
	sdk.Write(pairs, out)
	run(p, out)
	// Output:
	// ann: click 12:01, payment 900 at 12:02
	// ann: click 12:09, payment 40 at 12:10
}
