package boundaries_test

import (
	"context"
	"math"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/boundaries"
	"clearmap/internal/testdb"
)

// The counts geodata/SOURCE.md gives: every place and river line of the
// files lies in the shipped districts.
const (
	shippedPlaces = 441
	shippedRivers = 343
)

func TestLabelPointsLieWellInsideTheirShapes(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	// Inside, and at least as deep as PostGIS's ST_PointOnSurface: the
	// centroid would fail for Jhelum, whose centroid lies outside it.
	var districts, provinces, outside, shallow int
	err := pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE kind = 'district'), count(*) FILTER (WHERE kind = 'province'),
		       count(*) FILTER (WHERE NOT ST_Contains(geom_3857, label_3857)),
		       count(*) FILTER (WHERE ST_Distance(label_3857, ST_Boundary(geom_3857))
		                              < ST_Distance(ST_PointOnSurface(geom_3857), ST_Boundary(geom_3857)))
		FROM (SELECT 'district' AS kind, geom_3857, label_3857 FROM districts
		      UNION ALL SELECT 'province', geom_3857, label_3857 FROM provinces) s`).Scan(&districts, &provinces, &outside, &shallow)
	if err != nil {
		t.Fatal(err)
	}
	if districts != 156 || provinces != 7 || outside != 0 || shallow != 0 {
		t.Fatalf("%d districts and %d provinces: %d label points outside their shape, %d nearer its edge than ST_PointOnSurface",
			districts, provinces, outside, shallow)
	}
	var centroidOutside bool
	pool.QueryRow(ctx, "SELECT NOT ST_Contains(geom_3857, ST_Centroid(geom_3857)) FROM districts WHERE code = 'PK-PB-JHELUM'").Scan(&centroidOutside)
	if !centroidOutside {
		t.Fatal("Jhelum's centroid lies inside it: the check above no longer tells a label point from a centroid")
	}
}

func TestPlacesAndRiversLoadWithTheBoundaries(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Migrated(t)
	r := loadEmbedded(t, pool)
	if r.Places != shippedPlaces || r.Rivers != shippedRivers {
		t.Fatalf("load = %+v; want %d places and %d rivers", r, shippedPlaces, shippedRivers)
	}
	checkLahore(t, pool)

	t.Run("places lie in districts", func(t *testing.T) {
		var outside int
		pool.QueryRow(ctx, `SELECT count(*) FROM places p
			WHERE NOT EXISTS (SELECT 1 FROM districts d WHERE ST_Intersects(d.geom, p.geom))
			   OR NOT ST_Equals(ST_Transform(p.geom, 3857), p.geom_3857)`).Scan(&outside)
		if outside != 0 {
			t.Fatalf("%d places outside every district or with a wrong EPSG:3857 point", outside)
		}
	})

	t.Run("rivers lie in the provinces", func(t *testing.T) {
		// Each line's length inside the provinces (which do not overlap)
		// adds up to its whole length.
		var total, inside float64
		err := pool.QueryRow(ctx, `SELECT sum(ST_Length(geom_3857)),
			sum((SELECT sum(ST_Length(ST_Intersection(r.geom_3857, p.geom_3857))) FROM provinces p
			     WHERE ST_Intersects(r.geom_3857, p.geom_3857)))
			FROM rivers r`).Scan(&total, &inside)
		if err != nil {
			t.Fatal(err)
		}
		if total < 1e6 || math.Abs(total-inside) > total*1e-4 {
			t.Fatalf("rivers: %.0f m of line, %.0f m of it inside the provinces", total, inside)
		}
	})

	t.Run("a boundary reload keeps them", func(t *testing.T) {
		if r := loadEmbedded(t, pool); r.Places != shippedPlaces || r.Rivers != shippedRivers {
			t.Fatalf("reload = %+v", r)
		}
		checkLahore(t, pool)
	})

	t.Run("a smaller boundary set names only what lies in it", func(t *testing.T) {
		// 70–72 E, 30–31 N: Dera Ismail Khan, Bhakkar, Layyah and more.
		set, err := boundaries.Parse("replacement.geojson", collection(
			district("X-A-ONE", "X-A", square(70, 30, 1)),
			district("X-A-TWO", "X-A", square(71, 30, 1)),
		), nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := boundaries.Load(ctx, pool, set, "test")
		if err != nil {
			t.Fatal(err)
		}
		var outside, lahore int
		pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT ST_Intersects(geom, ST_MakeEnvelope(70, 30, 72, 31, 4326))),
			count(*) FILTER (WHERE name = 'Lahore') FROM places`).Scan(&outside, &lahore)
		if r.Places == 0 || r.Places >= shippedPlaces || r.Rivers == 0 || r.Rivers >= shippedRivers || outside != 0 || lahore != 0 {
			t.Fatalf("replacement load = %+v; %d places outside it, Lahore %d times", r, outside, lahore)
		}
		if r := loadEmbedded(t, pool); r.Places != shippedPlaces || r.Rivers != shippedRivers {
			t.Fatalf("embedded again = %+v", r)
		}
		checkLahore(t, pool)
	})

	t.Run("LoadContext fills a database loaded before places existed", func(t *testing.T) {
		pool.Exec(ctx, "DELETE FROM places; DELETE FROM rivers")
		if loaded, err := boundaries.ContextLoaded(ctx, pool); err != nil || loaded {
			t.Fatalf("ContextLoaded with no places = %v, %v", loaded, err)
		}
		places, rivers, err := boundaries.LoadContext(ctx, pool, "test")
		if err != nil || places != shippedPlaces || rivers != shippedRivers {
			t.Fatalf("LoadContext = %d places, %d rivers, %v", places, rivers, err)
		}
		if loaded, err := boundaries.ContextLoaded(ctx, pool); err != nil || !loaded {
			t.Fatalf("ContextLoaded after LoadContext = %v, %v", loaded, err)
		}
		checkLahore(t, pool)
	})
}

// checkLahore checks one place as geodata/pakistan-places.geojson gives it.
func checkLahore(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	var name, kind string
	var population int
	var lon, lat float64
	err := pool.QueryRow(context.Background(), `SELECT name, population, kind, ST_X(geom), ST_Y(geom)
		FROM places WHERE id = 1172451`).Scan(&name, &population, &kind, &lon, &lat)
	if err != nil || name != "Lahore" || population != 6310888 || kind != "provincial_capital" || lon != 74.35071 || lat != 31.558 {
		t.Fatalf("place 1172451: %s, %d, %s at %v %v (%v); want Lahore, 6310888, provincial_capital at 74.35071 31.558",
			name, population, kind, lon, lat, err)
	}
}
