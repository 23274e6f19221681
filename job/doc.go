// Package job is the entry point of a weir job binary: it parses the
// command line, builds the pipeline with the user's function, links the
// local runner and the file connectors, shows progress and prints the
// summary. The sdk imports neither the runner nor the connectors, so a
// binary's main hands its pipeline to this package:
//
//	func main() { job.Main("fraud", build) }
//
//	func build(j *job.Job) error {
//		fraud.Build(j.Pipeline(),
//			job.Input[fraud.Txn](j),                 // --in
//			job.Output[fraud.UserTotal](j, ""),      // --out
//			job.Output[fraud.Txn](j, "late"),        // --out/late
//			fraud.Options{Bound: j.Bound(), Lateness: j.AllowedLateness()})
//		return nil
//	}
//
// # Command line
//
//	NAME run --in=[NAME=]parquet:GLOB|jsonl:GLOB|kafka://HOST:PORT/TOPIC ...
//	         --out=[NAME=]jsonl:DIR|parquet:DIR|kafka://HOST:PORT/TOPIC ... [--name=NAME]
//	         [--overwrite|--append] [--mode=batch|stream] [--parallelism=N] [--max-parallelism=128]
//	         [--on-error=dead-letter|skip|fail] [--dead-letter=jsonl:DIR]
//	         [--bound=30s] [--allowed-lateness=0] [--perfect-watermark]
//	         [--idle-timeout=0] [--bounded] [--group=NAME] [--checkpoint-dir=DIR]
//	         [--checkpoint-interval=10s] [--checkpoint-retain=3]
//	         [--savepoint-dir=DIR] [--from-savepoint=DIR]
//	         [--state-dir=DIR] [--state-memory=SIZE]
//	         [--progress=auto|always|never]
//
// A pipeline with several inputs or outputs names each, and the command
// line gives one location per name: --in=clicks=kafka://H:P/clicks
// --in=profiles=parquet:snap/ --out=enriched=jsonl:out/enriched
// --out=metrics=jsonl:out/metrics, read with [NamedInput] and written with
// [NamedOutput] (a single unnamed --in or --out stays as above, [Input]
// and [Output]). The names of the command line and those of the pipeline
// must agree: a missing, unknown or repeated name is one line, exit 2,
// before anything runs. With several outputs, --dead-letter says where
// dead letters go (there is no one default folder); --out-key=NAME=FIELD
// keys a named Kafka output; --start=NAME=POSITION starts one named Kafka
// input elsewhere than --start the others; --reset and --bounded apply to
// every Kafka input (--group too: the consumer group the offsets of each
// completed checkpoint are committed to); [KafkaDecoder] gives a Kafka
// input's decoder each record's key and headers. A pipeline declares
// flags of its own with
// [Program.Flags] (-h lists them apart) and sees the mode and the start
// position through [Job.Mode] and [Job.Start].
//
// Each flag maps onto one field of runner.Options or one pipeline option;
// nothing else reads flags or the environment. Every flag is checked
// before anything runs (ranges from the runner's constants: parallelism
// and max parallelism 1 to runner.MaxParallelismLimit; sizes a decimal
// number and a unit; the savepoint directory apart from the checkpoint
// directory), so that runner.Options.Validate never refuses what the flags
// accepted; a bad value is one line naming the flag, exit 2.
//
// --name is the job's identity, given to sdk.JobName: Kafka transactional
// ids, checkpoint metadata and the summary line carry it. Its default is
// NAME-HASH, HASH being 8 hex digits of the SHA-256 of the absolute
// --checkpoint-dir or, without one, of the --out location, so reruns of a
// job agree and different jobs of one binary differ. Dead letters go to
// <out>/dead-letter unless --dead-letter says otherwise. Side outputs go to
// <out>/late, or to the topic TOPIC-late. A Kafka input is read from its
// earliest offsets: up to the offsets at the start in batch mode, without
// end in stream mode, unless --bounded stops it at the end offsets seen at
// the start (a backfill from Kafka in stream mode: the run ends and every
// window fires). --idle-timeout maps to sdk.IdleTimeout through
// [Job.IdleTimeout]: a partition with nothing to read stops holding the
// watermark back.
//
// --checkpoint-dir turns on checkpoints (runner.Options.CheckpointDir and
// friends) and exactly-once output: a Kafka output writes through
// transactions committed with each checkpoint, files are renamed into
// place; a job started with a completed checkpoint in the directory
// resumes from it, and one whose latest checkpoint is that of a finished
// job does nothing. Without it, Kafka output is at-least-once.
// --savepoint-dir makes a stop write a savepoint, and SIGUSR1 (Program.
// Savepoint) one while the job goes on; --from-savepoint starts from one,
// at any parallelism. --state-memory caps the keyed state kept in
// memory (sizes like 512MB).
//
// A fresh start (nothing to resume from) into an output directory (--out,
// its late directory, the dead-letter directory) that holds what an
// earlier run committed is refused with exit 2 and one line naming the
// flag, before anything runs; --overwrite replaces that output at the
// run's first commit, --append adds to it (runner.Options.ExistingOutput).
// A resumed job writes on into its own output whatever they say.
//
// # On a cluster
//
//	NAME submit --coordinators=URLS [--token-file=FILE] [--name=NAME]
//	            [--from-savepoint=DIR] RUN-FLAGS...
//
// submit checks RUN-FLAGS and builds the pipeline here (a bad flag exits 2,
// stale generated code 1, before anything is uploaded), then uploads this
// very executable (os.Executable) to the cluster and submits it with
// RUN-FLAGS (coordinator/api: Client.SubmitFile). Progress lines go to
// stdout, the job id alone on its last line; an error is one line on
// stderr (exit 1; 2 for a bad command line). WEIR_COORDINATORS and
// WEIR_TOKEN_FILE stand in for the flags. --checkpoint-dir,
// --savepoint-dir and --progress are the cluster's to set.
//
// A coordinator runs the hidden `NAME validate RUN-FLAGS...` before it
// accepts a binary: the flags are parsed exactly as run parses them and
// the pipeline is built without resolving the input, creating a directory
// or opening anything; it prints one api.Validation JSON line (program,
// job name, mode, parallelism) and exits 0, or prints one line and exits
// 2 (a bad flag) or 1 (stale generated code, any other build error).
//
// Worker mode: when WEIR_JOB_ID is set (a cluster's worker started this
// process for one attempt of a job), run reads WEIR_ATTEMPT,
// WEIR_COORDINATORS and WEIR_TOKEN_FILE and reports every checkpoint to the
// coordinators (runner.Options.CommitCheckpoint) before it counts: only
// once the leader has recorded it do the sinks commit. A report that
// fails fails that checkpoint (the next one is tried); a refusal because
// a newer attempt of the job runs (409) stops this attempt with one line,
// exit 1, nothing more committed. The answer to a report says whether a
// savepoint was asked of the cluster since (weir savepoint JOB): then the
// next checkpoint is also a savepoint, reported with it. With
// WEIR_PROCESSES above 1 the process is WEIR_PROCESS of an attempt spread
// over workers: it listens on a port of WEIR_DATA_HOST, learns its peers'
// addresses from the leader (POST /v1/jobs/{id}/peers, for up to a
// minute) and runs its share of the tasks as a runner.Cluster; only the
// master (process 0) reports checkpoints.
//
// # Stopping
//
// The first SIGINT or SIGTERM stops a stream job gracefully: windows that
// fired are written and committed, files included, and it exits 0 with a
// "stopped: output committed" line, and so does a batch job with
// --checkpoint-dir or --savepoint-dir (a rerun resumes). It aborts other
// batch jobs (nothing committed, exit 130): without checkpoints a backfill
// is rerun whole. A second signal aborts any job (exit 130), with a line
// saying what stays committed: the output up to the last completed
// checkpoint (this run's, or the one it resumed from), or nothing. A stop
// while the job is set up, before any task starts, ends it at once (exit
// 0, "stopped before it started": nothing read or committed, no
// savepoint).
//
// Exit codes: 0 the job succeeded or a stream job was stopped, 1 it failed
// (one line on stderr: what and where; an input that cannot be read, a
// folder included, is named with the reason), 2 the command line is wrong
// (one line and a hint to run -h) or its output directory is used, 130 it
// was aborted. A panic that escapes the
// build function is reported on one line too, never as a trace.
//
// # Output on stderr
//
// On a terminal a batch run redraws a progress bar (rows read of the total
// known from Parquet footers, percent, rate, ETA); elsewhere it prints a
// plain line every ten seconds. Every successful run ends with one summary
// line: rows in, rows out (per sink when there are several), late,
// dead-lettered, time and rate, and the job's name. See job/internal/progress.
//
// # Goroutines
//
// [Program.Run] runs the job on the caller's goroutine; the runner starts
// and waits for its task goroutines, and the progress reporter owns one
// goroutine that Run stops before it returns.
package job
