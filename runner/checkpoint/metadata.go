package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"path"
	"strings"
	"time"
)

// metadataName is the file whose presence makes a checkpoint complete.
const metadataName = "_metadata"

// metadataFormat names the version of the _metadata envelope.
const metadataFormat = "weir-checkpoint-v1"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Metadata describes one completed checkpoint; the runner fills it and
// [Store.Complete] records it.
type Metadata struct {
	ID   uint64    `json:"id"`
	Job  string    `json:"job"`
	Time time.Time `json:"time"`
	// Savepoint marks a checkpoint taken on request (stop with savepoint)
	// rather than periodically.
	Savepoint bool `json:"savepoint,omitempty"`
	// Finished marks the job's last checkpoint: every input had ended.
	Finished bool `json:"finished,omitempty"`
	// UID identifies this checkpoint among every checkpoint and savepoint
	// (random; the copy of a stop's last checkpoint in the savepoint
	// directory and in the checkpoint directory share it).
	UID string `json:"uid,omitempty"`
	// Base is the UID of the savepoint the job's history started from: set
	// by a run started from a savepoint, kept by the runs that resume from
	// its checkpoints; empty for a history that started empty. A restart
	// with the same --from-savepoint tells by it whether the checkpoints in
	// the checkpoint directory came after that savepoint.
	Base           string `json:"base,omitempty"`
	Parallelism    int    `json:"parallelism"`
	MaxParallelism int    `json:"max_parallelism"`
	// Sources maps a source node to its splits' positions.
	Sources map[string]map[string]SplitState `json:"sources,omitempty"`
	// State maps a stateful stage (its head node) to the state of each of
	// its tasks, in task order.
	State map[string][]TaskState `json:"state,omitempty"`
	// Sinks maps a sink node to the committable of each of its tasks.
	Sinks map[string][][]byte `json:"sinks,omitempty"`
}

// SplitState is the position of one source split.
type SplitState struct {
	Pos  []byte `json:"pos,omitempty"`
	Done bool   `json:"done,omitempty"`
}

// TaskState is the keyed state of one task: the key groups
// [KeyGroupStart, KeyGroupEnd) it owned and its uploaded snapshot (nil when
// it had none).
type TaskState struct {
	KeyGroupStart int          `json:"key_group_start"`
	KeyGroupEnd   int          `json:"key_group_end"`
	State         *StateHandle `json:"state,omitempty"`
}

// StateHandle is an uploaded snapshot of one Pebble instance, as returned
// by [Uploader.Upload]: what [Store.Materialize] needs to copy it back.
type StateHandle struct {
	Files []FileRef `json:"files"`
}

// Size returns the total size of the files of h.
func (h *StateHandle) Size() int64 {
	var n int64
	for _, f := range h.Files {
		n += f.Size
	}
	return n
}

// FileRef is one uploaded file of a snapshot.
type FileRef struct {
	// Name is the file's base name in the Pebble directory.
	Name string `json:"name"`
	// Path is where it lives, relative to the store directory, with
	// forward slashes: shared/<instance>/<name> or chk-<id>/<instance>/<name>.
	Path string `json:"path"`
	Size int64  `json:"size"`
	// CRC is the CRC-32C (Castagnoli) of the contents.
	CRC uint32 `json:"crc32c"`
}

// refs calls fn for every file m references.
func (m *Metadata) refs(fn func(FileRef)) {
	for _, tasks := range m.State {
		for _, ts := range tasks {
			if ts.State == nil {
				continue
			}
			for _, f := range ts.State.Files {
				fn(f)
			}
		}
	}
}

// envelope is the _metadata file: the metadata's JSON and its checksum.
type envelope struct {
	Format   string          `json:"format"`
	CRC      *uint32         `json:"crc32c"`
	Metadata json.RawMessage `json:"metadata"`
}

// encodeMetadata returns the contents of a _metadata file. The envelope is
// written by hand so that the checksummed bytes are exactly the ones stored.
func encodeMetadata(m *Metadata) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := fmt.Appendf(nil, `{"format":%q,"crc32c":%d,"metadata":`, metadataFormat, crc32.Checksum(body, castagnoli))
	out = append(out, body...)
	return append(out, "}\n"...), nil
}

// decodeMetadata parses a _metadata file; the error says what is wrong with
// it (used as a CorruptError reason).
func decodeMetadata(b []byte) (*Metadata, error) {
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("not valid JSON (torn or truncated write?): %v", err)
	}
	if e.Format != metadataFormat {
		return nil, fmt.Errorf("format %q, want %q", e.Format, metadataFormat)
	}
	if e.CRC == nil || len(e.Metadata) == 0 {
		return nil, errors.New("checksum or metadata missing")
	}
	if got := crc32.Checksum(e.Metadata, castagnoli); got != *e.CRC {
		return nil, fmt.Errorf("checksum mismatch: crc32c %08x, file says %08x", got, *e.CRC)
	}
	m := new(Metadata)
	if err := json.Unmarshal(e.Metadata, m); err != nil {
		return nil, fmt.Errorf("bad metadata: %v", err)
	}
	return m, nil
}

// checkRef reports what is wrong with the names of f, if anything: Path
// must be a clean relative slash path inside the store and Name a plain
// file name, so metadata cannot point outside the store or the restore
// directory.
func checkRef(f FileRef) error {
	if !validName(f.Name) {
		return fmt.Errorf("file name %q is not a plain file name", f.Name)
	}
	if f.Path == "" || path.Clean(f.Path) != f.Path || strings.HasPrefix(f.Path, "/") ||
		f.Path == ".." || strings.HasPrefix(f.Path, "../") || strings.Contains(f.Path, "\\") {
		return fmt.Errorf("path %q is not a clean path inside the store", f.Path)
	}
	if f.Size < 0 {
		return fmt.Errorf("%s: negative size %d", f.Path, f.Size)
	}
	return nil
}

// validName reports whether s is usable as one path element.
func validName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// ErrCorrupt matches (with errors.Is) every [*CorruptError].
var ErrCorrupt = errors.New("checkpoint: corrupt")

// CorruptError says why a checkpoint or one of its files cannot be used:
// [Store.Completed] returns one per skipped checkpoint directory and
// [Store.Materialize] one for a file that does not match its FileRef.
type CorruptError struct {
	ID     uint64 // the checkpoint, 0 if not known (Materialize)
	Path   string // the file, relative to the store directory
	Reason string
}

// Error names the checkpoint (if known), the file and the reason, on one
// line.
func (e *CorruptError) Error() string {
	if e.ID != 0 {
		return fmt.Sprintf("checkpoint: chk-%d unusable: %s: %s", e.ID, e.Path, e.Reason)
	}
	return fmt.Sprintf("checkpoint: %s: %s", e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
