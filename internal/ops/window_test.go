package ops

import (
	"reflect"
	"testing"
	"time"

	"github.com/weirflow/weir/internal/base"
)

func us(d time.Duration) int64 { return d.Microseconds() }

func w(start, end int64) base.Window {
	return base.Window{Start: base.Timestamp(start), End: base.Timestamp(end)}
}

func TestAssign(t *testing.T) {
	min5 := us(5 * time.Minute)
	for _, tc := range []struct {
		name string
		spec WindowSpec
		ts   int64
		want []base.Window
	}{
		{"tumbling start edge", WindowSpec{Kind: WindowTumbling, Size: min5, Slide: min5}, 0, []base.Window{w(0, min5)}},
		{"tumbling last µs", WindowSpec{Kind: WindowTumbling, Size: min5, Slide: min5}, min5 - 1, []base.Window{w(0, min5)}},
		{"tumbling next edge", WindowSpec{Kind: WindowTumbling, Size: min5, Slide: min5}, min5, []base.Window{w(min5, 2*min5)}},
		{"tumbling before 1970", WindowSpec{Kind: WindowTumbling, Size: min5, Slide: min5}, -1, []base.Window{w(-min5, 0)}},
		{"tumbling before 1970 edge", WindowSpec{Kind: WindowTumbling, Size: min5, Slide: min5}, -min5, []base.Window{w(-min5, 0)}},
		{"tumbling offset", WindowSpec{Kind: WindowTumbling, Size: 10, Slide: 10, Offset: 3}, 2, []base.Window{w(-7, 3)}},
		{"tumbling offset edge", WindowSpec{Kind: WindowTumbling, Size: 10, Slide: 10, Offset: 3}, 3, []base.Window{w(3, 13)}},
		{"sliding", WindowSpec{Kind: WindowSliding, Size: 10, Slide: 5}, 7, []base.Window{w(5, 15), w(0, 10)}},
		{"sliding edge", WindowSpec{Kind: WindowSliding, Size: 10, Slide: 5}, 5, []base.Window{w(5, 15), w(0, 10)}},
		{"sliding negative", WindowSpec{Kind: WindowSliding, Size: 10, Slide: 5}, -1, []base.Window{w(-5, 5), w(-10, 0)}},
		{"sliding gaps", WindowSpec{Kind: WindowSliding, Size: 2, Slide: 5}, 3, nil},
		{"session", WindowSpec{Kind: WindowSession, Gap: 10}, 7, []base.Window{w(7, 17)}},
		{"global", WindowSpec{Kind: WindowGlobal}, 7, []base.Window{GlobalWindow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.spec.Assign(nil, base.Timestamp(tc.ts))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Assign(%d) = %v, want %v", tc.ts, got, tc.want)
			}
		})
	}
}
