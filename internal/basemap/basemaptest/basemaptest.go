// Package basemaptest makes small real basemap files for tests: MBTiles
// written by GDAL (ogr2ogr, gdal_translate), and PMTiles version 3 written
// here, since GDAL 3.6 has no PMTiles writer.
package basemaptest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"

	"clearmap/internal/basemap"
)

// needGDAL fails the test unless GDAL's tools are installed.
func needGDAL(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run `make test` or scripts/setup-gis-tools.sh, which install gdal-bin", tool)
		}
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// VectorMBTiles writes layers (each a GeoJSON FeatureCollection in
// lon/lat, by layer name) into a new MBTiles file of gzipped vector tiles,
// zooms minZoom to maxZoom, with ogr2ogr, and returns its path.
func VectorMBTiles(t testing.TB, layers map[string]string, minZoom, maxZoom int) string {
	t.Helper()
	needGDAL(t, "ogr2ogr")
	dir := t.TempDir()
	// A VRT makes the files one data source with a layer for each.
	vrt := "<OGRVRTDataSource>\n"
	names := make([]string, 0, len(layers))
	for name := range layers {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		src := filepath.Join(dir, strconv.Itoa(i)+".geojson")
		if err := os.WriteFile(src, []byte(layers[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		vrt += `<OGRVRTLayer name="` + html.EscapeString(name) + `"><SrcDataSource>` + html.EscapeString(src) + "</SrcDataSource><SrcLayer>" + strconv.Itoa(i) + "</SrcLayer></OGRVRTLayer>\n"
	}
	vrt += "</OGRVRTDataSource>\n"
	src := filepath.Join(dir, "layers.vrt")
	if err := os.WriteFile(src, []byte(vrt), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "vector.mbtiles")
	run(t, "ogr2ogr", "-f", "MBTILES", dst, src,
		"-dsco", "MINZOOM="+strconv.Itoa(minZoom), "-dsco", "MAXZOOM="+strconv.Itoa(maxZoom))
	return dst
}

// RasterMBTiles writes a 64×64 pixel image of one colour covering lon
// 71–72, lat 34–35 into a new MBTiles file of PNG tiles (zoom 6 alone),
// with gdal_create and gdal_translate, and returns its path.
func RasterMBTiles(t testing.TB) string {
	t.Helper()
	needGDAL(t, "gdal_create", "gdal_translate")
	dir := t.TempDir()
	tif, dst := filepath.Join(dir, "src.tif"), filepath.Join(dir, "raster.mbtiles")
	run(t, "gdal_create", "-of", "GTiff", "-outsize", "64", "64", "-bands", "3", "-ot", "Byte",
		"-burn", "200", "-burn", "120", "-burn", "40", "-a_srs", "EPSG:4326", "-a_ullr", "71", "35", "72", "34", tif)
	run(t, "gdal_translate", "-q", "-of", "MBTILES", tif, dst)
	return dst
}

// PointPMTiles writes a PMTiles file of vector tiles, zooms 0 to maxZoom,
// whose layer holds one point with this name in the tile holding it at
// every zoom; at maxZoom the ten tiles of the row to its north, from five
// west of it, hold an empty tile (so the file has run lengths and shared
// contents). Tiles are gzipped when gzipTiles is set; leafSize is as in
// PMTiles. It returns the file's path and its tiles' bytes by [z, x, y].
func PointPMTiles(t testing.TB, layer, name string, pt orb.Point, maxZoom int, gzipTiles bool, leafSize int) (string, map[[3]int][]byte) {
	t.Helper()
	tiles := map[[3]int][]byte{}
	compression := byte(1)
	if gzipTiles {
		compression = 2
	}
	for z := 0; z <= maxZoom; z++ {
		tc := maptile.At(pt, maptile.Zoom(z))
		f := geojson.NewFeature(pt)
		f.Properties["name"] = name
		fc := geojson.NewFeatureCollection().Append(f)
		layers := mvt.NewLayers(map[string]*geojson.FeatureCollection{layer: fc})
		layers.ProjectToTile(tc)
		data, err := mvt.Marshal(layers)
		if err != nil {
			t.Fatal(err)
		}
		if gzipTiles {
			data = gz(data)
		}
		tiles[[3]int{z, int(tc.X), int(tc.Y)}] = data
	}
	blank := []byte{}
	if gzipTiles {
		blank = gz(blank)
	} else {
		blank = []byte{0x1a, 0x00} // a layer message with nothing in it
	}
	tc := maptile.At(pt, maptile.Zoom(maxZoom))
	for x := int(tc.X) - 5; x < int(tc.X)+5; x++ {
		if x >= 0 && tc.Y > 0 {
			tiles[[3]int{maxZoom, x, int(tc.Y) - 1}] = blank
		}
	}
	path := filepath.Join(t.TempDir(), "vector.pmtiles")
	PMTiles{
		TileType: 1, TileCompression: compression, MinZoom: 0, MaxZoom: byte(maxZoom),
		Bounds: [4]float64{60.87, 23.6, 77.84, 37.1},
		Metadata: map[string]any{"name": "Pakistan", "attribution": "© OpenStreetMap contributors",
			"vector_layers": []map[string]any{{"id": layer, "fields": map[string]string{"name": "String"}}}},
		Tiles: tiles, LeafSize: leafSize,
	}.Write(t, path)
	return path, tiles
}

// PMTiles describes a PMTiles version 3 file to write.
type PMTiles struct {
	// TileType is the header's code: 1 MVT, 2 PNG, 3 JPEG, 4 WebP.
	TileType byte
	// TileCompression is the header's code for the tiles as given
	// (1 none, 2 gzip); directories and metadata are always gzipped.
	TileCompression  byte
	MinZoom, MaxZoom byte
	// Bounds is west, south, east, north.
	Bounds [4]float64
	// Metadata is the JSON metadata (name, attribution, vector_layers…).
	Metadata map[string]any
	// Tiles are the tiles' bytes, as stored, by [z, x, y] (y from the
	// north). Equal contents are stored once; equal contents at
	// consecutive tile ids make one entry with a run length.
	Tiles map[[3]int][]byte
	// LeafSize, when above 0, puts the entries in leaf directories of at
	// most this many, with the root pointing at them.
	LeafSize int
	// Version is the header's version byte; 0 means 3.
	Version byte
}

type entry struct {
	id, offset     uint64
	length, runLen uint32
}

// Write writes the file at path.
func (p PMTiles) Write(t testing.TB, path string) {
	t.Helper()
	type tile struct {
		id   uint64
		data []byte
	}
	var list []tile
	for c, data := range p.Tiles {
		list = append(list, tile{TileID(c[0], c[1], c[2]), data})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })

	var data bytes.Buffer
	offsets := map[string]uint64{}
	var entries []entry
	var lastData []byte
	for _, tl := range list {
		if n := len(entries); n > 0 {
			last := &entries[n-1]
			if last.id+uint64(last.runLen) == tl.id && bytes.Equal(lastData, tl.data) {
				last.runLen++
				continue
			}
		}
		lastData = tl.data
		off, ok := offsets[string(tl.data)]
		if !ok {
			off = uint64(data.Len())
			offsets[string(tl.data)] = off
			data.Write(tl.data)
		}
		entries = append(entries, entry{id: tl.id, offset: off, length: uint32(len(tl.data)), runLen: 1})
	}

	var root, leaves []byte
	if p.LeafSize > 0 {
		var rootEntries []entry
		for i := 0; i < len(entries); i += p.LeafSize {
			chunk := entries[i:min(i+p.LeafSize, len(entries))]
			leaf := gz(encodeDirectory(chunk))
			rootEntries = append(rootEntries, entry{id: chunk[0].id, offset: uint64(len(leaves)), length: uint32(len(leaf))})
			leaves = append(leaves, leaf...)
		}
		root = gz(encodeDirectory(rootEntries))
	} else {
		root = gz(encodeDirectory(entries))
	}
	meta, err := json.Marshal(p.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	meta = gz(meta)

	version := p.Version
	if version == 0 {
		version = 3
	}
	h := make([]byte, 127)
	copy(h, "PMTiles")
	h[7] = version
	le := binary.LittleEndian
	rootOff := uint64(127)
	metaOff := rootOff + uint64(len(root))
	leafOff := metaOff + uint64(len(meta))
	dataOff := leafOff + uint64(len(leaves))
	for i, v := range []uint64{rootOff, uint64(len(root)), metaOff, uint64(len(meta)), leafOff, uint64(len(leaves)),
		dataOff, uint64(data.Len()), uint64(len(list)), uint64(len(entries)), uint64(len(offsets))} {
		le.PutUint64(h[8+8*i:], v)
	}
	h[96] = 1 // clustered
	h[97] = 2 // gzip
	h[98] = p.TileCompression
	h[99] = p.TileType
	h[100], h[101] = p.MinZoom, p.MaxZoom
	for i, v := range p.Bounds {
		le.PutUint32(h[102+4*i:], uint32(int32(v*1e7)))
	}
	h[118] = p.MinZoom
	le.PutUint32(h[119:], uint32(int32((p.Bounds[0]+p.Bounds[2])/2*1e7)))
	le.PutUint32(h[123:], uint32(int32((p.Bounds[1]+p.Bounds[3])/2*1e7)))

	var file bytes.Buffer
	for _, part := range [][]byte{h, root, meta, leaves, data.Bytes()} {
		file.Write(part)
	}
	if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// encodeDirectory serialises entries as PMTiles version 3 does.
func encodeDirectory(entries []entry) []byte {
	b := binary.AppendUvarint(nil, uint64(len(entries)))
	var last uint64
	for _, e := range entries {
		b = binary.AppendUvarint(b, e.id-last)
		last = e.id
	}
	for _, e := range entries {
		b = binary.AppendUvarint(b, uint64(e.runLen))
	}
	for _, e := range entries {
		b = binary.AppendUvarint(b, uint64(e.length))
	}
	for i, e := range entries {
		if i > 0 && e.offset == entries[i-1].offset+uint64(entries[i-1].length) {
			b = binary.AppendUvarint(b, 0)
		} else {
			b = binary.AppendUvarint(b, e.offset+1)
		}
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Gzip compresses b, as tiles are often stored.
func Gzip(b []byte) []byte { return gz(b) }

// TileID numbers z/x/y as PMTiles does (the Hilbert curve of each zoom
// after all lower zooms' tiles), written independently of the package's
// own, from the specification's rotate-and-flip definition.
func TileID(z, x, y int) uint64 {
	var acc uint64
	for i := 0; i < z; i++ {
		acc += uint64(1) << (2 * i)
	}
	n := 1 << z
	var d uint64
	for s := n / 2; s > 0; s /= 2 {
		rx, ry := 0, 0
		if x&s > 0 {
			rx = 1
		}
		if y&s > 0 {
			ry = 1
		}
		d += uint64(s) * uint64(s) * uint64((3*rx)^ry)
		if ry == 0 {
			if rx == 1 {
				x, y = n-1-x, n-1-y
			}
			x, y = y, x
		}
	}
	return acc + d
}

// Open opens the basemap file at path for the test, and closes it after.
func Open(t testing.TB, path string) *basemap.Basemap {
	t.Helper()
	b, err := basemap.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
