// Command genfields writes deterministic synthetic clearance fields for
// benchmarks and load tests (see internal/fieldgen), as a FeatureCollection or
// newline-delimited features.
//
//	genfields -n 100000 [-ndjson] [-seed 1] [-skip 0] > fields.geojson
package main

import (
	"flag"
	"fmt"
	"os"

	"clearmap/internal/fieldgen"
)

func main() {
	n := flag.Int("n", 10000, "number of fields")
	ndjson := flag.Bool("ndjson", false, "write one Feature per line instead of a FeatureCollection")
	seed := flag.Uint64("seed", 1, "random seed; the same seed writes the same file")
	skip := flag.Int("skip", 0, "start at this field of the grid, to continue an earlier file without overlapping it")
	flag.Parse()
	if err := fieldgen.Write(os.Stdout, *skip, *n, *ndjson, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "genfields:", err)
		os.Exit(1)
	}
}
