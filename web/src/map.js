// The map: districts and provinces from the service's own tiles as the
// basemap, with the names of provinces, districts and populated places; a
// choropleth of net cleared acres that fades to outlines once fields are
// drawn; and the cleared fields coloured by crop (points below zoom 10,
// polygons from 10, with a dot that keeps a small field in sight).

import * as maplibregl from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import 'maplibre-gl/dist/maplibre-gl.css';
import notoLatin from '@fontsource/noto-sans/files/noto-sans-latin-400-normal.woff2?url';
import notoLatinExt from '@fontsource/noto-sans/files/noto-sans-latin-ext-400-normal.woff2?url';
import notoLatinBold from '@fontsource/noto-sans/files/noto-sans-latin-700-normal.woff2?url';
import { filterQuery } from './api.js';
import { addBasemap } from './basemap.js';
import { acres, count, esc } from './format.js';

// The worker is served from our own origin, like everything else.
maplibregl.setWorkerUrl(workerUrl);

/** The colour of districts with no clearance under the filters. */
const noClearance = '#efece4';
/** Sequential colours for the classes of districts with clearance, light to dark. */
const ramp = ['#fee8c8', '#fdbb84', '#fc8d59', '#e34a33', '#b30000'];

/**
 * Choropleth classes from the data: quantile breaks over the districts with
 * clearance, rounded to two significant figures, so that districts differ
 * whatever the filters. Returns [lower bound in acres, colour, label]; the
 * first class is "none".
 */
function choroplethClasses(districtAcres) {
  const values = districtAcres.filter((a) => a > 0).sort((a, b) => a - b);
  const out = [[0, noClearance, 'none']];
  if (!values.length) return out;
  const k = Math.min(ramp.length, values.length);
  const bounds = [];
  for (let i = 1; i < k; i++) {
    const b = round2(values[Math.floor((i * values.length) / k)]);
    if (b > (bounds.at(-1) ?? 0) && b <= values.at(-1)) bounds.push(b);
  }
  const colours = bounds.length + 1 === ramp.length ? ramp
    : Array.from({ length: bounds.length + 1 }, (_, i) => ramp[Math.round((i * (ramp.length - 1)) / Math.max(1, bounds.length))]);
  const lows = [0.0001, ...bounds];
  lows.forEach((low, i) => {
    const high = lows[i + 1];
    const label = i === 0 ? (high ? `under ${legendNumber(high)}` : `${legendNumber(values[0])} – ${legendNumber(values.at(-1))}`)
      : high ? `${legendNumber(low)} – ${legendNumber(high)}` : `${legendNumber(low)} and more`;
    out.push([low, colours[i], label]);
  });
  return out;
}

const legendNumber = new Intl.NumberFormat('en', { maximumFractionDigits: 1 }).format;

/** Rounds to two significant figures (0.1 at least). */
function round2(x) {
  if (x < 1) return Math.max(0.1, Math.round(x * 10) / 10);
  const p = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Math.round(x / p) * p;
}

export const cropColours = { poppy: '#c2185b', cannabis: '#1b7a34' };
const cropColour = ['match', ['get', 'crop'], 'poppy', cropColours.poppy, 'cannabis', cropColours.cannabis, '#555555'];
// Pakistan's extent (geodata/SOURCE.md), which the map opens on.
const pakistan = [[60.87, 23.6], [77.84, 37.1]];
const attribution = 'Boundaries © <a href="https://www.openstreetmap.org/copyright">OpenStreetMap contributors</a> (ODbL); '
  + 'places © <a href="https://www.geonames.org/">GeoNames</a> (CC BY 4.0); rivers: GSHHG (Wessel and Smith, LGPL 3)';

// Fonts ship in the bundle (Noto Sans, SIL Open Font License): the style
// names no glyphs URL, so nothing is fetched from elsewhere.
const latin = ['U+0000-00FF', 'U+0131', 'U+0152-0153', 'U+02BB-02BC', 'U+02C6', 'U+02DA', 'U+02DC', 'U+0304', 'U+0308',
  'U+0329', 'U+2000-206F', 'U+20AC', 'U+2122', 'U+2191', 'U+2193', 'U+2212', 'U+2215', 'U+FEFF', 'U+FFFD'];
