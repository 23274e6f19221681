package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/weirflow/weir/coordinator"
	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/internal/devbroker"
	"github.com/weirflow/weir/internal/msg"
	"github.com/weirflow/weir/worker"
)

// flagSet returns a quiet FlagSet: parse errors are reported by parseFlags.
func flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args and returns the exit code of a bad command line
// (after one line on stderr) or -1 to go on. -h prints the flags.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) int {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage: %s\n", usage)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(stdout, "  --%-14s %s (default %q)\n", f.Name, f.Usage, f.DefValue)
		})
		return 0
	}
	if err != nil {
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
			msg = "unknown flag --" + strings.TrimLeft(name, "-")
		}
		fmt.Fprintf(stderr, "%s: %s (see %s -h)\n", fs.Name(), msg, fs.Name())
		return 2
	}
	return -1
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// devContext is what stops `weir dev`: SIGINT or SIGTERM (tests replace it).
var devContext = signalContext

// runDev is `weir dev`: the development broker and a one-node cluster (a
// coordinator and a worker in this process) until interrupted. It prints
// the export line the cluster commands read (WEIR_COORDINATORS,
// WEIR_TOKEN_FILE).
func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("weir dev")
	addr := fs.String("addr", devbroker.DefaultAddr, "host:port of the Kafka-protocol broker (a non-loopback address is reachable from other machines)")
	httpAddr := fs.String("http", "127.0.0.1:8081", "host:port of the coordinator's API (port 0: a free port)")
	dataDir := fs.String("data-dir", "", "keep topics, the cluster's jobs, binaries, checkpoints and token in this directory across restarts (default: a temporary one, removed on exit)")
	partitions := fs.Int("partitions", devbroker.DefaultPartitions, fmt.Sprintf("partitions of topics created on first use (1 to %d)", devbroker.MaxPartitions))
	slots := fs.Int("slots", 4, "task slots of the worker")
	if code := parseFlags(fs, args, "weir dev [--addr=HOST:PORT] [--http=HOST:PORT] [--data-dir=DIR] [--partitions=N] [--slots=N]", stdout, stderr); code >= 0 {
		return code
	}
	if err := devbroker.CheckPartitions(*partitions); err != nil {
		fmt.Fprintf(stderr, "weir dev: --partitions: %s (see weir dev -h)\n", msg.Line(err))
		return 2
	}
	if *slots < 1 {
		fmt.Fprintf(stderr, "weir dev: --slots must be at least 1, not %d (see weir dev -h)\n", *slots)
		return 2
	}
	log := &syncWriter{w: stderr}
	dir, cleanup, err := devDataDir(*dataDir)
	if err != nil {
		fmt.Fprintf(log, "weir: dev: %s\n", msg.Line(err))
		return 1
	}
	defer cleanup()
	ctx, stop := devContext()
	defer stop()
	// The coordinator first: its Raft store is locked, so a second weir dev
	// on the same folder stops here, before its broker touches the topics.
	c, err := startDevCluster(dir, *httpAddr, *slots, log)
	if err != nil {
		fmt.Fprintf(log, "weir: dev: %s\n", msg.Line(err))
		return 1
	}
	b, err := devbroker.Start(devbroker.Options{Addr: *addr, DataDir: filepath.Join(dir, "kafka"), Partitions: *partitions, Log: log})
	if err != nil {
		fmt.Fprintf(log, "weir: dev: %s\n", msg.Line(err))
		c.close()
		return 1
	}
	code := 0
	fail := func(err error) {
		fmt.Fprintf(log, "weir: dev: %s\n", msg.Line(err))
		code = 1
	}
	if err := c.run(ctx); err != nil {
		fail(err)
	}
	if err := b.Close(); err != nil {
		fail(err)
	}
	fmt.Fprintln(log, "weir: dev: stopped")
	return code
}

// devDataDir returns the directory of `weir dev` and what removes it on
// exit (nothing when the user named it). A directory a broker-only
// `weir dev` filled (topics at its top) is refused with what to do.
func devDataDir(dir string) (string, func(), error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "weir-dev-")
		if err != nil {
			return "", nil, err
		}
		return tmp, func() { os.RemoveAll(tmp) }, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	if _, err := os.Stat(filepath.Join(abs, "topics.json")); err == nil {
		return "", nil, fmt.Errorf("--data-dir %s holds a broker's data at its top, as weir dev kept it before it ran a cluster: move it into %s", abs, filepath.Join(abs, "kafka"))
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", nil, err
	}
	return abs, func() {}, nil
}

// devCluster is the one-node cluster of `weir dev`: a coordinator and a
// worker with their data under one directory.
type devCluster struct {
	dir, tokenFile string
	slots          int
	s              *coordinator.Server
	log            io.Writer
	held           *heldWriter // the coordinator's lines until run
}

// startDevCluster starts the coordinator of `weir dev` with data under
// dir; its lines are held until run (dropped by close). The bearer token
// is kept in dir/token.
func startDevCluster(dir, httpAddr string, slots int, log io.Writer) (*devCluster, error) {
	c := &devCluster{dir: dir, tokenFile: filepath.Join(dir, "token"), slots: slots, log: log, held: &heldWriter{w: log}}
	token, err := devToken(c.tokenFile)
	if err != nil {
		return nil, err
	}
	c.s, err = coordinator.Start(coordinator.Config{
		ID:             "c1",
		RaftAddr:       "127.0.0.1:0",
		HTTPAddr:       httpAddr,
		DataDir:        filepath.Join(dir, "coordinator"),
		CheckpointRoot: filepath.Join(dir, "checkpoints"),
		Token:          token,
		Logger:         c.held,
	})
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			err = fmt.Errorf("%w (is another weir dev running? --http=127.0.0.1:0 picks a free port)", err)
		}
		return nil, err
	}
	return c, nil
}

