package ingest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/paulmach/orb"
)

// Limits on a field's outline. A cleared field never needs more (a GPS
// walk round the largest plausible field, 2,500 acres, at a position a
// metre, is some 13,000 positions), and they bound the memory one feature
// takes: positions are counted before any is decoded.
const (
	maxPositions     = 100_000
	maxRingPositions = 50_000
)

// parseGeometry reads a Polygon or MultiPolygon as field tools export them
// and returns it as a MultiPolygon, with warnings for what it repaired:
//   - a 3rd and 4th number in a position (altitude, accuracy) are dropped;
//   - an unclosed ring is closed;
//   - ODK's un-nested polygon (positions where rings belong) is wrapped into
//     one ring.
//
// Anything else wrong is a problem: the returned string says what, in words
// a field officer can act on. Validity (self-intersection and the like) is
// checked later, by PostGIS.
func parseGeometry(raw json.RawMessage) (orb.MultiPolygon, []string, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, "geometry is missing"
	}
	var g struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, nil, "geometry must be a GeoJSON object"
	}
	if g.Type == "Polygon" || g.Type == "MultiPolygon" {
		if msg := checkPositions(g.Coordinates); msg != "" {
			return nil, nil, msg
		}
	}
	var warnings []string
	var polygons [][][][]float64
	switch g.Type {
	case "Polygon":
		var rings [][][]float64
		if err := json.Unmarshal(g.Coordinates, &rings); err != nil {
			var positions [][]float64
			if json.Unmarshal(g.Coordinates, &positions) != nil {
				return nil, nil, coordinatesProblem(err, "an array of rings, each an array of [longitude, latitude] positions")
			}
			rings = [][][]float64{positions}
			warnings = append(warnings, "polygon coordinates were a list of positions, not of rings (as older ODK exports write them): read as one ring")
		}
		polygons = [][][][]float64{rings}
	case "MultiPolygon":
		if err := json.Unmarshal(g.Coordinates, &polygons); err != nil {
			return nil, nil, coordinatesProblem(err, "an array of polygons, each an array of rings of [longitude, latitude] positions")
		}
	case "":
		return nil, nil, `geometry has no "type"`
	default:
		return nil, nil, fmt.Sprintf("geometry is a %q; a cleared field must be a Polygon or MultiPolygon", g.Type)
	}
	if len(polygons) == 0 {
		return nil, nil, "geometry has no coordinates"
	}

	mp := make(orb.MultiPolygon, len(polygons))
	for pi, rings := range polygons {
		if len(rings) == 0 {
			return nil, nil, fmt.Sprintf("%shas no rings", polygonName(len(polygons), pi))
		}
		mp[pi] = make(orb.Polygon, len(rings))
		for ri, positions := range rings {
			name := polygonName(len(polygons), pi) + fmt.Sprintf("ring %d ", ri)
			ring := make(orb.Ring, 0, len(positions)+1)
			for k, pos := range positions {
				if len(pos) < 2 || len(pos) > 4 {
					return nil, nil, fmt.Sprintf("%sposition %d has %d numbers; want longitude, latitude and at most altitude and accuracy", name, k, len(pos))
				}
				ring = append(ring, orb.Point{pos[0], pos[1]})
			}
			if len(ring) > 0 && ring[0] != ring[len(ring)-1] {
				ring = append(ring, ring[0])
				warnings = append(warnings, name+"was not closed: closed it by repeating its first position")
			}
			if len(ring) < 4 {
				return nil, nil, fmt.Sprintf("%shas %d positions; a ring needs at least 4 (3 corners and the first repeated)", name, len(ring))
			}
			mp[pi][ri] = ring
		}
	}
	return mp, warnings, ""
}

// checkPositions counts the positions of a coordinates array without
// decoding it, and says what is wrong if there are more than a field needs.
func checkPositions(coords json.RawMessage) string {
	const advice = "a field's outline needs far fewer (at most %d a ring, %d a field): simplify it"
	total, ring, inRing := countPositions(coords)
	switch {
	case inRing > maxRingPositions:
		return fmt.Sprintf("ring %d has %d positions; "+advice, ring, inRing, maxRingPositions, maxPositions)
	case total > maxPositions:
		return fmt.Sprintf("the geometry has %d positions; "+advice, total, maxRingPositions, maxPositions)
	}
	return ""
}

// countPositions counts the positions in a JSON coordinates array (a
// position being an array whose first element is a number), and finds the
// ring (an array of positions) with the most: its number among the rings,
// and its count.
func countPositions(coords []byte) (total, biggest, most int) {
	var open []int // positions in each array open, innermost last
	rings := 0
	for i := 0; i < len(coords); i++ {
		switch coords[i] {
		case '"': // no string belongs in coordinates, but skip any
			for i++; i < len(coords) && coords[i] != '"'; i++ {
				if coords[i] == '\\' {
					i++
				}
			}
		case '[':
			j := i + 1
			for j < len(coords) && isBlank(coords[j]) {
				j++
			}
			if j < len(coords) && (coords[j] == '-' || coords[j] >= '0' && coords[j] <= '9') {
				total++
				if len(open) > 0 {
					open[len(open)-1]++
				}
			}
			open = append(open, 0)
		case ']':
			if len(open) == 0 {
				return total, biggest, most
			}
			if n := open[len(open)-1]; n > 0 {
				if n > most {
					biggest, most = rings, n
				}
				rings++
			}
			open = open[:len(open)-1]
		}
	}
	return total, biggest, most
}

func polygonName(n, i int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("polygon %d ", i)
}

// coordinatesProblem explains a coordinates array that did not decode.
func coordinatesProblem(err error, want string) string {
	if strings.Contains(err.Error(), "number") && strings.Contains(err.Error(), "float64") {
		// e.g. 1e400: valid JSON, but no coordinate.
		return "coordinates hold a number out of range"
	}
	return "coordinates must be " + want
}
