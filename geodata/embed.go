// Package geodata embeds the boundary files clearmap ships with: Pakistan's
// districts (ADM2) and provinces (ADM1) from OpenStreetMap (ODbL 1.0; see
// SOURCE.md for provenance, changes and the required attribution).
package geodata

import _ "embed"

// Districts is pakistan-districts.geojson: 156 MultiPolygon features keyed by
// district_code.
//
//go:embed pakistan-districts.geojson
var Districts []byte

// Provinces is pakistan-provinces.geojson: 7 MultiPolygon features keyed by
// province_code (ISO 3166-2:PK).
//
//go:embed pakistan-provinces.geojson
var Provinces []byte

// Attribution is the notice that must accompany the boundaries wherever they,
// or maps made from them, are shown.
const Attribution = "Boundaries © OpenStreetMap contributors, available under the Open Database License (ODbL) 1.0 (openstreetmap.org/copyright). District set pinned to the PBS 2023 census by the pakistan-map project (github.com/AbuBakrCh/pakistan-map)."