// run starts the worker and runs it until ctx is done and its jobs are
// stopped, then stops the coordinator.
func (c *devCluster) run(ctx context.Context) error {
	c.held.release()
	w, err := worker.New(worker.Config{
		ID:           "w1",
		Coordinators: []string{c.s.URL()},
		TokenFile:    c.tokenFile,
		Slots:        c.slots,
		DataDir:      filepath.Join(c.dir, "worker"),
		HTTPAddr:     "127.0.0.1:0",
		Log:          c.log,
	})
	if err == nil {
		fmt.Fprintf(c.log, "weir: dev: coordinator on %s, worker w1 with %d slots, checkpoints in %s\n", c.s.URL(), c.slots, filepath.Join(c.dir, "checkpoints"))
		fmt.Fprintf(c.log, "weir: dev: for weir submit, jobs, status, ...: export %s=%s %s=%s\n", api.EnvCoordinators, c.s.URL(), api.EnvTokenFile, c.tokenFile)
		fmt.Fprintln(c.log, "weir: dev: Ctrl-C stops it")
		err = w.Run(ctx)
	}
	if cerr := c.s.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// close stops a cluster whose run was never called, without its lines.
func (c *devCluster) close() {
	c.held.discard()
	_ = c.s.Close()
}

// heldWriter keeps what is written until release (then writes it and
// passes the rest through) or discard (then drops everything).
type heldWriter struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	open    bool
	dropped bool
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.open:
		return h.w.Write(p)
	case !h.dropped:
		h.buf = append(h.buf, p...)
	}
	return len(p), nil
}

func (h *heldWriter) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.open = true
	_, _ = h.w.Write(h.buf)
	h.buf = nil
}

func (h *heldWriter) discard() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropped, h.buf = true, nil
}

// devToken reads the token kept in path, or makes one (0600).
func devToken(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return api.ReadToken(path)
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", err
	}
	return token, nil
}

// syncWriter serializes the lines of runDev and of the broker's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// runTopic is `weir topic create|produce|consume`, against any broker.
func runTopic(args []string, stdout, stderr io.Writer) int {
	const usage = "usage: weir topic create|produce|consume [flags] TOPIC (see weir topic <command> -h)"
	if len(args) == 0 {
		fmt.Fprintln(stderr, "weir: topic: "+usage)
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flagSet("weir topic " + sub)
	brokers := fs.String("brokers", devbroker.DefaultAddr, "comma-separated seed brokers")
	var (
		partitions        *int
		key, in           *string
		fromStart, follow *bool
		max               *int
		synopsis          string
	)
	switch sub {
	case "create":
		partitions = fs.Int("partitions", 0, fmt.Sprintf("number of partitions, 1 to %d (0: the broker's default)", devbroker.MaxPartitions))
		synopsis = "weir topic create [--brokers=HOST:PORT] [--partitions=N] TOPIC"
	case "produce":
		key = fs.String("key", "", "JSON field whose value is the record key")
		in = fs.String("in", "-", "JSON Lines file to produce (-: standard input)")
		synopsis = "weir topic produce [--brokers=HOST:PORT] [--key=FIELD] [--in=FILE] TOPIC"
	case "consume":
		fromStart = fs.Bool("from-start", true, "read from the oldest record")
		follow = fs.Bool("follow", false, "keep reading new records until interrupted")
		max = fs.Int("max", 0, "stop after this many records (0: no limit)")
		synopsis = "weir topic consume [--brokers=HOST:PORT] [--from-start] [--follow] [--max=N] TOPIC"
	case "-h", "help", "--help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "weir: topic: unknown command %q; %s\n", sub, usage)
		return 2
	}
	if code := parseFlags(fs, args, synopsis, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		fmt.Fprintf(stderr, "weir: topic %s: name one topic (usage: %s)\n", sub, synopsis)
		return 2
	}
	topic := fs.Arg(0)
	if err := devbroker.CheckTopicName(topic); err != nil {
		fmt.Fprintf(stderr, "weir: topic %s: %s\n", sub, msg.Line(err))
		return 2
	}
	if sub == "create" && *partitions != 0 {
		if err := devbroker.CheckPartitions(*partitions); err != nil {
			fmt.Fprintf(stderr, "weir: topic create: --partitions: %s (0: the broker's default)\n", msg.Line(err))
			return 2
		}
	}
	seeds := strings.Split(*brokers, ",")
	ctx, stop := signalContext()
	defer stop()
	var err error
	switch sub {
	case "create":
		if err = devbroker.CreateTopic(ctx, seeds, topic, *partitions); err == nil {
			fmt.Fprintf(stderr, "weir: topic: created %s\n", topic)
		}
	case "produce":
		r := io.Reader(os.Stdin)
		if *in != "-" {
			f, oerr := os.Open(*in)
			if oerr != nil {
				fmt.Fprintf(stderr, "weir: topic produce: %s\n", msg.Line(oerr))
				return 1
			}
			defer f.Close()
			r = f
		}
		var n int
		if n, err = devbroker.ProduceJSONL(ctx, seeds, topic, r, *key); err == nil {
			fmt.Fprintf(stderr, "weir: topic: produced %d records to %s\n", n, topic)
		}
	case "consume":
		_, err = devbroker.Consume(ctx, seeds, topic, stdout, devbroker.ConsumeOptions{FromStart: *fromStart, Follow: *follow, Max: *max})
	}
	if err != nil {
		fmt.Fprintf(stderr, "weir: topic %s: %s\n", sub, msg.Line(err))
		return 1
	}
	return 0
}
