package tiles_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"clearmap/internal/acreage"
	"clearmap/internal/ingest"
	"clearmap/internal/testdb"
	"clearmap/internal/tiles"
)

// checkMVT21 reads a tile straight from its protobuf wire format, without
// the decoder the other tests use, and checks it against the Mapbox Vector
// Tile specification 2.1: layer version, unique names, key and value
// tables, tag pairs, feature types, geometry command streams, ring winding
// (exterior rings positive area in tile coordinates, y down) and unique ids.
func checkMVT21(t *testing.T, tile []byte) {
	t.Helper()
	if err := validateTile(tile); err != nil {
		t.Fatal(err)
	}
}

// wireFields walks a message's fields, calling f with each field's number,
// type and raw value (varint value or length-delimited bytes).
func wireFields(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v uint64
		var data []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			data, n = protowire.ConsumeBytes(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		default:
			return fmt.Errorf("field %d: wire type %d not used by MVT", num, typ)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := f(num, typ, v, data); err != nil {
			return err
		}
	}
	return nil
}

func packed(data []byte) ([]uint32, error) {
	var out []uint32
	for len(data) > 0 {
		v, n := protowire.ConsumeVarint(data)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		out = append(out, uint32(v))
		data = data[n:]
	}
	return out, nil
}

func validateTile(tile []byte) error {
	names := map[string]bool{}
	return wireFields(tile, func(num protowire.Number, typ protowire.Type, _ uint64, data []byte) error {
		if num != 3 || typ != protowire.BytesType {
			return fmt.Errorf("tile: unexpected field %d", num)
		}
		name, err := validateLayer(data)
		if err != nil {
			return fmt.Errorf("layer %q: %w", name, err)
		}
		if names[name] {
			return fmt.Errorf("layer name %q used twice", name)
		}
		names[name] = true
		return nil
	})
}

func validateLayer(layer []byte) (string, error) {
	var name string
	version, extent := uint64(1), uint64(4096)
	var keys int
	var features [][]byte
	values := 0
	err := wireFields(layer, func(num protowire.Number, _ protowire.Type, v uint64, data []byte) error {
		switch num {
		case 15:
			version = v
		case 1:
			name = string(data)
		case 5:
			extent = v
		case 3:
			keys++
		case 4:
			kinds := 0
			if err := wireFields(data, func(num protowire.Number, _ protowire.Type, _ uint64, _ []byte) error {
				if num < 1 || num > 7 {
					return fmt.Errorf("value with field %d", num)
				}
				kinds++
				return nil
			}); err != nil {
				return err
			}
			if kinds != 1 {
				return fmt.Errorf("value %d has %d fields, want exactly one", values, kinds)
			}
			values++
		case 2:
			features = append(features, data)
		default:
			return fmt.Errorf("unexpected layer field %d", num)
		}
		return nil
	})
	if err != nil {
		return name, err
	}
	if version != 2 || name == "" || extent == 0 {
		return name, fmt.Errorf("version %d, name %q, extent %d: want version 2, a name and an extent", version, name, extent)
	}
	ids := map[uint64]bool{}
	for i, f := range features {
		id, err := validateFeature(f, keys, values, int64(extent))
		if err != nil {
			return name, fmt.Errorf("feature %d: %w", i, err)
		}
		if ids[id] {
			return name, fmt.Errorf("feature %d: id %d used twice", i, id)
		}
		ids[id] = true
	}
	return name, nil
}

