package tiles

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
	"github.com/paulmach/orb/encoding/wkb"

	"clearmap/internal/acreage"
)

// staticZoom is the first zoom whose outlines and names come from memory
// (staticLayers) instead of the tile's statement. Below it the districts
// and provinces are simplified to the zoom (district_shapes,
// province_shapes) and the places and rivers thinned; from it up nothing
// is simplified or thinned, and the outlines come cut to the zoom-12 tile
// each tile lies in (district_cuts, province_cuts).
const staticZoom = 12

// halfWorld is half the width of the Web Mercator plane, in metres.
const halfWorld = 20037508.342789244

// codeID is the MVT feature id of a district, province or label, from its
// code: a stable non-negative 63-bit hash, as SQL over the column col.
func codeID(col string) string {
	return "(hashtextextended(" + col + ", 0) & 9223372036854775807)"
}

// staticLayers holds, in Web Mercator metres, what the tiles from
// staticZoom up show besides the fields and the districts' figures: the
// outlines of the districts and provinces cut to zoom-12 tiles, the
// rivers, the places and the label points. They change only with a
// boundary or context load (AllChanged counts those in
// static_layers.version), and hold a few megabytes. Built in the tile's
// statement, these five layers cost a zoom-15 tile more than its fields
// did (0.35 ms of 0.62; docs/benchmarks.md); from memory they cost tens
// of microseconds.
type staticLayers struct {
	version int64
	// cells holds what reaches each zoom-12 tile (x, y), or its buffer:
	// the tiles from zoom 12 up look in their zoom-12 tile's cell alone.
	cells map[[2]int]*cell
}

// cell is what reaches one zoom-12 tile, each kind in the order the tile
// lists it.
type cell struct {
	outlines []outline // by code
	rivers   []*river  // by id
	places   []*point  // population descending, then id
	labels   []*point  // provinces, then districts, each by code
}

// at returns the cell of zoom-12 tile (x, y), adding it if need be.
func (s *staticLayers) at(x, y int) *cell {
	c := s.cells[[2]int{x, y}]
	if c == nil {
		c = &cell{}
		s.cells[[2]int{x, y}] = c
	}
	return c
}

// reaching calls f with each zoom-12 tile whose buffered envelope b
// reaches: a tile from zoom 12 up, and its buffer, lie within its zoom-12
// tile's buffered envelope.
func reaching(b orb.Bound, f func(x, y int)) {
	size := 2 * halfWorld / (1 << staticZoom)
	margin := size * buffer / extent
	x0, x1 := int(math.Floor((b.Min[0]-margin+halfWorld)/size)), int(math.Floor((b.Max[0]+margin+halfWorld)/size))
	y0, y1 := int(math.Floor((halfWorld-b.Max[1]-margin)/size)), int(math.Floor((halfWorld-b.Min[1]+margin)/size))
	for x := max(x0, 0); x <= min(x1, 1<<staticZoom-1); x++ {
		for y := max(y0, 0); y <= min(y1, 1<<staticZoom-1); y++ {
			f(x, y)
		}
	}
}

// bufferedEnvelope is tile c's envelope with its buffer, in Web Mercator
// metres, and the tile's west and north edges and size.
func bufferedEnvelope(c Coordinate) (env orb.Bound, minX, maxY, size float64) {
	size = 2 * halfWorld / float64(int(1)<<c.Z)
	minX, maxY = -halfWorld+float64(c.X)*size, halfWorld-float64(c.Y)*size
	margin := size * buffer / extent
	return orb.Bound{Min: orb.Point{minX - margin, maxY - size - margin}, Max: orb.Point{minX + size + margin, maxY + margin}}, minX, maxY, size
}

// nearCell returns the runs of ml's segments that reach zoom-12 tile (x,
// y)'s buffered envelope, its own positions unchanged: a long river is not
// drawn from all its positions in every tile near it, and a tile clips the
// runs to what it would clip the whole line to.
func nearCell(ml orb.MultiLineString, x, y int) orb.MultiLineString {
	cell, _, _, _ := bufferedEnvelope(Coordinate{Z: staticZoom, X: x, Y: y})
	var near orb.MultiLineString
	for _, l := range ml {
		start := -1 // of the run being built
		for i := 1; i <= len(l); i++ {
			if i < len(l) && cell.Intersects(orb.Bound{Min: l[i-1], Max: l[i-1]}.Extend(l[i])) {
				if start < 0 {
					start = i - 1
				}
				continue
			}
			if start >= 0 {
				near = append(near, l[start:i])
				start = -1
			}
		}
	}
	return near
}

