package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// BadRecordError fails a job run with the Fail error policy: the first bad
// record, where it came from and why it was rejected.
type BadRecordError struct {
	Source string // "data/a.parquet row 12"
	Reason string
	Record []byte
	Input  string // the input's name (its Read transform), when a source read it
}

func (e *BadRecordError) Error() string {
	return fmt.Sprintf("runner: bad record at %s: %s", e.Source, e.Reason)
}

// PanicError reports a panic in a transform (user function or operator).
// The stack is kept for debugging but is not part of the message.
type PanicError struct {
	Transform string
	Value     any
	Stack     []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("runner: transform %q panicked: %s", e.Transform, headline(e.Value))
}

// headline is the first line of a panic value: a panic can carry pages (a
// dump, a stack), which stay in PanicError.Value, out of the message.
func headline(v any) string {
	s := fmt.Sprint(v)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// transformError attributes an operator's error to its transform, unless the
// error is already user-facing (a bad record, a panic) or a cancellation.
func transformError(name string, err error) error {
	if err == nil {
		return nil
	}
	return wrapTransform(name, err)
}

func wrapTransform(name string, err error) error {
	var bad *BadRecordError
	var pe *PanicError
	var te *transformErr
	switch {
	case errors.As(err, &bad), errors.As(err, &pe), errors.As(err, &te),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return &transformErr{name: name, err: err}
}

type transformErr struct {
	name string
	err  error
}

func (e *transformErr) Error() string { return fmt.Sprintf("transform %q: %v", e.name, e.err) }

func (e *transformErr) Unwrap() error { return e.err }
