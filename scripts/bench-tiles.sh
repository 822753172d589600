#!/bin/sh
# Tile throughput per zoom, clearmap beside the pg_tileserv reference
# (cmd/tileref: pg_tileserv's one ST_AsMVT statement per tile over the
# clearances table, through the same net/http and pgx path), as the project
# measured pg_tileserv: wrk -t2 -c8 for SECONDS per zoom and server (10 s
# timeout, pg_tileserv's own database timeout), no
# Accept-Encoding, over a fixed list of up to 20 tiles per zoom that contain
# data (the tiles under 400 fields spread evenly over the table by id, first
# 20 distinct per zoom), each client cycling through the list. For each zoom
# clearmap is measured, then the reference, in the same run, so the ratio
# divides figures taken seconds apart. Starts clearmap on 127.0.0.1:PORT
# (BENCH_TILE_PORT, default 8090) with the given cache size (0 = cold: every
# request builds its tile) and the reference on PORT+1 (never cached, as
# pg_tileserv by default), both against DATABASE_URL, and prints a Markdown
# table. BENCH_TILE_ZOOMS picks the zooms (default "5 7 9 11 13 15").
#
#   DATABASE_URL=... TOKEN=cm_... scripts/bench-tiles.sh CACHE_MB [SECONDS]
set -eu
cache_mb=$1
seconds=${2:-10}
: "${TOKEN:?an analyst token}"
command -v wrk >/dev/null || { echo "bench-tiles: needs wrk (apt-get install -y wrk)" >&2; exit 1; }
work=$(mktemp -d)
port=${BENCH_TILE_PORT:-8090}
mine=http://127.0.0.1:$port
theirs=http://127.0.0.1:$((port + 1))

CLEARMAP_TILE_CACHE_MB=$cache_mb CLEARMAP_ADDR=${mine#http://} ./bin/clearmap serve --no-migrate >/tmp/bench-tiles-serve-$port.log 2>&1 &
server=$!
./bin/tileref -addr ${theirs#http://} >/tmp/bench-tiles-ref-$port.log 2>&1 &
reference=$!
trap 'kill $server $reference 2>/dev/null; wait $server $reference 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
	curl -sf $mine/healthz >/dev/null && curl -s -o /dev/null $theirs/0/0/0.pbf && break
	sleep 0.1
done

# 400 fields evenly spread by id: the same ones for the same data.
psql "$DATABASE_URL" -Atc "
	SELECT ST_X(p), ST_Y(p) FROM (
		SELECT ST_PointOnSurface(geom) AS p, row_number() OVER (ORDER BY id) AS r, count(*) OVER () AS n
		FROM clearances WHERE NOT retracted) f
	WHERE (r - 1) % greatest(n / 400, 1) = 0 ORDER BY r LIMIT 400" | tr '|' ' ' >"$work/points"

# measure BASE PREFIX SUFFIX [wrk options]: "req/s p50 p99 errors" of wrk
# cycling through $work/tiles as BASE/PREFIX<z/x/y>SUFFIX.
measure() {
	base=$1 prefix=$2 suffix=$3
	shift 3
	{
		printf 'local paths = {'
		sed "s|.*|\"/$prefix&$suffix\",|" "$work/tiles"
		printf '}\nlocal i = 0\nrequest = function()\n  i = i %% #paths + 1\n  return wrk.format("GET", paths[i])\nend\n'
	} >"$work/cycle.lua"
	wrk -t2 -c8 -d"${seconds}s" --timeout 10s --latency -s "$work/cycle.lua" "$@" "$base" | awk '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps = $2 }
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		/Non-2xx|Socket errors/ { gsub(/ +/, " "); err = err $0 }
		END { printf "%.0f|%.2f|%.2f|%s\n", rps, p50, p99, (err == "" ? "0" : err) }'
}

echo "| zoom | tiles | req/s | p50 ms | p99 ms | reference req/s | reference p50 ms | reference p99 ms | ratio | median bytes | largest bytes | reference median bytes | errors |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for z in ${BENCH_TILE_ZOOMS:-5 7 9 11 13 15}; do
	# Tile x/y of each point at zoom z; the first 20 distinct.
	awk -v z="$z" 'BEGIN { n = 2^z; pi = atan2(0, -1) }
		{ lat = $2 * pi / 180; t = sprintf("%d/%d", ($1 + 180) / 360 * n, (1 - log(sin(lat)/cos(lat) + 1/cos(lat)) / pi) / 2 * n)
		  if (!(t in seen) && count < 20) { seen[t] = 1; count++; print t } }' "$work/points" | sed "s|^|$z/|" >"$work/tiles"
	for t in $(cat "$work/tiles"); do
		curl -s -o /dev/null -w '%{size_download}\n' -H "Authorization: Bearer $TOKEN" "$mine/tiles/$t.mvt"
	done | sort -n >"$work/bytes"
	for t in $(cat "$work/tiles"); do
		curl -s -o /dev/null -w '%{size_download}\n' "$theirs/$t.pbf"
	done | sort -n >"$work/ref-bytes"
	a=$(measure "$mine" tiles/ .mvt -H "Authorization: Bearer $TOKEN")
	b=$(measure "$theirs" "" .pbf)
	echo "$a|$b" | awk -F'|' -v z="$z" -v t="$(wc -l <"$work/tiles")" \
		-v m="$(awk '{ b[NR] = $1 } END { print b[int((NR + 1) / 2)] }' "$work/bytes")" -v l="$(tail -1 "$work/bytes")" \
		-v rm="$(awk '{ b[NR] = $1 } END { print b[int((NR + 1) / 2)] }' "$work/ref-bytes")" '
		{ err = ($4 == "0" && $8 == "0") ? "0" : "clearmap: " $4 "; reference: " $8
		  printf "| %d | %d | %d | %.2f | %.2f | %d | %.2f | %.2f | %.2f× | %d | %d | %d | %s |\n", z, t, $1, $2, $3, $5, $6, $7, ($5 > 0 ? $1 / $5 : 0), m, l, rm, err }'
done