// outline is a district's or province's outline within one zoom-12 tile.
type outline struct {
	layer string // "districts" or "provinces"
	id    uint64
	code  string
	// code, name and, for a district, province, encoded.
	codeValue, nameValue, provinceValue value
	geom                                orb.MultiPolygon
	bound                               orb.Bound
}

// river is the part of a river or canal line near one zoom-12 tile
// (nearCell), and its level.
type river struct {
	id    uint64
	level value
	geom  orb.MultiLineString
	bound orb.Bound
}

// point is a place or a label: its feature id, its properties' values in
// the order of its layer's keys (placeKeys, labelKeys), and its position.
type point struct {
	id     uint64
	values []value
	at     orb.Point
}

// The static layers' keys, sorted (layerEncoder).
var (
	provinceKeys = []string{"code", "name"}
	districtKeys = []string{"acres", "acres_cannabis", "acres_poppy", "code", "fields", "name", "province"}
	riverKeys    = []string{"level"}
	placeKeys    = []string{"kind", "name", "population"}
	labelKeys    = []string{"code", "kind", "name"}
)

// readStatic reads the static layers from db, in one snapshot.
func readStatic(ctx context.Context, db *pgxpool.Pool) (*staticLayers, error) {
	s := &staticLayers{cells: map[[2]int]*cell{}}
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// each scans each row of the query into scan and calls f.
		each := func(what, query string, scan []any, f func()) error {
			rows, err := tx.Query(ctx, query)
			if err == nil {
				_, err = pgx.ForEachRow(rows, scan, func() error { f(); return nil })
			}
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		}
		var x, y int
		var o outline
		var r river
		var p point
		var name, kind, code, province string
		var level, population int32
		// file files a point in the cells it reaches, in the list of
		// each that list gives.
		file := func(values []value, list func(*cell) *[]*point) {
			p := &point{id: p.id, at: p.at, values: values}
			reaching(p.at.Bound(), func(x, y int) { l := list(s.at(x, y)); *l = append(*l, p) })
		}
		err := tx.QueryRow(ctx, "SELECT version FROM static_layers").Scan(&s.version)
		if err == nil {
			err = each("outlines", `
				SELECT c.x, c.y, 'districts', `+codeID("d.code")+`, d.code, d.name, d.province_code, ST_AsBinary(c.geom)
				FROM district_cuts c JOIN districts d ON d.code = c.district_code
				UNION ALL
				SELECT c.x, c.y, 'provinces', `+codeID("p.code")+`, p.code, p.name, '', ST_AsBinary(c.geom)
				FROM province_cuts c JOIN provinces p ON p.code = c.province_code
				ORDER BY 5`,
				[]any{&x, &y, &o.layer, &o.id, &o.code, &name, &province, wkb.Scanner(&o.geom)}, func() {
					o.bound = o.geom.Bound()
					o.codeValue, o.nameValue, o.provinceValue = stringValue(o.code), stringValue(name), stringValue(province)
					c := s.at(x, y)
					c.outlines = append(c.outlines, o)
				})
		}
		if err == nil {
			err = each("rivers", "SELECT id, level, ST_AsBinary(ST_Multi(geom_3857)) FROM rivers ORDER BY id",
				[]any{&r.id, &level, wkb.Scanner(&r.geom)}, func() {
					level := sintValue(int64(level))
					reaching(r.geom.Bound(), func(x, y int) {
						if near := nearCell(r.geom, x, y); len(near) > 0 {
							c := s.at(x, y)
							c.rivers = append(c.rivers, &river{id: r.id, level: level, geom: near, bound: near.Bound()})
						}
					})
				})
		}
		if err == nil {
			err = each("places", `SELECT id, name, population, kind, ST_X(geom_3857), ST_Y(geom_3857)
				FROM places ORDER BY population DESC, id`,
				[]any{&p.id, &name, &population, &kind, &p.at[0], &p.at[1]}, func() {
					file([]value{stringValue(kind), stringValue(name), sintValue(int64(population))},
						func(c *cell) *[]*point { return &c.places })
				})
		}
		if err == nil {
			err = each("labels", `
				SELECT `+codeID("code")+`, name, kind, code, ST_X(label_3857), ST_Y(label_3857) FROM (
					SELECT code, name, 'province' AS kind, label_3857 FROM provinces
					UNION ALL
					SELECT code, name, 'district', label_3857 FROM districts) l
				ORDER BY kind DESC, code`,
				[]any{&p.id, &name, &kind, &code, &p.at[0], &p.at[1]}, func() {
					file([]value{stringValue(code), stringValue(kind), stringValue(name)},
						func(c *cell) *[]*point { return &c.labels })
				})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load static layers: %w", err)
	}
	return s, nil
}

