package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/weirflow/weir/coordinator"
	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/internal/msg"
)

// coordinatorContext is what stops `weir coordinator`: SIGINT or SIGTERM
// (tests replace it).
var coordinatorContext = signalContext

// runCoordinator is `weir coordinator`: one node of the cluster, serving
// until SIGINT or SIGTERM.
func runCoordinator(args []string, stdout, stderr io.Writer) int {
	const synopsis = "weir coordinator --data=DIR --checkpoints=DIR --token-file=FILE [--id=c1] [--raft=HOST:PORT] [--http=HOST:PORT] [--peers=ID@HOST:PORT,...] [--tls-cert=FILE --tls-key=FILE] [--keep-binaries=DURATION] [--join]"
	fs := flagSet("weir coordinator")
	id := fs.String("id", "c1", "this node's id; it must appear in --peers when that is given")
	raftAddr := fs.String("raft", "127.0.0.1:7001", "host:port of the Raft transport (default: this node's --peers entry, if any)")
	httpAddr := fs.String("http", "127.0.0.1:8081", "host:port of the HTTP API")
	data := fs.String("data", "", "directory for the Raft log, snapshots and uploaded binaries (required)")
	peers := fs.String("peers", "", "every node of the cluster as ID@HOST:PORT (Raft), comma-separated; none or one: a one-node cluster")
	checkpoints := fs.String("checkpoints", "", "directory every process of the cluster reaches, for checkpoints and savepoints (required)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token every API call must carry (required)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate: serve the API over HTTPS (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	join := fs.Bool("join", false, "the cluster exists: with an empty --data folder (lost or replaced), wait for the leader to bring this node in instead of bootstrapping a new cluster")
	keepBinaries := fs.Duration("keep-binaries", coordinator.DefaultKeepBinaries, "how long a binary no job that can still run uses is kept after its last upload or submission")
	if code := parseFlags(fs, args, synopsis, stdout, stderr); code >= 0 {
		return code
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "weir coordinator: %s (see weir coordinator -h)\n", fmt.Sprintf(format, a...))
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if *keepBinaries <= 0 {
		return bad("--keep-binaries must be a positive duration, not %v", *keepBinaries)
	}
	for _, f := range []struct{ name, value string }{{"data", *data}, {"checkpoints", *checkpoints}, {"token-file", *tokenFile}} {
		if f.value == "" {
			return bad("--%s is required", f.name)
		}
	}
	ps, err := coordinator.ParsePeers(*peers)
	if err != nil {
		return bad("--peers: %s", msg.Line(err))
	}
	raftSet := false
	fs.Visit(func(f *flag.Flag) { raftSet = raftSet || f.Name == "raft" })
	for _, p := range ps {
		if p.ID == *id && !raftSet {
			*raftAddr = p.Addr // --raft defaults to the node's own --peers entry
		}
	}
	token, err := api.ReadToken(*tokenFile)
	if err != nil {
		return bad("--token-file: %s", msg.Line(err))
	}
	cfg := coordinator.Config{
		ID:             *id,
		RaftAddr:       *raftAddr,
		HTTPAddr:       *httpAddr,
		DataDir:        *data,
		Peers:          ps,
		CheckpointRoot: *checkpoints,
		Token:          token,
		TLSCert:        *tlsCert,
		TLSKey:         *tlsKey,
		KeepBinaries:   *keepBinaries,
		Join:           *join,
	}
	if err := cfg.Validate(); err != nil {
		return bad("%s", strings.TrimPrefix(msg.Line(err), "coordinator: "))
	}
	ctx, stop := coordinatorContext()
	defer stop()
	log := &syncWriter{w: stderr}
	cfg.Logger = log
	s, err := coordinator.Start(cfg)
	if err != nil {
		fmt.Fprintf(log, "weir coordinator: %s\n", msg.Line(err))
		return 1
	}
	fmt.Fprintf(stdout, "weir coordinator %s: http %s, raft %s, data %s\n", *id, s.URL(), s.RaftAddr(), *data)
	<-ctx.Done()
	if err := s.Close(); err != nil {
		fmt.Fprintf(log, "weir coordinator: %s\n", msg.Line(err))
		return 1
	}
	return 0
}
