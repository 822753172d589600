package tiles_test

import (
	"context"
	"math"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/planar"

	"clearmap/internal/acreage"
	"clearmap/internal/testdb"
	"clearmap/internal/tiles"
)

// TestHighZoomOutlinesAreTheBoundaries checks that tiles from zoom 12 up,
// which take district and province outlines cut to zoom-12 tiles in
// advance, draw the same outlines as the full boundaries clipped to the
// tile: the same codes and, inside the tile proper, the same area. Where an
// edge crosses the buffer's edge, the two clip at different boxes and may
// round the crossing one unit apart, which tilts the edge; the area may
// differ by such a sliver along two edges (2 × 4,224 units²; a tile is
// 4,096² = 16.8 million). The tiles lie on points of district boundaries,
// where a cut from the wrong tile would show.
func TestHighZoomOutlinesAreTheBoundaries(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	svc := &tiles.Service{DB: pool}

	points := lonLats(t, pool, 12, `SELECT ST_X(p), ST_Y(p) FROM (
		SELECT ST_LineInterpolatePoint(ST_ExteriorRing(ST_GeometryN(geom, 1)), 0.37) AS p FROM districts ORDER BY code LIMIT 12) b`)

	checked := 0
	for _, p := range points {
		for _, z := range []int{12, 13, 15, 17} {
			c := at(p[0], p[1], z)
			tile, err := svc.Tile(ctx, c, acreage.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			got := outlineAreas(t, tile)
			// What the tile drew before the cuts: the full outlines clipped to it.
			var full []byte
			err = pool.QueryRow(ctx, `
				WITH e AS (SELECT ST_TileEnvelope($1, $2, $3) AS env, ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096) AS buffered)
				SELECT (SELECT ST_AsMVT(t, 'districts') FROM (
				            SELECT code, ST_AsMVTGeom(ST_ClipByBox2D(geom_3857, buffered), env, 4096, 64, true) AS geom
				            FROM districts, e WHERE geom_3857 && buffered) t)
				    || (SELECT ST_AsMVT(t, 'provinces') FROM (
				            SELECT code, ST_AsMVTGeom(ST_ClipByBox2D(geom_3857, buffered), env, 4096, 64, true) AS geom
				            FROM provinces, e WHERE geom_3857 && buffered) t)`, c.Z, c.X, c.Y).Scan(&full)
			if err != nil {
				t.Fatal(err)
			}
			want := outlineAreas(t, full)
			if len(want) < 2 {
				t.Fatalf("tile %v: %d outlines expected; the point should lie on a boundary", c, len(want))
			}
			if len(got) != len(want) {
				t.Fatalf("tile %v: outlines %v, want %v", c, got, want)
			}
			for key, w := range want {
				if g, ok := got[key]; !ok || math.Abs(g-w) > 2*4224 {
					t.Fatalf("tile %v: %s area %v, want %v", c, key, got[key], w)
				}
			}
			checked++
		}
	}
	t.Logf("%d tiles checked", checked)
}

// lonLats returns the n positions (longitude, latitude) the query selects.
func lonLats(t *testing.T, pool *pgxpool.Pool, n int, query string) [][2]float64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	points, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]float64, error) {
		var p [2]float64
		return p, row.Scan(&p[0], &p[1])
	})
	if err != nil || len(points) != n {
		t.Fatalf("%d positions, %v; want %d", len(points), err, n)
	}
	return points
}

// outlineAreas decodes a tile's districts and provinces layers: the area of
// each feature inside the tile proper, in tile units, by "layer/code".
func outlineAreas(t *testing.T, tile []byte) map[string]float64 {
	t.Helper()
	layers, err := mvt.Unmarshal(tile)
	if err != nil {
		t.Fatal(err)
	}
	areas := map[string]float64{}
	for _, l := range layers {
		if l.Name != "districts" && l.Name != "provinces" {
			continue
		}
		for _, f := range l.Features {
			if a := planar.Area(clip.Geometry(orb.Bound{Max: orb.Point{4096, 4096}}, f.Geometry)); a > 0 {
				areas[l.Name+"/"+f.Properties["code"].(string)] = a
			}
		}
	}
	return areas
}
