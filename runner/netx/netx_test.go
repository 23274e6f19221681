package netx

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// pair returns the two ends of a connection over loopback TCP.
func pair(t *testing.T, a, b Options) (*Conn, *Conn) {
	t.Helper()
	ca, cb, err := Loopback(a, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ca.Close(); cb.Close() })
	return ca, cb
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Many streams both ways over one connection: each arrives whole and in
// order.
func TestStreamsInOrder(t *testing.T) {
	a, b := pair(t, Options{Window: 3}, Options{Window: 5})
	ctx := ctxT(t)
	const streams, frames = 8, 2000
	eg, ctx := errgroup.WithContext(ctx)
	for s := range uint64(streams) {
		for _, dir := range [][2]*Conn{{a, b}, {b, a}} {
			from, to := dir[0], dir[1]
			eg.Go(func() error {
				buf := make([]byte, 0, 64)
				for i := range frames {
					buf = binary.AppendUvarint(buf[:0], uint64(i))
					buf = append(buf, strings.Repeat("x", i%50)...) // varied sizes
					if err := from.Send(ctx, s, buf); err != nil {
						return err
					}
				}
				return nil
			})
			eg.Go(func() error {
				st := to.Stream(s)
				for i := range frames {
					p, err := st.Recv(ctx)
					if err != nil {
						return err
					}
					n, k := binary.Uvarint(p)
					if n != uint64(i) || len(p)-k != i%50 {
						return fmt.Errorf("stream %d: frame %d is %d (%d bytes after it)", s, i, n, len(p)-k)
					}
					Free(p)
				}
				return nil
			})
		}
	}
	if err := eg.Wait(); err != nil {
		t.Fatal(err)
	}
}

// A consumer that does not read stops its own stream's sender after the
// receiver's window, and no other stream: the memory of a stream is
// bounded and there is no head-of-line blocking.
func TestCreditFlowControl(t *testing.T) {
	a, b := pair(t, Options{Window: 8}, Options{Window: 4})
	ctx := ctxT(t)
	for i := range 4 { // b's window: a's credit
		if err := a.Send(ctx, 1, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err := a.Send(short, 1, []byte{4})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a fifth frame without credit: %v, want it to wait", err)
	}
	// Another stream on the same connection still flows.
	for i := range 100 {
		if err := a.Send(ctx, 2, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if p, err := b.Stream(2).Recv(ctx); err != nil || p[0] != byte(i) {
			t.Fatalf("stream 2 frame %d: %v %v", i, p, err)
		}
	}
	s1 := b.Stream(1)
	if n := s1.Queued(); n != 4 {
		t.Fatalf("stream 1 holds %d frames, want the window, 4", n)
	}
	// Taking half the window gives the credits back.
	for i := range 2 {
		if p, err := s1.Recv(ctx); err != nil || p[0] != byte(i) {
			t.Fatalf("stream 1 frame %d: %v %v", i, p, err)
		}
	}
	for i := 4; i < 6; i++ {
		if err := a.Send(ctx, 1, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 2; i < 6; i++ {
		if p, err := s1.Recv(ctx); err != nil || p[0] != byte(i) {
			t.Fatalf("stream 1 frame %d: %v %v", i, p, err)
		}
	}
}

// A closed connection fails its streams: a receiver after the frames it
// already had, a sender at once, a waiting sender too.
func TestConnectionLoss(t *testing.T) {
	a, b := pair(t, Options{Window: 2}, Options{Window: 2})
	ctx := ctxT(t)
	for i := range 2 {
		if err := a.Send(ctx, 7, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var waiting error
	go func() { defer wg.Done(); waiting = a.Send(ctx, 7, []byte{2}) }() // no credit: waits
	// Wait until b holds both frames, then close a.
	deadline := time.Now().Add(10 * time.Second)
	for b.Stream(7).Queued() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("frames never arrived")
		}
		time.Sleep(time.Millisecond)
	}
	a.Close()
	wg.Wait()
	if !errors.Is(waiting, ErrClosed) {
		t.Fatalf("waiting sender: %v, want ErrClosed", waiting)
	}
	for i := range 2 {
		if p, err := b.Stream(7).Recv(ctx); err != nil || p[0] != byte(i) {
			t.Fatalf("frame %d after the loss: %v %v", i, p, err)
		}
	}
	if _, err := b.Stream(7).Recv(ctx); err == nil || !strings.HasPrefix(err.Error(), "netx: ") {
		t.Fatalf("after the frames: %v, want the connection's error", err)
	}
	if err := b.Send(ctx, 9, []byte{1}); err == nil {
		t.Fatal("send on a failed connection succeeded")
	}
}

// A frame larger than MaxFrame is refused by its sender with the reason,
// and the connection goes on.
func TestFrameTooLarge(t *testing.T) {
	a, b := pair(t, Options{MaxFrame: 1000}, Options{})
	ctx := ctxT(t)
	if err := a.Send(ctx, 1, make([]byte, 1001)); err == nil || !strings.Contains(err.Error(), "more than the 1000 a frame may have") {
		t.Fatalf("an oversized frame: %v", err)
	}
	if err := a.Send(ctx, 1, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if p, err := b.Stream(1).Recv(ctx); err != nil || string(p) != "ok" {
		t.Fatalf("after the refusal: %q %v", p, err)
	}
	if _, _, err := Loopback(Options{Window: 1 << 20}, Options{}); err == nil || !strings.Contains(err.Error(), "window of at most") {
		t.Fatalf("a window too large: %v", err)
	}
}

func TestHandshake(t *testing.T) {
	if _, _, err := Loopback(Options{Token: "a"}, Options{Token: "b"}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("different tokens: %v", err)
	}
	// A peer that speaks something else.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		nc.Read(make([]byte, 64))
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(nc, Options{}); err == nil || !strings.Contains(err.Error(), "handshake") {
		t.Fatalf("a peer speaking HTTP: %v", err)
	}
}

// BenchmarkSend is one stream's throughput over loopback at the size of
// an encoded batch of the fraud job (1,024 rows, ~40 KB).
func BenchmarkSend(b *testing.B) {
	ca, cb, err := Loopback(Options{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer ca.Close()
	defer cb.Close()
	ctx := context.Background()
	payload := make([]byte, 40<<10)
	done := make(chan error, 1)
	go func() {
		s := cb.Stream(1)
		for range b.N {
			p, err := s.Recv(ctx)
			if err != nil {
				done <- err
				return
			}
			Free(p)
		}
		done <- nil
	}()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		if err := ca.Send(ctx, 1, payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