// staticTile is one tile's static layers, in tile coordinates, with the
// districts' figures still to fill in.
type staticTile struct {
	provinces, districts []drawnOutline // by code
	rivers               []drawnRiver   // by id
	places, labels       []drawnPoint   // in their cell's order
}

type drawnOutline struct {
	*outline
	geom orb.MultiPolygon
}

type drawnRiver struct {
	*river
	geom orb.MultiLineString
}

type drawnPoint struct {
	*point
	at orb.Point
}

// tile clips the static layers to tile c (zoom staticZoom or more), as
// ST_AsMVTGeom does: into tile coordinates (extent 4096, y down), clipped
// to the tile and its buffer, rounded to whole units.
func (s *staticLayers) tile(c Coordinate) *staticTile {
	env, minX, maxY, size := bufferedEnvelope(c)
	tileCoords := func(p orb.Point) orb.Point {
		return orb.Point{(p[0] - minX) / size * extent, (maxY - p[1]) / size * extent}
	}
	box := orb.Bound{Min: orb.Point{-buffer, -buffer}, Max: orb.Point{extent + buffer, extent + buffer}}

	t := &staticTile{}
	shift := c.Z - staticZoom
	held := s.cells[[2]int{c.X >> shift, c.Y >> shift}]
	if held == nil {
		return t
	}
	for i := range held.outlines {
		o := &held.outlines[i]
		if !o.bound.Intersects(env) {
			continue
		}
		var mp orb.MultiPolygon
		for _, p := range o.geom {
			if p = drawPolygon(clip.Polygon(box, mapPolygon(p, tileCoords))); p != nil {
				mp = append(mp, p)
			}
		}
		if len(mp) == 0 {
			continue
		}
		if o.layer == "provinces" {
			t.provinces = append(t.provinces, drawnOutline{o, mp})
		} else {
			t.districts = append(t.districts, drawnOutline{o, mp})
		}
	}
	for _, r := range held.rivers {
		if !r.bound.Intersects(env) {
			continue
		}
		var ml orb.MultiLineString
		for _, l := range r.geom {
			for _, part := range clip.LineString(box, mapLine(l, tileCoords)) {
				if part = drawLine(part); part != nil {
					ml = append(ml, part)
				}
			}
		}
		if len(ml) > 0 {
			t.rivers = append(t.rivers, drawnRiver{r, ml})
		}
	}
	for _, ps := range []struct {
		from []*point
		to   *[]drawnPoint
	}{{held.places, &t.places}, {held.labels, &t.labels}} {
		for _, p := range ps.from {
			if !env.Contains(p.at) {
				continue
			}
			q := tileCoords(p.at)
			*ps.to = append(*ps.to, drawnPoint{p, orb.Point{math.Round(q[0]), math.Round(q[1])}})
		}
	}
	return t
}

// figureValues are a district's figures encoded as its feature's values:
// acres, acres_cannabis, acres_poppy and fields.
type figureValues [4]value

// figuresOf encodes d's figures.
func figuresOf(d acreage.District) figureValues {
	return figureValues{doubleValue(d.Acres), doubleValue(d.AcresCannabis), doubleValue(d.AcresPoppy), sintValue(int64(d.Fields))}
}

