// The operator's own basemap (CLEARMAP_BASEMAP), drawn beneath clearmap's
// layers: raster tiles as they come, a little desaturated; vector tiles in
// quiet colours for the OpenMapTiles schema (planetiler's and tilemaker's
// default) or Protomaps basemap v4, chosen by the tileset's layer names,
// and in greys by geometry for any other schema. The choropleth and the
// fields go on top, so nothing here may compete with them.

/** Colours: pale, low-contrast, no saturated hue. */
const c = {
  land: '#f3f1ec', water: '#cfdbe3', waterLine: '#b3c6d2', wood: '#e0e6d8', grass: '#e8ecdf', farm: '#efece2',
  bare: '#ece8df', ice: '#f4f6f7', urban: '#e9e6e1', building: '#dedad4', road: '#ffffff', major: '#f7f1e6',
  casing: '#d3cec6', rail: '#c5c1bb', boundary: '#a49fab', label: '#6f6d6a', water_label: '#7c93a3',
  halo: 'rgba(255,255,255,0.85)',
};

// Labels in the font the page ships (no glyphs server), in English or
// Latin letters where the tiles have them: Noto Sans Regular has no Arabic
// script, and most names in Pakistan are in Urdu under `name`.
const font = ['Noto Sans Regular'];
const name = ['coalesce', ['get', 'name:en'], ['get', 'name_en'], ['get', 'name:latin'], ['get', 'name']];
const label = (size) => ({ 'text-field': name, 'text-font': font, 'text-size': size, 'text-max-width': 8 });
const labelPaint = (colour = c.label) => ({ 'text-color': colour, 'text-halo-color': c.halo, 'text-halo-width': 1.2 });
const byZoom = (...stops) => ['interpolate', ['linear'], ['zoom'], ...stops];
const isPolygon = ['==', ['geometry-type'], 'Polygon'];
const isLine = ['==', ['geometry-type'], 'LineString'];
const isPoint = ['==', ['geometry-type'], 'Point'];
const oneOf = (key, ...values) => ['in', ['get', key], ['literal', values]];
// Rivers wider than canals, canals than streams; key names the property
// holding river, canal, stream… (class in OpenMapTiles, kind in Protomaps).
const waterwayWidth = (key) => {
  const at = (river, canal, other) => ['match', ['get', key], 'river', river, 'canal', canal, other];
  return byZoom(6, at(0.6, 0.3, 0), 10, at(1.2, 0.8, 0.3), 14, at(3, 2, 1));
};

/** OpenMapTiles: the schema planetiler and tilemaker write by default. */
function openMapTiles() {
  const roads = (id, filter, colour, width, minzoom = 0) => ({
    id, type: 'line', 'source-layer': 'transportation', minzoom, filter: ['all', isLine, filter],
    layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': colour, 'line-width': width },
  });
  const major = oneOf('class', 'motorway', 'trunk', 'primary');
  const medium = oneOf('class', 'secondary', 'tertiary');
  const minor = oneOf('class', 'minor', 'service', 'track', 'unclassified', 'residential');
  return [
    { id: 'land', type: 'background', paint: { 'background-color': c.land } },
    { id: 'landcover', type: 'fill', 'source-layer': 'landcover',
      paint: { 'fill-color': ['match', ['get', 'class'], 'wood', c.wood, 'forest', c.wood, 'grass', c.grass, 'wetland', c.grass,
        'farmland', c.farm, 'sand', c.bare, 'rock', c.bare, 'ice', c.ice, c.grass], 'fill-opacity': 0.7 } },
    { id: 'landuse', type: 'fill', 'source-layer': 'landuse', minzoom: 8,
      filter: oneOf('class', 'residential', 'suburb', 'neighbourhood', 'commercial', 'industrial', 'retail', 'quarter'),
      paint: { 'fill-color': c.urban, 'fill-opacity': 0.8 } },
    { id: 'park', type: 'fill', 'source-layer': 'park', paint: { 'fill-color': c.grass, 'fill-opacity': 0.6 } },
    { id: 'water', type: 'fill', 'source-layer': 'water', filter: isPolygon, paint: { 'fill-color': c.water } },
    { id: 'waterway', type: 'line', 'source-layer': 'waterway', filter: isLine,
      paint: { 'line-color': c.waterLine, 'line-width': waterwayWidth('class') } },
    { id: 'building', type: 'fill', 'source-layer': 'building', minzoom: 13, paint: { 'fill-color': c.building } },
    { id: 'boundary', type: 'line', 'source-layer': 'boundary',
      filter: ['all', ['<=', ['to-number', ['get', 'admin_level']], 4], ['!=', ['get', 'maritime'], 1]],
      paint: { 'line-color': c.boundary, 'line-width': byZoom(3, 0.6, 10, 1.4), 'line-dasharray': [3, 2] } },
    roads('rail', ['==', ['get', 'class'], 'rail'], c.rail, byZoom(8, 0.4, 14, 1.2), 8),
    roads('roads-minor', minor, c.road, byZoom(11, 0.5, 16, 4), 11),
    roads('roads-medium-casing', medium, c.casing, byZoom(8, 0.6, 16, 7), 8),
    roads('roads-medium', medium, c.road, byZoom(8, 0.3, 16, 5.5), 8),
    roads('roads-major-casing', major, c.casing, byZoom(5, 0.8, 16, 9)),
    roads('roads-major', major, c.major, byZoom(5, 0.4, 16, 7.5)),
    { id: 'road-labels', type: 'symbol', 'source-layer': 'transportation_name', minzoom: 12, filter: isLine,
      layout: { ...label(10), 'symbol-placement': 'line' }, paint: labelPaint() },
    { id: 'water-labels', type: 'symbol', 'source-layer': 'water_name', layout: label(11), paint: labelPaint(c.water_label) },
    { id: 'place-labels', type: 'symbol', 'source-layer': 'place', filter: ['all', isPoint, ['!=', ['get', 'class'], 'country']],
      layout: { ...label(['match', ['get', 'class'], 'city', 13, 'town', 11.5, 10.5]),
        'symbol-sort-key': ['coalesce', ['get', 'rank'], 99] },
      paint: labelPaint() },
  ];
}

