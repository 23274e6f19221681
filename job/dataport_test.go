package job

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"strings"
	"testing"

	"github.com/weirflow/weir/internal/testcert"
)

// A process's data port speaks TLS with the worker's certificate: a peer
// that trusts it connects, one that does not is refused; without a
// certificate it is plain TCP.
func TestListenDataTLS(t *testing.T) {
	cert, key, pool := testcert.Write(t, t.TempDir())
	ln, dial, err := listenData("127.0.0.1", cert, key, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 5)
				if _, err := io.ReadFull(c, b); err == nil {
					c.Write(b)
				}
			}()
		}
	}()
	c, err := dial(t.Context(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "hello" {
		t.Fatalf("echo over TLS: %q, %v", b, err)
	}
	c.Close()
	// A dialer that does not trust the certificate fails the handshake.
	_, untrusting, err := listenData("127.0.0.1", cert, key, x509.NewCertPool())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := untrusting(t.Context(), ln.Addr().String()); err == nil {
		if err = c.(*tls.Conn).HandshakeContext(t.Context()); err == nil {
			t.Error("a peer that does not trust the certificate connected")
		}
		c.Close()
	}
	if _, _, err := listenData("127.0.0.1", cert, "/no/such/key.pem", nil); err == nil || !strings.Contains(err.Error(), "data port: TLS") {
		t.Errorf("a missing key: %v", err)
	}
	plain, dial, err := listenData("127.0.0.1", "", "", nil)
	if err != nil || dial != nil {
		t.Fatalf("without TLS: dial %v, %v", dial != nil, err)
	}
	plain.Close()
}