// encoders keeps layer encoders, and the memory they have grown, between
// tiles: grown afresh for each, they made a third of a zoom-15 tile's
// allocations (BenchmarkStaticLayers).
var encoders = sync.Pool{New: func() any { return new(layerEncoder) }}

// noFigures are the figures of a district that has none.
var noFigures = figuresOf(acreage.District{})

// encode returns the tile: its static layers, with the districts' figures
// from figures (a district not in it has none), around the clearances
// layer, already encoded. The layers keep the order of the tiles below
// staticZoom: provinces, districts, clearances, rivers, places, labels.
// One layer encoder writes them all in turn, with memory kept from the
// tiles before.
func (t *staticTile) encode(figures map[string]figureValues, clearances []byte) []byte {
	tile := make([]byte, 0, 2048+len(clearances))
	l := encoders.Get().(*layerEncoder)
	defer encoders.Put(l)
	l.reset("provinces", provinceKeys...)
	outlines := func(drawn []drawnOutline, add func(drawnOutline)) {
		for _, o := range drawn {
			for _, p := range o.geom {
				for _, r := range p {
					l.geometry.ring(r)
				}
			}
			add(o)
		}
		tile = l.appendTo(tile)
	}
	outlines(t.provinces, func(o drawnOutline) { l.add(o.id, o.codeValue, o.nameValue) })
	l.reset("districts", districtKeys...)
	outlines(t.districts, func(o drawnOutline) {
		f, ok := figures[o.code]
		if !ok {
			f = noFigures
		}
		l.add(o.id, f[0], f[1], f[2], o.codeValue, f[3], o.nameValue, o.provinceValue)
	})
	tile = append(tile, clearances...)
	l.reset("rivers", riverKeys...)
	for _, r := range t.rivers {
		for _, line := range r.geom {
			l.geometry.line(line)
		}
		l.add(r.id, r.level)
	}
	tile = l.appendTo(tile)
	for _, ps := range []struct {
		drawn []drawnPoint
		name  string
		keys  []string
	}{{t.places, "places", placeKeys}, {t.labels, "labels", labelKeys}} {
		l.reset(ps.name, ps.keys...)
		for _, p := range ps.drawn {
			l.geometry.point(p.at)
			l.add(p.id, p.values...)
		}
		tile = l.appendTo(tile)
	}
	return tile
}

// mapPolygon returns a copy of p with f applied to each position (clip
// works in place, so the held geometry must not reach it).
func mapPolygon(p orb.Polygon, f func(orb.Point) orb.Point) orb.Polygon {
	out := make(orb.Polygon, len(p))
	for i, r := range p {
		out[i] = orb.Ring(mapLine(orb.LineString(r), f))
	}
	return out
}

func mapLine(l orb.LineString, f func(orb.Point) orb.Point) orb.LineString {
	out := make(orb.LineString, len(l))
	for i, q := range l {
		out[i] = f(q)
	}
	return out
}

// drawPolygon rounds a clipped polygon to whole tile units as MVT 2.1
// wants it: no repeated positions, no ring without area, the exterior ring
// of positive area (clockwise, y down) and holes negative. It returns nil
// when the exterior ring is left with no area.
func drawPolygon(p orb.Polygon) orb.Polygon {
	var out orb.Polygon
	for i, r := range p {
		pts := drawLine(orb.LineString(r))
		for len(pts) > 1 && pts[len(pts)-1] == pts[0] {
			pts = pts[:len(pts)-1]
		}
		area := 0.0
		for k := range pts {
			a, b := pts[k], pts[(k+1)%len(pts)]
			area += a[0]*b[1] - b[0]*a[1]
		}
		if len(pts) < 3 || area == 0 {
			if i == 0 {
				return nil
			}
			continue
		}
		if (i == 0) != (area > 0) {
			slices.Reverse(pts)
		}
		out = append(out, orb.Ring(pts))
	}
	return out
}

// drawLine rounds a line to whole tile units and drops repeated
// positions, in place (a clipped copy, never held geometry); nil when
// fewer than two are left.
func drawLine(l orb.LineString) orb.LineString {
	out := l[:0]
	for _, q := range l {
		q = orb.Point{math.Round(q[0]), math.Round(q[1])}
		if len(out) == 0 || out[len(out)-1] != q {
			out = append(out, q)
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}