const latinExt = ['U+0100-02BA', 'U+02BD-02C5', 'U+02C7-02CC', 'U+02CE-02D7', 'U+02DD-02FF', 'U+1D00-1DBF', 'U+1E00-1E9F',
  'U+1EF2-1EFF', 'U+2020', 'U+20A0-20AB', 'U+20AD-20C0', 'U+2113', 'U+2C60-2C7F', 'U+A720-A7FF'];
const font = (url) => new URL(url, location.href).href;
const fontFaces = {
  'Noto Sans Regular': [{ url: font(notoLatin), 'unicode-range': latin }, { url: font(notoLatinExt), 'unicode-range': latinExt }],
  'Noto Sans Bold': [{ url: font(notoLatinBold), 'unicode-range': latin }, { url: font(notoLatinExt), 'unicode-range': latinExt }],
};
const halo = { 'text-halo-color': 'rgba(255, 255, 255, 0.9)', 'text-halo-width': 1.4 };

/**
 * The side of a field, in screen pixels, under which it gets a dot: a
 * field drawn smaller than this is hard to see or not drawn at all.
 */
const minFieldPixels = 4;

/**
 * A filter for the fields smaller than minFieldPixels at the tile's zoom:
 * at zoom z one pixel is about 67,800 / 2^z metres at Pakistan's mean
 * latitude (30°), so a square field of A acres is sqrt(A × 4046.86) metres wide.
 */
function smallFields() {
  const expr = ['step', ['zoom']];
  for (let z = 10; z <= 16; z++) {
    const side = (minFieldPixels * 67_800) / 2 ** z;
    if (z > 10) expr.push(z);
    expr.push(['<', ['get', 'acres'], (side * side) / 4046.8564224]);
  }
  return ['all', ['==', ['geometry-type'], 'Polygon'], expr];
}

const hovered = (yes, no) => ['case', ['boolean', ['feature-state', 'hover'], false], yes, no];
const selected = (yes, no) => ['case', ['boolean', ['feature-state', 'selected'], false], yes, no];

function tileURL(filters, version) {
  const q = filterQuery(filters);
  return `${location.origin}/tiles/{z}/{x}/{y}.mvt${q}${q ? '&' : '?'}v=${version}`;
}

/**
 * The choropleth over an operator's basemap: districts with no clearance
 * let it show through, and the classes are lighter so it reads beneath.
 */
const overBasemap = (classes) => [[classes[0][0], 'rgba(0, 0, 0, 0)', classes[0][2]], ...classes.slice(1)];

/** The fill colour for the choropleth classes. */
function fillColour(classes) {
  if (classes.length === 1) return classes[0][1];
  const fill = ['step', ['get', 'acres'], classes[0][1]];
  for (const [from, colour] of classes.slice(1)) fill.push(from, colour);
  return fill;
}

