package basemap

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
)

// PMTiles version 3, read directly: a 127-byte header, a root directory,
// JSON metadata, leaf directories and tile data, each at an offset the
// header gives. A directory lists entries (tile id, offset, length, run
// length) sorted by tile id, where a tile id counts tiles along Hilbert
// curves zoom by zoom; an entry with run length 0 points at a leaf
// directory instead of a tile.

const pmtilesHeaderLen = 127

// PMTiles compression codes.
const (
	compressUnknown = 0
	compressNone    = 1
	compressGzip    = 2
	compressBrotli  = 3
	compressZstd    = 4
)

var compressionNames = map[byte]string{compressBrotli: "brotli", compressZstd: "zstd"}

// PMTiles tile type codes.
var pmtilesTypes = map[byte]Type{1: MVT, 2: PNG, 3: JPEG, 4: WebP, 5: AVIF}

// maxDirectoryBytes bounds a directory, compressed or not.
const maxDirectoryBytes = 64 << 20

// maxDepth bounds how many leaf directories a lookup descends through;
// writers use one level, and a loop in a damaged file must end.
const maxDepth = 4

// leafCacheSize is how many leaf directories are kept decoded.
const leafCacheSize = 256

type pmEntry struct {
	tileID    uint64
	offset    uint64
	length    uint32
	runLength uint32
}

type pmtiles struct {
	f                    *os.File
	size                 int64
	internalCompression  byte
	root                 []pmEntry
	leafOffset, leafSize uint64
	dataOffset, dataSize uint64

	mu     sync.Mutex
	leaves map[uint64][]pmEntry // by offset in the leaf section
}