// validateFeature checks one feature and returns its id (required here:
// clearmap gives every feature one).
func validateFeature(f []byte, keys, values int, extent int64) (uint64, error) {
	var id uint64
	var hasID bool
	var typ uint64
	var tags, geometry []uint32
	err := wireFields(f, func(num protowire.Number, _ protowire.Type, v uint64, data []byte) (err error) {
		switch num {
		case 1:
			id, hasID = v, true
		case 2:
			tags, err = packed(data)
		case 3:
			typ = v
		case 4:
			geometry, err = packed(data)
		default:
			err = fmt.Errorf("unexpected feature field %d", num)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if !hasID {
		return 0, fmt.Errorf("no id")
	}
	if len(tags)%2 != 0 {
		return id, fmt.Errorf("%d tags: not key/value pairs", len(tags))
	}
	for i := 0; i < len(tags); i += 2 {
		if int(tags[i]) >= keys || int(tags[i+1]) >= values {
			return id, fmt.Errorf("tag pair (%d, %d) outside %d keys, %d values", tags[i], tags[i+1], keys, values)
		}
	}
	return id, validateGeometry(typ, geometry, extent)
}

// validateGeometry runs the command stream (spec §4.3) for a point (1),
// line (2) or polygon (3) feature.
func validateGeometry(typ uint64, cmds []uint32, extent int64) error {
	if typ < 1 || typ > 3 {
		return fmt.Errorf("geometry type %d: clearmap writes points, lines and polygons only", typ)
	}
	var x, y int64
	var ring [][2]int64
	rings := 0
	inRange := func() error {
		// Geometry may reach into the buffer around the tile, not far past it.
		if x < -extent || x > 2*extent || y < -extent || y > 2*extent {
			return fmt.Errorf("position (%d, %d) far outside extent %d", x, y, extent)
		}
		return nil
	}
	for i := 0; i < len(cmds); {
		id, count := cmds[i]&7, int(cmds[i]>>3)
		i++
		switch {
		case id == 1 || id == 2: // MoveTo, LineTo
			if count == 0 || i+2*count > len(cmds) {
				return fmt.Errorf("command %d with count %d at %d of %d", id, count, i, len(cmds))
			}
			if typ == 3 && id == 1 && (count != 1 || ring != nil) {
				return fmt.Errorf("polygon MoveTo of %d inside an open ring", count)
			}
			if typ == 3 && id == 2 && (ring == nil || count < 2) {
				return fmt.Errorf("polygon LineTo of %d without a MoveTo, or too short for a ring", count)
			}
			if typ == 2 && id == 1 {
				// A line starts with one MoveTo, and the line before it
				// has had its LineTo.
				if count != 1 || len(ring) == 1 {
					return fmt.Errorf("line MoveTo of %d, or a MoveTo with no LineTo after it", count)
				}
				ring = nil
			}
			if typ == 2 && id == 2 {
				if ring == nil {
					return fmt.Errorf("line LineTo without a MoveTo")
				}
				if len(ring) == 1 {
					rings++
				}
			}
			for k := 0; k < count; k++ {
				dx, dy := int64(protowire.DecodeZigZag(uint64(cmds[i]))), int64(protowire.DecodeZigZag(uint64(cmds[i+1])))
				x, y = x+dx, y+dy
				i += 2
				if err := inRange(); err != nil {
					return err
				}
				if id == 2 && dx == 0 && dy == 0 {
					return fmt.Errorf("LineTo of length 0 at (%d, %d)", x, y)
				}
				ring = append(ring, [2]int64{x, y})
			}
			if typ == 1 {
				if id != 1 {
					return fmt.Errorf("point with LineTo")
				}
				ring = nil
				rings++
			}
		case id == 7 && count == 1 && typ == 3:
			if len(ring) < 3 {
				return fmt.Errorf("ring of %d positions", len(ring))
			}
			area := int64(0)
			for k := range ring {
				a, b := ring[k], ring[(k+1)%len(ring)]
				area += a[0]*b[1] - b[0]*a[1]
			}
			if area == 0 {
				return fmt.Errorf("ring %d has zero area", rings)
			}
			if rings == 0 && area < 0 {
				return fmt.Errorf("first ring is an interior ring (negative area)")
			}
			ring = nil
			rings++
		default:
			return fmt.Errorf("command %d count %d not allowed in a type %d geometry", id, count, typ)
		}
	}
	if typ == 2 && len(ring) == 1 {
		return fmt.Errorf("line ends with a MoveTo")
	}
	if rings == 0 || typ != 2 && ring != nil {
		return fmt.Errorf("empty geometry or unclosed ring")
	}
	return nil
}

// TestTilesFollowMVT21 checks, with checkMVT21, every tile over Pakistan
// from zoom 0 to 7 and the tiles around fields with holes and several parts
// from zoom 8 to 16.
func TestTilesFollowMVT21(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	holed := `{"type":"Feature","properties":{"crop":"poppy","cleared_on":"2026-03-01"},"geometry":{"type":"Polygon","coordinates":[
		[[71.10,34.05],[71.104,34.05],[71.104,34.054],[71.10,34.054],[71.10,34.05]],
		[[71.101,34.051],[71.101,34.052],[71.102,34.052],[71.102,34.051],[71.101,34.051]]]}}`
	parts := `{"type":"Feature","properties":{"crop":"cannabis","cleared_on":"2026-03-02"},"geometry":{"type":"MultiPolygon","coordinates":[
		[[[71.106,34.05],[71.108,34.05],[71.108,34.052],[71.106,34.052],[71.106,34.05]]],
		[[[71.109,34.05],[71.111,34.05],[71.111,34.052],[71.109,34.05]]]]}}`
	res, err := (&ingest.Service{DB: pool}).Store(ctx, ingest.Upload{
		Body: strings.NewReader(`{"type":"FeatureCollection","features":[` + holed + "," + parts + `]}`), Uploader: "t"})
	if err != nil || res.Outcome != ingest.Created {
		t.Fatalf("%v %+v", err, res.Receipt)
	}
	svc := &tiles.Service{DB: pool}
	check := func(c tiles.Coordinate) int {
		tile, err := svc.Tile(ctx, c, acreage.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if err := validateTile(tile); err != nil {
			t.Fatalf("tile %v: %v", c, err)
		}
		return len(tile)
	}
	checked := 0
	for z := 0; z <= 7; z++ {
		nw, se := at(60.87, 37.09, z), at(77.12, 24.05, z)
		for x := nw.X; x <= se.X; x++ {
			for y := nw.Y; y <= se.Y; y++ {
				if check(tiles.Coordinate{Z: z, X: x, Y: y}) > 0 {
					checked++
				}
			}
		}
	}
	for z := 8; z <= 16; z++ {
		if check(at(71.103, 34.052, z)) == 0 {
			t.Fatalf("z%d: the fields' tile is empty", z)
		}
		checked++
	}
	t.Logf("%d tiles checked", checked)
}

// TestValidatorRejectsBrokenTiles shows that validateTile can fail: each
// tile breaks one rule.
func TestValidatorRejectsBrokenTiles(t *testing.T) {
	cmd := func(id, count uint32) uint64 { return uint64(id&7 | count<<3) }
	zz := func(v int64) uint64 { return protowire.EncodeZigZag(v) }
	square := []uint64{cmd(1, 1), zz(0), zz(0), cmd(2, 3), zz(10), zz(0), zz(0), zz(10), zz(-10), zz(0), cmd(7, 1)}
	reversed := []uint64{cmd(1, 1), zz(0), zz(0), cmd(2, 3), zz(0), zz(10), zz(10), zz(0), zz(0), zz(-10), cmd(7, 1)}
	feature := func(id uint64, tags []uint64, typ uint64, geom []uint64) []byte {
		var f []byte
		f = protowire.AppendTag(f, 1, protowire.VarintType)
		f = protowire.AppendVarint(f, id)
		pack := func(num protowire.Number, vs []uint64) {
			var b []byte
			for _, v := range vs {
				b = protowire.AppendVarint(b, v)
			}
			f = protowire.AppendTag(f, num, protowire.BytesType)
			f = protowire.AppendBytes(f, b)
		}
		pack(2, tags)
		f = protowire.AppendTag(f, 3, protowire.VarintType)
		f = protowire.AppendVarint(f, typ)
		pack(4, geom)
		return f
	}
	layer := func(version uint64, features ...[]byte) []byte {
		var l []byte
		l = protowire.AppendTag(l, 15, protowire.VarintType)
		l = protowire.AppendVarint(l, version)
		l = protowire.AppendTag(l, 1, protowire.BytesType)
		l = protowire.AppendString(l, "districts")
		l = protowire.AppendTag(l, 3, protowire.BytesType)
		l = protowire.AppendString(l, "code")
		var v []byte
		v = protowire.AppendTag(v, 1, protowire.BytesType)
		v = protowire.AppendString(v, "PK-KP-KHYBER")
		l = protowire.AppendTag(l, 4, protowire.BytesType)
		l = protowire.AppendBytes(l, v)
		for _, f := range features {
			l = protowire.AppendTag(l, 2, protowire.BytesType)
			l = protowire.AppendBytes(l, f)
		}
		return l
	}
	tile := func(layers ...[]byte) []byte {
		var b []byte
		for _, l := range layers {
			b = protowire.AppendTag(b, 3, protowire.BytesType)
			b = protowire.AppendBytes(b, l)
		}
		return b
	}
	good := feature(1, []uint64{0, 0}, 3, square)
	line := feature(2, nil, 2, append(square[:len(square)-1:len(square)-1], cmd(1, 1), zz(5), zz(5), cmd(2, 1), zz(1), zz(0)))
	if err := validateTile(tile(layer(2, good, line))); err != nil {
		t.Fatalf("a valid tile was rejected: %v", err)
	}
	for name, c := range map[string]struct {
		tile []byte
		want string
	}{
		"version 1":         {tile(layer(1, good)), "want version 2"},
		"layer twice":       {tile(layer(2, good), layer(2, good)), "used twice"},
		"id twice":          {tile(layer(2, good, good)), "id 1 used twice"},
		"odd tags":          {tile(layer(2, feature(1, []uint64{0}, 3, square))), "not key/value pairs"},
		"tag past values":   {tile(layer(2, feature(1, []uint64{0, 1}, 3, square))), "outside 1 keys, 1 values"},
		"exterior reversed": {tile(layer(2, feature(1, nil, 3, reversed))), "first ring is an interior ring"},
		"ring not closed":   {tile(layer(2, feature(1, nil, 3, square[:len(square)-1]))), "unclosed ring"},
		"unknown type":      {tile(layer(2, feature(1, nil, 4, square))), "points, lines and polygons only"},
		"line of a point":   {tile(layer(2, feature(1, nil, 2, square[:3]))), "line ends with a MoveTo"},
		"line move twice":   {tile(layer(2, feature(1, nil, 2, append(square[:3:3], square[:3]...)))), "MoveTo with no LineTo"},
		"line closed":       {tile(layer(2, feature(1, nil, 2, square))), "not allowed in a type 2"},
		"zero-length edge":  {tile(layer(2, feature(1, nil, 2, []uint64{cmd(1, 1), zz(0), zz(0), cmd(2, 1), zz(0), zz(0)}))), "LineTo of length 0"},
		"truncated":         {tile(layer(2, good))[:20], "unexpected EOF"},
	} {
		if err := validateTile(c.tile); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
}
