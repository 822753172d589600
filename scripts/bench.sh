#!/usr/bin/env bash
# make bench: measures clearmap on this machine and prints one table.
#
#   ingest    10,000 and 100,000 generated fields through the API and through
#             `clearmap import`, beside ogr2ogr (GDAL, COPY, no validation)
#             loading the same file into PostGIS, in the same run;
#   memory    peak RSS of the server while a 200 MB upload (560,000 fields)
#             streams in;
#   growth    a 1,000-field upload and its retraction at 0 to 1,000,000
#             stored fields; three successive 100,000-field imports beside
#             the peer pipeline (ogr2ogr, then acreage in SQL); 100,000
#             fields over stored ones (scripts/bench-growth.sh);
#   figures   /api/v1/summary and /api/v1/districts p50/p99 at 1,000,000 fields
#             (built by the growth section), unfiltered and date-filtered;
#   tiles     requests/s and p50/p99 per zoom over a fixed list of up to 20
#             tiles with data, cache off and on (wrk -c8), each zoom beside
#             the pg_tileserv reference (cmd/tileref: its one ST_AsMVT
#             statement per tile over the same clearances table) measured
#             seconds later in the same run: at 100,000 fields (cold, as
#             issue 18 measured) and at 1,000,000 (cold and warm).
#
# Databases are created afresh (bench_*) on the local server and kept
# afterwards for inspection; generated files go to BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${BENCH_DIR:-/tmp/clearmap-bench}
SECONDS_PER_ZOOM=${BENCH_TILE_SECONDS:-5}
H=/var/run/postgresql
mkdir -p "$DIR"
say() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Tools: PostgreSQL + PostGIS, GDAL's ogr2ogr, wrk; installed only if missing.
scripts/setup-postgres.sh
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
for pair in ogr2ogr:gdal-bin wrk:wrk; do
	command -v "${pair%%:*}" >/dev/null || { say "installing ${pair#*:}"; $SUDO apt-get update -qq; $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pair#*:}" >/dev/null; }
done
make --no-print-directory build >&2
go build -o bin/ ./cmd/genfields ./cmd/httpbench ./cmd/tileref

# fresh DB: an empty database with clearmap's schema and boundaries.
fresh() {
	psql -q -h $H -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" 2>/dev/null
	DATABASE_URL="postgres:///$1?host=$H" bin/clearmap migrate >/dev/null
	DATABASE_URL="postgres:///$1?host=$H" bin/clearmap load-districts >/dev/null
}

# serve DB CACHE_MB: starts a server on 127.0.0.1:8090; sets PID, ADMIN.
serve() {
	DATABASE_URL="postgres:///$1?host=$H" CLEARMAP_ADDR=127.0.0.1:8090 CLEARMAP_TILE_CACHE_MB=$2 \
		CLEARMAP_MAX_UPLOAD_BYTES=$((300 << 20)) CLEARMAP_UPLOADS_PER_MINUTE=0 \
		bin/clearmap serve >"$DIR/serve.out" 2>"$DIR/serve.log" &
	PID=$!
	for _ in $(seq 100); do curl -sf http://127.0.0.1:8090/healthz >/dev/null && break; sleep 0.1; done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
# stepped DB: waits until the server has measured the overlap steps large
# imports left for it (internal/acreage, StepPending), so what follows
# measures the steady state, not reads beside that work.
stepped() { until [ "$(psql -h $H -d "$1" -Atc "SELECT count(*) FROM overlap_groups WHERE steps_pending")" = 0 ]; do sleep 0.5; done; }
token() { DATABASE_URL="postgres:///$1?host=$H" bin/clearmap token create --role "$2" --name "bench-$2-$RANDOM"; }
upload() { # FILE TOKEN: POSTs the file, fails unless it is stored
	local status
	status=$(curl -s -o "$DIR/receipt.json" -w '%{http_code}' -H "Authorization: Bearer $2" \
		-H "Content-Type: application/geo+json" --data-binary "@$1" http://127.0.0.1:8090/api/v1/uploads)
	[ "$status" = 201 ] || { say "upload of $1 answered $status: $(head -c 300 "$DIR/receipt.json")"; exit 1; }
}

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 |"); say "$1: $2 ($3)"; }
# tiles DB LABEL CACHE_MB: one row per zoom, clearmap beside the pg_tileserv
# reference (scripts/bench-tiles.sh).
tiles() {
	DATABASE_URL="postgres:///$1?host=$H" TOKEN=$(token "$1" analyst) scripts/bench-tiles.sh "$3" "$SECONDS_PER_ZOOM" | tail -n +3 |
		while IFS='|' read -r _ z tiles rps p50 p99 rrps rp50 rp99 ratio median largest rmedian errors _; do
			echo "| tiles z$(echo $z) $2 ($(echo $tiles) tiles, median $(echo $median) bytes, largest $(echo $largest)) | $(echo $rps) req/s | p50 $(echo $p50) ms, p99 $(echo $p99) ms; pg_tileserv reference $(echo $rrps) req/s, p50 $(echo $rp50) ms, p99 $(echo $rp99) ms (median $(echo $rmedian) bytes): $(echo $ratio); errors $(echo $errors) |"
		done
}

# --- Ingest: 10k and 100k, three ways, same file.
for n in 10000 100000; do
	f="$DIR/fields-$n.geojson"
	[ -s "$f" ] || bin/genfields -n $n -seed 3 >"$f"

	psql -q -h $H -d postgres -c "DROP DATABASE IF EXISTS bench_ogr" -c "CREATE DATABASE bench_ogr" 2>/dev/null
	psql -q -h $H -d bench_ogr -c "CREATE EXTENSION postgis"
	a=$(now)
	PG_USE_COPY=YES ogr2ogr -f PostgreSQL PG:"host=$H dbname=bench_ogr" "$f" -nln fields -lco GEOMETRY_NAME=geom -lco SPATIAL_INDEX=GIST
	b=$(now)
	ogr=$(rate $n "$a" "$b")
	row "ingest $n fields: ogr2ogr (no validation)" "$ogr fields/s" "$(secs "$a" "$b") s"

	fresh bench_import
	a=$(now)
	DATABASE_URL="postgres:///bench_import?host=$H" bin/clearmap import "$f" >/dev/null
	b=$(now)
	r=$(rate $n "$a" "$b")
	row "ingest $n fields: clearmap import" "$r fields/s" "$(secs "$a" "$b") s; $(awk -v x="$r" -v y="$ogr" 'BEGIN { printf "%.2f", x / y }')× ogr2ogr"

	fresh bench_api
	serve bench_api 0
	up=$(token bench_api uploader)
	a=$(now)
	upload "$f" "$up"
	b=$(now)
	stop
	r=$(rate $n "$a" "$b")
	row "ingest $n fields: POST /api/v1/uploads" "$r fields/s" "$(secs "$a" "$b") s; $(awk -v x="$r" -v y="$ogr" 'BEGIN { printf "%.2f", x / y }')× ogr2ogr"
done

# --- Cold tiles at the 100,000 fields just uploaded (bench_api), beside the
# reference: where issue 18 measured them. Kept for the table's tile rows.
psql -q -h $H -d bench_api -c "VACUUM (ANALYZE)"
mapfile -t TILES_100K < <(tiles bench_api "cold at 100000 fields" 0)
say "tiles cold at 100,000 fields done"

# --- The Go side of an upload alone (decode, rules, placing and encoding
# geometries), on every core: what PostgreSQL's share is measured against.
go_side=$(go test -run '^$' -bench 'Stage$' -benchtime 5x ./internal/ingest | awk '/^BenchmarkStage/ { for (i = 1; i < NF; i++) if ($(i + 1) == "fields/s") print $i }')
row "Go side of an upload (no database), 20,000 fields" "$go_side fields/s" "BenchmarkStage, $(nproc) cores"

# --- The server's own work for a tile from zoom 12 up besides its
# statement: the static layers clipped and encoded (zoom 15).
static=$(go test -run '^$' -bench 'StaticLayers$' -benchtime 100x -benchmem ./internal/tiles | awk '/^BenchmarkStaticLayers/ {
	for (i = 1; i < NF; i++) { if ($(i + 1) == "ns/tile") ns = $i; if ($(i + 1) == "tiles") n = $i; if ($(i + 1) == "allocs/op") a = $i }
	printf "%s ns/tile|BenchmarkStaticLayers: %d tiles over district labels and rivers, %.0f allocations a tile\n", ns, n, a / n }')
row "static layers of a zoom-15 tile, clipped and encoded (no database)" "${static%%|*}" "${static#*|}"

# --- Memory: 560,000 fields in one 200 MB upload, peak RSS sampled.
big="$DIR/fields-560k.geojson"
[ -s "$big" ] || bin/genfields -n 560000 -seed 7 >"$big"
fresh bench_rss
serve bench_rss 0
up=$(token bench_rss uploader)
( while kill -0 "$PID" 2>/dev/null; do ps -o rss= -p "$PID"; sleep 0.2; done ) >"$DIR/rss.txt" &
sampler=$!
a=$(now)
upload "$big" "$up"
b=$(now)
kill $sampler 2>/dev/null || true
peak=$(sort -n "$DIR/rss.txt" | tail -1)
row "peak server RSS during a $(du -m "$big" | cut -f1) MB upload" "$((peak / 1024)) MB" "goal < 300 MB; 560,000 fields at $(rate 560000 "$a" "$b") fields/s"
stop

# --- Growth with the archive, building a million fields
# (scripts/bench-growth.sh).
. scripts/bench-growth.sh bench_1m
fields=$(psql -h $H -d bench_1m -Atc "SELECT count(*) FROM clearances WHERE NOT retracted")

# --- Figures at a million fields.
serve bench_1m 256
stepped bench_1m
analyst=$(token bench_1m analyst)
for q in "summary" "summary?from=2026-03-01&to=2026-03-31" "districts" "districts?from=2026-03-01&to=2026-03-31"; do
	line=$(bin/httpbench -token "$analyst" -n 500 -c 2 "http://127.0.0.1:8090/api/v1/$q" | tail -1)
	p50=$(echo "$line" | awk -F'|' '{ gsub(/ /, "", $5); print $5 }')
	p99=$(echo "$line" | awk -F'|' '{ gsub(/ /, "", $6); print $6 }')
	row "GET /api/v1/$q at $fields fields" "p50 $p50 ms, p99 $p99 ms" "goal p99 < 20 ms"
done
stop

# --- Tiles, cache off then on, each zoom beside the pg_tileserv reference.
for line in "${TILES_100K[@]}"; do ROWS+=("$line"); done
for mode in cold warm; do
	mb=0
	[ $mode = warm ] && mb=256
	tiles bench_1m "$mode at $fields fields" $mb >"$DIR/tiles-$mode.txt"
	while read -r line; do ROWS+=("$line"); done <"$DIR/tiles-$mode.txt"
	say "tiles $mode done"
done

# --- The table.
echo
echo "clearmap benchmark, $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ { print $2 }') GiB,"
echo "$(psql -h $H -d bench_1m -Atc "SELECT split_part(version(), ' on ', 1) || ', PostGIS ' || postgis_lib_version()"), $(go version | cut -d' ' -f3), $(ogr2ogr --version | cut -d, -f1)"
echo
echo "| measure | result | notes |"
echo "|---|---|---|"
printf '%s\n' "${ROWS[@]}"
