package devbroker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultAddr is where `weir dev` serves when no address is given.
const DefaultAddr = "127.0.0.1:9092"

// DefaultPartitions is the partition count of topics created on first use
// or by [CreateTopic] with no count.
const DefaultPartitions = 4

// Options configure [Start]; the zero value serves an in-memory broker on
// [DefaultAddr].
type Options struct {
	// Addr is the host:port to listen on; "" means [DefaultAddr], port 0
	// picks a free port (see [Broker.Addr]).
	Addr string
	// DataDir keeps topics, offsets and transactions across restarts; ""
	// keeps everything in memory only.
	DataDir string
	// SyncWrites fsyncs every produced batch (slower; without it the data
	// of the last moments before a crash may be lost, as with Kafka's
	// defaults). Only with DataDir.
	SyncWrites bool
	// Partitions is the partition count of topics created on first use;
	// 0 means [DefaultPartitions].
	Partitions int
	// Log receives one line saying what the broker serves; nil discards it.
	Log io.Writer
}

// Broker is a running single-node Kafka-protocol broker (kfake).
type Broker struct {
	c    *kfake.Cluster
	addr string
}

// Start starts a broker serving opts.Addr. Topics are created on first use
// (a producer or consumer asking for an unknown topic) with opts.Partitions
// partitions.
func Start(opts Options) (*Broker, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Partitions <= 0 {
		opts.Partitions = DefaultPartitions
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	// Listen first so that a busy port gets a clear error, then hand the
	// listener to kfake.
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("devbroker: %s is in use; stop the other broker or pick another address", opts.Addr)
		}
		return nil, fmt.Errorf("devbroker: listen on %s: %w", opts.Addr, err)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("weir-dev"),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(opts.Partitions),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
	}
	if opts.DataDir != "" {
		kopts = append(kopts, kfake.DataDir(opts.DataDir))
		if opts.SyncWrites {
			kopts = append(kopts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		ln.Close()
		if opts.DataDir != "" {
			return nil, fmt.Errorf("devbroker: start with data in %s: %w", opts.DataDir, err)
		}
		return nil, fmt.Errorf("devbroker: start: %w", err)
	}
	b := &Broker{c: c, addr: ln.Addr().String()}
	where := "in memory, lost on exit"
	if opts.DataDir != "" {
		where = "data in " + opts.DataDir
	}
	fmt.Fprintf(opts.Log, "weir dev: Kafka-protocol broker on %s (%s); new topics get %d partitions\n", b.addr, where, opts.Partitions)
	return b, nil
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
