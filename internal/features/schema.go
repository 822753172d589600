package features

// Property is one property of a collection's features: what the
// collection's schema declares, and what the feature writer writes (each
// value of it has the declared JSON type, or is null when Nullable).
type Property struct {
	Name, Title string
	// Type is the JSON Schema type: string, number, integer or object.
	Type string
	// Format refines a string: date (YYYY-MM-DD).
	Format string
	// Role is the OGC API - Features Part 5 role (x-ogc-role), if any.
	Role     string
	Enum     []string
	Nullable bool
	// Unit is the UCUM unit of a measure.
	Unit string
}

// ClearanceProperties are the properties of a clearance feature, in the
// order they are written.
var ClearanceProperties = []Property{
	// The feature id again: GDAL keeps a GeoJSON id only as the FID, which
	// an export such as ogr2ogr to GeoPackage renumbers, and duplicate_of
	// refers to it.
	{Name: "clearance_id", Title: "The clearance's id (the feature id)", Type: "integer"},
	{Name: "crop", Title: "Crop", Type: "string", Enum: []string{"poppy", "cannabis"}},
	{Name: "cleared_on", Title: "Cleared on", Type: "string", Format: "date", Role: "primary-instant"},
	{Name: "field_id", Title: "The team's own id of the field", Type: "string", Nullable: true},
	{Name: "acres", Title: "Mapped area, geodesic on WGS84, in acres", Type: "number", Unit: "[acr_us]"},
	{Name: "team", Title: "Team", Type: "string", Nullable: true},
	{Name: "method", Title: "Method of clearing", Type: "string", Nullable: true},
	{Name: "notes", Title: "Notes", Type: "string", Nullable: true},
	{Name: "reported_area", Title: "The area the team reported, in reported_unit", Type: "number", Nullable: true},
	{Name: "reported_unit", Title: "Unit of reported_area", Type: "string", Enum: []string{"acre", "kanal", "hectare", "m2"}, Nullable: true},
	{Name: "upload_id", Title: "The upload that brought the field", Type: "integer"},
	{Name: "duplicate_of", Title: "The clearance this one nearly duplicates (90% mutual overlap, same crop)", Type: "integer", Nullable: true},
	{Name: "source_properties", Title: "The other properties the team sent, as they came", Type: "object"},
}

// DistrictProperties are the properties of a district feature, in the
// order they are written.
var DistrictProperties = []Property{
	{Name: "code", Title: "District code", Type: "string"},
	{Name: "name", Title: "Name", Type: "string"},
	{Name: "province", Title: "Province code (ISO 3166-2)", Type: "string"},
	{Name: "acres", Title: "Cleared acres, overlaps counted once", Type: "number", Unit: "[acr_us]"},
	{Name: "gross_acres", Title: "Cleared acres, the plain sum of the fields' parts inside", Type: "number", Unit: "[acr_us]"},
	{Name: "acres_poppy", Title: "Cleared acres of poppy", Type: "number", Unit: "[acr_us]"},
	{Name: "acres_cannabis", Title: "Cleared acres of cannabis", Type: "number", Unit: "[acr_us]"},
	{Name: "reported_acres", Title: "Acres officially reported for the district", Type: "number", Nullable: true, Unit: "[acr_us]"},
	{Name: "fields", Title: "Fields with a part inside, each counted once", Type: "integer"},
	{Name: "mapped_features", Title: "Counted clearances with a part inside, near-duplicates included", Type: "integer"},
	{Name: "last_cleared_on", Title: "Last day a field inside was cleared", Type: "string", Format: "date", Nullable: true},
}

// Queryable says whether the property can filter the collection's items
// with a query parameter of its name.
func Queryable(collection string, p Property) bool {
	return collection == "clearances" && p.Name == "crop"
}
