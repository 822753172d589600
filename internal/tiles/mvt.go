package tiles

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// This file writes the static layers (staticLayers) in the Mapbox Vector
// Tile wire format (vector_tile.proto, MVT 2.1) straight into the tile's
// bytes. A general encoder (orb's: a map of properties per feature, a
// message tree, then protobuf) cost a zoom-15 tile more than clipping did;
// these layers have a fixed set of keys each, so their features need no
// more than a list of encoded values. The bytes are what orb's encoder
// writes for the same features: keys in sorted order, values in order of
// first use, each once.

// Geometry types and commands (MVT 2.1, 4.3).
const (
	pointType      = 1
	lineStringType = 2
	polygonType    = 3

	moveTo    = 1
	lineTo    = 2
	closePath = 7
)

// A value is one encoded vector_tile Value message.
type value []byte

// stringValue, doubleValue and sintValue encode a property's value as
// the Value message's string_value, double_value and sint_value.
func stringValue(s string) value {
	return append(appendVarint(value{1<<3 | 2}, uint64(len(s))), s...)
}

func doubleValue(f float64) value {
	return binary.LittleEndian.AppendUint64(value{3<<3 | 1}, math.Float64bits(f))
}

func sintValue(i int64) value {
	return appendVarint(value{6 << 3}, uint64(i<<1^i>>63))
}

// layerEncoder builds one layer whose features carry the keys given, in
// sorted order, each feature a value for every key.
type layerEncoder struct {
	name     string
	keys     []string
	features []byte
	values   []byte
	// seen holds each value written, at its index. A layer of a tile from
	// zoom 12 up has tens of values at most: searching them is cheaper than
	// a map, whose inserts allocate (a third of the encoding's time).
	seen     []value
	geometry geometryEncoder
	tags     []uint32
}

// reset makes l an empty layer of the name and keys given, keeping the
// memory it has.
func (l *layerEncoder) reset(name string, keys ...string) {
	l.name, l.keys = name, keys
	l.features, l.values, l.seen, l.tags = l.features[:0], l.values[:0], l.seen[:0], l.tags[:0]
	l.geometry.reset()
}

// add adds a feature: its id, its values in the order of the layer's keys,
// and its geometry, written beforehand into l.geometry.
func (l *layerEncoder) add(id uint64, values ...value) {
	l.tags = l.tags[:0]
	for k, v := range values {
		i := slices.IndexFunc(l.seen, func(w value) bool { return bytes.Equal(w, v) })
		if i < 0 {
			i = len(l.seen)
			l.seen = append(l.seen, v)
			l.values = appendBytes(l.values, 4, v)
		}
		l.tags = append(l.tags, uint32(k), uint32(i))
	}
	g := &l.geometry
	size := varintSize(1<<3) + varintSize(id) +
		packedSize(2, l.tags) + varintSize(3<<3) + varintSize(uint64(g.kind)) + packedSize(4, g.data)
	l.features = appendVarint(append(l.features, 2<<3|2), uint64(size))
	l.features = appendVarint(append(l.features, 1<<3), id)
	l.features = appendPacked(l.features, 2, l.tags)
	l.features = appendVarint(append(l.features, 3<<3), uint64(g.kind))
	l.features = appendPacked(l.features, 4, g.data)
	g.reset()
}

// appendTo appends the layer to tile, as a Tile's layers field; nothing
// when it has no features.
func (l *layerEncoder) appendTo(tile []byte) []byte {
	if len(l.features) == 0 {
		return tile
	}
	size := 1 + varintSize(uint64(len(l.name))) + len(l.name) + len(l.features) + len(l.values) +
		varintSize(5<<3) + varintSize(extent) + varintSize(15<<3) + varintSize(2)
	for _, k := range l.keys {
		size += 1 + varintSize(uint64(len(k))) + len(k)
	}
	tile = appendVarint(append(tile, 3<<3|2), uint64(size))
	tile = appendBytes(tile, 1, l.name)
	tile = append(tile, l.features...)
	for _, k := range l.keys {
		tile = appendBytes(tile, 3, k)
	}
	tile = append(tile, l.values...)
	tile = appendVarint(append(tile, 5<<3), extent)
	return appendVarint(append(tile, 15<<3), 2)
}

// geometryEncoder writes a feature's geometry commands (MVT 2.1, 4.3),
// positions in whole tile units relative to the one before.
type geometryEncoder struct {
	kind int
	data []uint32
	x, y int32
}

func (g *geometryEncoder) reset() { g.kind, g.data, g.x, g.y = 0, g.data[:0], 0, 0 }

func (g *geometryEncoder) command(id, count int) {
	g.data = append(g.data, uint32(count<<3|id))
}

func (g *geometryEncoder) positions(ps []orb.Point) {
	for _, p := range ps {
		x, y := int32(p[0]), int32(p[1])
		dx, dy := x-g.x, y-g.y
		g.x, g.y = x, y
		g.data = append(g.data, uint32(dx<<1^dx>>31), uint32(dy<<1^dy>>31))
	}
}

// point writes a point.
func (g *geometryEncoder) point(p orb.Point) {
	g.kind = pointType
	g.command(moveTo, 1)
	g.positions([]orb.Point{p})
}

// line writes one line of a (multi) line string.
func (g *geometryEncoder) line(l orb.LineString) { g.path(lineStringType, l) }

// ring writes one ring of a (multi) polygon, given without its closing
// position.
func (g *geometryEncoder) ring(r orb.Ring) {
	g.path(polygonType, r)
	g.command(closePath, 1)
}

// path writes a move to the first position and lines to the others.
func (g *geometryEncoder) path(kind int, ps []orb.Point) {
	g.kind = kind
	g.command(moveTo, 1)
	g.positions(ps[:1])
	g.command(lineTo, len(ps)-1)
	g.positions(ps[1:])
}

// Protocol buffer encoding: varints, and length-delimited fields.

func appendVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func varintSize(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func appendBytes[T ~string | ~[]byte](b []byte, field int, data T) []byte {
	return append(appendVarint(append(b, byte(field<<3|2)), uint64(len(data))), data...)
}

func packedSize(field int, vs []uint32) int {
	n := 0
	for _, v := range vs {
		n += varintSize(uint64(v))
	}
	return varintSize(uint64(field<<3|2)) + varintSize(uint64(n)) + n
}

func appendPacked(b []byte, field int, vs []uint32) []byte {
	n := 0
	for _, v := range vs {
		n += varintSize(uint64(v))
	}
	b = appendVarint(append(b, byte(field<<3|2)), uint64(n))
	for _, v := range vs {
		b = appendVarint(b, uint64(v))
	}
	return b
}
