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
}

func (e *BadRecordError) Error() string {
	return fmt.Sprintf("weir: bad record at %s: %s", e.Source, e.Reason)
}

// PanicError reports a panic in a transform (user function or operator).
// The stack is kept for debugging but is not part of the message.
type PanicError struct {
	Transform string
	Value     any
	Stack     []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("weir: transform %q panicked: %s", e.Transform, oneLine(fmt.Sprint(e.Value)))
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
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

func (e *transformErr) Error() string {
	msg := e.err.Error()
	msg = strings.TrimPrefix(msg, "weir: ")
	return fmt.Sprintf("weir: transform %q: %s", e.name, msg)
}

func (e *transformErr) Unwrap() error { return e.err }
