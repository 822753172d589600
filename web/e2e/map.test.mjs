// End-to-end tests of the web app in Debian's Chromium, driven by
// playwright-core. Run by `go test ./cmd/clearmap` (TestWebAppInChromium),
// which starts a real server on a throwaway database and passes:
//   CLEARMAP_URL, CLEARMAP_ADMIN, CLEARMAP_UPLOADER, CLEARMAP_SAMPLE, CLEARMAP_SCREENSHOTS
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const base = process.env.CLEARMAP_URL;
const shots = process.env.CLEARMAP_SCREENSHOTS;
mkdirSync(shots, { recursive: true });

// The flags SPEC §6 names: software WebGL 2, and no background traffic to
// hosts this machine cannot reach.
const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

let browser;
before(async () => { browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args }); });
after(async () => { await browser?.close(); });

/**
 * Checks the province and district tables fit their panel: no header is
 * clipped (each shows its whole text, or names itself in full in title and
 * aria-label), the name column stays in view when the table scrolls sideways,
 * figures are right-aligned with one decimal (fields whole), dates yyyy-mm-dd.
 */
async function tablesFit(page) {
  await page.locator('#tables').scrollIntoViewIfNeeded();
  const r = await page.evaluate(() => {
    const out = { clipped: [], unnamed: [], names: [], figures: [], dates: [], left: [] };
    for (const table of document.querySelectorAll('#tables table')) {
      for (const th of table.querySelectorAll('thead th')) {
        const b = th.querySelector('button');
        if (th.scrollWidth > th.clientWidth || b.scrollWidth > b.clientWidth || b.getBoundingClientRect().right > th.getBoundingClientRect().right + 0.5) out.clipped.push(th.textContent);
        if (b.title && b.getAttribute('aria-label') !== b.title) out.unnamed.push(th.textContent);
      }
      for (const td of table.querySelectorAll('tbody td.num')) {
        out.figures.push([td.textContent, getComputedStyle(td).textAlign, td.closest('table').tHead.rows[0].cells[td.cellIndex].querySelector('button').dataset.key]);
      }
      for (const td of table.querySelectorAll('tbody td.date')) out.dates.push(td.textContent);
      // Scrolled to the far right, the first column still starts at the wrapper's left edge.
      const wrap = table.parentElement;
      wrap.scrollLeft = wrap.scrollWidth;
      const first = table.querySelector('thead th:first-child');
      out.left.push([wrap.scrollWidth > wrap.clientWidth, Math.round(first.getBoundingClientRect().left - wrap.getBoundingClientRect().left)]);
      out.names.push(first.scrollWidth <= first.clientWidth);
      wrap.scrollLeft = 0;
    }
    return out;
  });
  assert.deepEqual(r.clipped, [], `clipped headers: ${r.clipped}`);
  assert.deepEqual(r.unnamed, []);
  assert.deepEqual(r.names, [true, true]);
  for (const [scrolls, left] of r.left) if (scrolls) assert.equal(left, 0, 'the name column scrolled out of view');
  assert.ok(r.figures.length > 0);
  for (const [text, align, key] of r.figures) {
    assert.equal(align, 'right');
    if (text === '–') continue; // no figure (a district with no reported acres)
    assert.match(text, key === 'fields' ? /^\d{1,3}(,\d{3})*$/ : /^\d{1,3}(,\d{3})*\.\d$/, `${key}: ${text}`);
  }
  const dated = r.dates.filter((d) => d !== '–');
  assert.ok(dated.length > 0, 'no dates in the district table');
  for (const d of dated) assert.match(d, /^\d{4}-\d{2}-\d{2}$/);
}

/** A new page that records console errors and failed scripts. */
async function newPage(viewport = { width: 1280, height: 800 }, options = {}) {
  const context = await browser.newContext({ viewport, ...options });
  const page = await context.newPage();
  page.errors = [];
  page.requests = [];
  // No request may leave the service: data: and blob: URLs stay in the page.
  page.on('request', (r) => {
    const u = new URL(r.url());
    page.requests.push(u);
    if (!['data:', 'blob:'].includes(u.protocol) && u.hostname !== '127.0.0.1') page.errors.push(`request left the service: ${r.url()}`);
  });
  page.on('pageerror', (e) => page.errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // The browser logs every 4xx answer; the ones we provoke are asserted below.
    if (m.type() === 'error' && !/status of (401|422)/.test(m.text())) page.errors.push(m.text());
  });
  return page;
}

