package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"clearmap/internal/auth"
)

// qgisPython is a python3 that can import QGIS's bindings: the one on PATH,
// or Debian's, when PATH's is another (pyenv's) without them.
func qgisPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import qgis.core").Run() == nil {
			return py
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("QGIS's Python bindings are missing: apt-get install --no-install-recommends qgis python3-qgis")
	}
	t.Skip("QGIS is not installed (python3 -c 'import qgis' fails): apt-get install --no-install-recommends qgis python3-qgis to check /style.json with its converter")
	return ""
}

// runQGIS runs a script of testdata with QGIS's python, headless, and
// returns what it prints.
func runQGIS(t *testing.T, py, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(py, append([]string{filepath.Join("testdata", script)}, args...)...)
	cmd.Env = append(os.Environ(), "QT_QPA_PLATFORM=offscreen", "XDG_RUNTIME_DIR="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return out
}

type qgisStyle struct {
	Name, Layer, Filter string
	Geometry            int // 0 point, 1 line, 2 polygon
	Enabled             bool
	MinZoom             int `json:"minzoom"`
	MaxZoom             int `json:"maxzoom"`
	Colours             []string
	Field               string
	// Dropped are data-defined properties the converter set but left
	// empty: dropped without a warning.
	Dropped []string
}

// TestQGISConvertsTheStyle runs QGIS's own MapLibre-style converter, headless,
// on a live /style.json: it must warn of nothing it drops, and keep the
// choropleth's classes, both crops' colours and the labels.
func TestQGISConvertsTheStyle(t *testing.T) {
	py := qgisPython(t)
	s, tokens := uploadService(t)
	out := runQGIS(t, py, "qgis_convert.py", s.url+"/style.json", tokens[auth.Analyst])
	var report struct {
		QGIS     string
		Result   int
		Error    string
		Warnings []string
		Renderer []qgisStyle
		Labeling []qgisStyle
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("converter's report %q: %v", out, err)
	}
	t.Logf("QGIS %s", report.QGIS)
	if report.Result != 0 || report.Error != "" {
		t.Fatalf("conversion failed: %d %s", report.Result, report.Error)
	}
	// The only warnings allowed are of the font not installed here (GL
	// clients and QGIS fall back to a local one).
	for _, w := range report.Warnings {
		if !strings.Contains(w, "Referenced font Noto Sans Regular is not available") {
			t.Errorf("converter warns: %s", w)
		}
	}
	for _, st := range append(report.Renderer, report.Labeling...) {
		if len(st.Dropped) > 0 {
			t.Errorf("style %s: QGIS dropped data-defined properties %v", st.Name, st.Dropped)
		}
	}
	byLayer := func(list []qgisStyle, layer string, geometry int) (styles []qgisStyle, colours []string) {
		for _, st := range list {
			if st.Layer == layer && (geometry < 0 || st.Geometry == geometry) && st.Enabled {
				styles = append(styles, st)
				colours = append(colours, st.Colours...)
			}
		}
		return styles, colours
	}

	// The choropleth: five classes of acres, each its own colour, the
	// classes covering every figure once.
	fills, colours := byLayer(report.Renderer, "districts", 2)
	slices.Sort(colours)
	if len(fills) != 5 || len(slices.Compact(colours)) != 5 {
		t.Fatalf("districts fill: %d styles, colours %v; want 5 classes", len(fills), colours)
	}
	for _, f := range fills {
		if !strings.Contains(f.Filter, `"acres" >=`) {
			t.Errorf("districts class %s filters on %q", f.Name, f.Filter)
		}
	}
	// The fields: poppy and cannabis each coloured, as points and polygons.
	for geometry, name := range map[int]string{0: "points", 2: "polygons"} {
		styles, colours := byLayer(report.Renderer, "clearances", geometry)
		want := map[string]string{"poppy": "#c2185b", "cannabis": "#2e7d32"}
		if len(styles) != 2 {
			t.Fatalf("clearances %s: %+v, want one style per crop", name, styles)
		}
		for _, st := range styles {
			crop := ""
			for c := range want {
				if strings.Contains(st.Filter, `"crop" IS '`+c+`'`) {
					crop = c
				}
			}
			if crop == "" || !slices.Equal(st.Colours, []string{want[crop]}) {
				t.Errorf("clearances %s style %s: filter %q colours %v", name, st.Name, st.Filter, st.Colours)
			}
			delete(want, crop)
		}
		if len(want) != 0 || len(colours) != 2 {
			t.Errorf("clearances %s: no style for %v", name, want)
		}
	}
	// Rivers, outlines and place dots drawn; names written.
	for _, l := range []struct {
		layer          string
		geometry, many int
	}{{"rivers", 1, 2}, {"provinces", 1, 1}, {"places", 0, 2}} {
		if styles, _ := byLayer(report.Renderer, l.layer, l.geometry); len(styles) != l.many {
			t.Errorf("%s: %d styles, want %d", l.layer, len(styles), l.many)
		}
	}
	places, _ := byLayer(report.Labeling, "places", -1)
	labels, _ := byLayer(report.Labeling, "labels", -1)
	if len(places) != 2 || len(labels) != 2 {
		t.Fatalf("labeling: places %+v, labels %+v", places, labels)
	}
	for _, l := range append(places, labels...) {
		if l.Filter == "" || !strings.Contains(l.Field, `"name"`) {
			t.Errorf("label style %s: filter %q, text %q", l.Name, l.Filter, l.Field)
		}
	}
}

// TestStyleIsValidMapLibre checks /style.json with MapLibre's style spec
// validator, from the web app's packages.
func TestStyleIsValidMapLibre(t *testing.T) {
	validator, _ := filepath.Abs(filepath.Join("..", "..", "web", "node_modules", "@maplibre", "maplibre-gl-style-spec", "dist", "gl-style-validate.mjs"))
	if _, err := os.Stat(validator); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no style validator: %v (npm ci in web/)", err)
		}
		t.Skipf("no style validator (npm ci in web/): %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	s, tokens := uploadService(t)
	r := s.send(t, "GET", "/style.json", tokens[auth.Analyst], nil)
	file := filepath.Join(t.TempDir(), "style.json")
	if err := os.WriteFile(file, []byte(r.body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("node", validator, file).CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("MapLibre's validator: %v\n%s", err, out)
	}
	// The validator does fail: a broken style is caught.
	if err := os.WriteFile(file, []byte(strings.Replace(r.body, `"fill"`, `"fil"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("node", validator, file).CombinedOutput(); err == nil {
		t.Fatalf("validator accepted a layer of type fil: %s", out)
	}
}

// qgisLayer is what testdata/qgis_oapif.py reports of one way into a
// collection.
type qgisLayer struct {
	Valid  bool
	Error  string
	Fields []struct{ Name, Type string }
	// Count is the layer's feature count, -1 when QGIS does not know it
	// before reading.
	Count    int
	Features []map[string]any
}

// TestQGISReadsTheFeatures opens the clearances in QGIS, headless, both
// ways a GIS user can: QGIS's own OGC API provider, paging 4 features a
// request, and GDAL's driver through QGIS's OGR provider. Both read every
// counted field once, in id order. GDAL's way reads the schema and gives
// every property its declared type. QGIS's own provider (before 3.44, which
// reads the schema too) types each property from the first 10 features, so
// a number that is null in all of them comes as text: the test pins that
// down, so that the README's advice stays true.
func TestQGISReadsTheFeatures(t *testing.T) {
	t.Parallel() // its own database and server
	py := qgisPython(t)
	s, tokens := uploadService(t)
	fs := fieldsAt("Q", 14, 71.10, 34.00)
	fs[11] = strings.Replace(fs[11], `"crop"`, `"reported_area":2,"reported_unit":"acre","crop"`, 1)
	fs[12] = strings.Replace(fs[12], `"crop"`, `"reported_area":2.75,"reported_unit":"kanal","crop"`, 1)
	fs = append(fs, fieldAt("Q-again", 71.10, 34.00)) // a near-duplicate of Q-0
	uploadFeatures(t, s, tokens[auth.Uploader], fs...)
	retracted := uploadFeatures(t, s, tokens[auth.Uploader], fieldsAt("R", 3, 71.10, 34.01)...)
	if r := s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", retracted), tokens[auth.Admin], ""); r.status != 200 {
		t.Fatalf("retract: %d %s", r.status, r.body)
	}

	out := runQGIS(t, py, "qgis_oapif.py", s.url, tokens[auth.Analyst], "clearances", "4")
	var report struct {
		QGIS       string
		OAPIF, OGR qgisLayer
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	t.Logf("QGIS %s", report.QGIS)

	declared := map[string]string{
		"clearance_id": "Integer", "crop": "String", "cleared_on": "Date", "field_id": "String", "acres": "Real",
		"team": "String", "method": "String", "notes": "String", "reported_area": "Real", "reported_unit": "String",
		"upload_id": "Integer", "duplicate_of": "Integer", "source_properties": "String",
	}
	guessed := maps.Clone(declared)
	guessed["reported_area"], guessed["duplicate_of"] = "String", "String" // null in features 1-10
	guessed["source_properties"] = "JSON"
	want := ogcIDs(t, s, "true")
	if len(want) != 15 {
		t.Fatalf("%d counted fields, want 15", len(want))
	}
	for _, c := range []struct {
		name  string
		layer qgisLayer
		types map[string]string
		area  [2]any // reported_area of
	}{
		{"QGIS's OGC API provider", report.OAPIF, guessed, [2]any{"2", "2.75"}},
		{"GDAL's driver in QGIS", report.OGR, declared, [2]any{2.0, 2.75}},
	} {
		l := c.layer
		if !l.Valid {
			t.Errorf("%s: layer not valid: %s", c.name, l.Error)
			continue
		}
		types := map[string]string{}
		for _, f := range l.Fields {
			types[f.Name] = f.Type
		}
		if !maps.Equal(types, c.types) {
			t.Errorf("%s: fields %v, want %v", c.name, types, c.types)
		}
		var ids []string
		byField := map[string]map[string]any{}
		for _, f := range l.Features {
			ids = append(ids, fmt.Sprint(f["clearance_id"]))
			byField[fmt.Sprint(f["field_id"])] = f
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%s: read %v, want %v", c.name, ids, want)
		}
		if l.Count != len(want) && l.Count != -1 {
			t.Errorf("%s: feature count %d, want %d", c.name, l.Count, len(want))
		}
		if got := [2]any{byField["Q-11"]["reported_area"], byField["Q-12"]["reported_area"]}; got != c.area {
			t.Errorf("%s: reported areas %v, want %v", c.name, got, c.area)
		}
		if d, q0 := fmt.Sprint(byField["Q-again"]["duplicate_of"]), fmt.Sprint(byField["Q-0"]["clearance_id"]); d != q0 {
			t.Errorf("%s: Q-again duplicates %s, want Q-0's %s", c.name, d, q0)
		}
		if got := byField["Q-3"]["cleared_on"]; got != "2026-03-14" {
			t.Errorf("%s: Q-3 cleared on %v", c.name, got)
		}
	}
}
