package main

import (
	"flag"
	"fmt"
	"log/slog"

	"clearmap/internal/config"
)

// newFlags returns a flag set for one command with the shared configuration
// registered on it.
func newFlags(name string, e env, cfg *config.Config) (*flag.FlagSet, error) {
	fs := flag.NewFlagSet("clearmap "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	if err := cfg.Register(fs, e.getenv); err != nil {
		return nil, usageError{err.Error()}
	}
	return fs, nil
}

// parse parses args, allowing flags after positional arguments
// (`load-districts FILE --provinces P`), checks the configuration, and
// returns the positional arguments.
func parse(fs *flag.FlagSet, cfg *config.Config, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if err := cfg.Check(); err != nil {
		return nil, usageError{err.Error()}
	}
	return positional, nil
}

// wantArgs fails with a usage error unless exactly n positional arguments
// were given.
func wantArgs(positional []string, n int, what string) error {
	if len(positional) != n {
		return usageError{fmt.Sprintf("want %s, got %d arguments", what, len(positional))}
	}
	return nil
}

func newLogger(cfg *config.Config, e env) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}
