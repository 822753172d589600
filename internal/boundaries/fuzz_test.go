package boundaries_test

import (
	"testing"

	"github.com/paulmach/orb"

	"clearmap/internal/boundaries"
)

// FuzzParseDistricts checks that no input makes the parser panic, and that
// whatever it accepts is fit to hand to PostGIS.
func FuzzParseDistricts(f *testing.F) {
	f.Add(collection(district("X-A-ONE", "X-A", square(70, 30, 1))))
	f.Add(collection(district("X-A-ONE", "X-A", orb.MultiPolygon{square(70, 30, 1), square(72, 30, 1)})))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[70,30],[71,30],[71,31]]]},"properties":{"district_code":"A"}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[1e400,30]]]},"properties":null}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[[[[[[[[[[[[]]]]]]]]]]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		districts, err := boundaries.ParseDistricts(data)
		if err != nil {
			return
		}
		if len(districts) == 0 {
			t.Fatal("accepted a file with no districts")
		}
		for _, d := range districts {
			if d.Code == "" || d.Name == "" || d.ProvinceCode == "" || d.ProvinceName == "" {
				t.Fatalf("accepted a district with an empty key property: %+v", d)
			}
			switch g := d.Geometry.(type) {
			case orb.Polygon:
				checkRings(t, g)
			case orb.MultiPolygon:
				for _, p := range g {
					checkRings(t, p)
				}
			default:
				t.Fatalf("accepted a %T", d.Geometry)
			}
		}
	})
}

func checkRings(t *testing.T, p orb.Polygon) {
	if len(p) == 0 {
		t.Fatal("accepted a polygon with no rings")
	}
	for _, r := range p {
		if len(r) < 4 || !r.Closed() {
			t.Fatalf("accepted ring %v", r)
		}
	}
}
