// Package boundaries loads and replaces the district and province boundaries
// that clearances are counted against.
//
// A boundary set is one GeoJSON file of districts, each naming its province,
// and optionally a file of provinces; without one, a province is the union of
// its districts. The files shipped in geodata/ are the default. Any file with
// the same properties can replace them: it is checked whole and loaded in one
// transaction, or rejected with every problem listed and nothing changed.
// With the boundaries it loads the places and rivers shipped in geodata/,
// keeping those inside the districts (context.go).
package boundaries

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// District is one feature of a districts file.
type District struct {
	Code         string // district_code, the key clearances are counted under
	Name         string // district_name
	ProvinceCode string // province_code, ISO 3166-2 in the shipped set
	ProvinceName string // province_name
	Division     string // division_name, optional
	Props        geojson.Properties
	Geometry     orb.Geometry // orb.Polygon or orb.MultiPolygon
}

// Province is one feature of a provinces file.
type Province struct {
	Code     string // province_code
	Name     string // province_name
	Kind     string // province_kind, optional
	Props    geojson.Properties
	Geometry orb.Geometry // orb.Polygon or orb.MultiPolygon
}

// Problems lists everything wrong with a boundary set.
type Problems []string

func (p Problems) Error() string {
	const shown = 10
	if len(p) == 1 {
		return p[0]
	}
	head := p
	if len(p) > shown {
		head = p[:shown]
	}
	msg := fmt.Sprintf("%d problems: %s", len(p), strings.Join(head, "; "))
	if len(p) > shown {
		msg += fmt.Sprintf("; and %d more", len(p)-shown)
	}
	return msg
}

