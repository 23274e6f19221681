package worker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// What a worker keeps on disk, by default, of what no current attempt
// uses: fetched binaries (DataDir/binaries, fetched again when needed) and
// job logs (DataDir/logs, what `weir logs` shows of an ended job).
const (
	DefaultKeepBinaries = 24 * time.Hour
	DefaultKeepLogs     = 7 * 24 * time.Hour
	pruneEvery          = time.Hour
)

// prune removes the regular files of dir that are not in keep and were
// last modified before cutoff, and returns their names. A binary's time is
// that of its last launch (touched then), a log's that of its last line.
func prune(dir string, keep map[string]bool, cutoff time.Time) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		if keep[e.Name()] || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}

// prune removes the binaries and logs no current or assigned attempt uses
// and that are older than the worker keeps them.
func (l *loop) prune(now time.Time) {
	l.lastPrune = now
	bins, logs := map[string]bool{}, map[string]bool{}
	note := func(job, sha string) {
		bins[sha] = true
		logs[job+".log"] = true
	}
	for _, c := range l.children {
		note(c.a.Job, c.a.Binary)
	}
	for _, a := range l.assigned {
		note(a.Job, a.Binary)
	}
	var said []string
	for _, d := range []struct {
		dir, what string
		keep      map[string]bool
		age       time.Duration
	}{
		{filepath.Join(l.w.cfg.DataDir, "binaries"), "binaries", bins, l.w.cfg.KeepBinaries},
		{l.w.logDir, "job logs", logs, l.w.cfg.KeepLogs},
	} {
		removed, err := prune(d.dir, d.keep, now.Add(-d.age))
		if err != nil {
			l.w.logf("clean up %s: %v", d.what, err)
		}
		if len(removed) > 0 {
			said = append(said, fmt.Sprintf("%d %s unused for %v", len(removed), d.what, d.age))
		}
	}
	if len(said) > 0 {
		l.w.logf("removed %s", strings.Join(said, " and "))
	}
}