// openPMTiles reads the header, root directory and metadata of f, whose
// first 7 bytes are "PMTiles" and the eighth version.
func openPMTiles(b *Basemap, f *os.File, version byte) error {
	p := &pmtiles{f: f, leaves: map[uint64][]pmEntry{}}
	b.src = p
	if version != 3 {
		return fmt.Errorf("PMTiles version %d: clearmap reads version 3 (convert it with the pmtiles tool)", version)
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	p.size = st.Size()
	h := make([]byte, pmtilesHeaderLen)
	if _, err := f.ReadAt(h, 0); err != nil {
		return fmt.Errorf("PMTiles header: %w", err)
	}
	le := binary.LittleEndian
	rootOffset, rootSize := le.Uint64(h[8:]), le.Uint64(h[16:])
	metaOffset, metaSize := le.Uint64(h[24:]), le.Uint64(h[32:])
	p.leafOffset, p.leafSize = le.Uint64(h[40:]), le.Uint64(h[48:])
	p.dataOffset, p.dataSize = le.Uint64(h[56:]), le.Uint64(h[64:])
	p.internalCompression = h[97]
	tileCompression, tileType := h[98], h[99]
	for _, s := range []struct {
		name         string
		offset, size uint64
	}{{"root directory", rootOffset, rootSize}, {"metadata", metaOffset, metaSize},
		{"leaf directories", p.leafOffset, p.leafSize}, {"tile data", p.dataOffset, p.dataSize}} {
		if s.offset > uint64(p.size) || s.size > uint64(p.size)-s.offset {
			return fmt.Errorf("PMTiles %s at %d, %d bytes long, lies past the end of the file (%d bytes): is it truncated?", s.name, s.offset, s.size, p.size)
		}
	}
	for what, c := range map[string]byte{"directories and metadata": p.internalCompression, "tiles": tileCompression} {
		if name, ok := compressionNames[c]; ok {
			return fmt.Errorf("PMTiles %s are compressed with %s: clearmap reads gzip or uncompressed ones (rewrite the file with gzip)", what, name)
		}
		if c > compressZstd {
			return fmt.Errorf("PMTiles %s: unknown compression %d", what, c)
		}
	}
	if tileType != 0 {
		t, ok := pmtilesTypes[tileType]
		if !ok {
			return fmt.Errorf("PMTiles tile type %d: clearmap serves MVT, PNG, JPEG, WebP or AVIF tiles", tileType)
		}
		b.Type = t
	}
	b.MinZoom, b.MaxZoom = int(h[100]), int(h[101])
	e7 := func(at int) float64 { return float64(int32(le.Uint32(h[at:]))) / 1e7 }
	b.Bounds = []float64{e7(102), e7(106), e7(110), e7(114)}
	b.Center = []float64{e7(119), e7(123), float64(h[118])}
	if b.Bounds[0] == 0 && b.Bounds[1] == 0 && b.Bounds[2] == 0 && b.Bounds[3] == 0 {
		b.Bounds, b.Center = nil, nil
	}

	if p.root, err = p.directory(rootOffset, rootSize); err != nil {
		return fmt.Errorf("PMTiles root directory: %w", err)
	}
	if metaSize > 0 {
		raw, err := p.read(metaOffset, metaSize, maxDirectoryBytes)
		if err == nil {
			raw, err = p.decompress(raw)
		}
		if err != nil {
			return fmt.Errorf("PMTiles metadata: %w", err)
		}
		var m struct {
			Name         string            `json:"name"`
			Description  string            `json:"description"`
			Attribution  string            `json:"attribution"`
			VectorLayers []json.RawMessage `json:"vector_layers"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("PMTiles metadata is not a JSON object: %w", err)
		}
		b.Name, b.Description, b.Attribution, b.VectorLayers = m.Name, m.Description, m.Attribution, m.VectorLayers
	}
	return nil
}

// read returns size bytes at offset, refusing more than limit.
func (p *pmtiles) read(offset, size uint64, limit int) ([]byte, error) {
	if size > uint64(limit) {
		return nil, fmt.Errorf("%d bytes at %d: over %d bytes", size, offset, limit)
	}
	if offset > uint64(p.size) || size > uint64(p.size)-offset {
		return nil, fmt.Errorf("%d bytes at %d lie past the end of the file", size, offset)
	}
	buf := make([]byte, size)
	if _, err := p.f.ReadAt(buf, int64(offset)); err != nil {
		return nil, err
	}
	return buf, nil
}

// decompress undoes the internal compression of directories and metadata.
func (p *pmtiles) decompress(b []byte) ([]byte, error) {
	if p.internalCompression == compressGzip || p.internalCompression == compressUnknown && gzipped(b) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		out, err := io.ReadAll(io.LimitReader(zr, maxDirectoryBytes+1))
		if err == nil && len(out) > maxDirectoryBytes {
			err = fmt.Errorf("expands past %d bytes", maxDirectoryBytes)
		}
		return out, err
	}
	return b, nil
}

// directory reads and decodes the directory at offset.
func (p *pmtiles) directory(offset, size uint64) ([]pmEntry, error) {
	raw, err := p.read(offset, size, maxDirectoryBytes)
	if err != nil {
		return nil, err
	}
	if raw, err = p.decompress(raw); err != nil {
		return nil, err
	}
	return decodeDirectory(raw)
}

// decodeDirectory reads a serialised directory: the number of entries,
// then, each as varints, the tile ids (as differences), run lengths,
// lengths and offsets (0 for "right after the previous tile", else the
// offset plus 1).
func decodeDirectory(b []byte) ([]pmEntry, error) {
	r := bytes.NewReader(b)
	next := func() (uint64, error) {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			return 0, errors.New("directory ends early")
		}
		return v, nil
	}
	n, err := next()
	if err != nil {
		return nil, err
	}
	if n == 0 || n > uint64(len(b))/4 { // each entry takes at least four bytes
		return nil, fmt.Errorf("directory claims %d entries in %d bytes", n, len(b))
	}
	entries := make([]pmEntry, n)
	var id uint64
	for i := range entries {
		d, err := next()
		if err != nil {
			return nil, err
		}
		id += d
		if i > 0 && id < entries[i-1].tileID {
			return nil, errors.New("directory's tile ids overflow")
		}
		entries[i].tileID = id
	}
	for i := range entries {
		v, err := next()
		if err != nil {
			return nil, err
		}
		if v > 1<<32-1 {
			return nil, errors.New("directory holds a run length over 32 bits")
		}
		entries[i].runLength = uint32(v)
	}
	for i := range entries {
		v, err := next()
		if err != nil {
			return nil, err
		}
		if v == 0 || v > 1<<32-1 {
			return nil, fmt.Errorf("directory holds a length of %d", v)
		}
		entries[i].length = uint32(v)
	}
	for i := range entries {
		v, err := next()
		if err != nil {
			return nil, err
		}
		switch {
		case v > 0:
			entries[i].offset = v - 1
		case i == 0:
			return nil, errors.New("directory's first entry follows no other")
		default:
			entries[i].offset = entries[i-1].offset + uint64(entries[i-1].length)
		}
	}
	return entries, nil
}

// tileID numbers z/x/y as PMTiles does: the tiles of lower zooms first,
// then the position of x, y along the Hilbert curve filling zoom z.
func tileID(z, x, y int) uint64 {
	base := ((uint64(1) << (2 * z)) - 1) / 3 // 4^0 + … + 4^(z-1)
	ux, uy := uint64(x), uint64(y)
	var d uint64
	for s := uint64(1) << z >> 1; s > 0; s >>= 1 {
		var rx, ry uint64
		if ux&s != 0 {
			rx = 1
		}
		if uy&s != 0 {
			ry = 1
		}
		d += s * s * ((3 * rx) ^ ry)
		// Rotate the quadrant so the curve below it runs the right way.
		if ry == 0 {
			if rx == 1 {
				ux, uy = s-1-ux&(s-1), s-1-uy&(s-1)
			}
			ux, uy = uy, ux
		}
	}
	return base + d
}

// find returns the entry holding id, and whether there is one.
func find(entries []pmEntry, id uint64) (pmEntry, bool) {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].tileID > id }) - 1
	if i < 0 {
		return pmEntry{}, false
	}
	e := entries[i]
	if e.runLength == 0 || id-e.tileID < uint64(e.runLength) {
		return e, true
	}
	return pmEntry{}, false
}

func (p *pmtiles) tile(_ context.Context, z, x, y int) ([]byte, error) {
	id := tileID(z, x, y)
	dir := p.root
	for range maxDepth {
		e, ok := find(dir, id)
		if !ok {
			return nil, nil
		}
		if e.runLength > 0 {
			return p.tileData(e)
		}
		var err error
		if dir, err = p.leaf(e); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("PMTiles leaf directories nest deeper than %d for tile %d/%d/%d", maxDepth, z, x, y)
}

func (p *pmtiles) tileData(e pmEntry) ([]byte, error) {
	if e.offset > p.dataSize || uint64(e.length) > p.dataSize-e.offset {
		return nil, fmt.Errorf("PMTiles tile at %d lies outside the tile data", e.offset)
	}
	return p.read(p.dataOffset+e.offset, uint64(e.length), maxTileBytes)
}

// leaf returns the leaf directory e points at, decoding it once.
func (p *pmtiles) leaf(e pmEntry) ([]pmEntry, error) {
	p.mu.Lock()
	dir, ok := p.leaves[e.offset]
	p.mu.Unlock()
	if ok {
		return dir, nil
	}
	if e.offset > p.leafSize || uint64(e.length) > p.leafSize-e.offset {
		return nil, fmt.Errorf("PMTiles leaf directory at %d lies outside the leaf section", e.offset)
	}
	dir, err := p.directory(p.leafOffset+e.offset, uint64(e.length))
	if err != nil {
		return nil, fmt.Errorf("PMTiles leaf directory at %d: %w", e.offset, err)
	}
	p.mu.Lock()
	if len(p.leaves) >= leafCacheSize {
		for k := range p.leaves { // forget one at random
			delete(p.leaves, k)
			break
		}
	}
	p.leaves[e.offset] = dir
	p.mu.Unlock()
	return dir, nil
}

// anyTile returns the first tile of the first directory that has one.
func (p *pmtiles) anyTile(context.Context) ([]byte, error) {
	dir := p.root
	for range maxDepth {
		if len(dir) == 0 {
			return nil, nil
		}
		e := dir[0]
		if e.runLength > 0 {
			return p.tileData(e)
		}
		var err error
		if dir, err = p.leaf(e); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (p *pmtiles) Close() error { return p.f.Close() }
