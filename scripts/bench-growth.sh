#!/usr/bin/env bash
# Growth with the archive (issue 18), run by scripts/bench.sh, which sources
# it with its helpers (fresh, serve, stop, stepped, token, row, now, secs, rate) and
# bin/ built. It builds DB (argument 1) up to a million fields and prints,
# as rows of bench.sh's table:
#
#   - a 1,000-field upload through the API and its retraction, at 0, 100k,
#     200k, 300k and about 1M stored fields, the medians of three probes.
#     The probes lie among the stored fields (the same districts and days)
#     and overlap none of them, and each is retracted before the next;
#   - the time of each of three successive 100,000-field imports
#     (clearmap import), beside the peer pipeline on the same files: raw
#     ogr2ogr into PostGIS, then acreage recomputed from scratch in SQL
#     (scripts/peer-acreage.sql), with their acres compared;
#   - 100,000 fields each over a stored field (another seed on the first
#     file's cells) beside 100,000 over no field, both onto the first file.
#
# The fields of generated file k lie in grid rows of their own: import
# files at skips 0, 101,000 and 201,000, the probes at 100,000 (a free row
# between the first two), the rest of the million from 301,000.
set -euo pipefail

DB=$1
G="$DIR/growth"
mkdir -p "$G"
for k in 0 1 2; do
	[ -s "$G/import-$k.geojson" ] || bin/genfields -n 100000 -skip $((k == 0 ? 0 : k * 100000 + 1000)) -seed 3 >"$G/import-$k.geojson"
done
[ -s "$G/rest.ndjson" ] || bin/genfields -n 700000 -skip 301000 -seed 3 -ndjson >"$G/rest.ndjson"
[ -s "$G/over-0.geojson" ] || bin/genfields -n 100000 -skip 0 -seed 5 >"$G/over-0.geojson"
for k in 1 2 3 4 5; do
	for s in 1 2 3; do
		f="$G/probe-$k-$s.geojson"
		[ -s "$f" ] || bin/genfields -n 1000 -skip 100000 -seed $((s == 1 ? 10 + k : 10 * s + k)) >"$f"
	done
done

