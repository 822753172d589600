package tiles_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/planar"

	"clearmap/internal/acreage"
	"clearmap/internal/ingest"
	"clearmap/internal/testdb"
	"clearmap/internal/tiles"
)

// TestLargeFieldsAreDrawn builds tiles over 600 overlapping fields of
// 1,500 to 2,500 acres, each outlined by 5,000 vertices (a walk around it
// with a GPS), inserted straight into clearances. Simplified to the tile's
// pixels (which made a zoom-10 tile over 300 such fields take 61-84 ms, not
// 1.3-1.8 s: docs/benchmarks.md), the tiles still draw every field: as
// many polygons as fields, each field that lies wholly in the tile within
// 1% of its area. How long each tile took is logged, not asserted: speed is
// the benchmarks' to show.
func TestLargeFieldsAreDrawn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 600 fields of 5,000 vertices")
	}
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	res, err := (&ingest.Service{DB: pool}).Store(ctx, ingest.Upload{
		Body: strings.NewReader(`{"type":"FeatureCollection","features":[` + square("seed", 71.5, 30.5) + `]}`), Uploader: "t"})
	if err != nil || res.Receipt.Features != 1 {
		t.Fatalf("%v %+v", err, res.Receipt)
	}
	// Star-shaped around their centres (so valid), wavy, in one zoom-10
	// tile (10/716/421: 71.72-72.07 E, 30.11-30.41 N).
	const fields, vertices = 600, 5000
	outlines := make([][]byte, fields)
	for i := range outlines {
		cx := 71.80 + 0.2*float64(i*7919%fields)/fields
		cy := 30.16 + 0.2*float64(i*104729%fields)/fields
		r := math.Sqrt((1500 + 10*float64(i*31%100)) * 4046.8564224 / math.Pi)
		ring := make(orb.Ring, vertices+1)
		for j := range vertices {
			a := 2 * math.Pi * float64(j) / vertices
			w := 1 + 0.03*math.Sin(37*a+float64(i)) + 0.004*math.Sin(997*a*float64(i+1))
			ring[j] = orb.Point{cx + r*w*math.Cos(a)/(111320*math.Cos(cy*math.Pi/180)), cy + r*w*math.Sin(a)/110950}
		}
		ring[vertices] = ring[0]
		var err error
		if outlines[i], err = wkb.Marshal(orb.MultiPolygon{{ring}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO clearances (upload_id, feature_index, crop, cleared_on, area_m2, geom, geom_3857, point_3857)
		SELECT $1, i, 'poppy', '2026-03-14', ST_Area(g::geography), g, ST_Transform(g, 3857), ST_PointOnSurface(ST_Transform(g, 3857))
		FROM unnest($2::bytea[]) WITH ORDINALITY AS o(b, i), LATERAL (SELECT ST_GeomFromWKB(o.b, 4326) AS g) g`,
		res.Receipt.ID, outlines); err != nil {
		t.Fatal(err)
	}
	svc := &tiles.Service{DB: pool}
	for _, z := range []int{10, 11, 12} {
		c := at(71.9, 30.26, z)
		start := time.Now()
		tile, err := svc.Tile(ctx, c, acreage.Filter{})
		took := time.Since(start)
		if err != nil {
			t.Fatalf("tile %v after %v: %v", c, took, err)
		}
		t.Logf("tile %v: %d bytes in %v", c, len(tile), took)
		checkMVT21(t, tile)

		// Every feature is a stored field; each field wholly inside the tile
		// is drawn with its area.
		rows, err := pool.Query(ctx, `
			SELECT id, ST_Area(geom_3857), ST_Within(geom_3857, ST_TileEnvelope($1, $2, $3))
			FROM clearances WHERE geom_3857 && ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096)`, c.Z, c.X, c.Y)
		if err != nil {
			t.Fatal(err)
		}
		area := map[uint64]float64{} // of the fields wholly inside; -1 for the others
		for rows.Next() {
			var id uint64
			var a float64
			var inside bool
			if err := rows.Scan(&id, &a, &inside); err != nil {
				t.Fatal(err)
			}
			if area[id] = -1; inside {
				area[id] = a
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		layers, err := mvt.Unmarshal(tile)
		if err != nil {
			t.Fatal(err)
		}
		unit := 2 * 20037508.342789244 / float64(int(1)<<c.Z) / 4096 // metres in a tile unit
		inside := 0
		for _, l := range layers {
			if l.Name != "clearances" {
				continue
			}
			for _, f := range l.Features {
				id, ok := f.ID.(float64) // as orb decodes it
				want, stored := area[uint64(id)]
				if !ok || !stored {
					t.Fatalf("tile %v draws feature %v, not a field that meets it", c, f.ID)
				}
				if want < 0 {
					continue
				}
				inside++
				delete(area, uint64(id))
				if got, want := planar.Area(f.Geometry), want/unit/unit; math.Abs(got-want) > want/100 {
					t.Errorf("tile %v draws field %d over %.0f tile units², want %.0f", c, uint64(id), got, want)
				}
			}
		}
		for id, a := range area {
			if a >= 0 {
				t.Errorf("tile %v lacks field %d, which lies inside it", c, id)
			}
		}
		if inside < 10 {
			t.Errorf("tile %v: only %d fields wholly inside: the data misses the tile", c, inside)
		}
	}
}

// TestFieldsSimplifiedToAQuarterPixel draws, at zooms 12 to 17, a field
// whose north edge zigzags a third of a quarter pixel of that zoom either
// side of a straight line (a GPS trace's jitter). Simplified to a quarter
// pixel, the edge is straight again: the field is drawn with the few
// vertices of its shape, at every zoom. (The tolerance once reached
// PostgreSQL as a whole number of metres, so from zoom 16, where a quarter
// pixel is under a metre, nothing was simplified.)
func TestFieldsSimplifiedToAQuarterPixel(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	up := &ingest.Service{DB: pool}
	svc := &tiles.Service{DB: pool}
	const lon, lat, teeth = 71.5, 30.5, 60
	for z := 12; z <= 17; z++ {
		// A quarter pixel in Web Mercator metres, and in degrees of latitude
		// here (a Mercator metre is cos(lat) metres on the ground); the
		// field is 40 quarter pixels wide, in a tile of its own at each zoom.
		quarter := 2 * 20037508.342789244 / float64(int(1)<<z) / 256 / 4
		dLat := quarter * math.Cos(lat*math.Pi/180) / 110950
		dLon := 40 * quarter / (20037508.342789244 / 180)
		x0, y0 := lon+float64(z-12)*0.2, lat
		ring := []string{ll(x0, y0), ll(x0+dLon, y0)}
		for i := teeth; i >= 0; i-- {
			jitter := dLat / 3
			if i%2 == 1 {
				jitter = -jitter
			}
			ring = append(ring, fmt.Sprintf("%.10f,%.10f", x0+dLon*float64(i)/teeth, y0+20*dLat+jitter))
		}
		ring = append(ring, ll(x0, y0))
		storeFields(t, up, `{"type":"Feature","properties":{"crop":"poppy","cleared_on":"2026-03-14"},"geometry":{"type":"Polygon","coordinates":[[[`+
			strings.Join(ring, "],[")+`]]]}}`)

		c := at(x0+dLon/2, y0+10*dLat, z)
		tile, err := svc.Tile(ctx, c, acreage.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		layers, err := mvt.Unmarshal(tile)
		if err != nil {
			t.Fatal(err)
		}
		drawn := 0
		for _, l := range layers {
			if l.Name != "clearances" {
				continue
			}
			for _, f := range l.Features {
				p, ok := f.Geometry.(orb.Polygon)
				if !ok {
					t.Fatalf("zoom %d: the field is drawn as %T", z, f.Geometry)
				}
				drawn++
				if n := len(p[0]); n > 6 {
					t.Errorf("zoom %d: the field is drawn with %d vertices, want at most 6 (its jitter is under a quarter pixel)", z, n)
				}
			}
		}
		if drawn != 1 {
			t.Errorf("zoom %d: %d fields drawn, want 1", z, drawn)
		}
	}
}