async function signIn(page, token) {
  await page.goto(base);
  await page.fill('#token', token);
  await page.click('#sign-in-form button[type=submit]');
}

/** Waits until the map has drawn every tile it wants. */
async function mapIdle(page) {
  await page.waitForFunction(() => {
    const m = window.clearmapMap;
    return m && m.loaded() && m.areTilesLoaded() && !m.isMoving();
  }, null, { timeout: 60_000, polling: 200 });
}

/**
 * A screenshot of the map read by the browser: how many distinct colours it
 * has (sampling every 7th pixel), the colour most pixels have (#rrggbb), and
 * the colour [r, g, b] of the pixel at `at` (a point of the map's canvas).
 */
async function mapPixels(page, at = { x: 0, y: 0 }) {
  const png = await page.locator('#map').screenshot();
  return page.evaluate(async ([b64, x, y]) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = new OffscreenCanvas(img.width, img.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, img.width, img.height).data;
    const n = new Map();
    for (let i = 0; i < px.length; i += 4 * 7) {
      const k = (px[i] << 16) | (px[i + 1] << 8) | px[i + 2];
      n.set(k, (n.get(k) ?? 0) + 1);
    }
    const [top] = [...n].sort((a, b) => b[1] - a[1])[0];
    return { colours: n.size, dominant: `#${top.toString(16).padStart(6, '0')}`,
      pixel: [...ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data.slice(0, 3)] };
  }, [png.toString('base64'), at.x, at.y]);
}

/** The centre of a GeoJSON polygon's outer ring (near enough for small fields). */
function centreOf(feature) {
  const g = feature.geometry;
  const ring = g.type === 'MultiPolygon' ? g.coordinates[0][0] : g.coordinates[0];
  return [ring.reduce((s, p) => s + p[0], 0) / ring.length, ring.reduce((s, p) => s + p[1], 0) / ring.length];
}

const progressText = (page) => page.textContent('#progress-text');

/** The summary the API gives for the page's own session and filters. */
const apiSummary = (page, query = '') => page.evaluate(async (q) => (await fetch(`/api/v1/summary${q}`)).json(), query);

const formatted = (n) => new Intl.NumberFormat('en', { maximumFractionDigits: n >= 100 ? 0 : n >= 1 ? 1 : 2, minimumFractionDigits: n >= 100 || n < 1 ? 0 : 1 }).format(n);