# probe K STORED: uploads the three files of probe K through the API, each
# retracted before the next, and makes one row of the medians: one sample
# swung by half of itself from run to run on this machine.
probe() {
	local a b c id s ups=() rets=()
	for s in 1 2 3; do
		a=$(now)
		curl -sf -o "$G/receipt.json" -H "Authorization: Bearer $UP" -H "Content-Type: application/geo+json" \
			--data-binary "@$G/probe-$1-$s.geojson" http://127.0.0.1:8090/api/v1/uploads
		b=$(now)
		id=$(sed -E 's/^\{"id":([0-9]+).*/\1/' "$G/receipt.json")
		curl -sf -o /dev/null -X DELETE -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:8090/api/v1/uploads/$id"
		c=$(now)
		ups+=("$(secs2 "$a" "$b")") rets+=("$(secs2 "$b" "$c")")
	done
	row "1,000-field upload, then its retraction, at $2 stored fields" "$(median "${ups[@]}") s, $(median "${rets[@]}") s" \
		"API, cache on; medians of three: uploads ${ups[*]} s, retractions ${rets[*]} s"
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
import() { # DATABASE FILE [FLAGS]: clearmap import, prints seconds
	local a b
	a=$(now)
	DATABASE_URL="postgres:///$1?host=$H" bin/clearmap import "${@:3}" "$2" >/dev/null
	b=$(now)
	secs "$a" "$b"
}
secs2() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
stored() { psql -h $H -d "$DB" -Atc "SELECT count(*) FROM clearances WHERE NOT retracted"; }

# The peer: the same files, ogr2ogr and SQL.
psql -q -h $H -d postgres -c "DROP DATABASE IF EXISTS bench_peer" -c "CREATE DATABASE bench_peer" 2>/dev/null
psql -q -h $H -d bench_peer -c "CREATE EXTENSION postgis"
ogr2ogr -f PostgreSQL PG:"host=$H dbname=bench_peer" geodata/pakistan-districts.geojson -nln districts_src -lco GEOMETRY_NAME=geom

fresh "$DB"
serve "$DB" 256
UP=$(token "$DB" uploader)
ADMIN=$(token "$DB" admin)
probe 1 0
first=
for k in 0 1 2; do
	t=$(import "$DB" "$G/import-$k.geojson")
	a=$(now)
	lco=(-lco GEOMETRY_NAME=geom -lco SPATIAL_INDEX=GIST)
	[ $k = 0 ] || lco=(-append)
	PG_USE_COPY=YES ogr2ogr -f PostgreSQL PG:"host=$H dbname=bench_peer" "$G/import-$k.geojson" -nln fields "${lco[@]}"
	b=$(now)
	psql -q -h $H -d bench_peer -f scripts/peer-acreage.sql
	c=$(now)
	load=$(secs "$a" "$b") peer=$(secs "$a" "$c")
	first=${first:-$t}
	row "import $((k + 1)) of 100,000 fields (clearmap import)" "$t s" "$(awk -v t="$t" -v f="$first" 'BEGIN { printf "%.2f", t / f }')× the first; peer (ogr2ogr + acreage SQL) $peer s, $(awk -v t="$t" -v p="$peer" 'BEGIN { printf "%.2f", p / t }')× clearmap; raw ogr2ogr $load s, clearmap $(awk -v t="$t" -v l="$load" 'BEGIN { printf "%.1f", t / l }')× it"
	# clearmap's figures, kept by increments, beside the peer's, computed
	# from scratch.
	ours=$(curl -sf -H "Authorization: Bearer $ADMIN" http://127.0.0.1:8090/api/v1/summary | sed -E 's/.*"mapped_acres":([0-9.]+).*/\1/')
	peers=$(psql -h $H -d bench_peer -Atc "SELECT round(sum(acres)::numeric, 4) FROM peer_acreage")
	row "acres after import $((k + 1)): clearmap, peer SQL" "$ours, $peers" "the same union rule computed two ways"
	probe $((k + 2)) "$(stored)"
done
stop

DATABASE_URL="postgres:///$DB?host=$H" bin/clearmap import --partial "$G/rest.ndjson" >/dev/null
psql -q -h $H -d "$DB" -c "VACUUM (ANALYZE)"
serve "$DB" 256
a=$(now)
stepped "$DB"
b=$(now)
row "the server measuring the overlap steps that import left" "$(secs "$a" "$b") s" "before the next probe, so it measures the steady state"
probe 5 "$(stored)"
stop

# Overlap: the same 100,000 cells again, each field over the stored one,
# against 100,000 fields over none (the second import file), each imported
# onto the first file's 100,000 fields in a database of its own, so the two
# differ only in the overlap. Each is imported while a server runs on its
# database, with a 1-field upload into the first file's cells every 2
# seconds: the slowest answer says how long a small upload waits behind the
# large import's locks. Then how long the server takes to measure the
# overlap groups' steps the import left for it.
#
# beside_small_uploads FILE: imports FILE into bench_over in those conditions
# and sets took to its seconds; the small uploads' times are left in
# $G/small-times.
beside_small_uploads() {
	local importer k
	serve bench_over 256
	OVER_UP=$(token bench_over uploader)
	import bench_over "$1" >"$G/import-time" &
	importer=$!
	: >"$G/small-times"
	k=0
	while kill -0 $importer 2>/dev/null; do
		k=$((k + 1))
		bin/genfields -n 1 -skip $((k * 997)) -seed $((100 + k)) >"$G/small.geojson"
		curl -s -o /dev/null -w '%{time_total} %{http_code}\n' -H "Authorization: Bearer $OVER_UP" -H "Content-Type: application/geo+json" \
			--data-binary "@$G/small.geojson" http://127.0.0.1:8090/api/v1/uploads >>"$G/small-times"
		sleep 2
	done
	wait $importer
	took=$(cat "$G/import-time")
}
slowest() { # the small uploads' row
	row "1-field uploads into the same cells during the import $1" "slowest $(sort -n "$G/small-times" | tail -1 | cut -d' ' -f1) s" "$(wc -l <"$G/small-times") uploads, one every 2 s, $(grep -vc ' 201$' "$G/small-times") not stored; median $(median $(cut -d' ' -f1 "$G/small-times")) s"
}
fresh bench_over
base=$(import bench_over "$G/import-0.geojson")
beside_small_uploads "$G/import-1.geojson"
plain=$took
stop
slowest "over no field"
fresh bench_over
import bench_over "$G/import-0.geojson" >/dev/null
beside_small_uploads "$G/over-0.geojson"
t=$took
a=$(now)
stepped bench_over
b=$(now)
stop
row "100,000 fields each over a stored field, onto 100,000 stored (clearmap import, a server running)" "$t s" "$(awk -v t="$t" -v p="$plain" 'BEGIN { printf "%.2f", t / p }')× 100,000 fields over no field onto the same ($plain s, same conditions); $(awk -v t="$t" -v f="$base" 'BEGIN { printf "%.2f", t / f }')× the first import onto an empty database ($base s, no server); then the server measured the overlap steps it left in $(secs "$a" "$b") s"
slowest "over stored fields"
