package acreage

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// District is one district's figures under a filter.
type District struct {
	Code          string   `json:"code"`
	Name          string   `json:"name"`
	Province      string   `json:"province"`
	Acres         float64  `json:"acres"`       // net: the union rule
	GrossAcres    float64  `json:"gross_acres"` // sum of the fields' parts inside
	AcresPoppy    float64  `json:"acres_poppy"`
	AcresCannabis float64  `json:"acres_cannabis"`
	ReportedAcres *float64 `json:"reported_acres"`
	// Fields counts the fields with a part inside, each once however many
	// near-duplicates map it (see fields.go).
	Fields int `json:"fields"`
	// MappedFeatures counts the counted clearances with a part inside,
	// near-duplicates included.
	MappedFeatures int     `json:"mapped_features"`
	LastClearedOn  *string `json:"last_cleared_on"`
	// Geometry is the boundary, in District only.
	Geometry json.RawMessage                               `json:"geometry,omitempty"`
	m2       struct{ net, gross, poppy, cannabis float64 } // unrounded, for sums
}

// ErrUnknown means no district or province has that code.
var ErrUnknown = errors.New("unknown code")

// Districts returns every district (of f.Province, if set) with its
// figures, in code order.
func Districts(ctx context.Context, db *pgxpool.Pool, f Filter) ([]District, error) {
	list, _, err := districts(ctx, db, f, "")
	return list, err
}

// OneDistrict returns one district's figures and its boundary as GeoJSON.
func OneDistrict(ctx context.Context, db *pgxpool.Pool, f Filter, code string) (District, error) {
	list, _, err := districts(ctx, db, Filter{Crop: f.Crop, From: f.From, To: f.To}, code)
	if err != nil {
		return District{}, err
	}
	if len(list) == 0 {
		return District{}, ErrUnknown
	}
	d := list[0]
	err = db.QueryRow(ctx, "SELECT ST_AsGeoJSON(geom, 6)::json FROM districts WHERE code = $1", code).Scan(&d.Geometry)
	return d, err
}

// scopes holds the figures by scope that provinces and the nation read
// besides their districts'.
type scopes struct {
	reported map[string]float64
	counts   map[string]map[string]counts
}

// districts returns the districts' figures and, for provinces and the
// nation too, the reported figures and field counts by scope.
func districts(ctx context.Context, db *pgxpool.Pool, f Filter, only string) ([]District, scopes, error) {
	var by scopes
	figs, err := figures(ctx, db, f, nil)
	if err != nil {
		return nil, by, err
	}
	if by.reported, err = reportedByScope(ctx, db, f); err != nil {
		return nil, by, err
	}
	if by.counts, err = fieldCounts(ctx, db, f); err != nil {
		return nil, by, err
	}
	rows, err := db.Query(ctx, `SELECT code, name, province_code FROM districts
		WHERE ($1 = '' OR province_code = $1) AND ($2 = '' OR code = $2) ORDER BY code`, f.Province, only)
	if err != nil {
		return nil, by, err
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (District, error) {
		var d District
		return d, row.Scan(&d.Code, &d.Name, &d.Province)
	})
	if err != nil {
		return nil, by, err
	}
	for i := range list {
		d := &list[i]
		byCrop := figs[d.Code]
		selected := byCrop["all"]
		if f.Crop != "" {
			selected = byCrop[f.Crop]
		}
		d.m2.net, d.m2.gross = selected.netM2, selected.grossM2
		n := of(by.counts[d.Code], f.Crop)
		d.Fields, d.MappedFeatures = n.fields, n.features
		if f.Crop == "" || f.Crop == "poppy" {
			d.m2.poppy = byCrop["poppy"].netM2
		}
		if f.Crop == "" || f.Crop == "cannabis" {
			d.m2.cannabis = byCrop["cannabis"].netM2
		}
		d.Acres, d.GrossAcres = acres(d.m2.net), acres(d.m2.gross)
		d.AcresPoppy, d.AcresCannabis = acres(d.m2.poppy), acres(d.m2.cannabis)
		if selected.last != nil {
			day := selected.last.Format(time.DateOnly)
			d.LastClearedOn = &day
		}
		if r, ok := by.reported[d.Code]; ok {
			d.ReportedAcres = &r
		}
	}
	return list, by, nil
}

