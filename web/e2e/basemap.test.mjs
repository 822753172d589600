// The operator's basemap in Debian's Chromium. Run by `go test
// ./cmd/clearmap` (TestBasemapInChromium), which starts a server with
// CLEARMAP_BASEMAP set to a small OpenMapTiles-like MBTiles file (layers
// water, transportation and place) and passes CLEARMAP_URL, CLEARMAP_ADMIN,
// CLEARMAP_SCREENSHOTS and CLEARMAP_BASEMAP_ATTRIBUTION. Without the last,
// as under TestWebAppInChromium's server, which has no basemap, it skips.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const attribution = process.env.CLEARMAP_BASEMAP_ATTRIBUTION;
const skip = attribution ? false : 'needs a server with a basemap (TestBasemapInChromium)';
const base = process.env.CLEARMAP_URL;
const shots = process.env.CLEARMAP_SCREENSHOTS;

// As in map.test.mjs: software WebGL 2, no background traffic.
const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

let browser;
before(async () => {
  if (skip) return;
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
});
after(async () => { await browser?.close(); });

test('the basemap draws beneath the districts', { skip }, async () => {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const errors = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['data:', 'blob:'].includes(u.protocol) && u.hostname !== '127.0.0.1') errors.push(`request left the service: ${r.url()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  // The page asks for its session before signing in: that 401 is expected.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text()); });
  const basemapTiles = [];
  page.on('response', (r) => { if (new URL(r.url()).pathname.startsWith('/basemap/')) basemapTiles.push(r.status()); });

  await page.goto(base);
  await page.fill('#token', process.env.CLEARMAP_ADMIN);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector('#map:not([hidden])');
  // Added once /basemap.json has answered; then every tile drawn.
  await page.waitForFunction(() => {
    const m = window.clearmapMap;
    return m && m.getLayer('basemap-water') && m.loaded() && m.areTilesLoaded() && !m.isMoving();
  }, null, { timeout: 60_000, polling: 200 });

  const ids = await page.evaluate(() => window.clearmapMap.getStyle().layers.map((l) => l.id));
  const first = ids.findIndex((id) => id.startsWith('basemap-'));
  const last = ids.findLastIndex((id) => id.startsWith('basemap-'));
  // Above clearmap's own background and land (which show where the basemap has no tiles).
  assert.deepEqual(ids.slice(0, first), ['background', 'provinces-land'], `basemap layers start at ${first}: ${ids}`);
  assert.equal(ids[last + 1], 'districts-fill', `clearmap's layers follow the basemap's: ${ids}`);
  // The OpenMapTiles style, cut to the layers the file has.
  assert.deepEqual(ids.slice(first, last + 1), ['basemap-land', 'basemap-water', 'basemap-rail', 'basemap-roads-minor',
    'basemap-roads-medium-casing', 'basemap-roads-medium', 'basemap-roads-major-casing', 'basemap-roads-major', 'basemap-place-labels']);

  const drawn = await page.evaluate(() => window.clearmapMap
    .queryRenderedFeatures({ layers: ['basemap-water', 'basemap-roads-major'] })
    .map((f) => f.layer.id));
  assert.ok(drawn.includes('basemap-water') && drawn.includes('basemap-roads-major'), `drawn: ${drawn}`);
  assert.ok(basemapTiles.length > 0 && basemapTiles.every((s) => s === 200 || s === 304), `basemap tiles: ${basemapTiles}`);

  await page.click('.maplibregl-ctrl-attrib-button').catch(() => {}); // compact: open it
  const credits = await page.textContent('.maplibregl-ctrl-attrib-inner');
  assert.ok(credits.includes(attribution) && credits.includes('OpenStreetMap contributors'), `attribution: ${credits}`);

  await page.locator('#map').screenshot({ path: `${shots}/basemap.png` });
  // Closer in, where roads and towns matter: Peshawar at zoom 8.
  await page.evaluate(() => window.clearmapMap.jumpTo({ center: [71.52, 34.01], zoom: 8 }));
  await page.waitForFunction(() => { const m = window.clearmapMap; return m.loaded() && m.areTilesLoaded() && !m.isMoving(); },
    null, { timeout: 60_000, polling: 200 });
  // clearmap's own place names come first: where both name Peshawar, the basemap's label
  // gives way (no name twice; Peshawar is a district's name too), and shows once clearmap's are hidden.
  const names = (layer) => page.evaluate((l) => window.clearmapMap.queryRenderedFeatures({ layers: [l] }).map((f) => f.properties.name), layer);
  assert.ok((await names('place-labels')).includes('Peshawar'));
  assert.deepEqual(await names('basemap-place-labels'), []);
  await page.evaluate(() => {
    for (const id of ['place-labels', 'district-labels', 'district-labels-in-view', 'province-labels']) window.clearmapMap.setLayoutProperty(id, 'visibility', 'none');
  });
  await page.waitForFunction(() => window.clearmapMap.queryRenderedFeatures({ layers: ['basemap-place-labels'] }).length > 0,
    null, { timeout: 10_000, polling: 200 });
  assert.deepEqual(await names('basemap-place-labels'), ['Peshawar']);
  await page.locator('#map').screenshot({ path: `${shots}/basemap-zoomed.png` });
  assert.deepEqual(errors, []);
});
