package devbroker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weirflow/weir/internal/msg"
)

// The data directory is kfake's (the version in go.mod):
//
//	meta.json                       format version and cluster ID
//	topics.json                     name, ID, partition count, configs
//	broker_configs.json acls.json sasl.json quotas.json seq_windows.json
//	groups.log pids.log             framed logs; kfake drops a damaged tail
//	session_state.json              kfake ignores it when damaged
//	partitions/NAME-P/              NAME is url.PathEscape(topic)
//	    snapshot.json N.dat N.idx   kfake truncates a damaged segment tail
//
// kfake refuses to start when one of these cannot be read or parsed, or
// when a topic's partition directory cannot be opened (a name too long for
// the file system). prepareDataDir moves such pieces into skipped/ first,
// so that one bad piece costs that piece only.

// skippedDir is the folder under the data directory that holds what a start
// could not load, one subfolder per start.
const skippedDir = "skipped"

// persistVersion is the newest meta.json version this kfake reads.
const persistVersion = 1

// stateFiles are the JSON files kfake parses whole at start; one that does
// not parse stops it.
var stateFiles = []string{"broker_configs.json", "acls.json", "sasl.json", "quotas.json", "seq_windows.json"}

// logFiles are read whole at start; kfake copes with damaged contents, not
// with an unreadable file.
var logFiles = []string{"groups.log", "pids.log"}

// dataDir prepares one data directory for kfake, writing one line to log
// for each piece it moves aside.
type dataDir struct {
	dir, prefix string
	log         io.Writer
	now         time.Time
	skipped     string // skipped/STAMP once something was moved, relative to dir
}

// prepareDataDir makes dir loadable by kfake: what kfake could not load is
// moved under dir/skipped/STAMP (never deleted), with one line to log
// saying what and why. It returns an error only when dir itself cannot be
// used, or was written by a newer format.
func prepareDataDir(dir string, log io.Writer, now time.Time) (*dataDir, error) {
	d := &dataDir{dir: dir, prefix: logPrefix, log: log, now: now}
	if err := d.meta(); err != nil || !d.loads() {
		return d, err
	}
	for _, name := range stateFiles {
		if err := d.stateFile(name); err != nil {
			return d, err
		}
	}
	for _, name := range logFiles {
		if err := d.readable(name); err != nil {
			return d, err
		}
	}
	topics, err := d.topics()
	if err != nil {
		return d, err
	}
	return d, d.partitions(topics)
}

// loads reports whether kfake will load the directory (rather than start
// afresh and write it).
func (d *dataDir) loads() bool {
	_, err := os.Stat(d.path("meta.json"))
	return err == nil
}

// meta checks meta.json. kfake treats a data directory without one as new
// and would write an empty topics.json over the old one, so a missing or
// damaged meta.json is written again (the old one moved aside).
func (d *dataDir) meta() error {
	var meta struct {
		Version   *int    `json:"version"`
		ClusterID *string `json:"cluster_id"`
	}
	data, err := readRegular(d.path("meta.json"))
	switch {
	case err == nil:
		if err = json.Unmarshal(data, &meta); err == nil && (meta.Version == nil || meta.ClusterID == nil) {
			err = errors.New("no version or cluster_id")
		}
		if err == nil {
			if *meta.Version > persistVersion {
				return fmt.Errorf("devbroker: the data in %s was written by a newer weir (format %d; this one reads %d): use that weir, or another --data-dir", d.dir, *meta.Version, persistVersion)
			}
			return nil
		}
		if err := d.skip("meta.json", "wrote a new one", "meta.json is damaged (%s)", err); err != nil {
			return err
		}
	case errors.Is(err, fs.ErrNotExist):
		if !d.exists("topics.json") && !d.exists("partitions") {
			return nil // a new directory
		}
		d.say("meta.json is missing; wrote a new one")
	default:
		if err := d.skip("meta.json", "wrote a new one", "meta.json cannot be read (%s)", err); err != nil {
			return err
		}
	}
	return writeAtomic(d.path("meta.json"), fmt.Appendf(nil, `{"version":%d,"cluster_id":%q}`, persistVersion, clusterID))
}

// stateFile moves name aside unless it is missing or a JSON object.
func (d *dataDir) stateFile(name string) error {
	data, err := readRegular(d.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		var m map[string]json.RawMessage
		if err = json.Unmarshal(data, &m); err == nil {
			return nil
		}
	}
	return d.skip(name, "starting without it", "%s is damaged (%s)", name, err)
}

