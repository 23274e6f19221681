// Package api is the cluster's HTTP JSON API, version 1: the request and
// response types every /v1/ endpoint uses, and a [Client] for them. The
// CLI, workers and job binaries in worker mode talk to coordinators
// through it and nothing else. docs/api.md describes the endpoints.
//
// Every request carries "Authorization: Bearer TOKEN"; a request without
// a valid token gets 401 and changes nothing. Errors come back as an
// [Error] body with a one-line message.
package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Version is the API's version, the first element of every path.
const Version = "v1"

// ShortSHA is the first 12 hex digits of a binary's SHA-256, as messages
// show it.
func ShortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// TokenHeader is the header that carries the bearer token.
const TokenHeader = "Authorization"

// LeaderHeader is set by the leader on its answers (forwarded ones
// included) to its own URL: a [Client] tries that URL first afterwards.
const LeaderHeader = "Weir-Leader"

// LogToken is the bearer token of a worker's log server: derived from the
// cluster's token (HMAC-SHA256), so that a coordinator reading a job's log
// over the worker's plain HTTP never sends the token that can submit
// binaries, and a token read off that connection only reads logs.
func LogToken(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("weir worker logs v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// MaxBinarySize is the default limit on an uploaded job binary.
const MaxBinarySize = 512 << 20

// Error is the body of every response that is not 2xx.
type Error struct {
	Error string `json:"error"` // one line
	// Leader is the leader's HTTP URL when the node that answered is a
	// follower that could not forward the request (may be empty).
	Leader string `json:"leader,omitempty"`
}

// Health is GET /v1/health: the node that answered and its view of the
// cluster. It needs no leader.
type Health struct {
	ID        string `json:"id"`
	Leader    string `json:"leader"`     // id of the leader, "" when there is none
	LeaderURL string `json:"leader_url"` // HTTP URL of the leader
	IsLeader  bool   `json:"is_leader"`
	Term      uint64 `json:"term"`
	Applied   uint64 `json:"applied"` // last applied Raft index
	Nodes     []Node `json:"nodes"`
}

// Node is one coordinator.
type Node struct {
	ID   string `json:"id"`
	Raft string `json:"raft"` // Raft address host:port
	HTTP string `json:"http"` // HTTP URL, once the node has announced it
}

// Binary is the answer to POST /v1/binaries (the body is the executable)
// and HEAD /v1/binaries/{sha256}.
type Binary struct {
	SHA256 string `json:"sha256"` // lowercase hex
	Size   int64  `json:"size"`
	// Holders are the coordinators that hold a verified copy; a binary is
	// recorded only once a quorum holds it.
	Holders []string `json:"holders,omitempty"`
	// Used is when it was last uploaded or submitted: a binary no job
	// that can still run uses is removed some time after (coordinator
	// Config.KeepBinaries).
	Used time.Time `json:"used,omitzero"`
}

// SubmitRequest is POST /v1/jobs.
type SubmitRequest struct {
	Name   string   `json:"name,omitempty"` // default: the job binary's --name or its program name
	Binary string   `json:"binary"`         // SHA-256 of an uploaded binary
	Args   []string `json:"args"`           // the job's flags, as for `BINARY run ARGS`
	// FromSavepoint starts the job from a savepoint directory every
	// worker can reach.
	FromSavepoint string `json:"from_savepoint,omitempty"`
	// RequestID, random and set once per submission ([Client.Submit]
	// does), makes a retry safe: the cluster answers a request id it has
	// recorded with the job it made, instead of making a second one.
	RequestID string `json:"request_id,omitempty"`
}

// SubmitResponse is the answer to POST /v1/jobs.
type SubmitResponse struct {
	ID string `json:"id"`
}

// Validation is what `BINARY validate ARGS` prints on stdout as one JSON
// line when the flags are valid and the pipeline builds: how a
// coordinator knows that a binary is a weir job and what it asks for.
type Validation struct {
	Weir        int    `json:"weir"` // always 1
	Program     string `json:"program"`
	Name        string `json:"name"`
	Mode        string `json:"mode"` // batch or stream
	Parallelism int    `json:"parallelism"`
}

// JobState is where a job is in its life.
type JobState string

// The states of a job. Finished, Failed, Cancelled and Stopped are final.
const (
	Queued     JobState = "queued"     // accepted, waiting for slots (Job.Reason says why)
	Running    JobState = "running"    // its child process runs on Job.Worker
	Restarting JobState = "restarting" // its attempt ended or its worker died; it restarts from its last completed checkpoint
	Stopping   JobState = "stopping"   // stop with savepoint asked for
	Cancelling JobState = "cancelling" // cancel asked for, the worker has not confirmed it yet
	Finished   JobState = "finished"   // a batch job that ended
	Failed     JobState = "failed"     // gave up (Job.Reason says why)
	Cancelled  JobState = "cancelled"
	Stopped    JobState = "stopped" // stopped with a savepoint (Job.Savepoint)
)

// Final reports whether the state is one a job never leaves.
func (s JobState) Final() bool {
	switch s {
	case Finished, Failed, Cancelled, Stopped:
		return true
	}
	return false
}

// Job is GET /v1/jobs/{id}, and an element of GET /v1/jobs.
type Job struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Binary        string   `json:"binary"`
	Args          []string `json:"args"`
	FromSavepoint string   `json:"from_savepoint,omitempty"`
	Mode          string   `json:"mode"`
	Parallelism   int      `json:"parallelism"`
	State         JobState `json:"state"`
	Reason        string   `json:"reason,omitempty"` // why it waits, failed or restarted
	Attempt       uint64   `json:"attempt"`          // counts starts; a stale attempt is fenced
	Restarts      int      `json:"restarts"`
	Worker        string   `json:"worker,omitempty"` // the worker hosting its tasks, or the first of Workers
	// Workers, when the job's tasks are spread over several workers, are
	// those workers by process index (task k on Workers[k·len/Parallelism]);
	// Workers[0] hosts the attempt's master, the process that completes
	// checkpoints. Empty when one worker hosts them all.
	Workers     []string `json:"workers,omitempty"`
	Tasks       []Task   `json:"tasks,omitempty"`
	Checkpoint  *Ckpt    `json:"checkpoint,omitempty"` // last completed checkpoint
	Savepoint   string   `json:"savepoint,omitempty"`  // SavepointDir once a savepoint is in it (--from-savepoint takes its newest)
	SavepointID uint64   `json:"savepoint_id,omitempty"`
	// SavepointRequested counts the savepoints asked for without a stop,
	// SavepointTaken those answered: a request is done once
	// SavepointTaken reaches the SavepointRequested it returned.
	SavepointRequested uint64    `json:"savepoint_requested,omitempty"`
	SavepointTaken     uint64    `json:"savepoint_taken,omitempty"`
	CheckpointDir      string    `json:"checkpoint_dir"` // in the cluster's --checkpoints
	SavepointDir       string    `json:"savepoint_dir"`
	Submitted          time.Time `json:"submitted"`
}

// Task is one task slot a job holds: Flink's slot sharing, a slot hosts one
// task of each stage.
type Task struct {
	Index  int    `json:"index"`
	Worker string `json:"worker"`
}

// Ckpt is a completed checkpoint, recorded in the Raft log.
type Ckpt struct {
	ID        uint64    `json:"id"`
	Path      string    `json:"path"`
	Watermark time.Time `json:"watermark,omitzero"`
	Attempt   uint64    `json:"attempt"`
	Completed time.Time `json:"completed"`
}

// CheckpointRequest is POST /v1/jobs/{id}/checkpoints, sent by a job in
// worker mode once a checkpoint's metadata is durable and before its
// sinks commit. 200 means the leader committed it to the Raft log and the
// sinks may commit; 409 means Attempt is stale (a newer attempt runs) and
// the checkpoint must fail.
//
// Savepoint is the directory of a savepoint written with the checkpoint,
// if any; SavepointFor is then the Job.SavepointRequested the attempt had
// seen when it asked for it (0 for a stop's). The answer is the Job: an
// attempt that sees SavepointRequested above SavepointTaken (and above
// what it asked for already) takes a savepoint with its next checkpoint.
type CheckpointRequest struct {
	Attempt      uint64    `json:"attempt"`
	ID           uint64    `json:"id"`
	Path         string    `json:"path"`
	Watermark    time.Time `json:"watermark,omitzero"`
	Savepoint    string    `json:"savepoint,omitempty"`
	SavepointFor uint64    `json:"savepoint_for,omitempty"`
	// Complete is the newest checkpoint of the job's directory known to
	// be complete on disk (its metadata written): the one the attempt
	// resumed from or one it completed; 0 for none. Once there is one, the
	// job's attempts resume from the directory, no longer from
	// FromSavepoint.
	Complete uint64 `json:"complete,omitempty"`
}

// PeersRequest is POST /v1/jobs/{id}/peers: process Process of attempt
// Attempt of a job spread over workers says where its data port listens,
// and asks where the others' do.
type PeersRequest struct {
	Attempt uint64 `json:"attempt"`
	Process int    `json:"process"`
	Addr    string `json:"addr"`
}

// PeersResponse lists the data address of every process of the attempt,
// by process index; "" for one that has not said yet.
type PeersResponse struct {
	Peers []string `json:"peers"`
}

// SavepointRequest is POST /v1/jobs/{id}/savepoint.
type SavepointRequest struct {
	// Stop stops the job once the savepoint is written (Flink's
	// stop-with-savepoint). Without it the job takes a savepoint with its
	// next checkpoint and goes on: the answer's SavepointRequested is the
	// request to wait for (see Job.SavepointTaken).
	Stop bool `json:"stop"`
}

// Worker is an element of GET /v1/workers.
type Worker struct {
	ID       string    `json:"id"`
	URL      string    `json:"url"` // its HTTP URL (logs)
	Slots    int       `json:"slots"`
	Used     int       `json:"used"`
	Alive    bool      `json:"alive"`
	Jobs     []string  `json:"jobs,omitempty"`
	LastSeen time.Time `json:"last_seen,omitzero"` // on the leader that answered
}

// RegisterRequest is POST /v1/workers/register.
type RegisterRequest struct {
	ID    string `json:"id"`  // stable across restarts of the worker (kept in its data dir)
	URL   string `json:"url"` // the worker's HTTP URL
	Slots int    `json:"slots"`
	// Incarnation is random for each worker process: a registration the
	// same process repeats (a retry) changes nothing, while one from
	// another process with the worker's id replaces it (what it ran
	// restarts) and the old process's heartbeats are answered Unknown.
	Incarnation string `json:"incarnation,omitempty"`
}

// RegisterResponse tells a worker how often to heartbeat and how long its
// lease lasts without a successful heartbeat.
type RegisterResponse struct {
	HeartbeatMillis int64 `json:"heartbeat_ms"`
	LeaseMillis     int64 `json:"lease_ms"`
}

// HeartbeatRequest is POST /v1/workers/{id}/heartbeat: what the worker
// runs and what ended since it last heard back.
type HeartbeatRequest struct {
	Incarnation string    `json:"incarnation,omitempty"` // the RegisterRequest's
	Running     []Attempt `json:"running"`
	Exited      []Exit    `json:"exited,omitempty"`
}

// Attempt names one start of a job.
type Attempt struct {
	Job     string `json:"job"`
	Attempt uint64 `json:"attempt"`
}

// Exit is a child process that ended.
type Exit struct {
	Job     string `json:"job"`
	Attempt uint64 `json:"attempt"`
	Code    int    `json:"code"`   // exit code, -1 when killed by a signal
	Reason  string `json:"reason"` // its last line on stderr, or what the worker saw
	// Permanent: restarting cannot help (bad command line, binary
	// altered on disk).
	Permanent bool `json:"permanent,omitempty"`
}

// HeartbeatResponse is the leader's desired state for the worker: the
// worker starts what is assigned and not running, and ends what runs and
// is not assigned (a Stop assignment with Stop set ends gracefully).
// Acked are the exits the leader recorded; the worker forgets them.
type HeartbeatResponse struct {
	Assignments []Assignment `json:"assignments"`
	Acked       []Attempt    `json:"acked,omitempty"`
	// Unknown: the leader does not know this worker; register again.
	Unknown bool `json:"unknown,omitempty"`
	// Replaced: another process registered with this worker's id since
	// (a second worker started with the same --id): this one kills its
	// children and stops, rather than taking the id back.
	Replaced bool `json:"replaced,omitempty"`
}

// Assignment is one job attempt a worker should run.
type Assignment struct {
	Job     string   `json:"job"`
	Attempt uint64   `json:"attempt"`
	Name    string   `json:"name"`
	Binary  string   `json:"binary"` // SHA-256, fetched from GET /v1/binaries/{sha256}
	Args    []string `json:"args"`
	Slots   int      `json:"slots"`
	// Process and Processes: the attempt runs as Processes processes,
	// one per worker, this worker's being number Process (0, the master,
	// completes checkpoints). Processes 0 or 1: one process runs it all.
	Process       int    `json:"process,omitempty"`
	Processes     int    `json:"processes,omitempty"`
	CheckpointDir string `json:"checkpoint_dir"`
	SavepointDir  string `json:"savepoint_dir"`
	FromSavepoint string `json:"from_savepoint,omitempty"`
	// Stop: end the child gracefully (SIGTERM: a stream job writes its
	// savepoint to SavepointDir and exits 0).
	Stop bool `json:"stop,omitempty"`
}

// Env names what a worker puts in a child's environment.
const (
	EnvJobID        = "WEIR_JOB_ID"
	EnvAttempt      = "WEIR_ATTEMPT"
	EnvCoordinators = "WEIR_COORDINATORS" // comma-separated URLs, also read by the CLI
	EnvTokenFile    = "WEIR_TOKEN_FILE"   // also read by the CLI
	// A child of a job spread over workers: its process number, their
	// count, and the host its data port listens on (the worker's).
	EnvProcess   = "WEIR_PROCESS"
	EnvProcesses = "WEIR_PROCESSES"
	EnvDataHost  = "WEIR_DATA_HOST"
	// EnvDataListen, when set, is the host the data port listens on
	// instead (the worker's own wildcard address), WEIR_DATA_HOST being
	// then the name it is reached by.
	EnvDataListen = "WEIR_DATA_LISTEN"
	// The worker's --tls-cert and --tls-key (absolute), when it has them:
	// the child's data port then speaks TLS with them.
	EnvTLSCert = "WEIR_TLS_CERT"
	EnvTLSKey  = "WEIR_TLS_KEY"
)
