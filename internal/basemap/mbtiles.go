package basemap

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// mbtiles reads an MBTiles file (a SQLite database): tiles(zoom_level,
// tile_column, tile_row, tile_data), rows counted from the south (TMS), and
// metadata(name, value).
type mbtiles struct {
	db *sql.DB
}

// openMBTiles opens path read-only and immutable (SQLite takes no locks and
// never writes, so the file may sit on a read-only disk) and reads its
// metadata into b.
func openMBTiles(ctx context.Context, b *Basemap) error {
	abs, err := filepath.Abs(b.Path)
	if err != nil {
		return err
	}
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&immutable=1"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	m := &mbtiles{db: db}
	b.src = m

	meta := map[string]string{}
	rows, err := db.QueryContext(ctx, "SELECT name, value FROM metadata")
	if err != nil {
		return fmt.Errorf("not an MBTiles file: its metadata table cannot be read: %w", err)
	}
	for rows.Next() {
		var name, value sql.NullString
		if err := rows.Scan(&name, &value); err != nil {
			rows.Close()
			return fmt.Errorf("reading metadata: %w", err)
		}
		meta[strings.ToLower(name.String)] = value.String
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading metadata: %w", err)
	}
	var one int
	err = db.QueryRowContext(ctx, "SELECT 1 FROM tiles LIMIT 1").Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("not an MBTiles file: its tiles table cannot be read: %w", err)
	}

	if f, ok := meta["format"]; ok && f != "" {
		if b.Type, ok = typeOfFormat(f); !ok {
			return fmt.Errorf("tile format %q: clearmap serves pbf (vector), png, jpg, webp or avif tiles", f)
		}
	}
	b.Name, b.Description, b.Attribution = meta["name"], meta["description"], meta["attribution"]
	b.Bounds = floats(meta["bounds"], 4)
	b.Center = floats(meta["center"], 3)
	minZoom, errMin := strconv.Atoi(strings.TrimSpace(meta["minzoom"]))
	maxZoom, errMax := strconv.Atoi(strings.TrimSpace(meta["maxzoom"]))
	if errMin != nil || errMax != nil {
		// Not in the metadata: ask the tiles (an index makes it quick).
		var lo, hi sql.NullInt64
		if err := db.QueryRowContext(ctx, "SELECT min(zoom_level), max(zoom_level) FROM tiles").Scan(&lo, &hi); err != nil {
			return fmt.Errorf("reading the zooms: %w", err)
		}
		if errMin != nil {
			minZoom = int(lo.Int64)
		}
		if errMax != nil {
			maxZoom = int(hi.Int64)
		}
	}
	b.MinZoom, b.MaxZoom = minZoom, maxZoom
	if j := meta["json"]; j != "" {
		var v struct {
			VectorLayers []json.RawMessage `json:"vector_layers"`
		}
		if err := json.Unmarshal([]byte(j), &v); err != nil {
			return fmt.Errorf("the metadata's json row is not JSON: %w", err)
		}
		b.VectorLayers = v.VectorLayers
	}
	return nil
}

// floats reads n comma-separated numbers, or gives nil.
func floats(s string, n int) []float64 {
	parts := strings.Split(s, ",")
	if len(parts) != n {
		return nil
	}
	out := make([]float64, n)
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil
		}
		out[i] = f
	}
	return out
}

func (m *mbtiles) tile(ctx context.Context, z, x, y int) ([]byte, error) {
	var data []byte
	// MBTiles rows count from the south (TMS); XYZ's y from the north.
	err := m.db.QueryRowContext(ctx,
		"SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
		z, x, (1<<z)-1-y).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err == nil && len(data) > maxTileBytes {
		err = fmt.Errorf("tile %d/%d/%d is over %d bytes", z, x, y, maxTileBytes)
	}
	return data, err
}

func (m *mbtiles) anyTile(ctx context.Context) ([]byte, error) {
	var data []byte
	err := m.db.QueryRowContext(ctx, "SELECT tile_data FROM tiles LIMIT 1").Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return data, err
}

func (m *mbtiles) Close() error { return m.db.Close() }
