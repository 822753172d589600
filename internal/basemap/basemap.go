// Package basemap serves an operator's own basemap: the tiles of one
// PMTiles (version 3) or MBTiles file, vector or raster, made elsewhere
// (an OpenStreetMap extract cut with planetiler or tilemaker, say). The
// file is opened once, read-only, and never changes while it is served.
package basemap

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // to read a raster tile's size
	_ "image/png"
	"io"
	"os"
	"strings"
)

// Type is what a tile holds: one of the constants below.
type Type string

const (
	MVT  Type = "mvt" // Mapbox Vector Tiles
	PNG  Type = "png"
	JPEG Type = "jpg"
	WebP Type = "webp"
	AVIF Type = "avif"
)

// ContentType is the media type of a tile of type t.
func (t Type) ContentType() string {
	switch t {
	case MVT:
		return "application/vnd.mapbox-vector-tile"
	case JPEG:
		return "image/jpeg"
	}
	return "image/" + string(t)
}

// Vector says whether tiles of type t are vector tiles.
func (t Type) Vector() bool { return t == MVT }

// Extension says whether ext (without its dot) names tiles of type t.
func (t Type) Extension(ext string) bool {
	switch strings.ToLower(ext) {
	case string(t):
		return true
	case "pbf":
		return t == MVT
	case "jpeg":
		return t == JPEG
	}
	return false
}

// typeOfFormat reads MBTiles' format names and PMTiles' tile types.
func typeOfFormat(format string) (Type, bool) {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "pbf", "mvt":
		return MVT, true
	case "png":
		return PNG, true
	case "jpg", "jpeg":
		return JPEG, true
	case "webp":
		return WebP, true
	case "avif":
		return AVIF, true
	}
	return "", false
}