function style(filters, version, classes, basemap) {
  const opaque = basemap ? 0.6 : 0.85;
  const src = { source: 'clearmap' };
  return {
    version: 8,
    'font-faces': fontFaces,
    sources: {
      clearmap: {
        type: 'vector', tiles: [tileURL(filters, version)], minzoom: 0, maxzoom: 16,
        bounds: pakistan.flat(), attribution,
        // District feature ids are 63-bit hashes, past what a JavaScript
        // number holds exactly; hover state keys on the code instead.
        promoteId: { districts: 'code', provinces: 'code' },
      },
      'districts-in-view': { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#dfe7ec' } },
      // Land: stays when the choropleth fades.
      { id: 'provinces-land', type: 'fill', ...src, 'source-layer': 'provinces', paint: { 'fill-color': '#f6f3ec' } },
      // The choropleth, faded past district scale so the fields and the
      // names beneath read; hover and selection stay visible.
      { id: 'districts-fill', type: 'fill', ...src, 'source-layer': 'districts',
        paint: { 'fill-color': fillColour(classes),
          'fill-opacity': ['interpolate', ['linear'], ['zoom'], 8, hovered(1, opaque), 10, hovered(0.6, 0.4), 12, hovered(0.25, 0)] } },
      { id: 'rivers', type: 'line', ...src, 'source-layer': 'rivers',
        layout: { 'line-cap': 'round', 'line-join': 'round' },
        // GSHHG's levels: 0–4 rivers (0–2 the major ones), 5–7 intermittent, 8–10 canals.
        paint: { 'line-color': ['case', ['>=', ['get', 'level'], 8], '#92b4d4', '#6f9fd0'],
          'line-opacity': ['case', ['all', ['>=', ['get', 'level'], 5], ['<=', ['get', 'level'], 7]], 0.6, 1],
          'line-width': ['interpolate', ['linear'], ['zoom'], 5, ['case', ['<=', ['get', 'level'], 2], 1, 0.4],
            10, ['case', ['<=', ['get', 'level'], 2], 2.2, 1], 14, ['case', ['<=', ['get', 'level'], 2], 4, 1.6]] } },
      { id: 'districts-line', type: 'line', ...src, 'source-layer': 'districts',
        paint: { 'line-color': selected('#111111', hovered('#111111', '#6f6f6f')),
          'line-width': ['interpolate', ['linear'], ['zoom'], 5, selected(3, hovered(2.5, 0.5)), 10, selected(3.5, hovered(3, 1.2)), 14, selected(4, hovered(3.5, 2))] } },
      { id: 'provinces-line', type: 'line', ...src, 'source-layer': 'provinces',
        paint: { 'line-color': '#2b2b2b', 'line-width': ['interpolate', ['linear'], ['zoom'], 4, 1.2, 10, 2.5] } },
      { id: 'clearances-points', type: 'circle', ...src, 'source-layer': 'clearances', maxzoom: 10,
        filter: ['==', ['geometry-type'], 'Point'],
        paint: { 'circle-color': cropColour, 'circle-radius': ['interpolate', ['linear'], ['zoom'], 4, 1.5, 8, 3, 9, 3.5],
          'circle-stroke-color': '#ffffff', 'circle-stroke-width': 0.5 } },
      { id: 'clearances-fill', type: 'fill', ...src, 'source-layer': 'clearances', minzoom: 10,
        filter: ['==', ['geometry-type'], 'Polygon'],
        paint: { 'fill-color': cropColour, 'fill-opacity': 0.7 } },
      { id: 'clearances-line', type: 'line', ...src, 'source-layer': 'clearances', minzoom: 12,
        filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'line-color': '#111111', 'line-width': 0.6 } },
      // A circle layer draws at each vertex of a polygon: for a field a few
      // pixels wide they merge into one dot, so no field vanishes.
      { id: 'clearances-small', type: 'circle', ...src, 'source-layer': 'clearances', minzoom: 10,
        filter: smallFields(),
        paint: { 'circle-color': cropColour, 'circle-radius': 3, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 0.5 } },
      { id: 'places-dot', type: 'circle', ...src, 'source-layer': 'places',
        paint: { 'circle-color': '#333333', 'circle-radius': ['interpolate', ['linear'], ['get', 'population'], 10_000, 2, 1_000_000, 3.5],
          'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1 } },
      // District names: at each district's label point while districts are
      // small on screen, then in each tile a district covers, so a name is
      // in view wherever one looks.
      { id: 'district-labels', type: 'symbol', ...src, 'source-layer': 'labels', minzoom: 5.5, maxzoom: 9,
        filter: ['==', ['get', 'kind'], 'district'],
        layout: { 'text-field': ['get', 'name'], 'text-font': ['Noto Sans Regular'], 'text-size': ['interpolate', ['linear'], ['zoom'], 6, 10, 9, 12],
          'text-max-width': 7, 'text-padding': 4 },
        paint: { 'text-color': '#4a4a4a', ...halo } },
      // From zoom 9 a district is wider than the screen and its label point
      // often out of view: the names of the districts in view are placed
      // inside their visible part (see nameDistrictsInView).
      { id: 'district-labels-in-view', type: 'symbol', source: 'districts-in-view', minzoom: 9,
        // Around its point if the name does not fit on it (a town's name there, say).
        layout: { 'text-field': ['get', 'name'], 'text-font': ['Noto Sans Regular'], 'text-size': 13, 'text-transform': 'uppercase',
          'text-letter-spacing': 0.08, 'text-max-width': 9,
          'text-variable-anchor': ['center', 'top', 'bottom', 'left', 'right'], 'text-radial-offset': 1.2 },
        paint: { 'text-color': '#555555', ...halo } },
      { id: 'place-labels', type: 'symbol', ...src, 'source-layer': 'places',
        layout: { 'text-field': ['get', 'name'],
          'text-font': ['match', ['get', 'kind'], ['national_capital', 'provincial_capital'], ['literal', ['Noto Sans Bold']], ['literal', ['Noto Sans Regular']]],
          'text-size': ['interpolate', ['linear'], ['get', 'population'], 10_000, 11, 100_000, 12.5, 1_000_000, 14, 10_000_000, 16],
          'symbol-sort-key': ['-', ['get', 'population']],
          'text-variable-anchor': ['left', 'right', 'top', 'bottom'], 'text-radial-offset': 0.5, 'text-justify': 'auto',
          'text-max-width': 8 },
        paint: { 'text-color': '#1a1a1a', ...halo } },
      { id: 'province-labels', type: 'symbol', ...src, 'source-layer': 'labels', maxzoom: 8,
        filter: ['==', ['get', 'kind'], 'province'],
        layout: { 'text-field': ['get', 'name'], 'text-font': ['Noto Sans Bold'], 'text-size': ['interpolate', ['linear'], ['zoom'], 4, 11, 7, 15],
          'text-transform': 'uppercase', 'text-letter-spacing': 0.12, 'text-max-width': 8 },
        paint: { 'text-color': '#2b2b2b', ...halo } },
    ],
  };
}

/**
 * Places one label for each district in view, inside the part of it that
 * is in view: a grid of screen points is sampled, and each district's name
 * goes on its point with the most neighbours in the same district (the
 * nearest the centre among equals), so it sits away from the borders.
 */
function nameDistrictsInView(map) {
  const canvas = map.getCanvas();
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  const box = canvas.getBoundingClientRect();
  const cols = Math.max(3, Math.round(w / 90));
  const rows = Math.max(3, Math.round(h / 90));
  const grid = [];
  const names = new Map();
  for (let r = 0; r < rows; r++) {
    grid.push([]);
    for (let c = 0; c < cols; c++) {
      const [x, y] = [((c + 0.5) * w) / cols, ((r + 0.5) * h) / rows];
      // A point under the legend or a control is not in view.
      const d = document.elementFromPoint(box.left + x, box.top + y) === canvas
        ? map.queryRenderedFeatures([x, y], { layers: ['districts-fill'] })[0] : null;
      grid[r].push(d?.id ?? null);
      if (d) names.set(d.id, d.properties.name);
    }
  }
  const best = new Map(); // code → [score, distance from the centre, row, column]
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const code = grid[r][c];
      if (!code) continue;
      let score = 0;
      for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) if (grid[r + dr]?.[c + dc] === code) score++;
      const far = Math.hypot(r + 0.5 - rows / 2, c + 0.5 - cols / 2);
      const b = best.get(code);
      if (!b || score > b[0] || (score === b[0] && far < b[1])) best.set(code, [score, far, r, c]);
    }
  }
  const features = [...best].map(([code, [, , r, c]]) => ({
    type: 'Feature', properties: { code, name: names.get(code) },
    geometry: { type: 'Point', coordinates: map.unproject([((c + 0.5) * w) / cols, ((r + 0.5) * h) / rows]).toArray() },
  }));
  map.getSource('districts-in-view').setData({ type: 'FeatureCollection', features });
}

