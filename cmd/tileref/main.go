// Command tileref serves one table's tiles the way pg_tileserv does, as the
// reference that clearmap's cold tiles are measured against
// (scripts/bench-tiles.sh). pg_tileserv cannot be installed here; its work
// per tile is one statement, rendered from its template (layer_table.go,
// v1.0.x) with the tile's envelope written into the SQL text:
//
//	SELECT ST_AsMVT(mvtgeom, '<layer>', 4096, 'geom', '<id>') FROM (
//	  SELECT ST_AsMVTGeom(ST_Transform(ST_Force2D(t.geom), 3857), bounds.geom_clip, 4096, 256) AS geom, <properties>
//	  FROM <table> t, (SELECT <tile envelope> AS geom_clip, <envelope + 256/4096 a side> AS geom_query) bounds
//	  WHERE ST_Intersects(t.geom, ST_Transform(bounds.geom_query, <table SRID>))
//	  LIMIT 50000) mvtgeom
//
// with its defaults: DefaultResolution 4096, DefaultBuffer 256,
// MaxFeaturesPerTile 50000, no cache, no gzip. The properties are the ones
// named by -properties, as pg_tileserv's ?properties= parameter names them
// (its default is every non-geometry column); the default list is what
// clearmap's clearances layer carries. The statement runs through the same
// net/http server and pgx pool as clearmap's (store.Open: JIT off, the same
// pool size), so a comparison of the two measures the SQL.
//
//	DATABASE_URL=... tileref [-addr 127.0.0.1:8091] [-table clearances]
//
// serves GET /{z}/{x}/{y}.pbf (or .mvt).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/store"
)

// pg_tileserv's defaults.
const (
	resolution  = 4096
	tileBuffer  = 256
	maxFeatures = 50000
	dbTimeout   = 10 * time.Second
	// worldWidth is the width of the Web Mercator plane in metres.
	worldWidth = 40075016.6855784
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	table := flag.String("table", "clearances", "table to serve")
	geom := flag.String("geom", "geom", "its geometry column")
	srid := flag.Int("srid", 4326, "its geometry column's SRID")
	id := flag.String("id", "id", "its integer primary key (the MVT feature id)")
	props := flag.String("properties", "crop,cleared_on,team,upload_id,area_m2", "comma-separated columns to carry")
	conns := flag.Int("db-max-conns", 10, "most database connections (clearmap's default)")
	flag.Parse()
	pool, err := store.Open(context.Background(), os.Getenv("DATABASE_URL"), store.Options{MaxConns: int32(*conns)})
	if err != nil {
		log.Fatal("tileref: ", err)
	}
	l := layer{table: *table, geom: *geom, srid: *srid, id: *id, props: strings.Split(*props, ",")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{z}/{x}/{y}", func(w http.ResponseWriter, r *http.Request) { serveTile(w, r, pool, l) })
	srv := &http.Server{Addr: *addr, Handler: mux, ReadTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// layer is the table served.
type layer struct {
	table, geom, id string
	srid            int
	props           []string
}

// sql renders pg_tileserv's statement for tile z/x/y.
func (l layer) sql(z, x, y int) string {
	width := worldWidth / float64(int(1)<<z)
	xmin, ymax := -worldWidth/2+float64(x)*width, worldWidth/2-float64(y)*width
	envelope := func(margin float64) string {
		g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
		return fmt.Sprintf("ST_MakeEnvelope(%s, %s, %s, %s, 3857)", g(xmin-margin), g(ymax-width-margin), g(xmin+width+margin), g(ymax+margin))
	}
	quoted := make([]string, 0, len(l.props)+1)
	for _, p := range append(l.props, l.id) {
		quoted = append(quoted, pgx.Identifier{p}.Sanitize())
	}
	geom := pgx.Identifier{l.geom}.Sanitize()
	return `
	SELECT ST_AsMVT(mvtgeom, ` + literal("public."+l.table) + `, ` + strconv.Itoa(resolution) + `, ` + literal(l.geom) + `, ` + literal(l.id) + `) FROM (
		SELECT ST_AsMVTGeom(ST_Transform(ST_Force2D(t.` + geom + `), 3857), bounds.geom_clip, ` +
		strconv.Itoa(resolution) + `, ` + strconv.Itoa(tileBuffer) + `) AS ` + geom + `, ` + strings.Join(quoted, ", ") + `
		FROM ` + pgx.Identifier{l.table}.Sanitize() + ` t,
		     (SELECT ` + envelope(0) + ` AS geom_clip, ` + envelope(width*tileBuffer/resolution) + ` AS geom_query) bounds
		WHERE ST_Intersects(t.` + geom + `, ST_Transform(bounds.geom_query, ` + strconv.Itoa(l.srid) + `))
		LIMIT ` + strconv.Itoa(maxFeatures) + `
	) mvtgeom`
}

// literal quotes s as an SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func serveTile(w http.ResponseWriter, r *http.Request, pool *pgxpool.Pool, l layer) {
	var c [3]int
	for i, k := range []string{"z", "x", "y"} {
		v := r.PathValue(k)
		if i == 2 {
			v = strings.TrimSuffix(strings.TrimSuffix(v, ".pbf"), ".mvt")
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || (i == 0 && n > 30) || (i > 0 && n >= 1<<c[0]) {
			http.Error(w, "no such tile", http.StatusBadRequest)
			return
		}
		c[i] = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), dbTimeout)
	defer cancel()
	var tile []byte
	if err := pool.QueryRow(ctx, l.sql(c[0], c[1], c[2])).Scan(&tile); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.mapbox-vector-tile")
	w.Write(tile)
}