// codePattern keeps codes usable in URL paths and CSV without quoting.
var codePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ParseDistricts decodes and checks a districts file: a FeatureCollection of
// Polygon or MultiPolygon features with string properties district_code,
// district_name, province_code and province_name (division_name optional), and
// unique district codes. Geometric validity is checked by Load, in PostGIS.
func ParseDistricts(data []byte) ([]District, error) {
	fc, err := decode(data, "districts")
	if err != nil {
		return nil, err
	}
	var problems Problems
	districts := make([]District, 0, len(fc.Features))
	seen := map[string]int{}
	provinceNames := map[string]string{}
	for i, f := range fc.Features {
		d := District{
			Code:         stringProp(f.Properties, "district_code"),
			Name:         stringProp(f.Properties, "district_name"),
			ProvinceCode: stringProp(f.Properties, "province_code"),
			ProvinceName: stringProp(f.Properties, "province_name"),
			Division:     stringProp(f.Properties, "division_name"),
			Props:        f.Properties,
			Geometry:     f.Geometry,
		}
		where := featureName(i, d.Code)
		problems = append(problems, checkFeature(where, f, "district_code", "district_name", "province_code", "province_name")...)
		if d.Code != "" {
			if first, dup := seen[d.Code]; dup {
				problems = append(problems, fmt.Sprintf("%s: district_code repeats feature %d", where, first))
			}
			seen[d.Code] = i
		}
		if d.ProvinceCode != "" && d.ProvinceName != "" {
			if name, ok := provinceNames[d.ProvinceCode]; ok && name != d.ProvinceName {
				problems = append(problems, fmt.Sprintf("%s: province %s is named %q here but %q elsewhere", where, d.ProvinceCode, d.ProvinceName, name))
			}
			provinceNames[d.ProvinceCode] = d.ProvinceName
		}
		districts = append(districts, d)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return districts, nil
}

// ParseProvinces decodes and checks a provinces file: a FeatureCollection of
// Polygon or MultiPolygon features with string properties province_code and
// province_name (province_kind optional), and unique province codes.
func ParseProvinces(data []byte) ([]Province, error) {
	fc, err := decode(data, "provinces")
	if err != nil {
		return nil, err
	}
	var problems Problems
	provinces := make([]Province, 0, len(fc.Features))
	seen := map[string]int{}
	for i, f := range fc.Features {
		p := Province{
			Code:     stringProp(f.Properties, "province_code"),
			Name:     stringProp(f.Properties, "province_name"),
			Kind:     stringProp(f.Properties, "province_kind"),
			Props:    f.Properties,
			Geometry: f.Geometry,
		}
		where := featureName(i, p.Code)
		problems = append(problems, checkFeature(where, f, "province_code", "province_name")...)
		if p.Code != "" {
			if first, dup := seen[p.Code]; dup {
				problems = append(problems, fmt.Sprintf("%s: province_code repeats feature %d", where, first))
			}
			seen[p.Code] = i
		}
		provinces = append(provinces, p)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return provinces, nil
}

func decode(data []byte, what string) (*geojson.FeatureCollection, error) {
	fc, err := geojson.UnmarshalFeatureCollection(data)
	if err != nil {
		return nil, fmt.Errorf("%s file is not a GeoJSON FeatureCollection: %v", what, err)
	}
	if len(fc.Features) == 0 {
		return nil, fmt.Errorf("%s file has no features", what)
	}
	return fc, nil
}

func featureName(i int, code string) string {
	if code == "" {
		return fmt.Sprintf("feature %d", i)
	}
	return fmt.Sprintf("feature %d (%s)", i, code)
}

// checkFeature reports missing or malformed properties and geometry of one
// feature. The first required key is its code.
func checkFeature(where string, f *geojson.Feature, required ...string) Problems {
	var problems Problems
	for _, key := range required {
		v, present := f.Properties[key]
		s, isString := v.(string)
		switch {
		case !present || v == nil:
			problems = append(problems, fmt.Sprintf("%s: missing property %q", where, key))
		case !isString || strings.TrimSpace(s) == "":
			problems = append(problems, fmt.Sprintf("%s: property %q must be a non-empty string", where, key))
		}
	}
	if code, ok := f.Properties[required[0]].(string); ok && code != "" && !codePattern.MatchString(code) {
		problems = append(problems, fmt.Sprintf("%s: %s %q must be 1-64 letters, digits, '-', '_' or '.'", where, required[0], code))
	}
	if msg := checkGeometry(f.Geometry); msg != "" {
		problems = append(problems, where+": "+msg)
	}
	return problems
}

// checkGeometry catches what would stop PostGIS from even reading a geometry,
// and coordinates that are not WGS84 longitude/latitude. Self-intersections
// and the like are left to PostGIS's ST_IsValidDetail.
func checkGeometry(g orb.Geometry) string {
	var polygons orb.MultiPolygon
	switch g := g.(type) {
	case nil:
		return "geometry is missing"
	case orb.Polygon:
		polygons = orb.MultiPolygon{g}
	case orb.MultiPolygon:
		polygons = g
	default:
		return fmt.Sprintf("geometry is a %s; boundaries must be Polygon or MultiPolygon", g.GeoJSONType())
	}
	if len(polygons) == 0 {
		return "geometry is empty"
	}
	for pi, polygon := range polygons {
		if len(polygon) == 0 {
			return fmt.Sprintf("polygon %d has no rings", pi)
		}
		for ri, ring := range polygon {
			if len(ring) < 4 {
				return fmt.Sprintf("polygon %d ring %d has %d positions; a ring needs at least 4", pi, ri, len(ring))
			}
			if !ring.Closed() {
				return fmt.Sprintf("polygon %d ring %d is not closed: it starts at %v and ends at %v", pi, ri, ring[0], ring[len(ring)-1])
			}
			for _, p := range ring {
				if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.Abs(p[0]) > 180 || math.Abs(p[1]) > 90 {
					return fmt.Sprintf("position %g %g is not a longitude and latitude: boundaries must be WGS84 (RFC 7946)", p[0], p[1])
				}
			}
		}
	}
	return ""
}

func stringProp(p geojson.Properties, key string) string {
	s, _ := p[key].(string)
	return strings.TrimSpace(s)
}
