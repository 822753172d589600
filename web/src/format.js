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

export const count = (n) => (n == null ? '–' : whole.format(n));
export const percent = (p) => `${one.format(p * 100)}%`;

/** Escapes text for HTML. */
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

const short = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
/** Short numbers for chart axes: 40.7K. */
export const compact = (n) => short.format(n);
