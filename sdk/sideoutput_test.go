package sdk

import (
	"testing"
	"time"
)

// TestSideOutputErrors: a side output of a transform that has none, of the
// wrong type for a join's late rows, or read with two types, is refused
// when the pipeline is built; a broadcast process from another pipeline
// too.
func TestSideOutputErrors(t *testing.T) {
	p := NewPipeline()
	st := Timestamps(func(string) time.Time { return time.Time{} })
	r := KeyBy(Read[string](p, nullSource[string]{}, st), func(s string) string { return s })
	mapped := Map(Read[string](p, nullSource[string]{}, st), func(s string) string { return s }, Named("m"))
	SideOutput(mapped, NewOutputTag[string]("x"))
	joined := TemporalJoin(r, r, func(a, b string, ok bool) string { return a }, Named("tj"))
	SideOutput(joined, LateLeft[int]())
	proc := Process(r, ProcessFuncs[string, string, string]{ElementFn: func(*ProcessContext[string, string], string) error { return nil }}, Named("pr"))
	SideOutput(proc, NewOutputTag[string]("y"))
	SideOutput(proc, NewOutputTag[int]("y"))
	other := Read[string](NewPipeline(), nullSource[string]{}, st)
	BroadcastProcess(r, other, BroadcastProcessFuncs[string, string, string, string]{
		ElementFn:   func(*ProcessContext[string, string], string) error { return nil },
		BroadcastFn: func(*BroadcastContext[string, string], string) error { return nil },
	}, Named("bp"))
	want := []string{
		`sdk: SideOutput "x": m is not the output of Process or CoProcess`,
		`sdk: SideOutput "late-left" of tj: it holds records of string, not int`,
		`sdk: SideOutput "y" of pr: records of int, and of string elsewhere`,
		`sdk: BroadcastProcess "bp": collections from different pipelines`,
	}
	wantErrors(t, p.Err(), want)
}
