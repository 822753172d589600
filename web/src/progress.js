// "Progress over time": mapped acres per month or ISO week as bars, the
// cumulative figure as a line against the national target, optionally one
// line per province. Plain SVG; the numbers also sit in a table.

import * as api from './api.js';
import { acres, compact, count, esc, percent } from './format.js';
import { downloadCSV } from './tables.js';

const W = 360, H = 220, M = { left: 44, right: 24, top: 14, bottom: 34 };
const colours = ['#d95f02', '#1b9e77', '#7570b3', '#e7298a', '#66a61e', '#a6761d', '#666666'];
const csvColumns = ['start', 'end', 'acres', 'cumulative_acres'].map((key) => ({ key }));

/** A period's label: yyyy-mm for months, yyyy-mm-dd (its Monday) for weeks. */
const label = (p, by) => (by === 'month' ? p.start.slice(0, 7) : p.start);

/**
 * Sets up the section's controls; returns refresh(filters, provinces) to
 * redraw it for the page's filters and the summary's provinces.
 */
export function setUpProgress(root) {
  const $ = (sel) => root.querySelector(sel);
  let data = null; // {by, target_acres, periods, provinces: [{code, name, periods}]}
  let last = { filters: {}, provinces: [] };
  let seq = 0;

  async function refresh(filters = last.filters, provinces = last.provinces) {
    last = { filters: { ...filters }, provinces };
    const by = $('input[name=chart-by]:checked').value;
    const split = $('#chart-by-province').checked ? provinces.filter((p) => p.acres > 0) : [];
    const mine = ++seq;
    const [all, ...each] = await Promise.all([api.progress(filters, by), ...split.map((p) => api.progress(filters, by, p.code))]);
    if (mine !== seq) return; // a newer refresh is on its way
    data = { ...all, provinces: split.map((p, i) => ({ code: p.code, name: p.name, periods: each[i].periods })) };
    root.dataset.by = by;
    draw();
  }

  function draw() {
    const { by, periods, target_acres: target, provinces } = data;
    const unit = by === 'month' ? 'month' : 'week';
    const total = periods.at(-1)?.cumulative_acres ?? 0;
    $('#chart-summary').textContent = periods.length
      ? `${acres(total)} of ${count(target)} acres mapped (${percent(total / target)}) from ${periods[0].start} to ${periods.at(-1).end}.`
      : 'No cleared fields under these filters.';
    $('#chart-figure').innerHTML = periods.length ? svg(by, periods, target, provinces) : '';
    const extra = provinces.map((p) => `<th scope="col" class="num">${esc(p.name)}</th>`).join('');
    const rows = periods.map((p) => {
      const cells = provinces.map((pr) => `<td class="num">${acres(cumulativeAt(pr.periods, p.start))}</td>`).join('');
      return `<tr><td>${p.start}</td><td>${p.end}</td><td class="num">${acres(p.acres)}</td><td class="num">${acres(p.cumulative_acres)}</td>${cells}</tr>`;
    }).join('');
    $('#chart-table').innerHTML = `<caption>Acres mapped per ${unit}${provinces.length ? '; cumulative by province' : ''}</caption>` +
      `<thead><tr><th scope="col">Start</th><th scope="col">End</th><th scope="col" class="num">Acres</th><th scope="col" class="num">Cumulative</th>${extra}</tr></thead><tbody>${rows}</tbody>`;
  }

  $('#chart-controls').addEventListener('change', () => refresh().catch(() => {}));
  $('#progress-csv').addEventListener('click', () => {
    if (data) downloadCSV(`clearmap-progress-${data.by}.csv`, csvColumns, data.periods);
  });
  return refresh;
}

/** A province's cumulative acres at the period starting on start: 0 before its first, its last after. */
function cumulativeAt(periods, start) {
  let value = 0;
  for (const p of periods) if (p.start <= start) value = p.cumulative_acres;
  return value;
}

/** Round axis values from 0 up to max in four to six steps: 0, 10K, 20K… */
function niceTicks(max) {
  const rough = max / 5, power = 10 ** Math.floor(Math.log10(rough || 1));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough);
  return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
}

function svg(by, periods, target, provinces) {
  const top = Math.max(target, ...periods.map((p) => p.cumulative_acres)) * 1.08; // headroom for the target's label
  const plotW = W - M.left - M.right, plotH = H - M.top - M.bottom;
  const step = plotW / periods.length;
  const x = (i) => M.left + step * (i + 0.5);
  const y = (v) => M.top + plotH * (1 - v / top);
  const line = (values, colour, width) =>
    `<polyline points="${values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="${width}" stroke-linejoin="round"/>`;

  const ticks = niceTicks(top / 1.08).map((v) => {
    return `<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/>` +
      `<text x="${M.left - 4}" y="${y(v) + 3}" text-anchor="end">${compact(v)}</text>`;
  }).join('');
  const every = Math.ceil(periods.length / 5);
  const xLabels = periods.map((p, i) => (i % every ? '' : `<text x="${x(i)}" y="${H - M.bottom + 13}" text-anchor="middle">${label(p, by)}</text>`)).join('');
  // Bars at least a pixel tall, so a small month still shows.
  const bars = periods.map((p, i) => {
    const h = p.acres > 0 ? Math.max(1, plotH * (p.acres / top)) : 0;
    return `<rect x="${(x(i) - step * 0.35).toFixed(1)}" y="${(M.top + plotH - h).toFixed(1)}" width="${(step * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="#9ebbd8"><title>${label(p, by)}: ${acres(p.acres)} acres</title></rect>`;
  }).join('');
  const cumulative = periods.map((p) => p.cumulative_acres);
  const dots = cumulative.map((v, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="#0b5cad"/>`).join('');
  const end = cumulative.at(-1);
  const split = provinces.map((pr, k) => line(periods.map((p) => cumulativeAt(pr.periods, p.start)), colours[k % colours.length], 1.5)).join('');
  const key = provinces.map((pr, k) =>
    `<text x="${M.left + 6}" y="${M.top + 28 + 11 * k}" fill="${colours[k % colours.length]}">— ${esc(pr.name)}</text>`).join('');
  const unit = by === 'month' ? 'month' : 'week';

  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title-svg chart-desc-svg" class="chart">` +
    `<title id="chart-title-svg">Cumulative acres mapped per ${unit} against the target of ${count(target)} acres</title>` +
    `<desc id="chart-desc-svg">Bars: acres mapped each ${unit}. Line: acres mapped so far, ${acres(end)} by ${periods.at(-1).end}. The table below gives every figure.</desc>` +
    `${ticks}${bars}` +
    `<line x1="${M.left}" x2="${W - M.right}" y1="${y(target)}" y2="${y(target)}" stroke="#a4001d" stroke-dasharray="5 3" stroke-width="1.5"/>` +
    `<text x="${W - M.right}" y="${y(target) - 4}" text-anchor="end" fill="#a4001d">Target ${count(target)} acres</text>` +
    `${split}${line(cumulative, '#0b5cad', 2.5)}${dots}` +
    `<text x="${x(periods.length - 1)}" y="${y(end) - 6}" text-anchor="end" fill="#0b5cad">${acres(end)} acres</text>` +
    `${key}${xLabels}<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#6b6b6b"/></svg>`;
}
