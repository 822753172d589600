package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"clearmap/internal/boundaries"
	"clearmap/internal/config"
)

func loadDistricts(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs, err := newFlags("load-districts", e, &cfg)
	if err != nil {
		return err
	}
	provincesPath := fs.String("provinces", "", "provinces GeoJSON file; without it each province is the union of its districts")
	positional, err := parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(positional) > 1 {
		return usageError{"want at most one districts FILE"}
	}

	var set boundaries.Set
	switch {
	case len(positional) == 0 && *provincesPath == "":
		set = boundaries.Embedded()
	case len(positional) == 0:
		return usageError{"--provinces needs a districts FILE too"}
	default:
		set, err = parseFiles(positional[0], *provincesPath)
	}
	if err != nil {
		return err
	}

	pool, err := openCurrent(ctx, &cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	r, err := boundaries.Load(ctx, pool, set, actor())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "loaded %d districts in %d provinces, with %d places and %d river lines inside them, from %s\n",
		r.Districts, r.Provinces, r.Places, r.Rivers, set.Source)
	if len(r.Removed) > 0 {
		fmt.Fprintf(e.stdout, "removed %s\n", strings.Join(r.Removed, ", "))
	}
	return nil
}

func parseFiles(districtsPath, provincesPath string) (boundaries.Set, error) {
	districts, err := os.ReadFile(districtsPath)
	if err != nil {
		return boundaries.Set{}, err
	}
	source := districtsPath
	var provinces []byte
	if provincesPath != "" {
		if provinces, err = os.ReadFile(provincesPath); err != nil {
			return boundaries.Set{}, err
		}
		source += " + " + provincesPath
	}
	return boundaries.Parse(source, districts, provinces)
}
