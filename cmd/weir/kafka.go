package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/weirflow/weir/internal/devbroker"
	"github.com/weirflow/weir/internal/msg"
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

// runDev serves the development broker until interrupted. The rest of
// `weir dev` (a coordinator, a worker, the dashboard) comes with the cluster.
func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("weir dev")
	addr := fs.String("addr", devbroker.DefaultAddr, "host:port of the Kafka-protocol broker (a non-loopback address is reachable from other machines)")
	dataDir := fs.String("data-dir", "", "keep topics and offsets in this directory across restarts")
	partitions := fs.Int("partitions", devbroker.DefaultPartitions, fmt.Sprintf("partitions of topics created on first use (1 to %d)", devbroker.MaxPartitions))
	if code := parseFlags(fs, args, "weir dev [--addr=HOST:PORT] [--data-dir=DIR] [--partitions=N]", stdout, stderr); code >= 0 {
		return code
	}
	if err := devbroker.CheckPartitions(*partitions); err != nil {
		fmt.Fprintf(stderr, "weir dev: --partitions: %s (see weir dev -h)\n", msg.Line(err))
		return 2
	}
	ctx, stop := devContext()
	defer stop()
	log := &syncWriter{w: stderr}
	b, err := devbroker.Start(devbroker.Options{Addr: *addr, DataDir: *dataDir, Partitions: *partitions, Log: log})
	if err != nil {
		fmt.Fprintf(log, "weir: dev: %s\n", msg.Line(err))
		return 1
	}
	fmt.Fprintln(log, "weir: dev: Ctrl-C stops it (the coordinator, worker and dashboard come with the cluster)")
	<-ctx.Done()
	if err := b.Close(); err != nil {
		fmt.Fprintf(log, "weir: dev: %s\n", msg.Line(err))
		return 1
	}
	fmt.Fprintln(log, "weir: dev: stopped")
	return 0
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
