// The map: districts and provinces from the service's own tiles as the
// basemap, a choropleth of net cleared acres, and the cleared fields
// coloured by crop (points below zoom 10, polygons from 10).

import * as maplibregl from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import 'maplibre-gl/dist/maplibre-gl.css';
import { filterQuery } from './api.js';
import { addBasemap } from './basemap.js';
import { acres, count, esc } from './format.js';

// The worker is served from our own origin, like everything else.
maplibregl.setWorkerUrl(workerUrl);

/** Choropleth classes: [lower bound in acres, colour, label]. */
export const classes = [
  [0, '#efece4', 'none'],
  [0.0001, '#fee8c8', 'under 10'],
  [10, '#fdbb84', '10 – 100'],
  [100, '#fc8d59', '100 – 500'],
  [500, '#e34a33', '500 – 1,000'],
  [1000, '#b30000', '1,000 – 5,000'],
  [5000, '#67000d', '5,000 and more'],
];

export const cropColours = { poppy: '#c2185b', cannabis: '#1b7a34' };
const cropColour = ['match', ['get', 'crop'], 'poppy', cropColours.poppy, 'cannabis', cropColours.cannabis, '#555555'];
// Pakistan's extent (geodata/SOURCE.md), which the map opens on.
const pakistan = [[60.87, 23.6], [77.84, 37.1]];
const attribution = 'Boundaries © <a href="https://www.openstreetmap.org/copyright">OpenStreetMap contributors</a> (ODbL)';

function tileURL(filters, version) {
  const q = filterQuery(filters);
  return `${location.origin}/tiles/{z}/{x}/{y}.mvt${q}${q ? '&' : '?'}v=${version}`;
}

function style(filters, version) {
  const fill = ['step', ['get', 'acres'], classes[0][1]];
  for (const [from, colour] of classes.slice(1)) fill.push(from, colour);
  return {
    version: 8,
    sources: {
      clearmap: {
        type: 'vector', tiles: [tileURL(filters, version)], minzoom: 0, maxzoom: 16,
        bounds: pakistan.flat(), attribution,
        // District feature ids are 63-bit hashes, past what a JavaScript
        // number holds exactly; hover state keys on the code instead.
        promoteId: { districts: 'code', provinces: 'code' },
      },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#dfe7ec' } },
      { id: 'districts-fill', type: 'fill', source: 'clearmap', 'source-layer': 'districts',
        paint: { 'fill-color': fill, 'fill-opacity': ['case', ['boolean', ['feature-state', 'hover'], false], 1, 0.85] } },
      { id: 'districts-line', type: 'line', source: 'clearmap', 'source-layer': 'districts',
        paint: { 'line-color': ['case', ['boolean', ['feature-state', 'hover'], false], '#111111', '#7a7a7a'],
          'line-width': ['case', ['boolean', ['feature-state', 'hover'], false], 2.5, 0.5] } },
      { id: 'provinces-line', type: 'line', source: 'clearmap', 'source-layer': 'provinces',
        paint: { 'line-color': '#2b2b2b', 'line-width': ['interpolate', ['linear'], ['zoom'], 4, 1.2, 10, 2.5] } },
      { id: 'clearances-points', type: 'circle', source: 'clearmap', 'source-layer': 'clearances', maxzoom: 10,
        filter: ['==', ['geometry-type'], 'Point'],
        paint: { 'circle-color': cropColour, 'circle-radius': ['interpolate', ['linear'], ['zoom'], 4, 1.5, 9, 3.5],
          'circle-stroke-color': '#ffffff', 'circle-stroke-width': 0.5 } },
      { id: 'clearances-fill', type: 'fill', source: 'clearmap', 'source-layer': 'clearances', minzoom: 10,
        filter: ['==', ['geometry-type'], 'Polygon'],
        paint: { 'fill-color': cropColour, 'fill-opacity': 0.7 } },
      { id: 'clearances-line', type: 'line', source: 'clearmap', 'source-layer': 'clearances', minzoom: 12,
        filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'line-color': '#111111', 'line-width': 0.6 } },
    ],
  };
}

/**
 * Creates the map. onDistrict(code) is called when a district is clicked;
 * hoverText(code) gives the text shown while one is hovered; basemap (the
 * session's `basemap`) adds the server's basemap beneath everything.
 */
export function createMap(container, filters, { onDistrict, hoverText, basemap = false }) {
  let version = 1;
  const map = new maplibregl.Map({
    container, style: style(filters, version), bounds: pakistan, fitBoundsOptions: { padding: 16 }, maxZoom: 18,
    attributionControl: { compact: true }, dragRotate: false, pitchWithRotate: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  map.on('error', (e) => console.error('map:', e.error?.message || e));
  // The operator's basemap, when the server has one (basemap.js): beneath all of clearmap's layers.
  if (basemap) addBasemap(map, 'districts-fill');

  const hover = document.getElementById('hover');
  let hovered = null;
  const setHover = (code) => {
    if (hovered === code) return;
    if (hovered) map.setFeatureState({ source: 'clearmap', sourceLayer: 'districts', id: hovered }, { hover: false });
    hovered = code;
    if (code) map.setFeatureState({ source: 'clearmap', sourceLayer: 'districts', id: code }, { hover: true });
    hover.hidden = !code;
    hover.textContent = code ? hoverText(code) : '';
  };
  map.on('mousemove', 'districts-fill', (e) => setHover(e.features[0]?.id ?? null));
  map.on('mouseleave', 'districts-fill', () => setHover(null));

  map.on('click', (e) => {
    const fields = map.queryRenderedFeatures(e.point, { layers: ['clearances-fill', 'clearances-points'] });
    if (fields.length) {
      const p = fields[0].properties;
      new maplibregl.Popup({ closeButton: true, maxWidth: '18rem' })
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
    if (d.length) onDistrict(d[0].id);
  });
  for (const layer of ['districts-fill', 'clearances-fill', 'clearances-points']) {
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
  };
}

/** Fills the legend element. Colours are set through the DOM, not in
 * markup, so the page's Content-Security-Policy can forbid inline styles. */
export function renderLegend(el) {
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
    el.append(h, ul);
  };
  el.replaceChildren();
  list('Net cleared acres', classes.map(([, colour, label]) => [colour, label]));
  list('Fields', Object.entries(cropColours).map(([crop, colour]) => [colour, crop, true]));
}
