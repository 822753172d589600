#!/bin/sh
# Tile throughput per zoom, as ../shared/ANCHORS.md measured pg_tileserv:
# wrk -t2 -c8 for SECONDS per tile, no Accept-Encoding, one tile per zoom
# over the middle of the generated data (71.9 E 31.5 N). Starts its own
# server on 127.0.0.1:8090 against DATABASE_URL with the given cache size
# (0 = cold: every request builds its tile), and prints a Markdown table.
#
#   DATABASE_URL=... TOKEN=cm_... scripts/bench-tiles.sh CACHE_MB [SECONDS]
set -eu
cache_mb=$1
seconds=${2:-10}
: "${TOKEN:?an analyst token}"
command -v wrk >/dev/null || { echo "bench-tiles: needs wrk (apt-get install -y wrk)" >&2; exit 1; }

CLEARMAP_TILE_CACHE_MB=$cache_mb CLEARMAP_ADDR=127.0.0.1:8090 ./bin/clearmap serve --no-migrate >/tmp/bench-tiles-serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:8090/healthz >/dev/null && break; sleep 0.1; done

echo "| zoom | tile | req/s | p50 ms | p99 ms | bytes | errors |"
echo "|---|---|---|---|---|---|---|"
for z in 5 7 9 11 13 15; do
	# Tile x and y of 71.9 E 31.5 N at zoom z.
	xy=$(awk -v z="$z" 'BEGIN { n = 2^z; pi = atan2(0, -1); lat = 31.5 * pi / 180;
		printf "%d/%d", (71.9 + 180) / 360 * n, (1 - log(sin(lat)/cos(lat) + 1/cos(lat)) / pi) / 2 * n }')
	url="http://127.0.0.1:8090/tiles/$z/$xy.mvt"
	bytes=$(curl -s -o /dev/null -w '%{size_download}' -H "Authorization: Bearer $TOKEN" "$url")
	wrk -t2 -c8 -d"${seconds}s" --latency -H "Authorization: Bearer $TOKEN" "$url" | awk -v z="$z" -v t="$z/$xy" -v b="$bytes" '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps = $2 }
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		/Non-2xx|Socket errors/ { err = err $0 }
		END { printf "| %d | %s | %.0f | %.2f | %.2f | %d | %s |\n", z, t, rps, p50, p99, b, (err == "" ? "0" : err) }'
done
