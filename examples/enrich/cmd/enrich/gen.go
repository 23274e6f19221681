package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/weirflow/weir/examples/enrich/enrichgen"
	"github.com/weirflow/weir/job"
)

var genCommand = job.Command{
	Name:  "gen",
	Short: "write sample clicks and profile changes (see enrich gen -h)",
	Run:   runGen,
}

func runGen(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o enrichgen.Options
	var out string
	var bad, rowGroup int
	fs := flag.NewFlagSet("enrich gen", flag.ContinueOnError)
	fs.IntVar(&o.Clicks, "clicks", 100_000, "number of clicks")
	fs.IntVar(&o.Users, "users", 2_000, "number of distinct users")
	fs.IntVar(&o.Changes, "changes", 3, "mean number of profile versions per user")
	fs.IntVar(&o.Partitions, "files", 1, "number of click files (partitions)")
	fs.IntVar(&o.ProfilePartitions, "profile-files", 1, "number of profile files (partitions)")
	fs.DurationVar(&o.Span, "span", 10*time.Minute, "event time the inputs cover, from 2024-01-01T00:00:00Z")
	fs.DurationVar(&o.Disorder, "disorder", 0, "maximum out-of-orderness within a file; keep it within run's --bound")
	fs.Float64Var(&o.LateFraction, "late-fraction", 0, "fraction of clicks and profile changes placed 5 minutes later than the bound, in [0, 0.5]")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed: the same flags give the same data")
	fs.IntVar(&bad, "bad", 0, "number of bad records to add to each input, in files read before the good ones (bad*)")
	fs.IntVar(&rowGroup, "rows-per-group", 50_000, "Parquet rows per row group")
	fs.StringVar(&out, "out", "", "output directory: parquet:DIR or jsonl:DIR; clicks go to DIR/clicks, profiles to DIR/profiles")
	usageErr := func(format string, a ...any) int {
		return job.CommandUsageError("enrich", "gen", stderr, format, a...)
	}
	if code, ok := job.ParseCommandFlags("enrich", "gen", "enrich gen --out=parquet:DIR|jsonl:DIR [flags]", fs, args, stdout, stderr); !ok {
		return code
	}
	ext, dir, ok := strings.Cut(out, ":")
	switch {
	case out == "":
		return usageErr("--out is required, e.g. --out=parquet:data")
	case !ok || (ext != "parquet" && ext != "jsonl") || dir == "":
		return usageErr("--out=%s: use parquet:DIR or jsonl:DIR", out)
	case bad < 0 || rowGroup < 1:
		return usageErr("--bad must not be negative, --rows-per-group must be at least 1")
	}
	if err := o.Validate(); err != nil {
		return usageErr("%v", err)
	}
	clicks, profiles := enrichgen.Generate(o)
	nc, np := 0, 0
	for _, p := range clicks {
		nc += len(p)
	}
	for _, p := range profiles {
		np += len(p)
	}
	_, err := enrichgen.Write(filepath.Join(dir, "clicks"), "clicks", ext, clicks, rowGroup)
	if err == nil {
		_, err = enrichgen.Write(filepath.Join(dir, "profiles"), "profiles", ext, profiles, rowGroup)
	}
	if err == nil && bad > 0 {
		err = writeBad(dir, ext, bad)
	}
	if err != nil {
		fmt.Fprintf(stderr, "enrich: %s\n", strings.TrimPrefix(err.Error(), "enrichgen: "))
		return 1
	}
	fmt.Fprintf(stdout, "enrich: wrote %d clicks to %s and %d profile versions to %s", nc, filepath.Join(dir, "clicks"), np, filepath.Join(dir, "profiles"))
	if bad > 0 {
		fmt.Fprintf(stdout, ", and %d bad records to each", bad)
	}
	fmt.Fprintln(stdout)
	return 0
}

// writeBad adds n bad records to each input, in a file named bad.EXT
// that sorts, and is read, before the good ones: for jsonl lines that do
// not decode (a truncated line, a wrong type, no event time), for parquet
// truncated files (n of them, bad-NNNN.parquet).
func writeBad(dir, ext string, n int) error {
	for _, in := range []struct{ name, lines string }{
		{"clicks", `{"user_id":"u00001","page":"/","ts":"2024-01-01T00:0` + "\n" +
			`{"user_id":7,"page":"/","ts":"2024-01-01T00:01:00Z"}` + "\n" +
			`{"user_id":"u00001","page":"/"}` + "\n"},
		{"profiles", `{"user_id":"u00001","segment":"vip","country":"DE","ts":"2024-` + "\n" +
			`{"user_id":"u00001","segment":["vip"],"country":"DE","ts":"2024-01-01T00:01:00Z"}` + "\n" +
			`{"user_id":"u00001","segment":"vip","country":"DE"}` + "\n"},
	} {
		d := filepath.Join(dir, in.name)
		if ext == "jsonl" {
			kinds := strings.SplitAfter(in.lines, "\n")
			var data []byte
			for i := range n {
				data = append(data, kinds[i%3]...)
			}
			if err := os.WriteFile(filepath.Join(d, "bad.jsonl"), data, 0o644); err != nil {
				return err
			}
			continue
		}
		for i := range n {
			p := filepath.Join(d, fmt.Sprintf("bad-%04d.parquet", i))
			var err error
			if in.name == "clicks" {
				c, _ := enrichgen.Generate(enrichgen.Options{Clicks: 100, Users: 10, Seed: uint64(i)})
				_, err = enrichgen.Write(d, fmt.Sprintf("bad-%04d", i), "parquet", c[:1], 100)
			} else {
				_, pr := enrichgen.Generate(enrichgen.Options{Clicks: 1, Users: 30, Seed: uint64(i)})
				_, err = enrichgen.Write(d, fmt.Sprintf("bad-%04d", i), "parquet", pr[:1], 100)
			}
			if err != nil {
				return err
			}
			// Write names it bad-NNNN-0000.parquet: cut it in half and
			// give it its name.
			src := filepath.Join(d, enrichgen.FileName(fmt.Sprintf("bad-%04d", i), 0, "parquet"))
			st, err := os.Stat(src)
			if err == nil {
				err = os.Truncate(src, st.Size()/2)
			}
			if err == nil {
				err = os.Rename(src, p)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
