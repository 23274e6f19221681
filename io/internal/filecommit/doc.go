// Package filecommit is the two-phase commit protocol of the file sinks
// (io/parquet, io/jsonl): one task's output files, their names, rolling,
// staging under a checkpoint id and commit by rename.
//
// # What it owns
//
// The names of one task's files in the output directory:
//
//	part-<task>-<seq><ext>.inprogress   being written, never visible
//	part-<task>-<seq><ext>.staged-<id>  closed and pre-committed under checkpoint id
//	part-<task>-<seq><ext>              committed, visible
//
// A reader globbing *<ext> sees committed files only, and a committed file is
// always complete because it appears by an atomic rename. Sequence numbers
// continue after the largest one found in the directory, so names are
// deterministic and never reused.
//
// # Restarts
//
// Staged files carry their checkpoint id in their name, so output staged by
// a crashed run can be committed after a restart. [Recover], called once
// per job start before any writer opens (the sinks' Recover, for
// sdk.RecoverableSink), settles the files of every task of the earlier
// run, whatever its parallelism: it commits those staged under ids <= the
// restored checkpoint, and removes those staged under later ids and every
// in-progress file. It is idempotent. Sequence numbers of a task continue
// after the largest one of that task's prefix found at Open, and Recover
// only renames or removes, so a new writer's names never collide with
// files of an earlier run, also after a rescale (2 → 3 → 1 tasks).
//
// Without Recover, a writer still settles its own task's files: Commit(id)
// renames every staged file of the task with an id <= id, and the first
// Commit or PreCommit of a writer removes staged files of the task left by
// an earlier writer that can no longer be part of a completed checkpoint:
// on Commit(id) those staged under ids > id, on PreCommit(id) those staged
// under ids >= id. In-progress files of the task left by an earlier writer
// are removed by Open. Files of tasks the new run does not have (after
// scaling down) are settled only by Recover.
//
// # Output of an earlier run
//
// A job that starts fresh (Recover at checkpoint 0) into a directory that
// holds committed files of an earlier run (part-*.jsonl or part-*.parquet)
// treats them as sdk.RecoverContext.Existing says. Refuse: Recover
// returns an *sdk.OutputExistsError and changes nothing. Append: they
// stay. Overwrite: Recover lists them in a manifest, .weir-replace,
// written atomically; they stay visible until the first Commit of any
// writer in the directory, which removes them, then the manifest, and
// only then renames its staged files. Several writers may do this at once
// (a file already removed is no error), and a crash between the steps is
// repaired by the next run: a resumed run applies the manifest in
// Recover, before it commits the restored checkpoint's output; a fresh
// run writes the manifest again (overwrite), removes it (append) or is
// refused while old files remain. A resumed run never writes a manifest,
// whatever Existing says: the output there is its own. Open numbers new
// files above the names in the manifest too, so a late removal never hits
// a new file.
//
// # Who calls it
//
// The sink writers of io/parquet and io/jsonl, from their task's goroutine.
// A Files is not safe for concurrent use.
package filecommit