/**
 * Creates the map. onDistrict(code) is called when a district is clicked;
 * hoverText(code) gives the text shown while one is hovered; basemap (the
 * session's `basemap`) adds the server's basemap beneath everything.
 */
export function createMap(container, filters, { onDistrict, hoverText, basemap = false }) {
  let version = 1;
  const classed = (acres) => (basemap ? overBasemap : (c) => c)(choroplethClasses(acres));
  let classes = classed([]);
  const map = new maplibregl.Map({
    container, style: style(filters, version, classes, basemap), bounds: pakistan, fitBoundsOptions: { padding: 16 }, maxZoom: 18,
    attributionControl: { compact: true }, dragRotate: false, pitchWithRotate: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  // On a phone the credits start folded behind their button (the page's
  // footer carries them in full), so they do not cover a third of the map.
  if (matchMedia('(max-width: 800px)').matches) {
    map.once('load', () => container.querySelector('.maplibregl-ctrl-attrib')?.classList.remove('maplibregl-compact-show'));
  }
  map.on('error', (e) => console.error('map:', e.error?.message || e));
  // The operator's basemap, when the server has one (basemap.js): beneath all of clearmap's layers.
  if (basemap) addBasemap(map, 'districts-fill');

  const hover = document.getElementById('hover');
  const state = (code, s) => map.setFeatureState({ source: 'clearmap', sourceLayer: 'districts', id: code }, s);
  let hovered = null;
  let chosen = null;
  const setHover = (code) => {
    if (hovered === code) return;
    if (hovered) state(hovered, { hover: false });
    hovered = code;
    if (code) state(code, { hover: true });
    hover.hidden = !code;
    hover.textContent = code ? hoverText(code) : '';
  };
  // Names for the districts in view, once the map has settled on a new
  // view or new tiles (an idle map with the same view and tiles is skipped,
  // since setting the labels makes the map idle again).
  let named = '';
  map.on('idle', () => {
    if (map.getZoom() < 9) return;
    const key = `${map.getCenter().toArray()} ${map.getZoom()} ${version} ${map.getCanvas().clientWidth}x${map.getCanvas().clientHeight}`;
    if (key === named) return;
    named = key;
    nameDistrictsInView(map);
  });
  map.on('mousemove', 'districts-fill', (e) => setHover(e.features[0]?.id ?? null));
  map.on('mouseleave', 'districts-fill', () => setHover(null));

  // A field's popup describes what is drawn at one zoom: it closes when the
  // map zooms (a point stands for many fields further out).
  let popup = null;
  map.on('zoomstart', () => { popup?.remove(); popup = null; });
  // Below zoom 8 the dots show where clearance is, thinned; a click there
  // means the district.
  const fieldLayers = () => (map.getZoom() < 8 ? [] : ['clearances-fill', 'clearances-small', 'clearances-points']);
  map.on('click', (e) => {
    const fields = fieldLayers().length ? map.queryRenderedFeatures(e.point, { layers: fieldLayers() }) : [];
    if (fields.length) {
      const p = fields[0].properties;
      popup?.remove();
      popup = new maplibregl.Popup({ closeButton: true, maxWidth: '18rem' })
        .setLngLat(e.lngLat)
        .setHTML(`<dl class="popup">
          <dt>Crop</dt><dd>${esc(p.crop)}</dd>
          <dt>Cleared on</dt><dd>${esc(p.cleared_on)}</dd>
          <dt>Mapped area</dt><dd>${acres(p.acres)} acres</dd>
          <dt>Team</dt><dd>${esc(p.team || '–')}</dd>
          <dt>Upload</dt><dd>#${count(p.upload_id)}</dd></dl>`)
        .addTo(map);
      return;
    }
    const d = map.queryRenderedFeatures(e.point, { layers: ['districts-fill'] });
    if (!d.length) return;
    if (chosen) state(chosen, { selected: false });
    chosen = d[0].id;
    state(chosen, { selected: true });
    onDistrict(chosen);
  });
  for (const layer of ['districts-fill', 'clearances-fill', 'clearances-small', 'clearances-points']) {
    map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
  }

  return {
    map,
    /** Shows the tiles for new filters, or fresh tiles after an upload. */
    refresh(newFilters) {
      version += 1;
      map.getSource('clearmap').setTiles([tileURL(newFilters, version)]);
    },
    /** Classes the choropleth by the districts' acres; returns the classes. */
    classify(districtAcres) {
      classes = classed(districtAcres);
      map.setPaintProperty('districts-fill', 'fill-color', fillColour(classes));
      return classes;
    },
  };
}

/** Fills the legend element. Colours are set through the DOM, not in
 * markup, so the page's Content-Security-Policy can forbid inline styles. */
export function renderLegend(el, classes) {
  const list = (title, items) => {
    const h = document.createElement('h2');
    h.textContent = title;
    const ul = document.createElement('ul');
    for (const [colour, label, dot] of items) {
      const li = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = dot ? 'swatch dot' : 'swatch';
      swatch.style.background = colour;
      li.append(swatch, label);
      ul.append(li);
    }
    return [h, ul];
  };
  const body = el.querySelector('.legend-body');
  body.replaceChildren(
    ...list('Net cleared acres', classes.map(([, colour, label]) => [colour, label])),
    ...list('Fields', Object.entries(cropColours).map(([crop, colour]) => [colour, crop, true])),
  );
}
