// Numbers as people read them: thousands separators, sensible decimals.

const whole = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const one = new Intl.NumberFormat('en', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const two = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });

/** Acres: whole from 100 up, one decimal below, two under one acre. */
export function acres(n) {
  if (n == null) return '–';
  if (n >= 100) return whole.format(n);
  if (n >= 1) return one.format(n);
  return two.format(n);
}

/** Acres in tables: always one decimal, with thousands separators. */
export const acres1 = (n) => (n == null ? '–' : one.format(n));

/** A date as yyyy-mm-dd (ISO 8601), whatever form the API gave it in. */
export function isoDate(v) {
  if (v == null || v === '') return '–';
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(String(v));
  if (m) return m[1];
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toISOString().slice(0, 10);
}

export const count = (n) => (n == null ? '–' : whole.format(n));
export const percent = (p) => `${one.format(p * 100)}%`;

/** Escapes text for HTML. */
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

const short = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
/** Short numbers for chart axes: 40.7K. */
export const compact = (n) => short.format(n);
