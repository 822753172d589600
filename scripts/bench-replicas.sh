#!/bin/sh
# One clearmap server against two, each reading from the primary alone or
# from a streaming hot standby (CLEARMAP_READ_DATABASE_URL), on this
# machine. Starts a primary and a standby of its own (initdb and
# pg_basebackup -R as postgres, in a temporary directory, on ports 55432 and
# 55433; the machine's own PostgreSQL is not touched), loads FIELDS
# generated fields, then for each set-up runs wrk for SECONDS per server, 8
# connections in all (one server: -t2 -c8; two: -t1 -c4 each, at once), over
# 20 uncached tiles of zoom 9 that hold fields (tile cache off: every request
# builds its tile in PostgreSQL) and over /api/v1/summary, and prints one
# Markdown table: requests/s summed over the servers, p99 of the slowest, and
# the transactions each database served during the run.
#
#   scripts/bench-replicas.sh [FIELDS] [SECONDS]
set -eu
fields=${1:-20000}
seconds=${2:-10}
command -v wrk >/dev/null || { echo "bench-replicas: needs wrk (apt-get install -y wrk)" >&2; exit 1; }
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
go build -o bin/ ./cmd/clearmap ./cmd/genfields
work=$(mktemp -d)
chown postgres "$work"
pg() { runuser -u postgres -- "$bin/$@"; }
servers=""
cleanup() {
	for p in $servers; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
	for d in standby primary; do [ -f "$work/$d/postmaster.pid" ] && pg pg_ctl -D "$work/$d" -m immediate -w stop >/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
conf() { printf "\nport = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n" "$2" "$work" >>"$work/$1/postgresql.conf"; }

pg initdb -D "$work/primary" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
conf primary 55432
pg pg_ctl -D "$work/primary" -l "$work/primary.log" -w start >/dev/null
psql -q -h 127.0.0.1 -p 55432 -U postgres -c "CREATE DATABASE clearmap"
export DATABASE_URL="postgres://postgres@127.0.0.1:55432/clearmap?sslmode=disable"
standby="postgres://postgres@127.0.0.1:55433/clearmap?sslmode=disable"
bin/clearmap migrate >/dev/null
bin/clearmap load-districts >/dev/null
bin/genfields -n "$fields" -seed 3 | bin/clearmap import - >/dev/null
token=$(bin/clearmap token create --role analyst --name bench)
pg pg_basebackup -D "$work/standby" -d "$DATABASE_URL" -R -X stream -c fast
conf standby 55433
pg pg_ctl -D "$work/standby" -l "$work/standby.log" -w start >/dev/null

# 20 zoom-9 tiles holding fields, the same for the same data.
psql -At "$DATABASE_URL" -c "
	SELECT DISTINCT ON (x, y) format('/tiles/9/%s/%s.mvt', x, y) FROM (
		SELECT floor((ST_X(p) + 180) / 360 * 512)::int AS x,
		       floor((1 - ln(tan(radians(ST_Y(p))) + 1 / cos(radians(ST_Y(p)))) / pi()) / 2 * 512)::int AS y
		FROM (SELECT ST_PointOnSurface(geom) AS p FROM clearances ORDER BY id) f) t
	LIMIT 20" >"$work/tiles"
{
	printf 'local paths = {'
	sed 's|.*|"&",|' "$work/tiles"
	printf '}\nlocal i = 0\nrequest = function()\n  i = i %% #paths + 1\n  return wrk.format("GET", paths[i])\nend\n'
} >"$work/cycle.lua"
printf 'request = function() return wrk.format("GET", "/api/v1/summary") end\n' >"$work/summary.lua"

commits() { psql -At "$1" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'clearmap'"; }
# start N [READ_URL]: N servers on 8091.., reading from READ_URL if given.
start() {
	servers=""
	for i in $(seq "$1"); do
		CLEARMAP_READ_DATABASE_URL=${2:-} CLEARMAP_TILE_CACHE_MB=0 CLEARMAP_ADDR=127.0.0.1:809$i \
			bin/clearmap serve --no-migrate >"$work/serve$i.log" 2>&1 &
		servers="$servers $!"
		for _ in $(seq 100); do curl -sf "http://127.0.0.1:809$i/readyz" >/dev/null && break; sleep 0.1; done
	done
	sleep 2 # the standby poll has found it usable
}
stop() { for p in $servers; do kill "$p"; wait "$p" 2>/dev/null || true; done; servers=""; }
# run N SCRIPT: wrk against each of N servers at once, 8 connections in all.
run() {
	p0=$(commits "$DATABASE_URL"); s0=$(commits "$standby")
	loads=""
	for i in $(seq "$1"); do
		wrk -t$((2 / $1)) -c$((8 / $1)) -d"${seconds}s" --latency -s "$work/$2" -H "Authorization: Bearer $token" "http://127.0.0.1:809$i" >"$work/wrk$i" &
		loads="$loads $!"
	done
	for p in $loads; do wait "$p"; done
	sleep 0.5 # the statistics collector's counts settle
	p1=$(commits "$DATABASE_URL"); s1=$(commits "$standby")
	cat "$work"/wrk[1-$1] | awk -v p="$((p1 - p0))" -v s="$((s1 - s0))" '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps += $2 }
		$1 == "99%" { if (ms($2) > p99) p99 = ms($2) }
		/Non-2xx|Socket errors/ { err = err $0 }
		END { printf "%.0f | %.1f | %d | %d | %s", rps, p99, p, s, (err == "" ? "0" : err) }'
}

echo "| set-up | tiles req/s | tiles p99 ms | primary xacts | standby xacts | errors | summary req/s | summary p99 ms | primary xacts | standby xacts | errors |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for n in 1 2; do
	for reads in primary standby; do
		url=""; [ "$reads" = standby ] && url=$standby
		start "$n" "$url"
		tiles=$(run "$n" cycle.lua)
		summary=$(run "$n" summary.lua)
		stop
		echo "| $n server(s), reads from the $reads | $tiles | $summary |"
	done
done
