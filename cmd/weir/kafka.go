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
	"syscall"

	"github.com/weirflow/weir/internal/devbroker"
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

// runDev serves the development broker until interrupted. The rest of
// `weir dev` (a coordinator, a worker, the dashboard) comes with the cluster.
func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("weir dev")
	addr := fs.String("addr", devbroker.DefaultAddr, "host:port of the Kafka-protocol broker")
	dataDir := fs.String("data-dir", "", "keep topics and offsets in this directory across restarts")
	partitions := fs.Int("partitions", devbroker.DefaultPartitions, "partitions of topics created on first use")
	if code := parseFlags(fs, args, "weir dev [--addr=HOST:PORT] [--data-dir=DIR] [--partitions=N]", stdout, stderr); code >= 0 {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	b, err := devbroker.Start(devbroker.Options{Addr: *addr, DataDir: *dataDir, Partitions: *partitions})
	if err != nil {
		fmt.Fprintf(stderr, "weir: dev: %s\n", strings.TrimPrefix(err.Error(), "devbroker: "))
		return 1
	}
	fmt.Fprintf(stderr, "weir: dev: Kafka-protocol broker on %s (the coordinator, worker and dashboard come with the cluster); Ctrl-C stops it\n", b.Addr())
	<-ctx.Done()
	if err := b.Close(); err != nil {
		fmt.Fprintf(stderr, "weir: dev: %v\n", err)
		return 1
	}
	fmt.Fprintln(stderr, "weir: dev: stopped")
	return 0
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
		partitions = fs.Int("partitions", 0, "number of partitions (0: the broker's default)")
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
				fmt.Fprintf(stderr, "weir: topic produce: %v\n", oerr)
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
		fmt.Fprintf(stderr, "weir: topic %s: %s\n", sub, oneLine(strings.TrimPrefix(err.Error(), "devbroker: ")))
		return 1
	}
	return 0
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
