package devbroker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/weirflow/weir/internal/msg"
)

// DefaultAddr is where `weir dev` serves when no address is given.
const DefaultAddr = "127.0.0.1:9092"

// DefaultPartitions is the partition count of topics created on first use
// or by [CreateTopic] with no count.
const DefaultPartitions = 4

// logPrefix starts every line [Start] writes to [Options.Log].
const logPrefix = "weir: dev: "

// clusterID is the cluster ID the broker reports (and keeps in meta.json).
const clusterID = "weir-dev"

// Options configure [Start]; the zero value serves an in-memory broker on
// [DefaultAddr].
type Options struct {
	// Addr is the host:port to listen on; "" means [DefaultAddr], port 0
	// picks a free port (see [Broker.Addr]). An address other machines can
	// reach (":9092", "0.0.0.0:9092", a LAN address) gets a warning line
	// in Log: the broker has no authentication and creates topics on
	// first use.
	Addr string
	// DataDir keeps topics, offsets and transactions across restarts; ""
	// keeps everything in memory only. What a start cannot load (a topic
	// whose name breaks Kafka's rules, a damaged file) is moved to
	// DataDir/skipped/ with a line in Log, and the rest is served.
	DataDir string
	// SyncWrites fsyncs every produced batch (slower; without it the data
	// of the last moments before a crash may be lost, as with Kafka's
	// defaults). Only with DataDir.
	SyncWrites bool
	// Partitions is the partition count of topics created on first use;
	// 0 means [DefaultPartitions], at most [MaxPartitions].
	Partitions int
	// Log receives the lines of the start (what was skipped from DataDir,
	// the warning about Addr, then one line saying what the broker
	// serves) and later the broker's errors; nil discards them.
	Log io.Writer
}

// Broker is a running single-node Kafka-protocol broker (kfake).
type Broker struct {
	c    *kfake.Cluster
	addr string
}

// Start starts a broker serving opts.Addr. Topics are created on first use
// (a producer or consumer asking for an unknown topic) with opts.Partitions
// partitions. Whichever client asks, the broker refuses topic names and
// partition counts that break Kafka's rules ([CheckTopicName],
// [CheckPartitions]) with Kafka's error codes.
func Start(opts Options) (*Broker, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Partitions == 0 {
		opts.Partitions = DefaultPartitions
	}
	if err := CheckPartitions(opts.Partitions); err != nil {
		return nil, fmt.Errorf("new topics: %w", err)
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	opts.Log = &lockedWriter{w: opts.Log}
	ln, err := listen(opts.Addr)
	if err != nil {
		return nil, err
	}
	var d *dataDir
	if opts.DataDir != "" {
		if d, err = prepareDataDir(opts.DataDir, opts.Log, time.Now()); err != nil {
			ln.Close()
			return nil, err
		}
	}
	logger := &kfakeLogger{w: opts.Log}
	logger.loading.Store(true)
	c, gate, err := newCluster(ln, opts, logger)
	if err != nil && d != nil && d.loads() {
		// prepareDataDir lets through what kfake might still refuse:
		// move everything aside rather than not start.
		addr := ln.Addr().String()
		if merr := d.moveAll(err); merr != nil {
			return nil, fmt.Errorf("devbroker: start with data in %s: %w; moving it aside failed too: %w", opts.DataDir, err, merr)
		}
		if ln, err = listen(addr); err != nil {
			return nil, err
		}
		c, gate, err = newCluster(ln, opts, logger)
	}
	if err != nil {
		if opts.DataDir != "" {
			return nil, fmt.Errorf("devbroker: start with data in %s: %w", opts.DataDir, err)
		}
		return nil, fmt.Errorf("devbroker: start: %w", err)
	}
	logger.loading.Store(false)
	installGuard(c)
	close(gate.open)
	b := &Broker{c: c, addr: ln.Addr().String()}
	where := "in memory, lost on exit"
	if opts.DataDir != "" {
		where = "data in " + opts.DataDir
	}
	fmt.Fprintf(opts.Log, "%sKafka-protocol broker on %s (%s); new topics get %d partitions\n", logPrefix, b.addr, where, opts.Partitions)
	if why := exposed(ln.Addr()); why != "" {
		fmt.Fprintf(opts.Log, "%swarning: %s listens on %s, with no authentication and topics created on first use: anyone who can reach this machine can read, write and create topics; --addr=127.0.0.1:PORT keeps it local\n", logPrefix, b.addr, why)
	}
	return b, nil
}

// listen listens on addr, with a clear error for a busy port.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("devbroker: %s is in use; stop the other broker or pick another address", addr)
		}
		return nil, fmt.Errorf("devbroker: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// newCluster starts kfake on ln. Its listener accepts nothing until gate's
// open is closed. On error ln is closed.
func newCluster(ln net.Listener, opts Options, logger kfake.Logger) (*kfake.Cluster, *gatedListener, error) {
	gate := &gatedListener{Listener: ln, open: make(chan struct{})}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID(clusterID),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(opts.Partitions),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return gate, nil }),
		kfake.WithLogger(logger),
	}
	if opts.DataDir != "" {
		kopts = append(kopts, kfake.DataDir(opts.DataDir))
		if opts.SyncWrites {
			kopts = append(kopts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		// kfake may already accept on the listener: closing it ends that.
		ln.Close()
		close(gate.open)
		return nil, nil, err
	}
	return c, gate, nil
}

// exposed says where addr listens when other machines can reach it ("every
// network interface", or its address), and "" for a loopback address.
func exposed(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	switch {
	case !ok:
		return ""
	case tcp.IP == nil || tcp.IP.IsUnspecified():
		return "every network interface"
	case tcp.IP.IsLoopback():
		return ""
	}
	return tcp.IP.String() + ", an address other machines can reach"
}

// kfakeLogger passes kfake's errors to the log, and its warnings while it
// loads the data directory (a damaged segment tail it cuts off, say).
type kfakeLogger struct {
	w       io.Writer
	loading atomic.Bool
}

func (l *kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	if level == kfake.LogLevelError || level == kfake.LogLevelWarn && l.loading.Load() {
		fmt.Fprintf(l.w, "%sbroker: %s\n", logPrefix, msg.Text(fmt.Sprintf(format, args...)))
	}
}

// lockedWriter serializes the writes of Start and of kfake's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// Addr is the host:port the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// Brokers is Addr as a seed broker list.
func (b *Broker) Brokers() []string { return []string{b.addr} }

// Close stops the broker, writing its state to DataDir if it has one.
func (b *Broker) Close() error {
	b.c.Close()
	return nil
}