test('analyst journey: sign in, map, upload, filter, bad file', async (t) => {
  const page = await newPage();

  await t.test('a wrong token is refused with a message', async () => {
    await signIn(page, 'cm_not-a-real-token');
    await page.waitForSelector('#sign-in-error:not(:empty)');
    assert.match(await page.textContent('#sign-in-error'), /not recognised/);
  });

  await t.test('signed in, the map of districts draws', async () => {
    await page.fill('#token', process.env.CLEARMAP_ADMIN);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#map:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#progress-text')?.textContent.includes('acres mapped'));
    assert.equal(await progressText(page), '0 of 40,659 acres mapped (0.0%)');
    await mapIdle(page);
    const districts = await page.evaluate(() =>
      window.clearmapMap.queryRenderedFeatures({ layers: ['districts-fill'] }).map((f) => f.properties.code));
    assert.ok(new Set(districts).size > 100, `only ${new Set(districts).size} districts rendered`);
    assert.ok(districts.includes('PK-KP-KHYBER'));
    const provinces = await page.evaluate(() => window.clearmapMap.queryRenderedFeatures({ layers: ['provinces-line'] }).length);
    assert.ok(provinces > 0, 'no province borders rendered');
    const { colours } = await mapPixels(page);
    assert.ok(colours > 20, `the map canvas looks blank: ${colours} colours`);
    // Nothing is cleared yet: with "Hide districts with no clearance" on (the default) no row shows.
    assert.equal(await page.isChecked('#hide-empty'), true);
    assert.equal(await page.locator('#districts-table tbody tr').count(), 0);
    await page.uncheck('#hide-empty');
    assert.equal(await page.locator('#districts-table tbody tr').count(), 156);
    await page.check('#hide-empty');
  });

  await t.test('uploading the sample file shows the receipt and moves the progress bar', async () => {
    await page.setInputFiles('#file', process.env.CLEARMAP_SAMPLE);
    await page.waitForSelector('#receipt[data-status]', { timeout: 60_000 });
    assert.equal(await page.getAttribute('#receipt', 'data-status'), '201', await page.textContent('#receipt'));
    const receipt = await page.textContent('#receipt');
    assert.match(receipt, /Stored: upload #\d+/);
    assert.match(receipt, /300 fields from sample-clearances\.geojson/);
    const s = await apiSummary(page);
    assert.ok(s.mapped_acres > 0);
    const want = `${formatted(s.mapped_acres)} of 40,659 acres mapped (${(s.progress * 100).toFixed(1)}%)`;
    await page.waitForFunction((w) => document.querySelector('#progress-text').textContent === w, want);
    // The tables follow: the top district by net acres is the API's.
    const top = [...(await page.evaluate(async () => (await fetch('/api/v1/districts')).json()))].sort((a, b) => b.acres - a.acres)[0];
    assert.equal(await page.textContent('#districts-table tbody tr:first-child td:first-child'), top.name);
    // Only the districts with a clearance show until the box is unticked.
    const all = await page.evaluate(async () => (await fetch('/api/v1/districts')).json());
    const cleared = all.filter((d) => d.acres > 0 || d.fields > 0).length;
    assert.ok(cleared > 0 && cleared < 156, `${cleared} districts with clearances`);
    assert.equal(await page.isChecked('#hide-empty'), true);
    assert.equal(await page.locator('#districts-table tbody tr').count(), cleared);
    assert.match(await page.textContent('#districts-table caption'), new RegExp(`\\(${cleared} of 156 districts shown\\)`));
    await page.uncheck('#hide-empty');
    assert.equal(await page.locator('#districts-table tbody tr').count(), 156);
    await page.check('#hide-empty');
    assert.equal(await page.locator('#districts-table tbody tr').count(), cleared);
    await mapIdle(page);
    const fields = await page.evaluate(() => window.clearmapMap.queryRenderedFeatures({ layers: ['clearances-points'] }).length);
    assert.ok(fields > 0, 'no cleared fields drawn after the upload');
    await page.screenshot({ path: `${shots}/desktop-after-upload.png` });
  });

  await t.test('the crop filter changes the tiles and every figure', async () => {
    const before = await progressText(page);
    await page.selectOption('#crop', 'cannabis');
    const s = await apiSummary(page, '?crop=cannabis');
    const want = `${formatted(s.mapped_acres)} of 40,659 acres mapped (${(s.progress * 100).toFixed(1)}%)`;
    assert.notEqual(want, before);
    await page.waitForFunction((w) => document.querySelector('#progress-text').textContent === w, want);
    await mapIdle(page);
    const crops = await page.evaluate(() => [...new Set(window.clearmapMap.queryRenderedFeatures({ layers: ['clearances-points'] }).map((f) => f.properties.crop))]);
    assert.deepEqual(crops, ['cannabis']);
    assert.match(await page.getAttribute('#districts-csv', 'href'), /crop=cannabis/);
    // The progress chart follows too.
    const cannabis = await page.evaluate(async () => (await fetch('/api/v1/progress?by=month&crop=cannabis')).json());
    const lastCannabis = formatted(cannabis.periods.at(-1).cumulative_acres);
    await page.waitForFunction((w) => document.querySelector('#chart-table tbody tr:last-child td:nth-child(4)')?.textContent === w, lastCannabis);
    await page.selectOption('#crop', '');
    await page.waitForFunction((w) => document.querySelector('#progress-text').textContent === w, before);

    // Dates are written yyyy-mm-dd; another form is refused, not guessed at.
    await page.fill('#from', '20/03/2026');
    await page.press('#from', 'Tab');
    assert.match(await page.$eval('#from', (i) => i.validationMessage), /yyyy-mm-dd/);
    assert.equal(await progressText(page), before);
    assert.equal(await page.getAttribute('#from', 'placeholder'), 'yyyy-mm-dd');

    // A date range does the same.
    await page.fill('#from', '2026-03-20');
    await page.press('#from', 'Tab'); // a text field reports its change when left
    const dated = await apiSummary(page, '?from=2026-03-20');
    const wantDated = `${formatted(dated.mapped_acres)} of 40,659 acres mapped (${(dated.progress * 100).toFixed(1)}%)`;
    assert.notEqual(wantDated, before);
    await page.waitForFunction((w) => document.querySelector('#progress-text').textContent === w, wantDated);
    await mapIdle(page);
    // The filtered tiles replace the others once they have loaded, which on
    // a busy machine can be after the map first goes idle: wait for them.
    const filtered = await page.waitForFunction(() => {
      const d = window.clearmapMap.queryRenderedFeatures({ layers: ['clearances-points'] }).map((f) => f.properties.cleared_on);
      return d.length > 0 && d.every((day) => day >= '2026-03-20');
    }, null, { timeout: 15000 }).then(() => true, () => false);
    const days = await page.evaluate(() => window.clearmapMap.queryRenderedFeatures({ layers: ['clearances-points'] }).map((f) => f.properties.cleared_on));
    assert.ok(filtered, `fields from ${days}`);
    await page.click('#filters button[type=reset]');
    await page.waitForFunction((w) => document.querySelector('#progress-text').textContent === w, before);
  });

  await t.test('a bad file lists every problem and stores nothing', async () => {
    const before = await progressText(page);
    const bad = JSON.stringify({ type: 'FeatureCollection', features: [
      { type: 'Feature', properties: { field_id: 'B-1', cleared_on: '2026-03-01' },
        geometry: { type: 'Polygon', coordinates: [[[71.1, 34.05], [71.101, 34.05], [71.101, 34.051], [71.1, 34.05]]] } },
      { type: 'Feature', properties: { field_id: 'B-2', crop: 'poppy', cleared_on: '2026-03-01' },
        geometry: { type: 'Polygon', coordinates: [[[34.05, 71.1], [34.05, 71.101], [34.051, 71.101], [34.05, 71.1]]] } },
    ] });
    await page.setInputFiles('#file', { name: 'bad-fields.geojson', mimeType: 'application/geo+json', buffer: Buffer.from(bad) });
    await page.waitForSelector('#receipt[data-status="422"]', { timeout: 30_000 });
    const rows = await page.$$eval('#receipt table.problems tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.equal(rows.length, 2);
    assert.deepEqual(rows.map((r) => r.slice(0, 2)), [['1', 'B-1'], ['2', 'B-2']]);
    assert.match(rows[0][2], /crop/);
    assert.match(rows[1][2], /lon,lat|longitude/i);
    assert.match(await page.textContent('#receipt'), /Nothing was stored: 2 problems in bad-fields\.geojson/);
    assert.equal(await progressText(page), before);
    await page.screenshot({ path: `${shots}/desktop-bad-file.png` });
  });

  await t.test('a click on a district shows its figures; on a field, its popup', async () => {
    await mapIdle(page);
    const lahore = await page.evaluate(() => window.clearmapMap.project([74.3587, 31.5204]));
    await page.locator('#map canvas').click({ position: lahore });
    await page.waitForSelector('#district-card:not([hidden])');
    assert.equal(await page.textContent('#district-card h2'), 'Lahore');
    assert.match(await page.textContent('#district-card'), /Net cleared0 acres/);

    const field = await page.evaluate(async () => (await fetch('/ogc/collections/clearances/items?limit=1')).json());
    const ring = field.features[0].geometry.coordinates[0][0];
    const centre = [ring.reduce((s, p) => s + p[0], 0) / ring.length, ring.reduce((s, p) => s + p[1], 0) / ring.length];
    await page.evaluate((c) => window.clearmapMap.jumpTo({ center: c, zoom: 16 }), centre);
    await mapIdle(page);
    const at = await page.evaluate((c) => window.clearmapMap.project(c), centre);
    await page.locator('#map canvas').click({ position: at });
    await page.waitForSelector('.maplibregl-popup');
    const popup = await page.textContent('.maplibregl-popup');
    const p = field.features[0].properties;
    assert.ok(popup.includes(p.crop) && popup.includes(p.cleared_on) && popup.includes(p.team), popup);
    assert.match(popup, /Upload#1/);
    await page.screenshot({ path: `${shots}/desktop-field-popup.png` });
    // The popup describes what is drawn at this zoom: zooming closes it.
    await page.evaluate(() => window.clearmapMap.zoomTo(13, { animate: false }));
    await page.waitForSelector('.maplibregl-popup', { state: 'detached', timeout: 5_000 });
    await page.evaluate(() => window.clearmapMap.fitBounds([[60.87, 23.6], [77.84, 37.1]], { animate: false }));
  });

  await t.test('a file dropped on the panel is uploaded', async () => {
    const before = await progressText(page);
    const field = JSON.stringify({ type: 'Feature', properties: { field_id: 'D-1', crop: 'cannabis', cleared_on: '2026-04-01' },
      geometry: { type: 'Polygon', coordinates: [[[74.30, 31.50], [74.302, 31.50], [74.302, 31.502], [74.30, 31.502], [74.30, 31.50]]] } });
    await page.evaluate((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], 'dropped.geojson', { type: 'application/geo+json' }));
      const drop = document.getElementById('drop');
      for (const type of ['dragenter', 'dragover', 'drop']) drop.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, field);
    await page.waitForFunction(() => document.querySelector('#receipt')?.textContent.includes('dropped.geojson'), null, { timeout: 30_000 });
    assert.equal(await page.getAttribute('#receipt', 'data-status'), '201');
    assert.match(await page.textContent('#receipt'), /Lahore: 10\.4 acres/);
    await page.waitForFunction((b) => document.querySelector('#progress-text').textContent !== b, before);
    // The open district card follows the new figures.
    await page.waitForFunction(() => /Net cleared10\.4 acres/.test(document.querySelector('#district-card').textContent));
  });

  await t.test('at country zoom a click on a field dot picks its district', async () => {
    await mapIdle(page);
    const dot = await page.evaluate(() => {
      const m = window.clearmapMap;
      const f = m.queryRenderedFeatures({ layers: ['clearances-points'] })[0];
      const at = m.project(f.geometry.coordinates);
      return { at: { x: at.x, y: at.y }, district: m.queryRenderedFeatures(at, { layers: ['districts-fill'] })[0].properties.name };
    });
    await page.locator('#map canvas').click({ position: dot.at });
    await page.waitForFunction((name) => document.querySelector('#district-card h2')?.textContent === name, dot.district);
    assert.equal(await page.locator('.maplibregl-popup').count(), 0, 'a field popup opened at country zoom');
  });

  await t.test('the choropleth is classed from the data, its breaks in the legend', async () => {
    const r = await page.evaluate(() => {
      const m = window.clearmapMap;
      const colours = new Set(m.queryRenderedFeatures({ layers: ['districts-fill'] })
        .filter((f) => f.properties.acres > 0).map((f) => JSON.stringify(f.layer.paint['fill-color'])));
      return { step: m.getPaintProperty('districts-fill', 'fill-color'), colours: colours.size,
        legend: [...document.querySelectorAll('#legend li')].map((li) => li.textContent) };
    });
    const ds = await page.evaluate(async () => (await fetch('/api/v1/districts')).json());
    const cleared = ds.filter((d) => d.acres > 0).map((d) => d.acres).sort((a, b) => a - b);
    assert.equal(r.step[0], 'step');
    // ['step', input, colour of none, 0.0001, colour, bound, colour, …]: the bounds after the first class with clearance.
    const breaks = r.step.slice(5).filter((_, i) => i % 2 === 0);
    assert.ok(breaks.length >= 2, `only ${breaks.length + 1} classes for ${cleared.length} districts`);
    for (const b of breaks) assert.ok(b > cleared[0] && b <= cleared.at(-1), `break ${b} outside ${cleared[0]}–${cleared.at(-1)}`);
    assert.ok(r.colours >= 3, `districts with clearance drawn in ${r.colours} colours`);
    // none, then one entry per class, each naming its bounds; then the crops.
    assert.equal(r.legend[0], 'none');
    assert.equal(r.legend.length, 1 + breaks.length + 1 + 2);
    assert.match(r.legend[1], /^under /);
    assert.match(r.legend[breaks.length + 1], / and more$/);
  });

  await t.test('zoomed in, the choropleth fades and fields under a few pixels keep a dot', async () => {
    const items = await page.evaluate(async () => (await fetch('/ogc/collections/clearances/items?limit=1000')).json());
    const small = items.features.filter((f) => f.properties.acres < 0.5).sort((a, b) => a.properties.acres - b.properties.acres)[0];
    assert.ok(small, 'the sample has no field under half an acre');
    const centre = centreOf(small);
    // At zoom 7 the district's class colour covers the map around the field.
    await page.evaluate((c) => window.clearmapMap.jumpTo({ center: c, zoom: 7.5 }), centre);
    await mapIdle(page);
    const classed = (await mapPixels(page)).dominant;
    await page.evaluate((c) => window.clearmapMap.jumpTo({ center: c, zoom: 12 }), centre);
    await mapIdle(page);
    assert.equal((await mapPixels(page)).dominant, '#f6f3ec', 'at zoom 12 the choropleth still covers the land');
    assert.notEqual(classed, '#f6f3ec');
    // A field of a few hundred square metres is under two pixels here; its dot is drawn.
    // (The map promotes district codes to feature ids, so fields are known by their properties here.)
    const dots = await page.evaluate(() => window.clearmapMap.queryRenderedFeatures({ layers: ['clearances-small'] })
      .map((f) => `${f.properties.acres} ${f.properties.cleared_on} ${f.properties.upload_id}`));
    const key = `${small.properties.acres} ${small.properties.cleared_on} ${small.properties.upload_id}`;
    assert.ok(dots.includes(key), `no dot for field ${small.id} (${key}) among ${dots}`);
    const at = await page.evaluate((c) => window.clearmapMap.project(c), centre);
    const [r, g, b] = (await mapPixels(page, at)).pixel;
    const crop = { poppy: [0xc2, 0x18, 0x5b], cannabis: [0x1b, 0x7a, 0x34] }[small.properties.crop];
    assert.ok(Math.abs(r - crop[0]) + Math.abs(g - crop[1]) + Math.abs(b - crop[2]) < 60, `pixel ${[r, g, b]} at the field is not its crop's colour`);
    // The names of the districts in view are drawn, in the bundled font from this server.
    const here = await page.evaluate((c) => window.clearmapMap.queryRenderedFeatures(window.clearmapMap.project(c), { layers: ['districts-fill'] })[0].properties.name, centre);
    await page.waitForFunction((name) => window.clearmapMap.queryRenderedFeatures({ layers: ['district-labels-in-view'] }).some((f) => f.properties.name === name),
      here, { timeout: 10_000, polling: 200 }).catch(() => {}); // asserted below, with what was drawn
    const names = await page.evaluate(() => window.clearmapMap.queryRenderedFeatures({ layers: ['district-labels-in-view'] }).map((f) => f.properties.name));
    assert.ok(names.includes(here), `district names drawn: ${names}; the field is in ${here}`);
    assert.ok(page.requests.some((u) => u.hostname === '127.0.0.1' && u.pathname.endsWith('.woff2')), 'no font fetched from the service');
    await page.screenshot({ path: `${shots}/desktop-zoom-12.png` });
    await page.evaluate(() => window.clearmapMap.fitBounds([[60.87, 23.6], [77.84, 37.1]], { animate: false }));
  });

  await t.test('at zoom 11 over a field the map names its district and the nearest town', async () => {
    const places = JSON.parse(await readFile(new URL('../../geodata/pakistan-places.geojson', import.meta.url), 'utf8')).features;
    const items = await page.evaluate(async () => (await fetch('/ogc/collections/clearances/items?limit=1000')).json());
    // The field nearest a place, and that place: both in view at zoom 11.
    let near = null;
    for (const f of items.features) {
      const c = centreOf(f);
      for (const p of places) {
        const [x, y] = p.geometry.coordinates;
        const d = Math.hypot((x - c[0]) * Math.cos((c[1] * Math.PI) / 180), y - c[1]);
        if (!near || d < near.d) near = { d, field: c, place: p.properties.name, at: [x, y] };
      }
    }
    assert.ok(near.d < 0.1, `no sample field within 10 km of a place (${near.d})`);
    await page.evaluate(({ field, at }) => window.clearmapMap.jumpTo({ center: [(field[0] + at[0]) / 2, (field[1] + at[1]) / 2], zoom: 11 }), near);
    await mapIdle(page);
    // The names of the districts in view are placed once the map has settled.
    await page.waitForFunction((c) => {
      const m = window.clearmapMap;
      const here = m.queryRenderedFeatures(m.project(c), { layers: ['districts-fill'] })[0]?.properties.name;
      return m.queryRenderedFeatures({ layers: ['district-labels-in-view'] }).some((f) => f.properties.name === here);
    }, near.field, { timeout: 10_000, polling: 200 }).catch(() => {}); // asserted below, with what was drawn
    const r = await page.evaluate((c) => {
      const m = window.clearmapMap;
      return {
        places: m.queryRenderedFeatures({ layers: ['place-labels'] }).map((f) => f.properties.name),
        districts: m.queryRenderedFeatures({ layers: ['district-labels-in-view'] }).map((f) => f.properties.name),
        here: m.queryRenderedFeatures(m.project(c), { layers: ['districts-fill'] })[0]?.properties.name,
        fields: m.queryRenderedFeatures({ layers: ['clearances-fill', 'clearances-small'] }).length,
      };
    }, near.field);
    assert.ok(r.fields > 0, 'no field drawn');
    assert.ok(r.places.includes(near.place), `${near.place} not labelled; labels: ${r.places}`);
    assert.ok(r.here && r.districts.includes(r.here), `the field's district ${r.here} is not named; names: ${r.districts}`);
    await page.screenshot({ path: `${shots}/desktop-zoom-11-names.png` });
    await page.evaluate(() => window.clearmapMap.fitBounds([[60.87, 23.6], [77.84, 37.1]], { animate: false }));
  });

  await t.test('the tables download as CSV', async () => {
    const [provinces] = await Promise.all([page.waitForEvent('download'), page.click('#provinces-csv')]);
    const text = await readFile(await provinces.path(), 'utf8');
    assert.equal(text.split('\n')[0], 'code,name,acres,gross_acres,acres_poppy,acres_cannabis,reported_acres');
    assert.equal(text.trim().split('\n').length, 8);
    const [districts] = await Promise.all([page.waitForEvent('download'), page.click('#districts-csv')]);
    // The CSV holds every district, the hidden ones too.
    assert.equal(await page.isChecked('#hide-empty'), true);
    assert.ok(await page.locator('#districts-table tbody tr').count() < 156);
    const rows = (await readFile(await districts.path(), 'utf8')).trim().split('\n');
    assert.equal(rows.length, 157);
    assert.match(rows[0], /^code,name,province,acres/);
  });

  await t.test('the progress chart shows the API\'s periods, by month and by week, and downloads them', async () => {
    /** Waits until the chart's table has the API's periods for `by`, then checks every figure. */
    async function chartMatches(by) {
      const api = await page.evaluate(async (b) => (await fetch(`/api/v1/progress?by=${b}`)).json(), by);
      assert.ok(api.periods.length > 0);
      await page.waitForFunction(([b, n]) => document.querySelector('#chart')?.dataset.by === b &&
        document.querySelectorAll('#chart-table tbody tr').length === n, [by, api.periods.length]);
      const rows = await page.$$eval('#chart-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
      assert.deepEqual(rows, api.periods.map((p) => [p.start, p.end, formatted(p.acres), formatted(p.cumulative_acres)]));
      assert.equal(await page.locator('#chart svg polyline').count(), 1);
      assert.equal(await page.locator('#chart svg rect').count(), api.periods.length);
      assert.match(await page.textContent('#chart svg'), /Target 40,659 acres/);
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#progress-csv')]);
      const csv = (await readFile(await download.path(), 'utf8')).trim().split('\n');
      assert.deepEqual(csv, ['start,end,acres,cumulative_acres', ...api.periods.map((p) => `${p.start},${p.end},${p.acres},${p.cumulative_acres}`)]);
      return api.periods.length;
    }
    await page.locator('#chart').scrollIntoViewIfNeeded();
    const months = await chartMatches('month');
    await page.screenshot({ path: `${shots}/desktop-progress-chart.png` });
    await page.check('input[name=chart-by][value=week]');
    const weeks = await chartMatches('week');
    assert.ok(weeks > months, `${weeks} weeks, ${months} months`);
    // By province: one more line per province with acres.
    const s = await apiSummary(page);
    const withAcres = s.by_province.filter((p) => p.acres > 0).length;
    await page.check('#chart-by-province');
    await page.waitForFunction((n) => document.querySelectorAll('#chart svg polyline').length === n, 1 + withAcres);
    await page.screenshot({ path: `${shots}/desktop-progress-by-province.png` });
    await page.uncheck('#chart-by-province');
    await page.check('input[name=chart-by][value=month]');
    await page.waitForFunction((n) => document.querySelector('#chart').dataset.by === 'month' && document.querySelectorAll('#chart-table tbody tr').length === n, months);
  });

  await t.test('the tables sort from their headers', async () => {
    // Text sorts A to Z first, then Z to A.
    await page.click('#districts-table th button[data-key="name"]');
    assert.equal(await page.getAttribute('#districts-table th:first-child', 'aria-sort'), 'ascending');
    const names = await page.$$eval('#districts-table tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b)));
    await page.click('#districts-table th button[data-key="name"]');
    assert.equal(await page.getAttribute('#districts-table th:first-child', 'aria-sort'), 'descending');
    assert.equal(await page.textContent('#districts-table tbody tr:first-child td:first-child'), names.at(-1));
  });

  await t.test('in a 360 px panel the tables fit: headers whole, names in view, one precision, ISO dates', async () => {
    await page.evaluate(() => { document.querySelector('main').style.gridTemplateColumns = 'minmax(0, 1fr) 360px'; });
    assert.equal(await page.evaluate(() => document.querySelector('#panel').getBoundingClientRect().width), 360);
    await tablesFit(page);
    // A tall window, so the whole of the panel's tables fits in one screenshot.
    await page.setViewportSize({ width: 1280, height: 2600 });
    await page.locator('#tables').scrollIntoViewIfNeeded();
    await page.locator('#tables').screenshot({ path: `${shots}/desktop-tables-360.png` });
    await page.evaluate(() => { for (const w of document.querySelectorAll('#tables .table-wrap')) w.scrollLeft = w.scrollWidth; });
    await page.locator('#tables').screenshot({ path: `${shots}/desktop-tables-360-scrolled.png` });
    await page.evaluate(() => { for (const w of document.querySelectorAll('#tables .table-wrap')) w.scrollLeft = 0; });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.evaluate(() => { document.querySelector('main').style.gridTemplateColumns = ''; });
  });

  await t.test('a table header sorts from the keyboard', async () => {
    await page.focus('#districts-table th button[data-key="acres"]');
    await page.keyboard.press('Enter');
    assert.equal(await page.getAttribute('#districts-table th:nth-child(3)', 'aria-sort'), 'descending');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.key), 'acres');
    await page.keyboard.press('Space');
    assert.equal(await page.getAttribute('#districts-table th:nth-child(3)', 'aria-sort'), 'ascending');
  });

  await t.test('the controls are reachable by keyboard', async () => {
    await page.evaluate(() => document.activeElement?.blur());
    const reached = new Set();
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent?.trim()));
    }
    for (const id of ['crop', 'from', 'to', 'file', 'sign-out']) assert.ok(reached.has(id), `${id} not reached by Tab: ${[...reached]}`);
  });

  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('at phone width the page stacks and stays usable', async () => {
  const page = await newPage({ width: 375, height: 812 }, { hasTouch: true, isMobile: true });
  await signIn(page, process.env.CLEARMAP_ADMIN);
  await page.waitForSelector('#map:not([hidden])');
  await mapIdle(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await page.waitForSelector('#chart svg');
  await page.screenshot({ path: `${shots}/phone.png`, fullPage: true });
  await page.locator('#chart').screenshot({ path: `${shots}/phone-progress-chart.png` });
  await page.waitForFunction(() => document.querySelectorAll('#districts-table tbody tr').length > 0);
  await tablesFit(page);
  await page.locator('#tables').screenshot({ path: `${shots}/phone-tables.png` });
  await page.evaluate(() => { for (const w of document.querySelectorAll('#tables .table-wrap')) w.scrollLeft = w.scrollWidth; });
  await page.locator('#tables').screenshot({ path: `${shots}/phone-tables-scrolled.png` });

  // The legend starts folded, and opens with a tap.
  await page.evaluate(() => window.scrollTo(0, 0));
  assert.equal(await page.$eval('#legend', (d) => d.open), false);
  const folded = await page.$eval('#legend', (d) => d.getBoundingClientRect().height);
  assert.ok(folded < 40, `the folded legend is ${folded}px tall`);
  await page.tap('#legend summary');
  assert.equal(await page.$eval('#legend', (d) => d.open), true);
  assert.match(await page.textContent('#legend'), /Net cleared acres/);
  await page.tap('#legend summary');

  // A tapped district's card comes into view.
  const lahore = await page.evaluate(() => window.clearmapMap.project([74.3587, 31.5204]));
  await page.locator('#map canvas').tap({ position: lahore });
  await page.waitForFunction(() => document.querySelector('#district-card h2')?.textContent === 'Lahore');
  await page.waitForFunction(() => {
    const r = document.querySelector('#district-card').getBoundingClientRect();
    return r.top >= -1 && r.bottom <= window.innerHeight + 1;
  }, null, { timeout: 5_000 });
  await page.screenshot({ path: `${shots}/phone-district-card.png` });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('an uploader sees the upload panel and no map', async () => {
  const page = await newPage();
  await signIn(page, process.env.CLEARMAP_UPLOADER);
  await page.waitForSelector('#upload:not([hidden])');
  assert.equal(await page.isHidden('#map'), true);
  assert.equal(await page.isHidden('#tables'), true);
  await page.click('#sign-out');
  await page.waitForSelector('#sign-in:not([hidden])');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