// readable moves name aside unless it is missing or a readable file.
func (d *dataDir) readable(name string) error {
	err := openRegular(d.path(name))
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return d.skip(name, "starting without it", "%s cannot be read (%s)", name, err)
}

// topics checks topics.json and returns the partition counts of the topics
// kept. A topic whose name or partition count breaks Kafka's rules is
// dropped from it (the whole file is kept under skipped/): its partitions
// could not be loaded (a name too long for a file name) or served.
func (d *dataDir) topics() (map[string]int, error) {
	const name = "topics.json"
	data, err := readRegular(d.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var file struct {
		Version int               `json:"version"`
		Topics  []json.RawMessage `json:"topics"`
	}
	if err == nil {
		err = json.Unmarshal(data, &file)
	}
	if err != nil {
		return nil, d.skip(name, "starting without its topics", "%s is damaged (%s)", name, err)
	}
	topics := map[string]int{}
	kept := file.Topics[:0]
	for i, raw := range file.Topics {
		var t struct {
			Name       *string `json:"name"`
			Partitions int     `json:"partitions"`
		}
		if err := json.Unmarshal(raw, &t); err != nil || t.Name == nil {
			if err == nil {
				err = errors.New("no name")
			}
			d.say("skipped entry %d of %s: it is damaged (%s); the file is kept in %s", i, name, err, d.skippedPath(name))
			continue
		}
		if err := CheckTopicName(*t.Name); err != nil {
			// The message names the topic.
			d.say("skipped a topic: %s; its entry is kept in %s", strings.TrimPrefix(err.Error(), "devbroker: "), d.skippedPath(name))
			continue
		}
		if err := CheckPartitions(t.Partitions); err != nil {
			d.say("skipped topic %s: %s; its entry is kept in %s", quoteShort(*t.Name), strings.TrimPrefix(err.Error(), "devbroker: "), d.skippedPath(name))
			continue
		}
		kept = append(kept, raw)
		topics[*t.Name] = t.Partitions
	}
	if len(kept) == len(file.Topics) {
		return topics, nil
	}
	if err := d.copyAside(name, data); err != nil {
		return nil, err
	}
	file.Topics = kept
	out, err := json.Marshal(file)
	if err != nil {
		return nil, fmt.Errorf("devbroker: rewrite %s: %w", d.path(name), err)
	}
	return topics, writeAtomic(d.path(name), out)
}

// partitions moves aside the partition directories that belong to no kept
// topic (one line per topic) and those kfake could not open.
func (d *dataDir) partitions(topics map[string]int) error {
	const parts = "partitions"
	info, err := os.Stat(d.path(parts))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && !info.IsDir() {
		err = errors.New("not a directory")
	}
	var ents []fs.DirEntry
	if err == nil {
		ents, err = os.ReadDir(d.path(parts))
	}
	if err != nil {
		return d.skip(parts, "every partition starts empty", "%s cannot be read (%s)", parts, err)
	}
	orphans := map[string][]string{} // topic (or directory name) -> directories
	var order []string
	for _, e := range ents {
		rel := filepath.Join(parts, e.Name())
		topic, p, ok := parsePartDir(e.Name())
		if n, known := topics[topic]; !ok || !known || p >= n {
			if !ok {
				topic = e.Name()
			}
			if orphans[topic] == nil {
				order = append(order, topic)
			}
			orphans[topic] = append(orphans[topic], rel)
			continue
		}
		if err := checkPartDir(d.path(rel)); err != nil {
			if err := d.skip(rel, "it starts empty", "partition %d of topic %s cannot be read (%s)", p, quoteShort(topic), err); err != nil {
				return err
			}
		}
	}
	for _, topic := range order {
		dirs := orphans[topic]
		for _, rel := range dirs {
			if err := d.move(rel); err != nil {
				return err
			}
		}
		what := fmt.Sprintf("%d partition directories", len(dirs))
		if len(dirs) == 1 {
			what = "partition directory " + filepath.Base(dirs[0])
		}
		d.say("moved %s of %s to %s: no topic or partition of that name is loaded", what, quoteShort(topic), d.skippedPath(parts))
	}
	return nil
}

// parsePartDir splits kfake's partition directory name NAME-P. ok is false
// unless the name is exactly what kfake writes for that topic and partition.
func parsePartDir(name string) (topic string, p int, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return "", 0, false
	}
	topic, err := url.PathUnescape(name[:i])
	if err != nil {
		return "", 0, false
	}
	p, err = strconv.Atoi(name[i+1:])
	if err != nil || p < 0 || url.PathEscape(topic)+"-"+strconv.Itoa(p) != name {
		return "", 0, false
	}
	return topic, p, true
}

