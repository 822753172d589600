// Package geodata embeds the geographic files clearmap ships with:
// Pakistan's districts (ADM2) and provinces (ADM1) from OpenStreetMap (ODbL
// 1.0), its populated places from GeoNames (CC BY 4.0) and its rivers from
// GSHHG (LGPL 3). SOURCE.md gives their provenance, changes and the required
// attribution.
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

// Places is pakistan-places.geojson: Pakistan's populated places of GeoNames'
// cities1000, Point features keyed by geonameid, with name, population and
// kind (scripts/extract-places.mjs).
//
//go:embed pakistan-places.geojson
var Places []byte

// Rivers is pakistan-rivers.geojson: GSHHG's WDBII rivers and canals clipped
// to the provinces, LineString and MultiLineString features with an id and a
// level (scripts/extract-rivers.sh).
//
//go:embed pakistan-rivers.geojson
var Rivers []byte

// Attribution is the notice that must accompany the boundaries, places and
// rivers wherever they, or maps made from them, are shown.
const Attribution = "Boundaries © OpenStreetMap contributors, available under the Open Database License (ODbL) 1.0 (openstreetmap.org/copyright). District set pinned to the PBS 2023 census by the pakistan-map project (github.com/AbuBakrCh/pakistan-map). Places: GeoNames (geonames.org), CC BY 4.0. Rivers: GSHHG 2.3.7 (Wessel and Smith), LGPL 3."
