package tiles_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/planar"

	"clearmap/internal/testdb"
	"clearmap/internal/tiles"
)

// TestStaticLayersAreWhatPostGISDraws checks the name layers that tiles from
// zoom 12 up draw from memory against the same layers drawn by
// ST_AsMVTGeom from their tables, on the tiles at zooms 12, 14 and 16 over
// places, label points and the middles of rivers: the same features in the
// same order, with the same ids and properties, points at the same
// position, and lines of the same length but for where they cross the
// buffer's edge (clipped there before rounding here, after it in PostGIS).
// The outlines are TestHighZoomOutlinesAreTheBoundaries's.
func TestStaticLayersAreWhatPostGISDraws(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	svc := &tiles.Service{DB: pool}

	points := lonLats(t, pool, 22, `
		(SELECT ST_X(geom), ST_Y(geom) FROM places ORDER BY id LIMIT 8)
		UNION ALL
		(SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(label_3857, 4326) AS p FROM districts ORDER BY code LIMIT 6) l)
		UNION ALL
		(SELECT ST_X(p), ST_Y(p) FROM (
			SELECT ST_Transform(ST_LineInterpolatePoint(ST_GeometryN(ST_Multi(geom_3857), 1), 0.5), 4326) AS p
			FROM rivers ORDER BY id LIMIT 8) r)`)

	counts := map[string]int{}
	for _, p := range points {
		for _, z := range []int{12, 14, 16} {
			c := at(p[0], p[1], z)
			got := layersOf(t, buildTile(t, svc, c))
			var drawn []byte
			err := pool.QueryRow(ctx, `
				WITH e AS (SELECT ST_TileEnvelope($1, $2, $3) AS env, ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096) AS buffered)
				SELECT coalesce((SELECT ST_AsMVT(t, 'rivers', 4096, 'geom', 'id') FROM (
				            SELECT id, level, ST_AsMVTGeom(geom_3857, env, 4096, 64, true) AS geom
				            FROM rivers, e WHERE geom_3857 && buffered ORDER BY id) t WHERE geom IS NOT NULL), '')
				    || coalesce((SELECT ST_AsMVT(t, 'places', 4096, 'geom', 'id') FROM (
				            SELECT id, name, population, kind, ST_AsMVTGeom(geom_3857, env, 4096, 64, true) AS geom
				            FROM places, e WHERE geom_3857 && buffered ORDER BY population DESC, id) t WHERE geom IS NOT NULL), '')
				    || coalesce((SELECT ST_AsMVT(t, 'labels', 4096, 'geom', 'fid') FROM (
				            SELECT hashtextextended(code, 0) & 9223372036854775807 AS fid, name, kind, code,
				                   ST_AsMVTGeom(label_3857, env, 4096, 64, true) AS geom
				            FROM (SELECT code, name, 'province' AS kind, label_3857 FROM provinces
				                  UNION ALL SELECT code, name, 'district', label_3857 FROM districts) l, e
				            WHERE label_3857 && buffered ORDER BY kind DESC, code) t WHERE geom IS NOT NULL), '')`,
				c.Z, c.X, c.Y).Scan(&drawn)
			if err != nil {
				t.Fatal(err)
			}
			want := layersOf(t, drawn)
			for _, name := range []string{"rivers", "places", "labels"} {
				if err := sameFeatures(got[name], want[name]); err != nil {
					t.Fatalf("tile %v, layer %s: %v", c, name, err)
				}
				if want[name] != nil {
					counts[name] += len(want[name].Features)
				}
			}
		}
	}
	if counts["rivers"] < 24 || counts["places"] < 24 || counts["labels"] < 18 {
		t.Fatalf("features compared: %v; the tiles should hold more", counts)
	}
	t.Logf("features compared: %v", counts)
}

// sameFeatures compares a layer built in Go with one built by PostGIS.
func sameFeatures(got, want *mvt.Layer) error {
	if want == nil || got == nil {
		if want != got {
			return fmt.Errorf("layer %v, want %v", got, want)
		}
		return nil
	}
	if len(got.Features) != len(want.Features) {
		return fmt.Errorf("%d features, want %d", len(got.Features), len(want.Features))
	}
	for i, g := range got.Features {
		w := want.Features[i]
		if g.ID != w.ID || !reflect.DeepEqual(g.Properties, w.Properties) {
			return fmt.Errorf("feature %d: id %v %v, want %v %v", i, g.ID, g.Properties, w.ID, w.Properties)
		}
		switch wg := w.Geometry.(type) {
		case orb.Point:
			if gp, ok := g.Geometry.(orb.Point); !ok || gp != wg {
				return fmt.Errorf("feature %d at %v, want %v", i, g.Geometry, wg)
			}
		default:
			// Each crossing of the buffer's edge may move one unit.
			gl, wl := planar.Length(g.Geometry), planar.Length(w.Geometry)
			if math.Abs(gl-wl) > 2 {
				return fmt.Errorf("feature %d (%s) %.1f units long, want %.1f", i, w.Geometry.GeoJSONType(), gl, wl)
			}
		}
	}
	return nil
}
