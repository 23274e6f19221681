package enrichgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weirflow/weir/io/parquet"
)

// FileName is the base name of partition p's file of input name ("clicks",
// "profiles") with extension ext: clicks-0000.parquet, ...
func FileName(name string, p int, ext string) string { return fmt.Sprintf("%s-%04d.%s", name, p, ext) }

// Write writes each partition of rows to dir/NAME-NNNN.EXT, as Parquet
// (ext "parquet", Snappy pages, rowGroupRows rows a group) or JSON Lines
// (ext "jsonl"), each file under a temporary name renamed when complete,
// and returns the paths.
func Write[T any](dir, name, ext string, parts [][]T, rowGroupRows int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("enrichgen: %w", err)
	}
	var paths []string
	for p, rows := range parts {
		path := filepath.Join(dir, FileName(name, p, ext))
		tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp")
		var err error
		switch ext {
		case "parquet":
			err = parquet.WriteFile(tmp, rows, max(rowGroupRows, 1))
		case "jsonl":
			err = writeJSONL(tmp, rows)
		default:
			err = fmt.Errorf("unknown format %q; use parquet or jsonl", ext)
		}
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("enrichgen: write %s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func writeJSONL[T any](path string, rows []T) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	enc := json.NewEncoder(bw)
	for i := range rows {
		if err := enc.Encode(&rows[i]); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
