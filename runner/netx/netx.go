package netx

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"time"
)

// Options configures a connection; the zero value is usable.
type Options struct {
	// Window is the number of frames a stream's receiver holds at most,
	// the sender's credit when the stream opens (default 4).
	Window int
	// MaxFrame bounds a frame's payload (default 64 MiB): Send refuses a
	// larger one, and a larger one received fails the connection. Both
	// ends should have the same.
	MaxFrame int
	// Token, when set, must be the peer's too.
	Token string
}

func (o *Options) defaults() {
	if o.Window <= 0 {
		o.Window = 4
	}
	if o.MaxFrame <= 0 || o.MaxFrame > math.MaxUint32 {
		o.MaxFrame = 64 << 20
	}
}

type frameKind uint8

const (
	frameHello frameKind = iota + 1
	frameData
	frameCredit
)

const (
	headerSize       = 13
	magic            = "weir-netx/1"
	handshakeTimeout = 10 * time.Second
	maxWindow        = 1 << 16
	maxToken         = 4096
)

// ErrClosed is the error of a stream whose connection was closed by Close.
var ErrClosed = errors.New("netx: connection closed")

// Conn is one end of a multiplexed connection. Any goroutine may send on a
// stream, but only one at a time per stream; likewise Recv.
type Conn struct {
	nc   net.Conn
	opts Options

	wmu sync.Mutex // the writer
	w   *bufio.Writer

	mu     sync.Mutex // what follows
	sends  map[uint64]*sendStream
	recvs  map[uint64]*Stream
	err    error // the connection's failure, set once
	credit int   // a new send stream's credits: the peer's window
	done   chan struct{}
}

// New runs the handshake on nc and starts reading it. The Conn owns nc.
func New(nc net.Conn, opts Options) (*Conn, error) {
	opts.defaults()
	if opts.Window > maxWindow || len(opts.Token) > maxToken {
		nc.Close()
		return nil, fmt.Errorf("netx: a window of at most %d frames and a token of at most %d bytes, please", maxWindow, maxToken)
	}
	c := &Conn{nc: nc, opts: opts, w: bufio.NewWriterSize(nc, 64<<10),
		sends: map[uint64]*sendStream{}, recvs: map[uint64]*Stream{}, done: make(chan struct{})}
	// Hello: magic, this end's window (the peer's credit per stream), token.
	hello := binary.AppendUvarint([]byte(magic), uint64(opts.Window))
	hello = append(hello, opts.Token...)
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	werr := make(chan error, 1)
	go func() { werr <- c.write(frameHello, 0, hello) }()
	r := bufio.NewReaderSize(nc, 64<<10)
	kind, _, payload, err := readFrame(r, len(magic)+binary.MaxVarintLen64+maxToken)
	var window uint64
	if err == nil {
		var k int
		if kind == frameHello && len(payload) > len(magic) && string(payload[:len(magic)]) == magic {
			window, k = binary.Uvarint(payload[len(magic):])
		}
		if k <= 0 || window == 0 || window > maxWindow {
			err = errors.New("the peer does not speak " + magic)
		} else if subtle.ConstantTimeCompare(payload[len(magic)+k:], []byte(opts.Token)) != 1 {
			err = errors.New("the peer's token is not ours")
		}
	}
	if werr := <-werr; err == nil {
		err = werr
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("netx: handshake with %s: %w", nc.RemoteAddr(), err)
	}
	nc.SetDeadline(time.Time{})
	c.credit = int(window)
	go c.readLoop(r)
	return c, nil
}

// Close closes the connection; every stream on it fails with ErrClosed.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	return nil
}

// Done is closed when the connection has failed or was closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns the connection's failure, or nil while it works.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	c.mu.Unlock()
	c.nc.Close()
}

// write writes one frame and flushes it.
func (c *Conn) write(kind frameKind, stream uint64, payload []byte) error {
	var h [headerSize]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	h[4] = byte(kind)
	binary.BigEndian.PutUint64(h[5:13], stream)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.w.Write(h[:]); err != nil {
		return err
	}
	if _, err := c.w.Write(payload); err != nil {
		return err
	}
	return c.w.Flush()
}

func readFrame(r *bufio.Reader, maxFrame int) (frameKind, uint64, []byte, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(h[0:4]))
	if n > maxFrame {
		return 0, 0, nil, fmt.Errorf("a frame of %d bytes, more than %d", n, maxFrame)
	}
	payload := getBuf(n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, 0, nil, err
	}
	return frameKind(h[4]), binary.BigEndian.Uint64(h[5:13]), payload, nil
}

