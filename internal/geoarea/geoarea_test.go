package geoarea_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"clearmap/internal/geoarea"
	"clearmap/internal/testdb"
)

func square(lon, lat, side float64) orb.Ring {
	return orb.Ring{{lon, lat}, {lon + side, lat}, {lon + side, lat + side}, {lon, lat + side}, {lon, lat}}
}

// TestAgreesWithGeographicLib measures polygons whose areas GeographicLib
// 2.2 gave (Geodesic.WGS84.Polygon; the same references as the ingest
// tests).
func TestAgreesWithGeographicLib(t *testing.T) {
	for _, c := range []struct {
		name string
		mp   orb.MultiPolygon
		want float64
	}{
		{"0.002° square at 71.100 E 34.050 N", orb.MultiPolygon{{square(71.1, 34.05, 0.002)}}, 40965.990983605385},
		{"0.001° square at 71.100 34.100", orb.MultiPolygon{{square(71.1, 34.1, 0.001)}}, 10235.62451773882},
		{"0.002° square at 71.300 34.000", orb.MultiPolygon{{square(71.3, 34.0, 0.002)}}, 40989.68995440006},
		{"0.004° square at 71.200 34.000 less a 0.002° hole", orb.MultiPolygon{{square(71.2, 34.0, 0.004), square(71.201, 34.001, 0.002)}}, 122967.64882779121},
		{"two 0.001° squares at 71.400 and 71.410 33.900", orb.MultiPolygon{{square(71.4, 33.9, 0.001)}, {square(71.41, 33.9, 0.001)}}, 2 * 10259.307457387447},
	} {
		got := geoarea.MultiPolygon(c.mp)
		if math.Abs(got-c.want) > 1e-9*c.want {
			t.Errorf("%s: %.6f m², GeographicLib %.6f (%.2g apart)", c.name, got, c.want, (got-c.want)/c.want)
		}
	}
}

const tolerance = 5e-8

// TestAgreesWithPostGIS measures random fields from 10 m² to 2,600 acres
// (beyond the largest accepted) across Pakistan, some with holes or
// several parts, each ring in either orientation, and compares
// ST_Area(geography).
func TestAgreesWithPostGIS(t *testing.T) {
	pool := testdb.Migrated(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 3000
	shapes := make([]orb.MultiPolygon, n)
	blobs := make([][]byte, n)
	for i := range shapes {
		lon, lat := 60.9+rng.Float64()*16.9, 23.6+rng.Float64()*13.5
		m2 := math.Pow(10, 1+rng.Float64()*6) // 10 m² to 10 km²
		mp := orb.MultiPolygon{{polygon(rng, lon, lat, m2)}}
		switch i % 5 {
		case 1: // a hole a ninth of the size
			hole := polygon(rng, lon, lat, m2/9)
			hole.Reverse()
			mp[0] = append(mp[0], hole)
		case 2: // a second part to the north
			r := math.Sqrt(m2) / 111000
			mp = append(mp, orb.Polygon{polygon(rng, lon, lat+3*r, m2/2)})
		case 3:
			mp[0][0].Reverse()
		}
		shapes[i] = mp
		blobs[i] = wkb.MustMarshal(mp)
	}
	rows, err := pool.Query(context.Background(), `
		SELECT ST_Area(ST_GeomFromWKB(w, 4326)::geography) FROM unnest($1::bytea[]) WITH ORDINALITY AS u(w, i) ORDER BY i`, blobs)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	// Both sides sum per edge terms far larger than a small field, so each
	// is exact only to about 1e-4 m² (GeographicLib and PostGIS part by as
	// much on a 9 m² field).
	const absolute = 1e-3
	worst, worstAt, worstSmall := 0.0, -1, 0.0
	i := 0
	for rows.Next() {
		var want float64
		if err := rows.Scan(&want); err != nil {
			t.Fatal(err)
		}
		got := geoarea.MultiPolygon(shapes[i])
		d := math.Max(math.Abs(got-want)-absolute, 0) / want
		if d > worst || worstAt < 0 {
			worst, worstAt = d, i
		}
		if want < 25*4046.8564224 && d > worstSmall {
			worstSmall = d
		}
		i++
	}
	if rows.Err() != nil || i != n {
		t.Fatalf("%v; %d areas", rows.Err(), i)
	}
	t.Logf("largest difference from PostGIS beyond %g m²: %.2g of the area (shape %d, %.0f m²); %.2g up to 25 acres",
		absolute, worst, worstAt, geoarea.MultiPolygon(shapes[worstAt]), worstSmall)
	if worst > tolerance {
		t.Fatalf("shape %d differs from PostGIS by %.2g of its area: %v", worstAt, worst, shapes[worstAt])
	}
}

// polygon is a ring of 4 to 12 positions around lon, lat enclosing about m2.
func polygon(rng *rand.Rand, lon, lat, m2 float64) orb.Ring {
	k := 4 + rng.IntN(9)
	r := math.Sqrt(m2 / (float64(k) / 2 * math.Sin(2*math.Pi/float64(k))))
	dlat, dlon := r/110950, r/(111320*math.Cos(lat*math.Pi/180))
	turn := rng.Float64() * 2 * math.Pi
	ring := make(orb.Ring, 0, k+1)
	for j := range k {
		a := turn + 2*math.Pi*float64(j)/float64(k)
		s := 0.85 + 0.15*rng.Float64()
		ring = append(ring, orb.Point{lon + s*dlon*math.Cos(a), lat + s*dlat*math.Sin(a)})
	}
	return append(ring, ring[0])
}

func Example() {
	field := orb.MultiPolygon{{{{71.1, 34.05}, {71.102, 34.05}, {71.102, 34.052}, {71.1, 34.052}, {71.1, 34.05}}}}
	fmt.Printf("%.1f m²\n", geoarea.MultiPolygon(field))
	// Output: 40966.0 m²
}

func BenchmarkMultiPolygon(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	field := orb.MultiPolygon{{polygon(rng, 71.9, 31.5, 40000)}}
	for b.Loop() {
		geoarea.MultiPolygon(field)
	}
}
