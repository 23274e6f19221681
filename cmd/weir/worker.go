package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/internal/msg"
	"github.com/weirflow/weir/worker"
)

// workerContext is what stops `weir worker`: SIGINT or SIGTERM.
var workerContext = signalContext

// runWorker is `weir worker`: it runs the job attempts a cluster assigns
// to it until SIGINT or SIGTERM, then kills its children.
func runWorker(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("weir worker")
	coordinators := fs.String("coordinators", os.Getenv(api.EnvCoordinators), "comma-separated coordinator URLs (env "+api.EnvCoordinators+")")
	slots := fs.Int("slots", runtime.NumCPU(), "task slots this worker offers")
	data := fs.String("data", "", "directory for fetched binaries, job logs and the worker id")
	tokenFile := fs.String("token-file", os.Getenv(api.EnvTokenFile), "file holding the cluster's bearer token (env "+api.EnvTokenFile+")")
	httpAddr := fs.String("http", "127.0.0.1:0", "host:port of the worker's log server; its host is also where the worker's job processes listen for their peers")
	id := fs.String("id", "", "worker id (default: the one kept in DATA/worker-id, made once)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate: serve the log server over HTTPS (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	keepBinaries := fs.Duration("keep-binaries", worker.DefaultKeepBinaries, "how long a fetched binary no attempt uses is kept")
	keepLogs := fs.Duration("keep-logs", worker.DefaultKeepLogs, "how long the log of a job no attempt runs is kept")
	const usage = "weir worker --coordinators=URLS --data=DIR --token-file=FILE [--slots=N] [--http=HOST:PORT] [--id=ID] [--tls-cert=FILE --tls-key=FILE]"
	if code := parseFlags(fs, args, usage, stdout, stderr); code >= 0 {
		return code
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "weir worker: %s (see weir worker -h)\n", fmt.Sprintf(format, a...))
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	urls, err := api.ParseURLs(*coordinators)
	if err != nil {
		return bad("%s", err)
	}
	switch {
	case *data == "":
		return bad("--data is required: a directory for binaries, logs and the worker id")
	case *tokenFile == "":
		return bad("no token file given: use --token-file=FILE or %s", api.EnvTokenFile)
	case *slots < 1:
		return bad("--slots must be at least 1, not %d", *slots)
	case (*tlsCert == "") != (*tlsKey == ""):
		return bad("give both --tls-cert and --tls-key, or neither")
	case *keepBinaries <= 0 || *keepLogs <= 0:
		return bad("--keep-binaries and --keep-logs must be positive durations")
	}
	w, err := worker.New(worker.Config{
		ID:           *id,
		Coordinators: urls,
		TokenFile:    *tokenFile,
		Slots:        *slots,
		DataDir:      *data,
		HTTPAddr:     *httpAddr,
		TLSCert:      *tlsCert,
		TLSKey:       *tlsKey,
		KeepBinaries: *keepBinaries,
		KeepLogs:     *keepLogs,
		Log:          &syncWriter{w: stderr},
	})
	if err != nil {
		fmt.Fprintf(stderr, "weir worker: %s\n", strings.TrimPrefix(msg.Line(err), "worker: "))
		return 1
	}
	ctx, stop := workerContext()
	defer stop()
	fmt.Fprintf(stdout, "weir worker %s: %d slots, logs at %s, coordinators %s\n", w.ID(), w.Slots(), w.URL(), strings.Join(urls, ","))
	if err := w.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "weir worker: %s\n", strings.TrimPrefix(msg.Line(err), "worker: "))
		return 1
	}
	return 0
}
