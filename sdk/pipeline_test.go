package sdk

import (
	"context"
	"strings"
	"testing"
	"time"
)

type noCodec struct {
	ID string
	At time.Time
}

type nullSource[T any] struct{}

func (nullSource[T]) Splits(context.Context) ([]Split, error) { return nil, nil }
func (nullSource[T]) Open(context.Context, Split, []byte) (SplitReader[T], error) {
	return nil, nil
}

type nullSink[T any] struct{}

func (nullSink[T]) Open(SinkContext) (CommittingSink[T], error) { return nil, nil }

func idOf(n noCodec) string { return n.ID }

func TestConstructionErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(p *Pipeline)
		want  []string // substrings of p.Err(), all required
	}{
		{
			name: "no event time",
			build: func(p *Pipeline) {
				Read[noCodec](p, nullSource[noCodec]{})
			},
			want: []string{`Read "Read": type sdk.noCodec has no event time`, `weir:"eventtime"`, `go generate`},
		},
		{
			name: "timestamps option makes it fine",
			build: func(p *Pipeline) {
				Read[noCodec](p, nullSource[noCodec]{}, Timestamps(func(n noCodec) time.Time { return n.At }))
			},
		},
		{
			name: "timestamps for the wrong type",
			build: func(p *Pipeline) {
				Read[noCodec](p, nullSource[noCodec]{}, Timestamps(func(s string) time.Time { return time.Time{} }))
			},
			want: []string{"Timestamps option is for another record type"},
		},
		{
			name: "nil source and sink",
			build: func(p *Pipeline) {
				c := Read[noCodec](p, nil, Named("in"), Timestamps(func(n noCodec) time.Time { return n.At }))
				Write[noCodec](c, nil, Named("out"))
			},
			want: []string{`Read "in": nil source`, `Write "out": nil sink`},
		},
		{
			name: "bad windows, all reported",
			build: func(p *Pipeline) {
				c := Read[noCodec](p, nullSource[noCodec]{}, Timestamps(func(n noCodec) time.Time { return n.At }))
				k := KeyBy(c, idOf)
				WindowInto(k, Tumbling(0), Named("zero"))
				WindowInto(k, Session(-time.Second), Named("neg"), AllowedLateness(-time.Second))
			},
			want: []string{`Window "zero": window size must be positive`, `Window "neg": session gap must be positive`, `Window "neg": negative allowed lateness`},
		},
		{
			name: "late data without aggregation",
			build: func(p *Pipeline) {
				c := Read[noCodec](p, nullSource[noCodec]{}, Timestamps(func(n noCodec) time.Time { return n.At }))
				LateData(WindowInto(KeyBy(c, idOf), Tumbling(time.Minute), Named("w")))
			},
			want: []string{"w/LateData: no aggregation reads this window"},
		},
		{
			name: "unhashable key",
			build: func(p *Pipeline) {
				c := Read[noCodec](p, nullSource[noCodec]{}, Timestamps(func(n noCodec) time.Time { return n.At }))
				KeyBy(c, func(n noCodec) noCodec { return n }, Named("self"))
			},
			want: []string{`KeyBy "self": key type sdk.noCodec cannot be hashed`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPipeline()
			tc.build(p)
			err := p.Err()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLateDataWiring(t *testing.T) {
	p := NewPipeline()
	c := Read[noCodec](p, nullSource[noCodec]{}, Timestamps(func(n noCodec) time.Time { return n.At }))
	w := WindowInto(KeyBy(c, idOf), Tumbling(time.Minute))
	late := LateData(w) // before the aggregations: wired as they are added
	a1 := Aggregate(w, Count[noCodec]())
	a2 := Aggregate(w, Count[noCodec]())
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if got := len(late.node.Inputs); got != 2 {
		t.Fatalf("late node has %d inputs, want 2", got)
	}
	for i, a := range []PCollection[Result[string, int64]]{a1, a2} {
		if e := late.node.Inputs[i]; e.From != a.node || e.Port != 1 {
			t.Errorf("late input %d = %s port %d, want %s port 1", i, e.From.Name, e.Port, a.node.Name)
		}
	}
	if a1.Name() == a2.Name() {
		t.Errorf("names not unique: %q", a1.Name())
	}
	if a1.node.Inputs[0].Partitioner == nil {
		t.Error("aggregation input is not a keyed shuffle")
	}
}

func TestTransformNames(t *testing.T) {
	p := NewPipeline()
	c := Read[noCodec](p, nullSource[noCodec]{}, Timestamps(func(n noCodec) time.Time { return n.At }))
	m := Map(c, idOf)
	n := Map(c, idOf, Named("ids"))
	if m.Name() != "sdk.idOf" || n.Name() != "ids" {
		t.Errorf("names %q %q", m.Name(), n.Name())
	}
	if m.Pipeline() != p || n.Pipeline() != p {
		t.Error("a collection does not know its pipeline")
	}
}

type invalidSource struct{ nullSource[noCodec] }

func (invalidSource) Validate() error { return NoCodecError{Type: "sdk.noCodec"} }

type invalidSink struct{ nullSink[noCodec] }

func (invalidSink) Validate() error { return NoCodecError{Type: "sdk.noCodec"} }

// TestValidatorsAtBuildTime: sources and sinks that can tell they will not
// work say so at graph-build time, with the pipeline's other errors.
func TestValidatorsAtBuildTime(t *testing.T) {
	p := NewPipeline()
	c := Read[noCodec](p, invalidSource{}, Named("in"), Timestamps(func(n noCodec) time.Time { return n.At }))
	Write[noCodec](c, invalidSink{}, Named("out"))
	err := p.Err()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`Read "in": sdk: type sdk.noCodec has no codec`, `Write "out": sdk: type sdk.noCodec has no codec`, "go generate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