// checkPartDir opens what kfake reads of a partition directory: its
// listing, snapshot.json and the N.dat segments.
func checkPartDir(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return errors.New("not a directory")
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		base, isSeg := strings.CutSuffix(name, ".dat")
		if _, err := strconv.ParseInt(base, 10, 64); name != "snapshot.json" && !(isSeg && err == nil) {
			continue
		}
		if err := openRegular(filepath.Join(path, name)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// skip moves rel aside and says why (format and args) and what follows
// (then).
func (d *dataDir) skip(rel, then, format string, args ...any) error {
	if err := d.move(rel); err != nil {
		return err
	}
	d.say("%s: moved to %s; %s", fmt.Sprintf(format, args...), d.skippedPath(rel), then)
	return nil
}

// move renames dir/rel to dir/skipped/STAMP/rel.
func (d *dataDir) move(rel string) error {
	if err := d.ensureSkipped(); err != nil {
		return err
	}
	to := d.path(d.skippedPath(rel))
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("devbroker: move %s aside: %w", d.path(rel), err)
	}
	if err := os.Rename(d.path(rel), to); err != nil {
		return fmt.Errorf("devbroker: move %s aside: %w", d.path(rel), err)
	}
	return nil
}

// copyAside writes data, the contents of dir/rel, under skipped/.
func (d *dataDir) copyAside(rel string, data []byte) error {
	if err := d.ensureSkipped(); err != nil {
		return err
	}
	to := d.path(d.skippedPath(rel))
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("devbroker: keep a copy of %s: %w", d.path(rel), err)
	}
	return writeAtomic(to, data)
}

// ensureSkipped picks skipped/STAMP, a folder no earlier start used.
func (d *dataDir) ensureSkipped() error {
	if d.skipped != "" {
		return nil
	}
	stamp := d.now.UTC().Format("20060102-150405")
	for i := 1; ; i++ {
		rel := filepath.Join(skippedDir, stamp)
		if i > 1 {
			rel += "-" + strconv.Itoa(i)
		}
		err := os.MkdirAll(d.path(skippedDir), 0o755)
		if err == nil {
			err = os.Mkdir(d.path(rel), 0o755)
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("devbroker: create %s: %w", d.path(rel), err)
		}
		d.skipped = rel
		return nil
	}
}

// moveAll moves everything in dir but skipped/ aside: the last resort when
// kfake cannot load what prepareDataDir let through.
func (d *dataDir) moveAll(cause error) error {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("devbroker: data directory %s: %w", d.dir, err)
	}
	for _, e := range ents {
		if e.Name() == skippedDir {
			continue
		}
		if err := d.move(e.Name()); err != nil {
			return err
		}
	}
	d.say("the data cannot be loaded (%s); moved all of it to %s and starting empty", msg.Line(cause), d.path(d.skipped))
	return nil
}

// skippedPath is where rel goes under skipped/ (its folder is picked by
// the first move).
func (d *dataDir) skippedPath(rel string) string {
	if d.skipped == "" {
		_ = d.ensureSkipped() // a failure shows up in the move that follows
	}
	return filepath.Join(d.skipped, rel)
}

func (d *dataDir) path(rel string) string { return filepath.Join(d.dir, rel) }

func (d *dataDir) exists(rel string) bool {
	_, err := os.Lstat(d.path(rel))
	return err == nil
}

func (d *dataDir) say(format string, args ...any) {
	fmt.Fprintf(d.log, "%sdata in %s: %s\n", d.prefix, d.dir, fmt.Sprintf(format, args...))
}

// readRegular reads a regular file; anything else at path is an error.
func readRegular(path string) ([]byte, error) {
	if err := openRegular(path); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

// openRegular checks that path is a regular file that can be opened.
func openRegular(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// writeAtomic writes data to path through a temporary file and a rename
// (kfake removes stray *.tmp files at start).
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("devbroker: write %s: %w", path, err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = errors.Join(f.Sync(), f.Close())
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("devbroker: write %s: %w", path, err)
	}
	return nil
}
