// The page's script. Every value from the server or the URL is written with textContent or as a
// DOM property, never as HTML (the gateway's Content-Security-Policy allows only this file).
'use strict';
const $ = id => document.getElementById(id);
const token = () => $('token').value.trim();
const auth = () => ({ 'Authorization': 'Bearer ' + token() });
const views = {};
let ws, lastSeq = {};

// A token in the fragment (#token=..., never sent to the server; the demo prints such a link) fills
// the field and is then removed from the address bar. Nothing is pre-filled otherwise.
(() => {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) {
    $('token').value = decodeURIComponent(m[1]);
    history.replaceState(null, '', location.pathname + location.search);
  }
})();

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c);
  return e;
}

function connect() {
  if (!token()) { setTimeout(connect, 1000); return; }
  ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/ws?token=' + encodeURIComponent(token()));
  ws.onopen = () => { const subs = Object.keys(views).map(j => ({ jobId: j, afterSeq: lastSeq[j] || -1 })); if (subs.length) ws.send(JSON.stringify({ subscribe: subs })); };
  ws.onmessage = m => { const f = JSON.parse(m.data); if (f.type === 'event') onEvent(f.data); if (f.type === 'snapshot') onSnapshot(f.data); };
  ws.onclose = () => setTimeout(connect, 1000);   // reconnect, resuming after the last seq seen
}

function view(jobId, kind) {
  if (!views[jobId]) {
    const d = el('div', { className: 'job' },
      el('b', { textContent: String(kind) }), ' ', el('code', { textContent: String(jobId) }), ' ',
      el('span', { className: 'state', textContent: 'queued' }), ' ', el('span', { className: 'info muted' }),
      el('div', { className: 'bar' }, el('div')), el('div', { className: 'images' }));
    $('jobs').prepend(d);
    views[jobId] = d;
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ subscribe: [{ jobId, afterSeq: -1 }] }));
  }
  if (kind !== 'job') views[jobId].querySelector('b').textContent = String(kind);
  return views[jobId];
}

function onSnapshot(s) { const v = view(s.jobId, s.jobType); v.querySelector('.state').textContent = s.state; }

const STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

function onEvent(e) {
  if (e.seq <= (lastSeq[e.jobId] || -1)) return;
  lastSeq[e.jobId] = e.seq;
  const v = view(e.jobId, e.jobType);
  v.className = 'job' + (STATES.includes(e.state) ? ' ' + e.state : '');
  v.querySelector('.state').textContent = e.state;
  if (e.kind === 'progress') {
    v.querySelector('.bar > div').style.width = (100 * Number(e.step) / Number(e.total)) + '%';
    v.querySelector('.info').textContent = `step ${e.step}/${e.total}` + (e.loss != null ? `  loss ${Number(e.loss).toFixed(4)}` : '') + `  ETA ${(Number(e.etaMs) / 1000).toFixed(1)} s`;
    if (e.preview) {
      let p = v.querySelector('img.preview');
      if (!p) { p = el('img', { className: 'preview' }); v.querySelector('.images').append(p); }
      p.src = 'data:image/png;base64,' + String(e.preview).replace(/[^A-Za-z0-9+/=]/g, '');
    }
  }
  if (e.error) v.querySelector('.info').textContent = (e.error.field ? e.error.field + ': ' : '') + e.error.reason;
  if (e.kind === 'result') {
    v.querySelector('.bar > div').style.width = '100%';
    const imgs = v.querySelector('.images'); imgs.replaceChildren();
    (e.result.imageBlobIds || []).forEach(async (_, n) => {
      const r = await fetch(`/v1/jobs/${encodeURIComponent(e.jobId)}/images/${n}`, { headers: auth() });
      if (r.ok) imgs.append(el('img', { className: 'result', src: URL.createObjectURL(await r.blob()) }));
    });
    if (e.result.conceptId) { v.querySelector('.info').textContent = `concept ${e.result.conceptId} (${e.result.fileBytes} bytes)`; loadConcepts(); }
  }
}

// A refusal is shown on the page as text (the server's field and reason), not in a dialog.
function showError(text) { $('error').textContent = text; }

async function post(path, body) {
  showError('');
  const r = await fetch(path, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) { showError((j.field ? j.field + ': ' : '') + (j.reason || j.error)); return null; }
  return j.jobId;
}

const selectedConcepts = () => [...$('concept').selectedOptions].map(o => o.value);

async function loadConcepts() {
  if (!token()) return;
  const r = await fetch('/v1/concepts', { headers: auth() });
  if (!r.ok) return;
  const sel = $('concept'); const chosen = new Set(selectedConcepts());
  const list = (await r.json()).sort((a, b) => String(a.placeholder).localeCompare(String(b.placeholder)));
  const options = list.map(c => el('option', { value: String(c.conceptId), textContent: `${c.placeholder} (${c.superclass})`, selected: chosen.has(String(c.conceptId)) }));
  sel.replaceChildren(...options);
}

$('generate').onclick = async () => {
  const body = { prompt: $('prompt').value, steps: +$('gsteps').value, guidance: +$('guidance').value, seed: +$('seed').value, imageCount: +$('count').value, globalLock: $('global').checked };
  if ($('negative').value) body.negativePrompt = $('negative').value;
  const concepts = selectedConcepts();
  if (concepts.length) body.concepts = concepts.map(conceptId => ({ conceptId, beta: +$('beta').value }));
  // Empty means off: the request then leaves the field out (and stays readable by older workers).
  if ($('cguidance').value.trim()) body.conceptGuidance = +$('cguidance').value;
  const id = await post('/v1/jobs/generate', body); if (id) view(id, 'generate');
};

$('train').onclick = async () => {
  const images = [];
  for (const f of $('files').files) {
    const r = await fetch('/v1/blobs', { method: 'POST', headers: auth(), body: f });
    if (!r.ok) { showError('upload failed (' + r.status + ')'); return; }
    images.push({ blobId: (await r.json()).blobId });
  }
  if (!images.length) { showError('images: choose some images'); return; }
  const options = { batchSize: 2, gradientAccumulation: 1 };
  // auto is the default: the request then leaves the field out (and stays readable by older workers).
  if ($('flip').value !== 'auto') options.flip = $('flip').value;
  // Empty or 0 is the paper's locked key, likewise left out; anything else goes as typed and the
  // gateway's schema check answers a bad value with its field.
  const keyRate = $('keyrate').value.trim();
  if (keyRate && +keyRate !== 0) options.keyRate = +keyRate;
  const id = await post('/v1/jobs/train', { conceptName: $('word').value, superclass: $('superclass').value, images, steps: +$('tsteps').value,
    options });
  if (id) view(id, 'train');
};

$('token').onchange = () => { loadConcepts(); if (ws) ws.close(); };

const watch = new URLSearchParams(location.search).get('watch');
if (watch) watch.split(',').slice(0, 50).forEach(j => view(j, 'job'));
connect(); loadConcepts();
