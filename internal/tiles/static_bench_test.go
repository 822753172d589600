package tiles_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"clearmap/internal/testdb"
	"clearmap/internal/tiles"
)

// BenchmarkStaticLayers clips and encodes the static layers of zoom-15
// tiles, the server's own work for a tile besides its statement: the
// tiles over each district's label and over the first and middle
// positions of each river (scripts/bench.sh; docs/benchmarks.md).
func BenchmarkStaticLayers(b *testing.B) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(b)
	rows, err := pool.Query(ctx, `
		SELECT ST_X(p), ST_Y(p) FROM (
			SELECT ST_Transform(label_3857, 4326) AS p FROM districts
			UNION ALL
			SELECT ST_Transform(ST_PointN(g, n), 4326) FROM (SELECT (ST_Dump(geom_3857)).geom AS g FROM rivers) r,
			       LATERAL (VALUES (1), (ST_NPoints(g) / 2 + 1)) AS v(n)) p`)
	if err != nil {
		b.Fatal(err)
	}
	var coords []tiles.Coordinate
	var lon, lat float64
	if _, err := pgx.ForEachRow(rows, []any{&lon, &lat}, func() error {
		coords = append(coords, at(lon, lat, 15))
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	encode, err := tiles.StaticEncoder(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	bytes := 0
	for _, c := range coords {
		bytes += len(encode(c))
	}
	if len(coords) < 300 || bytes < 100*len(coords) {
		b.Fatalf("%d tiles of %d bytes: the static layers are missing", len(coords), bytes)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, c := range coords {
			encode(c)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(coords)), "ns/tile")
	b.ReportMetric(float64(len(coords)), "tiles")
}
