package worker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Config is what a [Worker] needs. Only cmd/weir reads flags and the
// environment; it maps them one-to-one onto these fields.
type Config struct {
	// ID names the worker to the coordinators; it must stay the same
	// across restarts. "" means the one kept in DataDir (see [LoadID]).
	ID string
	// Coordinators are the coordinators' base URLs (see [api.ParseURLs]).
	Coordinators []string
	// TokenFile holds the cluster's bearer token. Children get its
	// absolute path in WEIR_TOKEN_FILE.
	TokenFile string
	// Token is the bearer token; "" means read it from TokenFile.
	Token string
	// Slots is how many task slots the worker offers (default
	// runtime.NumCPU()).
	Slots int
	// DataDir holds binaries/, logs/ and worker-id.
	DataDir string
	// HTTPAddr is where the log server listens (default 127.0.0.1:0).
	HTTPAddr string
	// TLSCert and TLSKey are PEM files: given both, the log server is
	// served over HTTPS (the coordinators trust their own certificate and
	// the system's, SSL_CERT_FILE included).
	TLSCert, TLSKey string
	// KeepBinaries and KeepLogs are how long fetched binaries and job
	// logs that no current attempt uses are kept (defaults
	// DefaultKeepBinaries, DefaultKeepLogs); checked every hour.
	KeepBinaries, KeepLogs time.Duration
	// Log gets one line per thing that happens (default: discarded).
	Log io.Writer
}

// EnsureDefaults fills the defaults of the zero fields (not ID and Token,
// which [New] fills from DataDir and TokenFile).
func (c *Config) EnsureDefaults() {
	if c.Slots == 0 {
		c.Slots = runtime.NumCPU()
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:0"
	}
	if c.KeepBinaries == 0 {
		c.KeepBinaries = DefaultKeepBinaries
	}
	if c.KeepLogs == 0 {
		c.KeepLogs = DefaultKeepLogs
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	switch {
	case len(c.Coordinators) == 0:
		return errors.New("worker: no coordinator URL given: use --coordinators=URLS or WEIR_COORDINATORS")
	case c.TokenFile == "":
		return errors.New("worker: no token file given: use --token-file=FILE or WEIR_TOKEN_FILE")
	case c.DataDir == "":
		return errors.New("worker: no data directory given: use --data=DIR")
	case c.Slots < 1:
		return fmt.Errorf("worker: slots must be at least 1, not %d", c.Slots)
	case c.KeepBinaries < 0 || c.KeepLogs < 0:
		return errors.New("worker: how long to keep binaries and logs must not be negative")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("worker: give both --tls-cert and --tls-key, or neither")
	case c.ID != "" && !validName(c.ID):
		return fmt.Errorf("worker: bad worker id %q: use letters, digits, '-', '_' and '.'", c.ID)
	}
	return nil
}

// validName reports whether s is safe as a file name and a URL path
// element: job and worker ids.
func validName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 200 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

// idFile is the file in the data directory that keeps the worker's id.
const idFile = "worker-id"

// LoadID returns the worker id kept in dataDir/worker-id, creating it
// ("w-" and 8 random hex digits) the first time.
func LoadID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, idFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if !validName(id) {
			return "", fmt.Errorf("worker: %s holds a bad worker id %q; remove the file to get a new one", path, id)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("worker: read worker id: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("worker: data directory: %w", err)
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("worker: new worker id: %w", err)
	}
	id := "w-" + hex.EncodeToString(r[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadID(dataDir) // another process made it first
	}
	if err != nil {
		return "", fmt.Errorf("worker: write worker id: %w", err)
	}
	_, err = f.WriteString(id + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("worker: write worker id: %w", err)
	}
	return id, nil
}

// joinURLs is how coordinator URLs appear in a child's environment.
func joinURLs(urls []string) string { return strings.Join(urls, ",") }
