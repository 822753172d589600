// Package geoarea measures the area of longitude/latitude polygons on the
// WGS84 ellipsoid, as PostGIS's ST_Area(geography) does, without a
// database round trip.
//
// A polygon is taken to the authalic sphere, the sphere of the ellipsoid's
// area onto which latitudes map so that areas are kept, and measured there
// with great-circle edges. PostGIS (following GeographicLib) takes each edge
// as a geodesic of the ellipsoid instead. The two edges part by a little,
// and more the longer they are: the areas agree to within 0.001 m² for
// fields up to 25 acres, and 2 parts in 100 million (0.09 m²) for one of
// 1,300 acres (TestAgreesWithPostGIS).
package geoarea

import (
	"math"

	"github.com/paulmach/orb"
)

// WGS84.
const (
	semiMajor  = 6378137.0
	flattening = 1 / 298.257223563
	e2         = flattening * (2 - flattening) // eccentricity squared
)

var eccentricity = math.Sqrt(e2)

// MultiPolygon returns the area of mp in square metres: the exterior
// rings' areas less their holes', whatever the rings' orientation.
func MultiPolygon(mp orb.MultiPolygon) float64 {
	var area float64
	for _, p := range mp {
		area += Polygon(p)
	}
	return area
}

// Polygon returns the area of p in square metres.
func Polygon(p orb.Polygon) float64 {
	var area float64
	for i, r := range p {
		a := math.Abs(ringArea(r))
		if i > 0 {
			a = -a
		}
		area += a
	}
	return area
}

// ringArea is the signed area of a ring: its positions taken to the
// authalic sphere, and the spherical excess of the great-circle polygon
// there, summed edge by edge as the excess of the quadrilateral between the
// edge, its meridians and the equator (Bevis and Cambareri, "Computing the
// area of a spherical polygon of arbitrary shape", Mathematical Geology 19,
// 1987).
func ringArea(r orb.Ring) float64 {
	if len(r) < 3 {
		return 0
	}
	var excess float64
	last := len(r) - 1
	if r[0] != r[last] {
		last++ // unclosed: the closing edge too
	}
	tp := math.Tan(authalic(r[0][1]) / 2)
	for i := 0; i < last; i++ {
		p, q := r[i], r[(i+1)%len(r)]
		tq := math.Tan(authalic(q[1]) / 2)
		excess += 2 * math.Atan2(math.Tan((q[0]-p[0])*math.Pi/360)*(tp+tq), 1+tp*tq)
		tp = tq
	}
	return excess * authalicRadius2
}

// qPole is q at the pole, Snyder eq. 3-12 with φ = 90°.
var qPole = q(1)

// authalicRadius2 is the square of the radius of the sphere with the
// ellipsoid's area.
var authalicRadius2 = semiMajor * semiMajor * qPole / 2

// authalic returns the authalic latitude, in radians, of a geodetic
// latitude in degrees: the latitude on the authalic sphere below which lies
// the same share of the surface.
func authalic(lat float64) float64 {
	return math.Asin(q(math.Sin(lat*math.Pi/180)) / qPole)
}

// q is Snyder's q for the sine of a latitude, "Map Projections: A Working
// Manual" (1987), eq. 3-12.
func q(sin float64) float64 {
	return (1 - e2) * (sin/(1-e2*sin*sin) + math.Atanh(eccentricity*sin)/eccentricity)
}
