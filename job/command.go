package job

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// ParseCommandFlags parses args with fs for the extra command cmd of
// program prog (a [Command], such as `fraud gen`). With -h it writes usage
// and fs's flags to stdout and returns 0; a bad flag, or an argument that
// is not a flag, is one line on stderr, "PROG: ... (see PROG CMD -h)",
// and returns 2. ok says the command goes on (code is then 0).
func ParseCommandFlags(prog, cmd, usage string, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stdout, "usage: %s\n\nflags:\n", usage)
		fs.VisitAll(func(fl *flag.Flag) {
			fmt.Fprintf(stdout, "  --%-16s %s (default %s)\n", fl.Name, fl.Usage, fl.DefValue)
		})
		return 0, false
	case err != nil:
		return CommandUsageError(prog, cmd, stderr, "%s", flagError(err, fs)), false
	case fs.NArg() > 0:
		return CommandUsageError(prog, cmd, stderr, "unexpected argument %q; flags only", fs.Arg(0)), false
	}
	return 0, true
}

// CommandUsageError writes a command line error of command cmd on one
// line, "PROG: ... (see PROG CMD -h)", and returns its exit code, 2.
func CommandUsageError(prog, cmd string, stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "%s: %s (see %s %s -h)\n", prog, fmt.Sprintf(format, args...), prog, cmd)
	return 2
}
