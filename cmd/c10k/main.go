package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/c10k/c10k/servers/cgi"
)

// A command is one subcommand. run gets the arguments after its name and
// a context cancelled on SIGINT/SIGTERM; it returns the exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) int
}

// commands is filled by the init functions of the files beside this one.
var commands = map[string]command{}

func main() {
	if cgi.IsChild() { // a request of the cgi core (c10k serve --core cgi)
		os.Exit(cgi.ChildMain())
	}
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	if name == "-h" || name == "--help" || name == "help" {
		usage()
		os.Exit(0)
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "c10k: unknown command %q\n\n", name)
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cmd.run(ctx, os.Args[2:])
	stop()
	os.Exit(code)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: c10k <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'c10k <command> -h' for a command's flags.")
}

// parseFlags parses a subcommand's args into fs. When it returns false
// the subcommand ends with code: 0 after -h (fs printed the usage), 2
// for a bad flag (fs said which).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}
