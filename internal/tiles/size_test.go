package tiles_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"clearmap/internal/acreage"
	"clearmap/internal/ingest"
	"clearmap/internal/testdb"
	"clearmap/internal/tiles"
)

// TestNoTileOver500KB packs 10,000 ten-sided fields of about 10 acres into
// a 0.25° square of Punjab, denser than the synthetic million-field set,
// and checks the tiles over its middle at every zoom.
func TestNoTileOver500KB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-field data set")
	}
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	const n, step, lon0, lat0 = 100, 0.0025, 72.0, 31.0
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := 0; i < n*n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		cx, cy := lon0+float64(i%n)*step, lat0+float64(i/n)*step
		fmt.Fprintf(&b, `{"type":"Feature","properties":{"field_id":"D-%d","crop":"%s","cleared_on":"2026-03-%02d","team":"team %d"},"geometry":{"type":"Polygon","coordinates":[[`,
			i, []string{"poppy", "cannabis"}[i%2], 1+i%28, i%40)
		for k := 0; k <= 10; k++ {
			a := 2 * math.Pi * float64(k%10) / 10
			if k > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "[%.6f,%.6f]", cx+0.0011*math.Cos(a), cy+0.0011*math.Sin(a))
		}
		b.WriteString("]]}}")
	}
	b.WriteString("]}")
	res, err := (&ingest.Service{DB: pool}).Store(ctx, ingest.Upload{Body: strings.NewReader(b.String()), Uploader: "t"})
	if err != nil || res.Receipt.Features != n*n {
		t.Fatalf("%v %+v", err, res.Receipt.Error)
	}
	svc := &tiles.Service{DB: pool}
	for z := 4; z <= 16; z++ {
		c := at(lon0+n*step/2, lat0+n*step/2, z)
		tile, err := svc.Tile(ctx, c, acreage.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		checkMVT21(t, tile)
		fields, _ := fieldsAndAcres(t, tile, "")
		t.Logf("z%d: %d bytes, %d clearances", z, len(tile), fields)
		if len(tile) > 500<<10 {
			t.Errorf("tile %v is %d bytes, over 500 KB", c, len(tile))
		}
		if fields == 0 {
			t.Errorf("tile %v shows no clearances", c)
		}
	}
}
