// The upload panel: drag-and-drop or choose a file, progress while
// sending, then the receipt, or every problem listed against the file.

import { upload } from './api.js';
import { acres, count, esc } from './format.js';

function problemsTable(problems, more, title) {
  if (!problems?.length) return '';
  const rows = problems.map((p) => `<tr><td class="num">${p.index < 0 ? '–' : count(p.index + 1)}</td><td>${esc(p.field_id || '–')}</td><td>${esc(p.message)}</td></tr>`).join('');
  return `<table class="problems"><caption>${esc(title)}</caption>
    <thead><tr><th scope="col" class="num">Feature</th><th scope="col">Field id</th><th scope="col">What to fix</th></tr></thead>
    <tbody>${rows}</tbody></table>${more ? `<p>…and ${count(more)} more.</p>` : ''}`;
}

function receiptHTML(status, r, fileName) {
  if (status === 201 || status === 200) {
    const districts = r.districts.map((d) => `<li>${esc(d.name)}: ${acres(d.acres)} acres</li>`).join('');
    return `<h3>${status === 200 ? 'Already received' : 'Stored'}: upload #${count(r.id)}</h3>
      <p><strong>${count(r.features)}</strong> field${r.features === 1 ? '' : 's'} from ${esc(fileName)},
      <strong>${acres(r.acres)} acres</strong> (${acres(r.hectares)} ha).</p>
      ${status === 200 ? '<p>This file was uploaded before; nothing was counted twice.</p>' : ''}
      <ul class="districts">${districts}</ul>
      ${problemsTable(r.warnings, r.more_warnings, 'Warnings (stored anyway)')}`;
  }
  // Anything else is an RFC 9457 problem: detail says what happened, and a
  // rejected upload lists its problems.
  const problems = r?.problems ?? [];
  const head = problems.length
    ? `Nothing was stored: ${count(problems.length + (r.more_problems || 0))} problem${problems.length === 1 && !r.more_problems ? '' : 's'} in ${esc(fileName)}. Fix them and upload the file again.`
    : `Not stored: ${esc(r?.detail || `the server answered ${status}`)}`;
  return `<h3 class="bad">${head}</h3>${problems.length ? `<p>${esc(r.detail || '')}</p>` : ''}
    ${problemsTable(problems, r?.more_problems, 'Problems, by feature (counted from 1)')}`;
}

/** Wires the panel; onStored runs after an upload is stored. */
export function setUpUpload(onStored) {
  const drop = document.getElementById('drop');
  const input = document.getElementById('file');
  const bar = document.getElementById('upload-bar');
  const status = document.getElementById('upload-status');
  const progress = document.getElementById('upload-progress');
  const receipt = document.getElementById('receipt');

  async function send(file) {
    receipt.innerHTML = '';
    progress.hidden = false;
    bar.value = 0;
    status.textContent = `Sending ${file.name}…`;
    const defaults = {
      crop: document.getElementById('default-crop').value,
      cleared_on: document.getElementById('default-date').value,
      team: document.getElementById('default-team').value.trim(),
    };
    try {
      const res = await upload(file, defaults, (f) => {
        bar.value = Math.round(f * 100);
        status.textContent = f < 1 ? `Sending ${file.name}: ${Math.round(f * 100)}%` : 'Checking the fields…';
      });
      progress.hidden = true;
      receipt.innerHTML = receiptHTML(res.status, res.body, file.name);
      receipt.dataset.status = String(res.status);
      if (res.status === 201) onStored(res.body);
    } catch (e) {
      progress.hidden = true;
      receipt.innerHTML = `<h3 class="bad">Not sent: ${esc(e.message)}</h3>`;
      receipt.dataset.status = 'failed';
    }
    receipt.focus();
  }

  input.addEventListener('change', () => {
    if (input.files[0]) send(input.files[0]);
    input.value = '';
  });
  for (const type of ['dragenter', 'dragover']) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add('over'); });
  }
  for (const type of ['dragleave', 'drop']) {
    drop.addEventListener(type, () => drop.classList.remove('over'));
  }
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files?.[0];
    if (file) send(file);
  });
  receipt.tabIndex = -1;
}
