package boundaries

import (
	"testing"

	"github.com/paulmach/orb"
)

func TestRingInPolygon(t *testing.T) {
	// A 10×10 piece with a 2×2 hole at (4,4)–(6,6).
	piece := orb.Polygon{
		{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}},
		{{4, 4}, {4, 6}, {6, 6}, {6, 4}, {4, 4}},
	}
	square := func(x, y, s float64) orb.Ring {
		return orb.Ring{{x, y}, {x + s, y}, {x + s, y + s}, {x, y + s}, {x, y}}
	}
	for _, c := range []struct {
		name string
		ring orb.Ring
		want bool
	}{
		{"well inside", square(1, 1, 2), true},
		{"inside, beside the hole", square(6.5, 4, 1), true},
		{"touching the outline from inside", square(0, 1, 2), false},
		{"a corner on the outline", orb.Ring{{5, 10}, {4, 9}, {6, 9}, {5, 10}}, false},
		{"across the outline", square(9, 1, 2), false},
		{"outside", square(11, 1, 2), false},
		{"around the hole", square(3, 3, 4), false},
		{"inside the hole", square(4.5, 4.5, 1), false},
		{"touching the hole", square(6, 4, 1), false},
		{"around the whole piece", square(-1, -1, 12), false},
	} {
		if got := ringInPolygon(c.ring, piece); got != c.want {
			t.Errorf("%s: ringInPolygon = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSegmentsMeet(t *testing.T) {
	p := func(x, y float64) orb.Point { return orb.Point{x, y} }
	for _, c := range []struct {
		name       string
		a, b, c, d orb.Point
		want       bool
	}{
		{"crossing", p(0, 0), p(2, 2), p(0, 2), p(2, 0), true},
		{"apart", p(0, 0), p(1, 0), p(0, 1), p(1, 1), false},
		{"an end on the other", p(0, 0), p(2, 0), p(1, 0), p(1, 1), true},
		{"sharing an end", p(0, 0), p(1, 0), p(1, 0), p(2, 1), true},
		{"collinear, overlapping", p(0, 0), p(2, 0), p(1, 0), p(3, 0), true},
		{"collinear, apart", p(0, 0), p(1, 0), p(2, 0), p(3, 0), false},
		// Passing a hair's breadth (1e-13°, 10 nm) from the other's end:
		// too close to tell by the turn's sign, so it counts as touching.
		{"within rounding of touching", p(70, 30), p(70.001, 30), p(70.0005, 30.0005), p(70.0015, 29.9995+2e-13), true},
		// Bounds that do not overlap are compared exactly.
		{"10 nm apart, side by side", p(70, 30), p(70.001, 30), p(70, 30+1e-13), p(70.001, 30+1e-13), false},
	} {
		if got := segmentsMeet(c.a, c.b, c.c, c.d); got != c.want {
			t.Errorf("%s: segmentsMeet = %v, want %v", c.name, got, c.want)
		}
	}
}
