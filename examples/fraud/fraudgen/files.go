package fraudgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weirflow/weir/examples/fraud"
	"github.com/weirflow/weir/io/parquet"
)

// DefaultRowGroupRows is the row-group size of [WriteParquet] when none is given.
const DefaultRowGroupRows = 100_000

// FileName returns the base name of partition p's file with extension ext
// ("parquet", "jsonl"): txns-0000.parquet, txns-0001.parquet, ...
func FileName(p int, ext string) string { return fmt.Sprintf("txns-%04d.%s", p, ext) }

// WriteParquet writes each partition to dir/txns-NNNN.parquet with at most
// rowGroupRows rows per row group (0: [DefaultRowGroupRows]) and returns the
// paths. Files are written by io/parquet's WriteFile (Snappy pages) under a
// temporary name and renamed when complete.
func WriteParquet(dir string, parts [][]fraud.Txn, rowGroupRows int) ([]string, error) {
	if rowGroupRows <= 0 {
		rowGroupRows = DefaultRowGroupRows
	}
	paths := make([]string, 0, len(parts))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("fraudgen: %w", err)
	}
	for p, rows := range parts {
		path := filepath.Join(dir, FileName(p, "parquet"))
		tmp := filepath.Join(dir, "."+FileName(p, "parquet")+".tmp")
		if err := parquet.WriteFile(tmp, rows, rowGroupRows); err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("fraudgen: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, fmt.Errorf("fraudgen: %w", err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// WriteJSONL writes each partition to dir/txns-NNNN.jsonl, one JSON object
// per line with the fields user_id, amount, merchant and ts (RFC 3339, UTC),
// and returns the paths.
func WriteJSONL(dir string, parts [][]fraud.Txn) ([]string, error) {
	return writeFiles(dir, parts, "jsonl", func(f *os.File, rows []fraud.Txn) error {
		bw := bufio.NewWriterSize(f, 1<<16)
		enc := json.NewEncoder(bw)
		for i := range rows {
			if err := enc.Encode(&rows[i]); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
}

func writeFiles(dir string, parts [][]fraud.Txn, ext string, write func(*os.File, []fraud.Txn) error) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("fraudgen: %w", err)
	}
	paths := make([]string, 0, len(parts))
	for p, rows := range parts {
		path := filepath.Join(dir, FileName(p, ext))
		if err := writeFile(path, rows, write); err != nil {
			return nil, fmt.Errorf("fraudgen: write %s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func writeFile(path string, rows []fraud.Txn, write func(*os.File, []fraud.Txn) error) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f, rows); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
