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
	found := false
	for _, out := range cfg.outs {
		switch {
		case found || out.loc.Scheme == Kafka:
		case dir == filepath.Clean(out.loc.Path):
			what, found = "--out="+out.String(), true
		case filepath.Dir(dir) == filepath.Clean(out.loc.Path):
			// A side output or the default dead-letter directory.
			what, where, found = "--out="+out.String(), " in "+e.Path, true
		}
	}
	if !found && cfg.dead.Path != "" && dir == filepath.Clean(cfg.dead.Path) {
		what = "--dead-letter=" + cfg.dead.String()
	}
	files := fmt.Sprintf("%d files", e.Files)
	if e.Files == 1 {
		files = "1 file"
	}
	return fmt.Sprintf("%s already holds the output of an earlier run (%s%s); pass --overwrite to replace it, --append to add to it, or choose another folder",
		what, files, where)
}
