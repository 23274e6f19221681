package devbroker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirflow/weir/internal/devbroker"
)

// fill starts a broker on dir, creates topics with one partition each and
// writes n records to each, then stops it.
func fill(t *testing.T, dir string, n int, topics ...string) {
	t.Helper()
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	for _, topic := range topics {
		if err := devbroker.CreateTopic(ctx, b.Brokers(), topic, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := devbroker.ProduceJSONL(ctx, b.Brokers(), topic, strings.NewReader(jsonl(0, n)), "user_id"); err != nil {
			t.Fatal(err)
		}
	}
}

// addTopics appends copies of the first entry of dir's topics.json under
// other names and partition counts, as a broker before the topic rules
// could have written them.
func addTopics(t *testing.T, dir string, topics map[string]int) {
	t.Helper()
	path := filepath.Join(dir, "topics.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	list := file["topics"].([]any)
	for name, n := range topics {
		e := map[string]any{}
		for k, v := range list[0].(map[string]any) {
			e[k] = v
		}
		e["name"], e["partitions"] = name, n
		list = append(list, e)
	}
	file["topics"] = list
	if data, err = json.Marshal(file); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func topicNames(t *testing.T, b *devbroker.Broker) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tds, err := kadm.NewClient(cl).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := tds.Names()
	slices.Sort(names)
	return names
}

// skipped lists the files and folders under dir/skipped/*/ (relative to
// that folder), and checks that one start used one folder.
func skipped(t *testing.T, dir string) []string {
	t.Helper()
	stamps, _ := filepath.Glob(filepath.Join(dir, "skipped", "*"))
	if len(stamps) != 1 {
		t.Fatalf("skipped folders %q, want one", stamps)
	}
	var out []string
	filepath.WalkDir(stamps[0], func(path string, d os.DirEntry, err error) error {
		if rel, _ := filepath.Rel(stamps[0], path); rel != "." && err == nil {
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// logLines checks that each of want is in exactly one line of log and that
// log has no other lines but the broker's serving line, and returns them.
func logLines(t *testing.T, log string, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	used := make([]bool, len(lines))
	for _, w := range want {
		n := 0
		for i, l := range lines {
			if strings.Contains(l, w) {
				n++
				used[i] = true
			}
		}
		if n != 1 {
			t.Errorf("%d lines contain %q", n, w)
		}
	}
	for i, l := range lines {
		if !used[i] && !strings.Contains(l, "Kafka-protocol broker on") {
			t.Errorf("unexpected line %q", l)
		}
	}
}

// TestDataDirSkipsWhatCannotLoad restarts a broker on a data directory
// holding what kfake cannot load: a topic with a 300-character name (which
// stopped `weir dev` with "file name too long"), topics whose names or
// partition counts break Kafka's rules, a damaged state file, a partition
// whose segment cannot be read, a stray partition directory and a damaged
// segment tail. The broker starts, serves the good topics whole, and has
// moved each bad piece under skipped/ with one line.
func TestDataDirSkipsWhatCannotLoad(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 20, "txns", "other")
	long := strings.Repeat("a", 300)
	addTopics(t, dir, map[string]int{long: 1, "a/b": 1, "..": 2, "none": 0, "many": 100000})
	write(t, filepath.Join(dir, "partitions", "a%2Fb-0", "0.dat"), "x")
	write(t, filepath.Join(dir, "partitions", "ghost-0", "0.dat"), "x")
	write(t, filepath.Join(dir, "partitions", "ghost-1", "0.dat"), "x")
	write(t, filepath.Join(dir, "acls.json"), `{"version":1,"ac`)
	// other's only segment cannot be read: a directory in its place.
	seg := filepath.Join(dir, "partitions", "other-0", "0.dat")
	if err := os.Remove(seg); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(seg, 0o755); err != nil {
		t.Fatal(err)
	}
	// txns's segment gets a damaged tail, which kfake cuts off.
	f, err := os.OpenFile(filepath.Join(dir, "partitions", "txns-0", "0.dat"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("garbage")
	f.Close()

	var log bytes.Buffer
	b := start(t, devbroker.Options{DataDir: dir, Log: &log})
	logLines(t, log.String(),
		`skipped a topic: topic name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"... is 300 characters; Kafka allows at most 249; its entry is kept in skipped/`,
		`skipped a topic: topic name "a/b" has '/'`,
		`skipped a topic: ".." is not a topic name Kafka allows`,
		`skipped topic "none": 0 partitions: a topic needs at least 1`,
		`skipped topic "many": 100000 partitions`,
		`acls.json is damaged (unexpected end of JSON input): moved to skipped/`,
		`starting without it`,
		`it starts empty`,
		`partition 0 of topic "other" cannot be read (0.dat: not a regular file): moved to skipped/`,
		`moved partition directory a%2Fb-0 of "a/b" to skipped/`,
		`moved 2 partition directories of "ghost" to skipped/`,
		`broker: partition txns-0 segment 0: truncating 7 corrupt bytes`,
	)
	if !strings.Contains(log.String(), "weir: dev: data in "+dir+": ") {
		t.Errorf("lines do not name the data directory: %q", log.String())
	}
	if got, want := skipped(t, dir), []string{
		"acls.json",
		"partitions", "partitions/a%2Fb-0", "partitions/a%2Fb-0/0.dat",
		"partitions/ghost-0", "partitions/ghost-0/0.dat", "partitions/ghost-1", "partitions/ghost-1/0.dat",
		"partitions/other-0", "partitions/other-0/0.dat", "partitions/other-0/0.idx", "partitions/other-0/snapshot.json",
		"topics.json",
	}; !slices.Equal(got, want) {
		t.Errorf("skipped/ holds %q, want %q", got, want)
	}
	if got := topicNames(t, b); !slices.Equal(got, []string{"other", "txns"}) {
		t.Errorf("topics %.30q", got)
	}
	want := compact(jsonl(0, 20))
	if got := consume(t, b.Brokers(), "txns", devbroker.ConsumeOptions{FromStart: true}); !slices.Equal(got, want) {
		t.Errorf("txns: %d records, want %d", len(got), len(want))
	}
	if got := consume(t, b.Brokers(), "other", devbroker.ConsumeOptions{FromStart: true}); len(got) != 0 {
		t.Errorf("other: %d records, want 0", len(got))
	}

	// The next start has nothing to skip.
	b.Close()
	log.Reset()
	b = start(t, devbroker.Options{DataDir: dir, Log: &log})
	logLines(t, log.String())
	if got := consume(t, b.Brokers(), "txns", devbroker.ConsumeOptions{FromStart: true}); !slices.Equal(got, want) {
		t.Errorf("txns after a second restart: %d records, want %d", len(got), len(want))
	}
}

// TestDataDirMeta: a missing or damaged meta.json is written again (kfake
// would take the directory for a new one and write an empty topic list over
// the old), and one from a newer format is refused with a clear error.
func TestDataDirMeta(t *testing.T) {
	for _, tc := range []struct {
		name, meta, line string
	}{
		{"missing", "", "meta.json is missing; wrote a new one"},
		{"damaged", "{\"vers", "meta.json is damaged (unexpected end of JSON input): moved to skipped/"},
		{"empty object", "{}", "meta.json is damaged (no version or cluster_id)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, 5, "txns")
			path := filepath.Join(dir, "meta.json")
			if tc.meta == "" {
				os.Remove(path)
			} else {
				write(t, path, tc.meta)
			}
			var log bytes.Buffer
			b := start(t, devbroker.Options{DataDir: dir, Log: &log})
			logLines(t, log.String(), tc.line)
			if got := consume(t, b.Brokers(), "txns", devbroker.ConsumeOptions{FromStart: true}); len(got) != 5 {
				t.Errorf("txns: %d records, want 5", len(got))
			}
		})
	}
	dir := t.TempDir()
	fill(t, dir, 1, "txns")
	write(t, filepath.Join(dir, "meta.json"), `{"version":2,"cluster_id":"weir-dev"}`)
	_, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "was written by a newer weir (format 2; this one reads 1)") {
		t.Errorf("newer format: %v", err)
	}
}

// TestDataDirLastResort: state that passes the checks but that kfake still
// refuses (here an acls.json of the wrong shape) does not stop the broker:
// all of the data is moved aside and the broker starts empty.
func TestDataDirLastResort(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 5, "txns")
	write(t, filepath.Join(dir, "acls.json"), `{"version":1,"acls":"x"}`)
	var log bytes.Buffer
	b := start(t, devbroker.Options{DataDir: dir, Log: &log})
	logLines(t, log.String(), "the data cannot be loaded (loading persisted state: parsing acls.json: json: cannot unmarshal string")
	if !strings.Contains(log.String(), "moved all of it to "+filepath.Join(dir, "skipped")) {
		t.Errorf("log %q", log.String())
	}
	if got := topicNames(t, b); len(got) != 0 {
		t.Errorf("topics %q, want none", got)
	}
	got := skipped(t, dir)
	for _, want := range []string{"acls.json", "meta.json", "topics.json", "partitions/txns-0/0.dat"} {
		if !slices.Contains(got, want) {
			t.Errorf("skipped/ holds %q, want %s in it", got, want)
		}
	}
	b.Close()
	log.Reset()
	start(t, devbroker.Options{DataDir: dir, Log: &log})
	logLines(t, log.String())
}
