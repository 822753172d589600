package boundaries_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"clearmap/internal/boundaries"
	"clearmap/internal/testdb"
)

// Placing fields in Go must never claim a district PostGIS would not: every
// field Within places must lie within that district by ST_Within. Fields are
// drawn where it is hard: across and beside the pieces' edges (district
// borders and the cut lines between pieces of one district), as well as
// well inside pieces.
func TestPiecesAgreeWithPostGIS(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	var cache boundaries.PieceCache
	ps, err := cache.Get(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}

	rows, err := pool.Query(ctx, "SELECT ST_AsBinary(geom) FROM district_pieces ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var pieces []orb.Polygon
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		g, err := wkb.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, g.(orb.Polygon))
	}
	if rows.Err() != nil || len(pieces) < 1000 {
		t.Fatalf("read %d pieces: %v", len(pieces), rows.Err())
	}

	rng := rand.New(rand.NewPCG(8, 8))
	var fields []orb.MultiPolygon
	for range 6000 {
		outline := pieces[rng.IntN(len(pieces))][0]
		var centre orb.Point
		if rng.IntN(2) == 0 { // on an edge: half the field either side
			v := outline[rng.IntN(len(outline)-1)]
			centre = orb.Point{v[0] + (rng.Float64()-0.5)*0.002, v[1] + (rng.Float64()-0.5)*0.002}
		} else { // anywhere in the piece's bounds
			b := outline.Bound()
			centre = orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
		}
		fields = append(fields, orb.MultiPolygon{blob(rng, centre, 0.0003+rng.Float64()*0.01)})
	}
	// Two fields far apart in two districts make one MultiPolygon in none.
	fields = append(fields, orb.MultiPolygon{blob(rng, orb.Point{71.5, 34.0}, 0.001), blob(rng, orb.Point{67.0, 25.0}, 0.001)})

	placed := map[int]string{}
	var wkbs [][]byte
	for i, f := range fields {
		if d, ok := ps.Within(f); ok {
			placed[i] = d
		}
		wkbs = append(wkbs, wkb.MustMarshal(f))
	}
	rows, err = pool.Query(ctx, `
		SELECT i - 1, (SELECT min(d.code) FROM districts d WHERE ST_Within(ST_GeomFromWKB(f, 4326), d.geom)),
		       EXISTS (SELECT 1 FROM district_pieces p WHERE ST_Within(ST_GeomFromWKB(f, 4326), p.geom))
		FROM unnest($1::bytea[]) WITH ORDINALITY AS u(f, i)`, wkbs)
	if err != nil {
		t.Fatal(err)
	}
	inOnePiece, agreed := 0, 0
	for rows.Next() {
		var i int
		var district *string
		var withinPiece bool
		if err := rows.Scan(&i, &district, &withinPiece); err != nil {
			t.Fatal(err)
		}
		d, ok := placed[i]
		if ok && (district == nil || *district != d) {
			t.Errorf("field %d: Within placed it in %s; PostGIS finds it within %v", i, d, district)
		}
		if withinPiece {
			inOnePiece++
			if ok {
				agreed++
			}
		}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if _, ok := placed[len(fields)-1]; ok {
		t.Error("a MultiPolygon spread over two districts was placed in one")
	}
	// Being one-sided must not make it useless: it should place nearly all
	// the fields PostGIS finds inside one piece.
	t.Logf("%d fields: %d within one piece by PostGIS, %d of them placed by Within", len(fields), inOnePiece, agreed)
	if inOnePiece < 2000 || agreed < inOnePiece*99/100 {
		t.Errorf("Within placed %d of the %d fields PostGIS finds within one piece; want at least 99%%", agreed, inOnePiece)
	}
}

// blob is a field-like polygon: 4 to 12 corners around centre at radius r.
func blob(rng *rand.Rand, centre orb.Point, r float64) orb.Polygon {
	n := 4 + rng.IntN(9)
	ring := make(orb.Ring, 0, n+1)
	for k := range n {
		a := 2 * math.Pi * (float64(k) + rng.Float64()*0.5) / float64(n)
		rk := r * (0.6 + 0.4*rng.Float64())
		ring = append(ring, orb.Point{centre[0] + rk*math.Cos(a), centre[1] + rk*math.Sin(a)})
	}
	return orb.Polygon{append(ring, ring[0])}
}

func TestPieceCacheFollowsBoundaryLoads(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	var cache boundaries.PieceCache
	field := orb.MultiPolygon{square(71.55, 34.01, 0.001)} // Peshawar
	first, err := cache.Get(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := first.Within(field); !ok || d != "PK-KP-PESHAWAR" {
		t.Fatalf("embedded boundaries: Within = %q, %v; want PK-KP-PESHAWAR", d, ok)
	}
	again, _ := cache.Get(ctx, pool)
	if again != first {
		t.Error("the pieces were read again although no boundaries were loaded")
	}

	// A replacement set where one district covers the field's whole area.
	set, err := boundaries.Parse("test", collection(
		district("PK-XX-ONE", "PK-XX", square(70, 33, 3)),
	), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boundaries.Load(ctx, pool, set, "test"); err != nil {
		t.Fatal(err)
	}
	after, err := cache.Get(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if after == first || after.Version() <= first.Version() {
		t.Fatalf("after a load: version %d → %d, same copy %v; want newer pieces", first.Version(), after.Version(), after == first)
	}
	if d, ok := after.Within(field); !ok || d != "PK-XX-ONE" {
		t.Errorf("after a load: Within = %q, %v; want PK-XX-ONE", d, ok)
	}
}
