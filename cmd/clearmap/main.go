// Command clearmap maps cleared poppy and cannabis fields: it serves the API,
// tiles and web map, and administers the database behind them.
//
// Usage:
//
//	clearmap serve [flags]                 migrate, load boundaries if none, serve
//	clearmap migrate [flags]               apply pending migrations
//	clearmap load-districts [FILE] [--provinces FILE]
//	clearmap import [--crop C] [--cleared-on D] [--team T] [--partial] FILE…|-
//	clearmap token create --role R --name N
//	clearmap token list
//	clearmap token revoke NAME
//
// Every command takes the flags of internal/config; `clearmap help` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what a command may touch outside itself.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

type command struct {
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

var commands = map[string]command{
	"serve":          {"apply migrations, load boundaries into an empty database, and serve HTTP", serve},
	"migrate":        {"apply pending database migrations and exit", migrate},
	"load-districts": {"load or replace the district boundaries: [FILE] [--provinces FILE]; embedded ones by default", loadDistricts},
	"token":          {"manage API tokens: create --role R --name N | list | revoke NAME", token},
	"import":         {"upload GeoJSON files (or - for standard input) as the API does, printing each receipt", importFiles},
}

// usageError marks a mistake in how clearmap was called: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run executes one command line and returns the process's exit code: 0 on
// success, 1 on failure, 2 on a usage error. Errors go to stderr as one line.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "clearmap: unknown command %q\n", args[0])
		printUsage(stderr)
		return 2
	}
	err := cmd.run(ctx, env{getenv, stdout, stderr}, args[1:])
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "clearmap %s: %s\n", args[0], usage.msg)
		return 2
	default:
		fmt.Fprintf(stderr, "clearmap %s: %s\n", args[0], oneLine(err.Error()))
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: clearmap COMMAND [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, name := range []string{"serve", "migrate", "load-districts", "import", "token"} {
		fmt.Fprintf(w, "  %-15s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\n`clearmap COMMAND -h` lists a command's flags; each flag has an environment variable.")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
