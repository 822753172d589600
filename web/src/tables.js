// Sortable tables of provinces and districts, with CSV download.

import { acres, count, esc } from './format.js';

/**
 * Renders rows into a table whose column headers are buttons that sort it.
 * columns: [{key, label, numeric}]. Keeps its sort across re-renders.
 */
export function sortableTable(table, columns, caption) {
  let rows = [];
  let sortKey = columns.find((c) => c.numeric)?.key ?? columns[0].key;
  let descending = true;

  function render() {
    const col = columns.find((c) => c.key === sortKey);
    const sorted = [...rows].sort((a, b) => {
      const x = a[sortKey] ?? (col.numeric ? -Infinity : '');
      const y = b[sortKey] ?? (col.numeric ? -Infinity : '');
      const order = col.numeric ? x - y : String(x).localeCompare(String(y));
      return descending ? -order : order;
    });
    const head = columns.map((c) => {
      const sort = c.key === sortKey ? (descending ? 'descending' : 'ascending') : 'none';
      return `<th scope="col" aria-sort="${sort}" class="${c.numeric ? 'num' : ''}"><button type="button" data-key="${c.key}">${esc(c.label)}<span aria-hidden="true">${sort === 'none' ? '' : sort === 'descending' ? ' ▼' : ' ▲'}</span></button></th>`;
    }).join('');
    const body = sorted.map((r) => `<tr>${columns.map((c) => {
      const v = r[c.key];
      return c.numeric ? `<td class="num">${c.key === 'fields' ? count(v) : acres(v)}</td>` : `<td>${esc(v ?? '–')}</td>`;
    }).join('')}</tr>`).join('');
    table.innerHTML = `<caption>${esc(caption)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody>`;
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
    get rows() { return rows; },
  };
}

export const provinceColumns = [
  { key: 'name', label: 'Province' },
  { key: 'acres', label: 'Net acres', numeric: true },
  { key: 'gross_acres', label: 'Gross acres', numeric: true },
  { key: 'acres_poppy', label: 'Poppy', numeric: true },
  { key: 'acres_cannabis', label: 'Cannabis', numeric: true },
  { key: 'reported_acres', label: 'Reported', numeric: true },
];

export const districtColumns = [
  { key: 'name', label: 'District' },
  { key: 'province_name', label: 'Province' },
  { key: 'acres', label: 'Net acres', numeric: true },
  { key: 'gross_acres', label: 'Gross acres', numeric: true },
  { key: 'acres_poppy', label: 'Poppy', numeric: true },
  { key: 'acres_cannabis', label: 'Cannabis', numeric: true },
  { key: 'reported_acres', label: 'Reported', numeric: true },
  { key: 'fields', label: 'Fields', numeric: true },
  { key: 'last_cleared_on', label: 'Last cleared' },
];

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
