package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"clearmap/internal/auth"
	"clearmap/internal/config"
)

func token(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usageError{"want a subcommand: create, list or revoke"}
	}
	sub := args[0]
	var cfg config.Config
	fs, err := newFlags("token "+sub, e, &cfg)
	if err != nil {
		return err
	}
	var roleFlag, name *string
	if sub == "create" {
		roleFlag = fs.String("role", "", "uploader, analyst or admin")
		name = fs.String("name", "", "who the token is for, e.g. khyber-team")
	}
	positional, err := parse(fs, &cfg, args[1:])
	if err != nil {
		return err
	}

	// Check the whole command line before touching the database.
	var role auth.Role
	switch sub {
	case "create":
		if err := wantArgs(positional, 0, "only --role and --name"); err != nil {
			return err
		}
		if *roleFlag == "" || *name == "" {
			return usageError{"--role and --name are required"}
		}
		if role, err = auth.ParseRole(*roleFlag); err != nil {
			return usageError{err.Error()}
		}
		if err := auth.CheckName(*name); err != nil {
			return usageError{err.Error()}
		}
	case "list":
		err = wantArgs(positional, 0, "no arguments")
	case "revoke":
		err = wantArgs(positional, 1, "the NAME of the token to revoke")
	default:
		err = usageError{fmt.Sprintf("unknown subcommand %q: want create, list or revoke", sub)}
	}
	if err != nil {
		return err
	}

	pool, err := openCurrent(ctx, &cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	switch sub {
	case "create":
		secret, err := auth.Create(ctx, pool, *name, role, actor())
		if err != nil {
			return err
		}
		// The secret alone, so scripts can capture it: TOKEN=$(clearmap token create ...).
		fmt.Fprintln(e.stdout, secret)
		return nil
	case "list":
		tokens, err := auth.List(ctx, pool)
		if err != nil {
			return err
		}
		const day = "2006-01-02 15:04"
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tCREATED BY\tREVOKED")
		for _, t := range tokens {
			revoked := "-"
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.UTC().Format(day)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, t.CreatedAt.UTC().Format(day), t.CreatedBy, revoked)
		}
		return tw.Flush()
	default: // revoke
		if err := auth.Revoke(ctx, pool, positional[0], actor()); err != nil {
			return fmt.Errorf("%s: %w", positional[0], err)
		}
		fmt.Fprintf(e.stdout, "revoked %s\n", positional[0])
		return nil
	}
}
