package job

import (
	"fmt"
	"path/filepath"

	"github.com/weirflow/weir/sdk"
)

// existingMessage is the line for a fresh run refused because an output
// directory holds what an earlier run committed, naming the flag that
// chose the directory.
func existingMessage(cfg config, e *sdk.OutputExistsError) string {
	what, where := e.Path, ""
	dir := filepath.Clean(e.Path)
	switch {
	case cfg.out.Scheme != Kafka && dir == filepath.Clean(cfg.out.Path):
		what = "--out=" + cfg.out.String()
	case cfg.out.Scheme != Kafka && filepath.Dir(dir) == filepath.Clean(cfg.out.Path):
		// A side output or the default dead-letter directory.
		what, where = "--out="+cfg.out.String(), " in "+e.Path
	case cfg.dead.Path != "" && dir == filepath.Clean(cfg.dead.Path):
		what = "--dead-letter=" + cfg.dead.String()
	}
	files := fmt.Sprintf("%d files", e.Files)
	if e.Files == 1 {
		files = "1 file"
	}
	return fmt.Sprintf("%s already holds the output of an earlier run (%s%s); pass --overwrite to replace it, --append to add to it, or choose another folder",
		what, files, where)
}