/** Protomaps basemap, version 4. */
function protomaps() {
  const roads = (id, kinds, colour, width, minzoom = 0) => ({
    id, type: 'line', 'source-layer': 'roads', minzoom, filter: ['all', isLine, oneOf('kind', ...kinds)],
    layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': colour, 'line-width': width },
  });
  return [
    { id: 'earth', type: 'fill', 'source-layer': 'earth', paint: { 'fill-color': c.land } },
    { id: 'landcover', type: 'fill', 'source-layer': 'landcover',
      paint: { 'fill-color': ['match', ['get', 'kind'], 'forest', c.wood, 'grassland', c.grass, 'scrub', c.grass, 'farmland', c.farm,
        'barren', c.bare, 'glacier', c.ice, 'urban_area', c.urban, c.grass], 'fill-opacity': 0.7 } },
    { id: 'landuse', type: 'fill', 'source-layer': 'landuse', filter: isPolygon,
      paint: { 'fill-color': ['match', ['get', 'kind'], ['park', 'forest', 'wood', 'nature_reserve', 'grass', 'meadow'], c.grass,
        ['farmland', 'farmyard', 'orchard'], c.farm, c.urban], 'fill-opacity': 0.6 } },
    { id: 'water', type: 'fill', 'source-layer': 'water', filter: isPolygon, paint: { 'fill-color': c.water } },
    { id: 'waterway', type: 'line', 'source-layer': 'water', filter: isLine,
      paint: { 'line-color': c.waterLine, 'line-width': waterwayWidth('kind') } },
    { id: 'building', type: 'fill', 'source-layer': 'buildings', minzoom: 13, paint: { 'fill-color': c.building } },
    { id: 'boundary', type: 'line', 'source-layer': 'boundaries', filter: oneOf('kind', 'country', 'region'),
      paint: { 'line-color': c.boundary, 'line-width': byZoom(3, 0.6, 10, 1.4), 'line-dasharray': [3, 2] } },
    { id: 'rail', type: 'line', 'source-layer': 'transit', minzoom: 8, filter: ['all', isLine, ['==', ['get', 'kind'], 'rail']],
      paint: { 'line-color': c.rail, 'line-width': byZoom(8, 0.4, 14, 1.2) } },
    roads('roads-minor', ['minor_road', 'other'], c.road, byZoom(11, 0.5, 16, 4), 11),
    roads('roads-major-casing', ['highway', 'major_road'], c.casing, byZoom(5, 0.8, 16, 9)),
    roads('roads-major', ['highway', 'major_road'], c.major, byZoom(5, 0.4, 16, 7.5)),
    { id: 'road-labels', type: 'symbol', 'source-layer': 'roads', minzoom: 12, filter: isLine,
      layout: { ...label(10), 'symbol-placement': 'line' }, paint: labelPaint() },
    { id: 'water-labels', type: 'symbol', 'source-layer': 'water', filter: isPoint, layout: label(11), paint: labelPaint(c.water_label) },
    { id: 'place-labels', type: 'symbol', 'source-layer': 'places', filter: ['all', isPoint, ['!=', ['get', 'kind'], 'country']],
      layout: { ...label(['match', ['get', 'kind'], 'region', 12, 'locality', 11.5, 10.5]),
        'symbol-sort-key': ['coalesce', ['get', 'population_rank'], 0] },
      paint: labelPaint() },
  ];
}

