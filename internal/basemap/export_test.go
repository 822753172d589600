package basemap

// TileID is tileID, for tests.
var TileID = tileID