// Province is one province's figures: sums of its districts'.
type Province struct {
	Code          string   `json:"code"`
	Name          string   `json:"name"`
	Acres         float64  `json:"acres"`
	GrossAcres    float64  `json:"gross_acres"`
	AcresPoppy    float64  `json:"acres_poppy"`
	AcresCannabis float64  `json:"acres_cannabis"`
	ReportedAcres *float64 `json:"reported_acres"`
	// Fields counts the fields with a part in the province, each once.
	Fields int `json:"fields"`
	// MappedFeatures counts the counted clearances with a part in the
	// province, near-duplicates included.
	MappedFeatures int `json:"mapped_features"`
}

// Summary is the national picture (SPEC §4 /api/v1/summary).
type Summary struct {
	TargetAcres    float64            `json:"target_acres"`
	MappedAcres    float64            `json:"mapped_acres"`
	GrossAcres     float64            `json:"gross_acres"`
	MappedHectares float64            `json:"mapped_hectares"`
	Progress       float64            `json:"progress"` // mapped / target
	ByCrop         map[string]float64 `json:"by_crop"`
	ByProvince     []Province         `json:"by_province"`
	ReportedAcres  *float64           `json:"reported_acres"`
	// Fields counts the fields, each once: across borders and however many
	// near-duplicates map it.
	Fields int `json:"fields"`
	// MappedFeatures counts the counted clearances, near-duplicates included.
	MappedFeatures int        `json:"mapped_features"`
	UpdatedAt      *time.Time `json:"updated_at"`
}

// GetSummary adds the districts up into provinces and the nation. The target
// is the latest recorded national figure, or defaultTarget without one.
func GetSummary(ctx context.Context, db *pgxpool.Pool, f Filter, defaultTarget float64) (Summary, error) {
	f.Province = ""
	list, by, err := districts(ctx, db, f, "")
	if err != nil {
		return Summary{}, err
	}
	rows, err := db.Query(ctx, "SELECT code, name FROM provinces ORDER BY code")
	if err != nil {
		return Summary{}, err
	}
	provinces, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Province, error) {
		var p Province
		return p, row.Scan(&p.Code, &p.Name)
	})
	if err != nil {
		return Summary{}, err
	}
	for i := range provinces {
		p := &provinces[i]
		if r, ok := by.reported[p.Code]; ok {
			p.ReportedAcres = &r
		}
		n := of(by.counts[p.Code], f.Crop)
		p.Fields, p.MappedFeatures = n.fields, n.features
	}
	// Sums are of square metres; rounding comes last.
	type sums struct{ net, gross, poppy, cannabis float64 }
	byProvince := map[string]*sums{}
	var nation sums
	s := Summary{}
	for _, d := range list {
		p := byProvince[d.Province]
		if p == nil {
			p = &sums{}
			byProvince[d.Province] = p
		}
		for _, t := range []*sums{p, &nation} {
			t.net += d.m2.net
			t.gross += d.m2.gross
			t.poppy += d.m2.poppy
			t.cannabis += d.m2.cannabis
		}
	}
	for i := range provinces {
		if t := byProvince[provinces[i].Code]; t != nil {
			p := &provinces[i]
			p.Acres, p.GrossAcres = acres(t.net), acres(t.gross)
			p.AcresPoppy, p.AcresCannabis = acres(t.poppy), acres(t.cannabis)
		}
	}
	s.ByProvince = provinces
	s.MappedAcres, s.GrossAcres = acres(nation.net), acres(nation.gross)
	s.ByCrop = map[string]float64{"poppy": acres(nation.poppy), "cannabis": acres(nation.cannabis)}
	s.MappedHectares = Round4(nation.net / hectareM2)
	n := of(by.counts[National], f.Crop)
	s.Fields, s.MappedFeatures = n.fields, n.features
	if r, ok := by.reported[National]; ok {
		s.ReportedAcres = &r
	}
	if s.TargetAcres, err = target(ctx, db, defaultTarget); err != nil {
		return Summary{}, err
	}
	if err = db.QueryRow(ctx, "SELECT max(updated_at) FROM district_totals").Scan(&s.UpdatedAt); err != nil {
		return Summary{}, err
	}
	if s.TargetAcres > 0 {
		s.Progress = Round4(s.MappedAcres / s.TargetAcres)
	}
	return s, nil
}

// target is the latest recorded national figure, or defaultTarget without
// one.
func target(ctx context.Context, db *pgxpool.Pool, defaultTarget float64) (float64, error) {
	var acres float64
	err := db.QueryRow(ctx, `SELECT coalesce((SELECT acres FROM reported_figures WHERE scope = $1
		ORDER BY period_to DESC, id DESC LIMIT 1), $2)`, National, defaultTarget).Scan(&acres)
	return acres, err
}
