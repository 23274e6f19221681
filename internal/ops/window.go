package ops

import (
	"errors"
	"fmt"
	"time"

	"github.com/weirflow/weir/internal/base"
)

// WindowKind is the family of a window function.
type WindowKind uint8

const (
	WindowTumbling WindowKind = iota + 1
	WindowSliding
	WindowSession
	WindowGlobal
)

// WindowSpec describes a window function; durations are in microseconds.
type WindowSpec struct {
	Kind   WindowKind
	Size   int64
	Slide  int64
	Offset int64
	Gap    int64
}

// Validate reports a spec that cannot assign windows.
func (s WindowSpec) Validate() error {
	switch s.Kind {
	case WindowTumbling, WindowSliding:
		if s.Size <= 0 {
			return fmt.Errorf("window size must be positive, got %v", time.Duration(s.Size)*time.Microsecond)
		}
		if s.Slide <= 0 {
			return fmt.Errorf("window slide must be positive, got %v", time.Duration(s.Slide)*time.Microsecond)
		}
	case WindowSession:
		if s.Gap <= 0 {
			return fmt.Errorf("session gap must be positive, got %v", time.Duration(s.Gap)*time.Microsecond)
		}
	case WindowGlobal:
	default:
		return errors.New("no window function")
	}
	return nil
}

func (s WindowSpec) String() string {
	d := func(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
	switch s.Kind {
	case WindowTumbling:
		return fmt.Sprintf("tumbling(%v, offset %v)", d(s.Size), d(s.Offset))
	case WindowSliding:
		return fmt.Sprintf("sliding(%v, every %v, offset %v)", d(s.Size), d(s.Slide), d(s.Offset))
	case WindowSession:
		return fmt.Sprintf("session(gap %v)", d(s.Gap))
	case WindowGlobal:
		return "global"
	}
	return "none"
}

// Merging reports whether windows of this spec merge (sessions).
func (s WindowSpec) Merging() bool { return s.Kind == WindowSession }

// GlobalWindow is the single window of the global window function.
var GlobalWindow = base.Window{Start: base.MinTimestamp, End: base.MaxTimestamp}

// Assign appends the windows containing ts to dst, latest start first.
// For sessions it returns the proto-window [ts, ts+gap) to be merged.
func (s WindowSpec) Assign(dst []base.Window, ts base.Timestamp) []base.Window {
	switch s.Kind {
	case WindowGlobal:
		return append(dst, GlobalWindow)
	case WindowSession:
		return append(dst, base.Window{Start: ts, End: ts.AddMicros(s.Gap)})
	}
	// Tumbling is sliding with slide == size.
	t := int64(ts)
	last := base.FloorDiv(t-s.Offset, s.Slide)*s.Slide + s.Offset
	for start := last; start > t-s.Size; start -= s.Slide {
		dst = append(dst, base.Window{Start: base.Timestamp(start), End: base.Timestamp(start).AddMicros(s.Size)})
	}
	return dst
}