/** Any other schema: every layer's polygons, lines and named points, in greys. */
function generic(vectorLayers) {
  const ids = vectorLayers.map((l) => l.id);
  return [
    ...ids.map((id) => ({ id: `${id}-fill`, type: 'fill', 'source-layer': id, filter: isPolygon,
      paint: { 'fill-color': '#e3e1dc', 'fill-opacity': 0.6, 'fill-outline-color': '#cfccc6' } })),
    ...ids.map((id) => ({ id: `${id}-line`, type: 'line', 'source-layer': id, filter: isLine,
      paint: { 'line-color': '#bcb9b3', 'line-width': byZoom(5, 0.5, 14, 1.5) } })),
    ...ids.map((id) => ({ id: `${id}-label`, type: 'symbol', 'source-layer': id, filter: ['all', isPoint, ['has', 'name']],
      layout: label(10.5), paint: labelPaint() })),
  ];
}

/** Which schema a vector tileset follows, by its layers' names. */
export function schemaOf(vectorLayers = []) {
  const ids = new Set(vectorLayers.map((l) => l.id));
  if (ids.has('transportation') || (ids.has('place') && ids.has('water') && ids.has('landcover'))) return 'openmaptiles';
  if (ids.has('earth') || (ids.has('roads') && ids.has('places'))) return 'protomaps';
  return 'generic';
}

/** The source id basemap layers draw from; their ids start with it too. */
export const sourceId = 'basemap';

/**
 * The sources and layers that draw a basemap, given its TileJSON (GET
 * /basemap.json): `{sources, layers}`, the layers in drawing order, to go
 * beneath clearmap's own. Layers for a tileset's missing layers are left out.
 */
export function basemapStyle(tilejson) {
  const vector = Array.isArray(tilejson.vector_layers);
  const source = { type: vector ? 'vector' : 'raster', tiles: tilejson.tiles, minzoom: tilejson.minzoom ?? 0, maxzoom: tilejson.maxzoom ?? 22 };
  if (tilejson.bounds) source.bounds = tilejson.bounds;
  if (tilejson.attribution) source.attribution = tilejson.attribution;
  if (!vector) source.tileSize = tilejson.tileSize || 256;
  let layers;
  if (!vector) {
    layers = [{ id: 'raster', type: 'raster', paint: { 'raster-saturation': -0.45, 'raster-contrast': -0.1 } }];
  } else {
    const has = new Set(tilejson.vector_layers.map((l) => l.id));
    const schema = schemaOf(tilejson.vector_layers);
    layers = (schema === 'openmaptiles' ? openMapTiles() : schema === 'protomaps' ? protomaps() : generic(tilejson.vector_layers))
      .filter((l) => !l['source-layer'] || has.has(l['source-layer']));
  }
  return {
    sources: { [sourceId]: source },
    layers: layers.map((l) => ({ ...l, id: `${sourceId}-${l.id}`, ...(l.type === 'background' ? {} : { source: sourceId }) })),
  };
}

/**
 * Fetches the basemap's TileJSON and adds it to map beneath the layer
 * beforeId. A failure is logged and leaves the map as it was.
 */
export async function addBasemap(map, beforeId) {
  try {
    const res = await fetch('/basemap.json', { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`/basemap.json answered ${res.status}`);
    const { sources, layers } = basemapStyle(await res.json());
    if (!map.getLayer(beforeId)) await new Promise((resolve) => map.once('style.load', resolve));
    for (const [id, source] of Object.entries(sources)) map.addSource(id, source);
    for (const layer of layers) map.addLayer(layer, beforeId);
  } catch (e) {
    console.error('basemap:', e.message);
  }
}
