package sdk

import (
	"fmt"
	"time"
)

// Option configures a transform. Options are typed so that a misplaced one
// (a window option on a Map) fails to compile.
type Option interface{ applyTransform(*transformConfig) }

// ReadOption configures [Read].
type ReadOption interface{ applyRead(*readConfig) }

// WindowOption configures [WindowInto].
type WindowOption interface{ applyWindow(*windowConfig) }

// PipelineOption configures [NewPipeline].
type PipelineOption interface{ applyPipeline(*Pipeline) }

type transformConfig struct{ name string }

type readConfig struct {
	name       string
	bound      time.Duration
	boundSet   bool
	idle       time.Duration
	timestamps any // func(T) time.Time
}

type windowConfig struct {
	name     string
	lateness time.Duration
}

// NameOption gives a transform a stable name; see [Named].
type NameOption string

// Named names a transform. Names appear in metrics, errors and checkpoints;
// without one a transform is named after its function ("fraud.Large").
func Named(name string) NameOption { return NameOption(name) }

func (n NameOption) applyTransform(c *transformConfig) { c.name = string(n) }
func (n NameOption) applyRead(c *readConfig)           { c.name = string(n) }
func (n NameOption) applyWindow(c *windowConfig)       { c.name = string(n) }

type boundOption time.Duration

// BoundedOutOfOrderness sets how far behind the largest event time seen a
// record may arrive and still be on time: each split's watermark is
// max event time - d - 1µs. The default is 0 (ascending timestamps).
func BoundedOutOfOrderness(d time.Duration) ReadOption { return boundOption(d) }

func (o boundOption) applyRead(c *readConfig) { c.bound = time.Duration(o); c.boundSet = true }

type idleOption time.Duration

// IdleTimeout lets a split that produced nothing for d stop holding the
// watermark back, until it produces again. Zero (the default) disables it.
func IdleTimeout(d time.Duration) ReadOption { return idleOption(d) }

func (o idleOption) applyRead(c *readConfig) { c.idle = time.Duration(o) }

type timestampsOption[T any] struct{ fn func(T) time.Time }

// Timestamps sets the event time of each record from fn instead of the
// generated accessor of the field tagged weir:"eventtime".
func Timestamps[T any](fn func(T) time.Time) ReadOption { return timestampsOption[T]{fn} }

func (o timestampsOption[T]) applyRead(c *readConfig) { c.timestamps = o.fn }

type latenessOption time.Duration

// AllowedLateness keeps a window's state for d after it fired; a late record
// within d updates the window and re-fires it. Records later than that go to
// [LateData]. The default is 0.
func AllowedLateness(d time.Duration) WindowOption { return latenessOption(d) }

func (o latenessOption) applyWindow(c *windowConfig) { c.lateness = time.Duration(o) }

type genericOption struct{}

// GenericKernels makes every transform of the pipeline use the generic
// per-row path even where a generated kernel exists. For tests and
// benchmarks that compare the two.
func GenericKernels() PipelineOption { return genericOption{} }

func (genericOption) applyPipeline(p *Pipeline) { p.genericOnly = true }

type jobNameOption string

// JobName names the job (default "weir").
func JobName(name string) PipelineOption { return jobNameOption(name) }

func (o jobNameOption) applyPipeline(p *Pipeline) { p.name = string(o) }

func errorf(format string, args ...any) error { return fmt.Errorf("sdk: "+format, args...) }
