// Reads the rivers and canals around Pakistan from GSHHG's WDBII rivers
// (LGPL 3 or later; Debian's gmt-gshhg-high, the high resolution) with GMT's
// coast, and writes them as GeoJSON for scripts/extract-rivers.sh, which clips
// them to the provinces into geodata/pakistan-rivers.geojson.
//
// GMT writes the lines cut into its 1-degree bins. Each cut is one feature,
// trimmed to Pakistan's bounding box (a line keeps the positions inside the
// box and the first one beyond it on either side).
//
// Properties: level, GMT's river level (coast -I): 0 double-lined rivers
// (river-lakes), 1 permanent major rivers, 2 additional major rivers,
// 3 additional rivers, 4 minor rivers, 5-7 intermittent rivers (major,
// additional, minor), 8-10 canals (major, minor, irrigation). The feature's
// id counts from 1 in GMT's order.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

// Pakistan's extent (geodata/SOURCE.md §5).
const [west, south, east, north] = [60.872855, 24.051648, 77.120391, 37.091675]

// In a directory of its own: GMT leaves a gmt.history file behind.
const dir = mkdtempSync(path.join(tmpdir(), 'extract-rivers-'))
const text = execFileSync('gmt', ['coast', `-R${west}/${east}/${south}/${north}`, '-Ia', '-Dh', '-M'], {
  cwd: dir,
  encoding: 'utf8',
  maxBuffer: 64 << 20,
})
rmSync(dir, { recursive: true })

const inside = ([x, y]) => x >= west && x <= east && y >= south && y <= north
const round = (x) => Number(x.toFixed(5))

// segments: [level, [[lon, lat], ...]] in GMT's order.
const segments = []
for (const line of text.split('\n')) {
  if (line.startsWith('>')) {
    const m = /Level (\d+)/.exec(line)
    if (!m) throw new Error(`extract-rivers: no level in ${line}`)
    segments.push([Number(m[1]), []])
  } else if (line.trim() !== '') {
    const [x, y] = line.trim().split(/\s+/).map(Number)
    segments.at(-1)[1].push([round(x), round(y)])
  }
}

const features = []
for (const [level, points] of segments) {
  // Runs of positions that are inside the box or next to one that is.
  let run = []
  const flush = () => {
    if (run.length >= 2) features.push([level, run])
    run = []
  }
  points.forEach((p, i) => {
    const near = inside(p) || (i > 0 && inside(points[i - 1])) || (i + 1 < points.length && inside(points[i + 1]))
    if (near) run.push(p)
    else flush()
  })
  flush()
}

const lines = features.map(([level, coordinates], i) =>
  JSON.stringify({ type: 'Feature', id: i + 1, properties: { level }, geometry: { type: 'LineString', coordinates } }),
)
process.stdout.write(`{"type":"FeatureCollection","features":[\n${lines.join(',\n')}\n]}\n`)
console.error(`extract-rivers: ${features.length} lines, ${features.reduce((n, [, c]) => n + c.length, 0)} positions`)
