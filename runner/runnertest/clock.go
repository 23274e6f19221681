package runnertest

import (
	"sync"
	"time"
)

// Clock is a fake runner.Clock: time stands still until the test moves it
// with [Clock.Advance], which fires every ticker whose time has come (one
// tick per ticker and call, as a time.Ticker drops ticks a slow reader
// misses). Tasks may read it while the test moves it.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*ticker
}

// NewClock returns a clock that reads start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d and fires the tickers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	live := c.tickers[:0]
	for _, t := range c.tickers {
		if t.stopped {
			continue
		}
		live = append(live, t)
		if !c.now.Before(t.next) {
			for !c.now.Before(t.next) {
				t.next = t.next.Add(t.d)
			}
			select {
			case t.c <- c.now:
			default:
			}
		}
	}
	c.tickers = live
}

// Tickers returns the number of running tickers: a test can wait for a job
// to have started its tickers before it moves the clock.
func (c *Clock) Tickers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.tickers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// NewTicker returns a ticker that ticks each time the clock has moved on
// by d since its last tick.
func (c *Clock) NewTicker(d time.Duration) interface {
	C() <-chan time.Time
	Stop()
} {
	if d <= 0 {
		panic("runnertest: non-positive ticker interval")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &ticker{clock: c, d: d, next: c.now.Add(d), c: make(chan time.Time, 1)}
	c.tickers = append(c.tickers, t)
	return t
}

type ticker struct {
	clock   *Clock
	d       time.Duration
	next    time.Time
	c       chan time.Time
	stopped bool // guarded by clock.mu
}

func (t *ticker) C() <-chan time.Time { return t.c }

func (t *ticker) Stop() {
	t.clock.mu.Lock()
	t.stopped = true
	t.clock.mu.Unlock()
}
