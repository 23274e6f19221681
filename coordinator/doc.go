// Package coordinator is the cluster's brain: 1, 3 or 5 `weir coordinator`
// nodes replicating jobs, binaries, workers, job placements and completed
// checkpoints through Raft. The leader schedules, detects dead workers by
// missed heartbeats, and restarts a job from its last completed checkpoint;
// a checkpoint is complete when the leader has committed it to the Raft log.
//
// # Usage
//
//	s, err := coordinator.Start(coordinator.Config{
//		ID: "c1", RaftAddr: "127.0.0.1:7001", HTTPAddr: "127.0.0.1:8081",
//		DataDir: "data/c1", CheckpointRoot: "/shared/checkpoints", Token: token,
//		Peers: peers, // the same on every node; none: a one-node cluster
//	})
//	...
//	fmt.Println(s.URL()) // the API, docs/api.md
//	defer s.Close()
//
// `weir coordinator` (cmd/weir) maps its flags onto [Config]; `weir dev`
// and the tests run coordinators in the process.
//
// # What it owns
//
// Its HTTP API (/v1/, docs/api.md, types and client in coordinator/api),
// the Raft node (internal/raftnode over hashicorp/raft: raft-boltdb/v2 for
// the log and stable store, file snapshots, in DataDir/raft; its doc says
// why that store), the blob
// store of uploaded binaries (internal/blobs, DataDir/blobs) and the job
// directories under CheckpointRoot. The replicated state is the pure state
// machine of coordinator/state; fsm.go adapts it to Raft.
//
// # File map
//
//	config.go    Config, its checks and defaults, ParsePeers, the timings
//	server.go    Start, Close, routing, auth, forwarding to the leader, errors
//	handlers.go  jobs, workers, heartbeats, checkpoints, logs, health
//	binaries.go  upload, quorum push between coordinators, download
//	leader.go    the run loop: leadership, detector, scheduler, announcement
//	fsm.go       the raftnode.FSM adapter over state.State
//
// # Message flow
//
// A write (submit, cancel, register, heartbeat exits, checkpoint) reaches
// the leader (a follower reverse-proxies it there), which stamps a
// state.Command with its clock and proposes it through Raft; the answer
// goes back once a quorum committed it and the FSM applied it. Reads are
// served by the leader from its FSM. An upload is hashed to disk, checked
// (internal/bincheck), pushed to the other coordinators until a quorum
// holds it, and only then recorded (add_binary). A submit runs the binary's
// validate command before submit_job.
//
// Workers heartbeat the leader every 500 ms; the answer is their desired
// state (state.Assignments). The leader's loop ticks every 100 ms: a
// worker without a heartbeat for 30 ticks (3 s) is declared dead
// (worker_dead: its jobs restart), then state.Schedule's assign commands
// are applied. A new leader first waits for the log (Barrier) and gives
// every worker a full timeout (Detector.Reset).
//
// # Goroutines, ownership and locks
//
// Raft's FSM goroutine is the only writer of the state; it takes fsm.mu
// for writing, and HTTP handlers and the run loop take it for reading
// (fsm.read). One run goroutine per node (leader.go) owns leadership
// changes, the ticks and the announcement of the node's URL. Server.mu
// guards the detector and the leader's memory (last heartbeat per worker,
// last worker per job); it is never held while fsm.mu is taken or across a
// Raft apply. The HTTP server's goroutines run the handlers; uploads push
// to the other coordinators in one goroutine each, and pushes that end
// after the quorum are recorded by one more. Close cancels the server's
// context, closes the listener and waits for all of them before it shuts
// Raft down.
package coordinator