// readLoop reads frames until the connection fails. It never waits on a
// consumer: a data frame is only sent with a credit, so its stream has
// room for it.
func (c *Conn) readLoop(r *bufio.Reader) {
	for {
		kind, stream, payload, err := readFrame(r, c.opts.MaxFrame)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = io.ErrUnexpectedEOF
			}
			c.fail(fmt.Errorf("netx: read from %s: %w", c.nc.RemoteAddr(), err))
			return
		}
		switch kind {
		case frameData:
			s := c.Stream(stream)
			s.mu.Lock()
			over := len(s.queue) >= c.opts.Window
			if !over {
				s.queue = append(s.queue, payload)
			}
			s.mu.Unlock()
			if over {
				c.fail(fmt.Errorf("netx: %s sent stream %d a frame without credit", c.nc.RemoteAddr(), stream))
				return
			}
			notify(s.ready)
		case frameCredit:
			n, k := binary.Uvarint(payload)
			if k <= 0 {
				c.fail(fmt.Errorf("netx: %s sent a bad credit frame", c.nc.RemoteAddr()))
				return
			}
			s := c.sender(stream)
			c.mu.Lock()
			s.credits += int(n)
			c.mu.Unlock()
			notify(s.wake)
			Free(payload)
		default:
			c.fail(fmt.Errorf("netx: %s sent a frame of unknown kind %d", c.nc.RemoteAddr(), kind))
			return
		}
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

type sendStream struct {
	credits int // guarded by Conn.mu
	wake    chan struct{}
}

func (c *Conn) sender(stream uint64) *sendStream {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sends[stream]
	if s == nil {
		s = &sendStream{credits: c.credit, wake: make(chan struct{}, 1)}
		c.sends[stream] = s
	}
	return s
}

// Send sends payload as one frame of stream, after waiting for a credit.
// payload may be reused once Send returns.
func (c *Conn) Send(ctx context.Context, stream uint64, payload []byte) error {
	if len(payload) > c.opts.MaxFrame {
		return fmt.Errorf("netx: a frame of %d bytes for stream %d, more than the %d a frame may have", len(payload), stream, c.opts.MaxFrame)
	}
	s := c.sender(stream)
	for {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return err
		}
		if s.credits > 0 {
			s.credits--
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		select {
		case <-s.wake:
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := c.write(frameData, stream, payload); err != nil {
		err = fmt.Errorf("netx: write to %s: %w", c.nc.RemoteAddr(), err)
		c.fail(err)
		return err
	}
	return nil
}

// Stream is the receiving end of one stream.
type Stream struct {
	c        *Conn
	id       uint64
	mu       sync.Mutex
	queue    [][]byte // at most Window frames
	ready    chan struct{}
	consumed int // frames taken since the last credit frame
}

// Stream returns the receiving end of stream id (made on first use, by
// the consumer or by the first frame).
func (c *Conn) Stream(id uint64) *Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.recvs[id]
	if s == nil {
		s = &Stream{c: c, id: id, ready: make(chan struct{}, 1)}
		c.recvs[id] = s
	}
	return s
}

// Recv returns the next frame of the stream, waiting for it. The frame
// belongs to the caller, who may give it back with [Free] once done.
// Frames received before the connection failed are returned first.
func (s *Stream) Recv(ctx context.Context) ([]byte, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			p := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.consumed++
			grant := 0
			if s.consumed >= max(1, s.c.opts.Window/2) {
				grant, s.consumed = s.consumed, 0
			}
			s.mu.Unlock()
			if grant > 0 {
				if err := s.c.write(frameCredit, s.id, binary.AppendUvarint(nil, uint64(grant))); err != nil {
					s.c.fail(fmt.Errorf("netx: write to %s: %w", s.c.nc.RemoteAddr(), err))
				}
			}
			return p, nil
		}
		s.mu.Unlock()
		select {
		case <-s.ready:
			continue
		case <-s.c.done:
			s.mu.Lock()
			empty := len(s.queue) == 0
			s.mu.Unlock()
			if empty {
				return nil, s.c.Err()
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Queued returns the number of frames the stream holds, for tests.
func (s *Stream) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

var bufs sync.Pool // *[]byte

func getBuf(n int) []byte {
	if p, ok := bufs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

// Free gives a frame returned by Recv back for reuse; the caller must not
// touch it afterwards.
func Free(p []byte) {
	if cap(p) >= 1<<10 {
		bufs.Put(&p)
	}
}

// Loopback returns the two ends of a connection over loopback TCP, a's
// and b's: the workers of one process (runner.Options.NetworkWorkers).
func Loopback(a, b Options) (*Conn, *Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type res struct {
		c   *Conn
		err error
	}
	acc := make(chan res, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			acc <- res{nil, err}
			return
		}
		c, err := New(nc, b)
		acc <- res{c, err}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	ca, errA := New(nc, a)
	r := <-acc
	if err := errors.Join(errA, r.err); err != nil {
		if ca != nil {
			ca.Close()
		}
		if r.c != nil {
			r.c.Close()
		}
		return nil, nil, err
	}
	return ca, r.c, nil
}
