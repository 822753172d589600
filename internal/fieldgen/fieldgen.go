// Package fieldgen writes deterministic synthetic clearance fields for
// benchmarks and load tests (cmd/genfields, the ingest benchmarks): polygons
// of 0.2–25 acres with 4–12 vertices on a grid over Punjab and southern KP
// (70.8–73.0 E, from 30.0 N northward 0.003° a row: inside Pakistan for the
// first 733,000 fields), about 2% of them overlapping a neighbour.
package fieldgen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
)

const (
	west, south = 70.8, 30.0
	cell        = 0.003 // degrees; about 300 m, room for a 25-acre field
	columns     = 733   // 2.2° of longitude
	acre        = 4046.8564224
)

// Write writes fields skip … skip+n-1 of the grid to out, as a
// FeatureCollection or, with ndjson, one Feature per line. The same seed and
// skip write the same bytes; a later skip continues a file without
// overlapping it.
func Write(out io.Writer, skip, n int, ndjson bool, seed uint64) error {
	w := bufio.NewWriterSize(out, 1<<20)
	rng := rand.New(rand.NewPCG(seed, uint64(skip)))
	if !ndjson {
		w.WriteString(`{"type":"FeatureCollection","features":[` + "\n")
	}
	crops := [2]string{"poppy", "cannabis"}
	for i := skip; i < skip+n; i++ {
		col, row := i%columns, i/columns
		lon := west + (float64(col)+0.5)*cell
		lat := south + (float64(row)+0.5)*cell
		if rng.Float64() < 0.02 {
			lon -= cell / 2 // overlap the western neighbour
		}
		acres := 0.2 + 24.8*math.Pow(rng.Float64(), 2)
		k := 4 + rng.IntN(9)
		// A regular k-gon of that area has circumradius r.
		r := math.Sqrt(acres * acre / (float64(k) / 2 * math.Sin(2*math.Pi/float64(k))))
		dlat, dlon := r/110950, r/(111320*math.Cos(lat*math.Pi/180))
		turn := rng.Float64() * 2 * math.Pi
		fmt.Fprintf(w, `{"type":"Feature","properties":{"field_id":"G-%07d","crop":%q,"cleared_on":"2026-%02d-%02d","team":"team %d"},"geometry":{"type":"Polygon","coordinates":[[`,
			i, crops[rng.IntN(10)/9], 2+rng.IntN(3), 1+rng.IntN(28), rng.IntN(40))
		var first string
		for j := 0; j < k; j++ {
			a := turn + 2*math.Pi*float64(j)/float64(k)
			s := 0.85 + 0.15*rng.Float64()
			p := fmt.Sprintf("[%.6f,%.6f]", lon+s*dlon*math.Cos(a), lat+s*dlat*math.Sin(a))
			if j == 0 {
				first = p
			}
			w.WriteString(p + ",")
		}
		w.WriteString(first + "]]}}")
		switch {
		case ndjson:
			w.WriteString("\n")
		case i < skip+n-1:
			w.WriteString(",\n")
		}
	}
	if !ndjson {
		w.WriteString("\n]}\n")
	}
	return w.Flush()
}
