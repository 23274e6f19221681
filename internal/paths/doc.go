// Package paths compares local directory names the way the filesystem
// sees them: absolute, cleaned, with symbolic links resolved as far as the
// path exists. The runner and the job command line use it to refuse
// directories that overlap, and to name a job after its directories.
//
// # Who calls it
//
// runner (Options.Validate: a savepoint directory must not overlap the
// checkpoint directory) and job (the same check with flag words, and the
// default job name). It has no state and starts no goroutines.
package paths
