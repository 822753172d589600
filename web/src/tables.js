// Sortable tables of provinces and districts, with CSV download.

import { acres1, count, esc, isoDate } from './format.js';

/** A cell's text: acres with one decimal, counts whole, dates yyyy-mm-dd. */
function cellText(c, v) {
  if (c.type === 'count') return count(v);
  if (c.type === 'date') return isoDate(v);
  if (c.numeric) return acres1(v);
  return v ?? '–';
}

/**
 * Renders rows into a table whose column headers are buttons that sort it.
 * columns: [{key, label, title, numeric, type}]: label is the (short) header,
 * title its full name. Keeps its sort and filter across re-renders.
 * noun names the rows in the caption when a filter hides some.
 */
export function sortableTable(table, columns, caption, noun = 'rows') {
  let rows = [];
  let keep = null;
  let sortKey = columns.find((c) => c.numeric)?.key ?? columns[0].key;
  let descending = true;

  function render() {
    const col = columns.find((c) => c.key === sortKey);
    const shown = keep ? rows.filter(keep) : rows;
    const sorted = [...shown].sort((a, b) => {
      const x = a[sortKey] ?? (col.numeric ? -Infinity : '');
      const y = b[sortKey] ?? (col.numeric ? -Infinity : '');
      const order = col.numeric ? x - y : String(x).localeCompare(String(y));
      return descending ? -order : order;
    });
    const head = columns.map((c) => {
      const sort = c.key === sortKey ? (descending ? 'descending' : 'ascending') : 'none';
      const full = c.title ?? c.label;
      const abbr = full !== c.label ? ` title="${esc(full)}" aria-label="${esc(full)}"` : '';
      return `<th scope="col" aria-sort="${sort}" class="${c.numeric ? 'num' : ''}"><button type="button" data-key="${c.key}"${abbr}>${esc(c.label)}<span aria-hidden="true">${sort === 'none' ? '' : sort === 'descending' ? ' ▼' : ' ▲'}</span></button></th>`;
    }).join('');
    const body = sorted.map((r) => `<tr>${columns.map((c, i) => {
      const text = esc(cellText(c, r[c.key]));
      return `<td class="${i === 0 ? 'name' : c.numeric ? 'num' : c.type === 'date' ? 'date' : ''}">${text}</td>`;
    }).join('')}</tr>`).join('');
    const note = shown.length < rows.length ? ` (${count(shown.length)} of ${count(rows.length)} ${noun} shown)` : '';
    table.innerHTML = `<caption>${esc(caption + note)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody>`;
    // A caption scrolls sideways with its table; a note before the scrolling wrapper shows it in place.
    const visible = table.closest('.table-wrap')?.previousElementSibling;
    if (visible?.classList.contains('table-note')) visible.textContent = caption + note;
  }

  table.addEventListener('click', (e) => {
    const button = e.target.closest('button[data-key]');
    if (!button) return;
    const key = button.dataset.key;
    descending = key === sortKey ? !descending : columns.find((c) => c.key === key).numeric;
    sortKey = key;
    render();
    table.querySelector(`button[data-key="${key}"]`).focus();
  });

  return {
    set(newRows) { rows = newRows; render(); },
    /** Shows only the rows for which fn is true (null: all); rows still holds every row. */
    filter(fn) { keep = fn; render(); },
    get rows() { return rows; },
  };
}

export const provinceColumns = [
  { key: 'name', label: 'Province' },
  { key: 'acres', label: 'Net', title: 'Net acres cleared', numeric: true },
  { key: 'gross_acres', label: 'Gross', title: 'Gross acres cleared', numeric: true },
  { key: 'acres_poppy', label: 'Poppy', title: 'Poppy acres (net)', numeric: true },
  { key: 'acres_cannabis', label: 'Cannabis', title: 'Cannabis acres (net)', numeric: true },
  { key: 'reported_acres', label: 'Reported', title: 'Reported acres', numeric: true },
];

export const districtColumns = [
  { key: 'name', label: 'District' },
  { key: 'province_name', label: 'Province' },
  { key: 'acres', label: 'Net', title: 'Net acres cleared', numeric: true },
  { key: 'gross_acres', label: 'Gross', title: 'Gross acres cleared', numeric: true },
  { key: 'acres_poppy', label: 'Poppy', title: 'Poppy acres (net)', numeric: true },
  { key: 'acres_cannabis', label: 'Cannabis', title: 'Cannabis acres (net)', numeric: true },
  { key: 'reported_acres', label: 'Reported', title: 'Reported acres', numeric: true },
  { key: 'fields', label: 'Fields', title: 'Cleared fields', numeric: true, type: 'count' },
  { key: 'last_cleared_on', label: 'Last cleared', title: 'Last cleared on (yyyy-mm-dd)', type: 'date' },
];

/** True for a district with cleared acres or fields under the page's filters. */
export const hasClearance = (d) => (d.acres ?? 0) > 0 || (d.fields ?? 0) > 0;

/** Offers rows as a CSV file download. */
export function downloadCSV(filename, columns, rows) {
  const cell = (v) => {
    const s = String(v ?? '');
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [columns.map((c) => c.key).join(','), ...rows.map((r) => columns.map((c) => cell(r[c.key])).join(','))];
  const url = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/csv' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
