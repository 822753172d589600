package tiles_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"clearmap/internal/acreage"
	"clearmap/internal/ingest"
	"clearmap/internal/testdb"
	"clearmap/internal/tiles"
)

// TestHighZoomFiguresFollowEveryChange builds tiles from zoom 12 up with
// one service, which holds the districts' stored figures between tiles,
// across uploads, a retraction and rebuilds, and checks after each that
// the tiles' district figures are the stored ones (acreage.Districts):
// never the figures held from before the change. The changes are made
// outside the tile service, as another process would make them.
func TestHighZoomFiguresFollowEveryChange(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	svc := &tiles.Service{DB: pool}
	up := &ingest.Service{DB: pool}
	const khyber = "PK-KP-KHYBER"
	coords := []tiles.Coordinate{at(71.101, 34.051, 12), at(71.101, 34.051, 15), at(71.301, 33.951, 14)}

	upload := func(features ...string) int64 { return storeFields(t, up, features...) }
	check := func(step string, fields int) {
		t.Helper()
		var want acreage.District
		districts, err := acreage.Districts(ctx, pool, acreage.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range districts {
			if d.Code == khyber {
				want = d
			}
		}
		if want.Fields != fields {
			t.Fatalf("%s: %d fields stored in %s, want %d", step, want.Fields, khyber, fields)
		}
		for _, c := range coords {
			l := layersOf(t, buildTile(t, svc, c))["districts"]
			if l == nil {
				t.Fatalf("%s: tile %v has no districts layer", step, c)
			}
			found := false
			for _, f := range l.Features {
				if f.Properties["code"] != khyber {
					continue
				}
				found = true
				got := [4]any{f.Properties["acres"], f.Properties["acres_poppy"], f.Properties["acres_cannabis"], f.Properties["fields"]}
				if got != [4]any{want.Acres, want.AcresPoppy, want.AcresCannabis, float64(want.Fields)} {
					t.Fatalf("%s: tile %v shows %v, stored %+v", step, c, got, want)
				}
			}
			if !found {
				t.Fatalf("%s: tile %v does not show %s", step, c, khyber)
			}
		}
	}
	rebuild := func() {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return acreage.Rebuild(ctx, tx) }); err != nil {
			t.Fatal(err)
		}
	}

	check("before any upload", 0)
	a := upload(square("A", 71.10, 34.05))
	check("after an upload", 1)
	b := upload(strings.Replace(square("B", 71.30, 33.95), "poppy", "cannabis", 1), square("C", 71.3005, 33.9505))
	check("after an upload of two overlapping fields", 3)
	if _, err := ingest.Retract(ctx, pool, a, "admin"); err != nil {
		t.Fatal(err)
	}
	check("after a retraction", 2)
	rebuild()
	check("after a rebuild", 2)

	if _, err := ingest.Retract(ctx, pool, b, "admin"); err != nil {
		t.Fatal(err)
	}
	check("after retracting everything", 0)
	rebuild()
	check("after a rebuild of nothing", 0)
}