// sniff tells a tile's type from its first bytes; a gzip stream is taken
// for a vector tile, as MBTiles writers store them.
func sniff(tile []byte) (Type, bool) {
	switch {
	case bytes.HasPrefix(tile, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, true
	case bytes.HasPrefix(tile, []byte{0xff, 0xd8, 0xff}):
		return JPEG, true
	case len(tile) >= 12 && string(tile[:4]) == "RIFF" && string(tile[8:12]) == "WEBP":
		return WebP, true
	case len(tile) >= 12 && string(tile[4:12]) == "ftypavif":
		return AVIF, true
	case gzipped(tile):
		return MVT, true
	}
	return "", false
}

func gzipped(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// MaxZoom is the deepest zoom a basemap may claim.
const MaxZoom = 30

// maxTileBytes bounds one tile, stored or decompressed, so a damaged file
// cannot make the server allocate without end.
const maxTileBytes = 64 << 20

// Basemap is an open tile file and what it says about itself.
type Basemap struct {
	// Path is the file's name as given.
	Path string
	// Format is "MBTiles" or "PMTiles".
	Format string
	// Type is what every tile holds.
	Type Type
	// MinZoom and MaxZoom bound the zooms with tiles.
	MinZoom, MaxZoom int
	// Bounds is west, south, east, north in degrees; nil when the file
	// does not say.
	Bounds []float64
	// Center is longitude, latitude and zoom; nil when the file does not say.
	Center []float64
	// Name, Description and Attribution are as the file gives them;
	// Attribution may hold HTML links.
	Name, Description, Attribution string
	// VectorLayers are a vector file's layers, as TileJSON's
	// vector_layers (id, fields, minzoom, maxzoom, description), as the
	// file gives them; empty for raster tiles.
	VectorLayers []json.RawMessage
	// TileSize is a raster tile's width in pixels (256 when unknown); 0
	// for vector tiles.
	TileSize int

	src source
}

// source reads the stored bytes of tiles, nil for a tile it lacks.
type source interface {
	tile(ctx context.Context, z, x, y int) ([]byte, error)
	// anyTile returns some stored tile, nil when there are none.
	anyTile(ctx context.Context) ([]byte, error)
	Close() error
}

// Open opens a PMTiles or MBTiles file, telling which by its first bytes,
// and reads what it says about itself. The error says what is wrong, in a
// line an operator can act on.
func Open(ctx context.Context, path string) (*Basemap, error) {
	b, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("basemap %s: %w", path, err)
	}
	return b, nil
}

func open(ctx context.Context, path string) (*Basemap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	var magic [16]byte
	n, err := io.ReadFull(f, magic[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, unwrapPath(err)
	}
	b := &Basemap{Path: path}
	switch {
	case string(magic[:n]) == "SQLite format 3\x00":
		f.Close()
		b.Format = "MBTiles"
		err = openMBTiles(ctx, b)
	case n >= 8 && string(magic[:7]) == "PMTiles":
		b.Format = "PMTiles"
		err = openPMTiles(b, f, magic[7])
	default:
		f.Close()
		return nil, errors.New("neither an MBTiles file (SQLite) nor a PMTiles file: it begins with neither \"SQLite format 3\" nor \"PMTiles\"")
	}
	if err != nil {
		if b.src != nil {
			b.src.Close()
		}
		return nil, err
	}
	if err := b.check(ctx); err != nil {
		b.src.Close()
		return nil, err
	}
	return b, nil
}

// unwrapPath drops the path from an *os.PathError, which Open names already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// check fills in what the file left out and refuses what cannot be served.
func (b *Basemap) check(ctx context.Context) error {
	if b.MinZoom < 0 || b.MaxZoom > MaxZoom || b.MinZoom > b.MaxZoom {
		return fmt.Errorf("zooms %d to %d: want 0 ≤ minzoom ≤ maxzoom ≤ %d", b.MinZoom, b.MaxZoom, MaxZoom)
	}
	if b.Bounds != nil && !(len(b.Bounds) == 4 && b.Bounds[0] >= -180 && b.Bounds[2] <= 180 && b.Bounds[0] <= b.Bounds[2] &&
		b.Bounds[1] >= -90 && b.Bounds[3] <= 90 && b.Bounds[1] <= b.Bounds[3]) {
		b.Bounds = nil // a client then assumes the whole world
	}
	if b.Center != nil && len(b.Center) != 3 {
		b.Center = nil
	}
	if b.Type == "" || !b.Type.Vector() {
		t, err := b.src.anyTile(ctx)
		if err != nil {
			return fmt.Errorf("reading a tile: %w", err)
		}
		if b.Type == "" {
			var ok bool
			if b.Type, ok = sniff(t); !ok {
				return errors.New("cannot tell what its tiles hold: the file names no format, and its first tile is none of gzipped MVT, PNG, JPEG, WebP or AVIF")
			}
		}
		if !b.Type.Vector() {
			b.TileSize = 256
			if cfg, _, err := image.DecodeConfig(bytes.NewReader(t)); err == nil && cfg.Width > 0 {
				b.TileSize = cfg.Width
			}
		}
	}
	if !b.Type.Vector() {
		b.VectorLayers = nil
	}
	return nil
}

// Covers says whether z/x/y is a tile address within the file's zooms.
func (b *Basemap) Covers(z, x, y int) bool {
	if z < b.MinZoom || z > b.MaxZoom {
		return false
	}
	n := 1 << z
	return x >= 0 && x < n && y >= 0 && y < n
}

// Tile is one tile as stored.
type Tile struct {
	// Data is the stored bytes; empty when the file has no such tile.
	Data []byte
	// Gzipped says Data is a gzip stream (as MBTiles store vector tiles).
	Gzipped bool
	// ETag is a strong entity tag over Data, quoted.
	ETag string
}

// Tile returns the tile at z/x/y (XYZ scheme: y counts from the north),
// which the caller has checked with Covers.
func (b *Basemap) Tile(ctx context.Context, z, x, y int) (Tile, error) {
	data, err := b.src.tile(ctx, z, x, y)
	if err != nil || len(data) == 0 {
		return Tile{}, err
	}
	sum := sha256.Sum256(data)
	return Tile{Data: data, Gzipped: gzipped(data), ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
}

// Gunzip returns the tile's bytes without their gzip stream, for a client
// that does not accept gzip.
func (t Tile) Gunzip() ([]byte, error) {
	if !t.Gzipped {
		return t.Data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(t.Data))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxTileBytes+1))
	if err == nil && len(out) > maxTileBytes {
		err = fmt.Errorf("tile expands past %d bytes", maxTileBytes)
	}
	return out, err
}

// Close closes the file.
func (b *Basemap) Close() error { return b.src.Close() }
