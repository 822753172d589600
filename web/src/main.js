// clearmap's web app: sign-in, the map, the figures, the tables and the
// upload panel. The filters drive the tiles and every number on the page.

import './style.css';
import * as api from './api.js';
import { acres, count, percent } from './format.js';
import { createMap, renderLegend } from './map.js';
import { setUpProgress } from './progress.js';
import { districtColumns, downloadCSV, hasClearance, provinceColumns, sortableTable } from './tables.js';
import { setUpUpload } from './upload.js';

const $ = (id) => document.getElementById(id);
const filters = { crop: '', from: '', to: '' };
let view = null; // the map, once shown
let byCode = new Map(); // district code → its row under the filters
let provinceNames = new Map(); // province code → name
let provinces, districts, refreshChart;

function showSignIn(message = '') {
  $('sign-in').hidden = false;
  for (const id of ['map', 'panel', 'legend', 'progress', 'who', 'hover']) $(id).hidden = true;
  $('sign-in-error').textContent = message;
  $('token').focus();
}

async function refreshFigures() {
  const [s, ds] = await Promise.all([api.summary(filters), api.districts(filters)]);
  const mapped = s.mapped_acres;
  $('progress-text').textContent = `${acres(mapped)} of ${count(s.target_acres)} acres mapped (${percent(s.progress)})`;
  const bar = $('progress-bar');
  bar.setAttribute('aria-valuenow', String(Math.min(100, s.progress * 100).toFixed(1)));
  bar.firstElementChild.style.width = `${Math.min(100, s.progress * 100)}%`;
  provinces.set(s.by_province);
  provinceNames = new Map(s.by_province.map((p) => [p.code, p.name]));
  byCode = new Map(ds.map((d) => [d.code, d]));
  districts.set(ds.map((d) => ({ ...d, province_name: provinceNames.get(d.province) ?? d.province })));
  renderLegend($('legend'), view.classify(ds.map((d) => d.acres)));
  $('districts-csv').href = `/api/v1/districts?${new URLSearchParams({ ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v)), format: 'csv' })}`;
  await refreshChart(filters, s.by_province);
  const card = $('district-card');
  if (card.dataset.code) showDistrict(card.dataset.code);
}

function districtText(code) {
  const d = byCode.get(code);
  if (!d) return code;
  return `${d.name}: ${acres(d.acres)} acres net (poppy ${acres(d.acres_poppy)}, cannabis ${acres(d.acres_cannabis)}), ${count(d.fields)} fields`;
}

/** Shows a district's card; reveal scrolls it into view (after a click on the map). */
function showDistrict(code, reveal = false) {
  const d = byCode.get(code);
  const card = $('district-card');
  if (!d) return;
  card.dataset.code = code;
  card.hidden = false;
  card.innerHTML = '';
  const h = document.createElement('h2');
  h.textContent = d.name;
  const dl = document.createElement('dl');
  for (const [label, value] of [
    ['Province', provinceNames.get(d.province) ?? d.province], ['Net cleared', `${acres(d.acres)} acres`], ['Gross (sum of fields)', `${acres(d.gross_acres)} acres`],
    ['Poppy', `${acres(d.acres_poppy)} acres`], ['Cannabis', `${acres(d.acres_cannabis)} acres`],
    ['Reported', d.reported_acres ? `${acres(d.reported_acres)} acres` : '–'], ['Fields', count(d.fields)],
    ['Last cleared', d.last_cleared_on || '–'],
  ]) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    dl.append(dt, dd);
  }
  card.append(h, dl);
  if (reveal) card.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

async function showApp(s) {
  $('sign-in').hidden = true;
  $('who').hidden = false;
  $('who-name').textContent = `${s.name} (${s.role})`;
  $('panel').hidden = false;
  const reads = s.role === 'analyst' || s.role === 'admin';
  const uploads = s.role === 'uploader' || s.role === 'admin';
  $('upload').hidden = !uploads;
  for (const id of ['map', 'legend', 'progress', 'chart', 'tables', 'filters']) $(id).hidden = !reads;
  if (!reads) return;
  if (!view) {
    view = createMap($('map'), filters, { onDistrict: (code) => showDistrict(code, true), hoverText: districtText, basemap: s.basemap });
    window.clearmapMap = view.map; // for the end-to-end tests
    // On a phone the legend starts folded, so the map keeps its space.
    $('legend').open = !matchMedia('(max-width: 800px)').matches;
  }
  await refreshFigures();
}

/**
 * Checks a date field holds a real date written yyyy-mm-dd (or nothing),
 * and says what is wrong in it when not.
 */
function isoDate(input) {
  const v = input.value.trim();
  input.value = v;
  const d = new Date(`${v}T00:00:00Z`);
  const ok = v === '' || (/^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(d.getTime()) && d.toISOString().startsWith(v) && v >= '2000-01-01');
  input.setCustomValidity(ok ? '' : 'Write the date as yyyy-mm-dd, from 2000-01-01, e.g. 2026-03-14.');
  if (!ok) input.reportValidity();
  return ok;
}

async function onFiltersChanged() {
  const form = $('filters');
  if (!isoDate(form.from) || !isoDate(form.to)) return;
  filters.crop = form.crop.value;
  filters.from = form.from.value;
  filters.to = form.to.value;
  if (filters.from && filters.to && filters.to < filters.from) {
    form.to.setCustomValidity('The end date is before the start date.');
    form.to.reportValidity();
    return;
  }
  form.to.setCustomValidity('');
  view?.refresh(filters);
  await refreshFigures();
}

function start() {
  provinces = sortableTable($('provinces-table'), provinceColumns, 'Cleared acres by province');
  districts = sortableTable($('districts-table'), districtColumns, 'Cleared acres by district', 'districts');
  const hideEmpty = () => districts.filter($('hide-empty').checked ? hasClearance : null);
  hideEmpty();
  $('hide-empty').addEventListener('change', hideEmpty);
  refreshChart = setUpProgress($('chart'));
  $('sign-in-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const s = await api.signIn($('token').value.trim());
      $('token').value = '';
      await showApp(s);
    } catch (err) {
      showSignIn(err.status === 401 ? 'That token is not recognised, or has been revoked.' : `Sign-in failed: ${err.message}`);
    }
  });
  $('sign-out').addEventListener('click', async () => {
    await api.signOut().catch(() => {});
    location.reload();
  });
  $('filters').addEventListener('change', onFiltersChanged);
  $('filters').addEventListener('reset', () => setTimeout(onFiltersChanged));
  $('provinces-csv').addEventListener('click', () =>
    downloadCSV('clearmap-provinces.csv', [{ key: 'code' }, ...provinceColumns], provinces.rows));
  setUpUpload(async () => {
    if ($('map').hidden) return;
    view.refresh(filters);
    await refreshFigures();
  });
  api.session().then((s) => (s ? showApp(s) : showSignIn()), (e) => showSignIn(`The service did not answer: ${e.message}`));
}

start();
