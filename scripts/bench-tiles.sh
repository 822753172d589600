#!/bin/sh
# Tile throughput per zoom, as the project measured pg_tileserv:
# wrk -t2 -c8 for SECONDS per zoom, no Accept-Encoding, over a fixed list of
# up to 20 tiles per zoom that contain data (the tiles under 400 fields
# spread evenly over the table by id, first 20 distinct per zoom), each
# client cycling through the list. Starts its own server on 127.0.0.1:8090
# against DATABASE_URL with the given cache size (0 = cold: every request
# builds its tile), and prints a Markdown table.
#
#   DATABASE_URL=... TOKEN=cm_... scripts/bench-tiles.sh CACHE_MB [SECONDS]
set -eu
cache_mb=$1
seconds=${2:-10}
: "${TOKEN:?an analyst token}"
command -v wrk >/dev/null || { echo "bench-tiles: needs wrk (apt-get install -y wrk)" >&2; exit 1; }
work=$(mktemp -d)

CLEARMAP_TILE_CACHE_MB=$cache_mb CLEARMAP_ADDR=127.0.0.1:8090 ./bin/clearmap serve --no-migrate >/tmp/bench-tiles-serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:8090/healthz >/dev/null && break; sleep 0.1; done

# 400 fields evenly spread by id: the same ones for the same data.
psql "$DATABASE_URL" -Atc "
	SELECT ST_X(p), ST_Y(p) FROM (
		SELECT ST_PointOnSurface(geom) AS p, row_number() OVER (ORDER BY id) AS r, count(*) OVER () AS n
		FROM clearances WHERE NOT retracted) f
	WHERE (r - 1) % greatest(n / 400, 1) = 0 ORDER BY r LIMIT 400" | tr '|' ' ' >"$work/points"

echo "| zoom | tiles | req/s | p50 ms | p99 ms | median bytes | largest bytes | errors |"
echo "|---|---|---|---|---|---|---|---|"
for z in 5 7 9 11 13 15; do
	# Tile x/y of each point at zoom z; the first 20 distinct.
	awk -v z="$z" 'BEGIN { n = 2^z; pi = atan2(0, -1) }
		{ lat = $2 * pi / 180; t = sprintf("%d/%d", ($1 + 180) / 360 * n, (1 - log(sin(lat)/cos(lat) + 1/cos(lat)) / pi) / 2 * n)
		  if (!(t in seen) && count < 20) { seen[t] = 1; count++; print t } }' "$work/points" >"$work/tiles"
	for t in $(cat "$work/tiles"); do
		curl -s -o /dev/null -w '%{size_download}\n' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:8090/tiles/$z/$t.mvt"
	done | sort -n >"$work/bytes"
	tiles=$(wc -l <"$work/tiles")
	median=$(awk '{ b[NR] = $1 } END { print b[int((NR + 1) / 2)] }' "$work/bytes")
	largest=$(tail -1 "$work/bytes")
	{
		printf 'local paths = {'
		sed "s|.*|\"/tiles/$z/&.mvt\",|" "$work/tiles"
		printf '}\nlocal i = 0\nrequest = function()\n  i = i %% #paths + 1\n  return wrk.format("GET", paths[i])\nend\n'
	} >"$work/cycle.lua"
	wrk -t2 -c8 -d"${seconds}s" --latency -s "$work/cycle.lua" -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8090 | awk -v z="$z" -v t="$tiles" -v m="$median" -v l="$largest" '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps = $2 }
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		/Non-2xx|Socket errors/ { err = err $0 }
		END { printf "| %d | %d | %.0f | %.2f | %.2f | %d | %d | %s |\n", z, t, rps, p50, p99, m, l, (err == "" ? "0" : err) }'
done
