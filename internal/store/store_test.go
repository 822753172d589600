package store_test

import (
	"context"
	"slices"
	"testing"

	"clearmap/internal/store"
	"clearmap/internal/testdb"
)

func TestMigrationsApplyFromEmptyAndReapplyAsNoOp(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Open(t, testdb.New(t))
	m, err := store.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	pending, err := m.Pending(ctx)
	if err != nil || !pending {
		t.Fatalf("empty database: Pending() = %v, %v; want true, nil", pending, err)
	}
	applied, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"00001_postgis.sql", "00002_boundaries.sql", "00003_auth.sql",
		"00004_uploads.sql", "00005_reported_figures.sql", "00006_upload_params.sql", "00007_acreage.sql", "00008_clearance_points.sql", "00009_tile_changes.sql", "00010_point_cells.sql", "00011_notify.sql", "00012_district_shapes.sql", "00013_point_cells_by_crop.sql", "00014_district_pieces.sql", "00015_sessions_without_csrf_hash.sql", "00016_district_piece_ids.sql", "00017_acreage_daily_by_day.sql", "00018_outline_cuts.sql", "00019_tile_changes_xid.sql", "00020_upload_kept_bytes.sql", "00021_field_counts.sql", "00022_places_rivers_labels.sql",
		"00023_ogc_paging.sql", "00024_acreage_deltas.sql", "00025_token_writes.sql", "00026_steps_pending.sql", "00027_static_layers.sql", "00028_point_cells_fields.sql", "00029_group_members.sql", "00030_acreage_uploads.sql",
		"00031_district_figures_version.sql",
	}
	if !slices.Equal(applied, want) {
		t.Fatalf("applied %v, want %v", applied, want)
	}
	if pending, err := m.Pending(ctx); err != nil || pending {
		t.Fatalf("after Up: Pending() = %v, %v; want false, nil", pending, err)
	}

	again, err := m.Up(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Up applied %v, %v; want nothing", again, err)
	}

	var tables []string
	rows, _ := pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	wantTables := []string{"acreage_daily", "acreage_uploads", "audit_log", "clearance_days", "clearance_parts", "clearance_upload_days", "clearances",
		"district_cuts", "district_pieces", "district_shapes", "district_totals", "districts", "field_days", "field_totals", "goose_db_version", "group_members", "group_steps", "overlap_groups", "places", "point_cells",
		"province_cuts", "province_shapes", "provinces", "reported_figures", "rivers", "sessions", "spatial_ref_sys", "static_layers", "step_starts", "tile_changes", "token_writes", "tokens",
		"upload_chunks", "uploads"}
	if !slices.Equal(tables, wantTables) {
		t.Fatalf("tables %v, want %v", tables, wantTables)
	}

	var postgis string
	if err := pool.QueryRow(ctx, "SELECT postgis_lib_version()").Scan(&postgis); err != nil {
		t.Fatalf("PostGIS not usable: %v", err)
	}
}

func TestGeometryColumnsHaveTypeSRIDAndIndex(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Migrated(t)
	rows, err := pool.Query(ctx, `
		SELECT f_table_name || '.' || f_geometry_column, type, srid,
		       EXISTS (SELECT 1 FROM pg_indexes i
		               WHERE i.tablename = f_table_name
		                 AND i.indexdef LIKE '%USING gist (' || f_geometry_column || ')%')
		FROM geometry_columns ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	type column struct {
		typ     string
		srid    int
		indexed bool
	}
	got := map[string]column{}
	for rows.Next() {
		var name string
		var c column
		if err := rows.Scan(&name, &c.typ, &c.srid, &c.indexed); err != nil {
			t.Fatal(err)
		}
		got[name] = c
	}
	for _, table := range []string{"provinces", "districts", "clearances"} {
		for col, srid := range map[string]int{"geom": 4326, "geom_3857": 3857} {
			c, ok := got[table+"."+col]
			if !ok || c.typ != "MULTIPOLYGON" || c.srid != srid || !c.indexed {
				t.Errorf("%s.%s = %+v (present %v); want MULTIPOLYGON, SRID %d, GIST index", table, col, c, ok, srid)
			}
		}
	}
	// The map's names and rivers (migration 00022), served in tiles from EPSG:3857.
	for name, want := range map[string]column{
		"provinces.label_3857": {"POINT", 3857, true}, "districts.label_3857": {"POINT", 3857, true},
		"places.geom": {"POINT", 4326, true}, "places.geom_3857": {"POINT", 3857, true},
		"rivers.geom_3857": {"MULTILINESTRING", 3857, true},
	} {
		if c, ok := got[name]; !ok || c != want {
			t.Errorf("%s = %+v (present %v); want %+v", name, c, ok, want)
		}
	}
}

func TestOpenReportsUnreachableDatabase(t *testing.T) {
	_, err := store.Open(context.Background(), "postgres://127.0.0.1:1/nothing?connect_timeout=2", store.Options{})
	if err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
}
