#!/bin/sh
# Extracts Pakistan's rivers and canals from GSHHG's WDBII rivers (LGPL 3 or
# later; Debian's gmt-gshhg-high) into geodata/pakistan-rivers.geojson. It
# ran once; the file is committed and nothing builds from this script:
#
#   apt-get install gmt gmt-gshhg-high
#   scripts/extract-rivers.sh > geodata/pakistan-rivers.geojson
#
# scripts/extract-rivers.mjs reads the lines with GMT, then PostGIS clips
# them to the shipped provinces (geodata/pakistan-provinces.geojson) in a
# scratch database it creates on the server of CLEARMAP_TEST_DATABASE_URL (a
# role that may create databases and PostGIS; by default the local server,
# as the tests use it) and drops again. Loading then only has to keep the
# lines that reach into the loaded districts, which costs a boundary load
# little (internal/boundaries).
set -eu
cd "$(dirname "$0")/.."
admin=${CLEARMAP_TEST_DATABASE_URL:-postgres:///postgres?host=/var/run/postgresql}
scratch=clearmap_rivers_$$
work=$(mktemp -d)
psql "$admin" -qc "CREATE DATABASE $scratch"
trap 'psql "$admin" -qc "DROP DATABASE IF EXISTS $scratch"; rm -rf "$work"' EXIT
node scripts/extract-rivers.mjs >"$work/lines.geojson"
url=$(printf '%s' "$admin" | sed -E "s#^(postgres(ql)?://[^/?]*/)[^?]*#\1$scratch#")

psql "$url" -qAt -v ON_ERROR_STOP=1 -v lines_file="$work/lines.geojson" \
	-v provinces_file=geodata/pakistan-provinces.geojson >"$work/features" <<'SQL'
CREATE EXTENSION postgis;
\set lines `cat :lines_file`
\set provinces `cat :provinces_file`
CREATE TABLE province AS SELECT f->'properties'->>'province_code' AS code, ST_SetSRID(ST_GeomFromGeoJSON(f->'geometry'), 4326) AS geom
	FROM jsonb_array_elements(:'provinces'::jsonb->'features') f;
CREATE TABLE line AS SELECT (f->>'id')::int AS id, (f->'properties'->>'level')::int AS level,
	ST_SetSRID(ST_GeomFromGeoJSON(f->'geometry'), 4326) AS geom
	FROM jsonb_array_elements(:'lines'::jsonb->'features') f;
-- Each line's parts in the provinces (which do not overlap), joined again.
SELECT format('{"type":"Feature","id":%s,"properties":{"level":%s},"geometry":%s}', id, level, ST_AsGeoJSON(geom, 5))
FROM (SELECT l.id, l.level, ST_LineMerge(ST_CollectionExtract(ST_Collect(ST_Intersection(l.geom, p.geom) ORDER BY p.code), 2)) AS geom
      FROM line l JOIN province p ON ST_Intersects(l.geom, p.geom)
      GROUP BY l.id, l.level) c
WHERE NOT ST_IsEmpty(geom)
ORDER BY id;
SQL

printf '{"type":"FeatureCollection","features":[\n'
sed '$!s/$/,/' "$work/features"
printf ']}\n'
echo "extract-rivers: $(wc -l <"$work/features") lines in the provinces" >&2
