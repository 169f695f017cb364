// The quick-connect viewer page: joins a session by key over the relay's WebSocket, draws the screen
// with the Web SDK's GlimpseViewer, acknowledges what it painted (the relay paces each viewer to its
// own connection), reconnects with its resume token after a drop, and forwards pointer, wheel and
// keyboard once the host grants control.
import { init, GlimpseViewer } from '/pkg/js/index.js';
import * as msg from './session.js';

const $ = (id) => document.getElementById(id);
const canvas = $('screen');
const keyInput = $('key');
const controlButton = $('control');
const leaveButton = $('leave');

// Close codes from the relay that end the session for good (no reconnect).
const FINAL_CLOSE = new Set([4000, 4003, 4004, 4010, 4013, 4029, 1008, 1009]);
const RESUME_ATTEMPTS = 10;

/** State tests read: paints (seq, Date.now()) in order, errors, the close reason. */
const debug = {
  paints: [],
  errors: [],
  closes: [],
  viewerId: null,
  viewerCount: 0,
  connected: false,
  control: 'none',
  reconnects: 0,
  lastSeq: -1,
};
window.glimpseDebug = debug;

let viewer = null;
let ws = null;
let token = null;
let wanted = false; // the user wants to watch (reconnect on drops)
let control = 'none'; // none | asked | granted
let resumeAttempt = 0;

function status(text) { $('status').textContent = text; }
function error(text) {
  $('error').textContent = text || '';
  if (text) debug.errors.push(text);
}

function digits(text) { return text.replace(/[\s-]/g, ''); }

function wsUrl(query) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws/view?${query}`;
}

function hex(bytes) { return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(''); }

function setControl(state) {
  control = state;
  debug.control = state;
  canvas.classList.toggle('controlling', state === 'granted');
  controlButton.disabled = !debug.connected || state === 'asked';
  controlButton.textContent = state === 'granted' ? 'Controlling (view only)' : state === 'asked' ? 'Asked for control…' : 'Ask for control';
  if (state === 'granted') canvas.focus();
}

async function start(key) {
  await init();
  if (!viewer) {
    viewer = new GlimpseViewer(canvas, { size: 'natural' });
    viewer.addEventListener('error', (e) => debug.errors.push(`${e.detail.error.code}: ${e.detail.error.message}`));
  }
  wanted = true;
  token = null;
  resumeAttempt = 0;
  connect(`key=${encodeURIComponent(digits(key))}`);
}

function connect(query) {
  error('');
  status('Connecting…');
  const socket = new WebSocket(wsUrl(query));
  socket.binaryType = 'arraybuffer';
  ws = socket;
  socket.onmessage = (event) => {
    if (socket !== ws) return;
    const bytes = new Uint8Array(event.data);
    if (msg.isSessionMessage(bytes)) return onSessionMessage(bytes);
    if (!viewer.push(bytes)) return;
    const seq = msg.packetSeq(bytes);
    if (seq !== undefined) {
      debug.lastSeq = seq;
      debug.paints.push([seq, Date.now()]);
      if (debug.paints.length > 20000) debug.paints.splice(0, 10000);
      // Painted: tell the relay, which sends more only within this viewer's window.
      socket.send(msg.ack(seq));
    }
  };
  socket.onclose = (event) => {
    if (socket !== ws) return;
    debug.connected = false;
    debug.closes.push([event.code, event.reason]);
    setControl('none');
    if (!wanted) return;
    if (FINAL_CLOSE.has(event.code)) {
      wanted = false;
      error(event.reason || `closed (${event.code})`);
      status('Not connected.');
      leaveButton.classList.add('hidden');
      return;
    }
    resume();
  };
}

function resume() {
  resumeAttempt++;
  if (!token || resumeAttempt > RESUME_ATTEMPTS) {
    wanted = false;
    status('Not connected.');
    error('Connection lost. Type the key again.');
    return;
  }
  status(`Connection lost; reconnecting (${resumeAttempt})…`);
  setTimeout(() => {
    if (!wanted) return;
    debug.reconnects++;
    connect(`resume=${hex(token)}`);
  }, Math.min(250 * resumeAttempt, 2000));
}

function onSessionMessage(bytes) {
  let m;
  try {
    m = msg.decode(bytes);
  } catch (e) {
    error(`bad message from the relay: ${e.message}`);
    return;
  }
  switch (m.type) {
    case 'welcome':
      token = m.token;
      resumeAttempt = 0;
      debug.viewerId = m.viewer;
      debug.connected = true;
      status('Watching.');
      leaveButton.classList.remove('hidden');
      setControl('none');
      break;
    case 'viewer-count':
      debug.viewerCount = m.count;
      status(m.count <= 1 ? 'Watching (the only viewer).' : `Watching with ${m.count - 1} other viewer${m.count === 2 ? '' : 's'}.`);
      break;
    case 'control-granted': setControl('granted'); break;
    case 'control-refused': setControl('none'); error('The host refused control.'); break;
    case 'control-revoked': setControl('none'); status('The host took control back.'); break;
    default: break;
  }
}

function send(bytes) {
  if (ws && ws.readyState === WebSocket.OPEN && control === 'granted') ws.send(bytes);
}

/** Canvas pixel under a pointer event (the canvas may be scaled by CSS). */
function screenPoint(event) {
  const r = canvas.getBoundingClientRect();
  const x = Math.floor(((event.clientX - r.left) * canvas.width) / r.width);
  const y = Math.floor(((event.clientY - r.top) * canvas.height) / r.height);
  return [Math.max(0, Math.min(canvas.width - 1, x)), Math.max(0, Math.min(canvas.height - 1, y))];
}

let pendingMove = null;
canvas.addEventListener('pointermove', (e) => {
  if (control !== 'granted') return;
  if (!pendingMove) requestAnimationFrame(() => { send(msg.pointerMove(...pendingMove)); pendingMove = null; });
  pendingMove = screenPoint(e);
});
canvas.addEventListener('pointerdown', (e) => {
  if (control !== 'granted') return;
  canvas.focus();
  send(msg.pointerMove(...screenPoint(e)));
  send(msg.button(e.button, true));
  e.preventDefault();
});
canvas.addEventListener('pointerup', (e) => { if (control === 'granted') send(msg.button(e.button, false)); });
canvas.addEventListener('contextmenu', (e) => { if (control === 'granted') e.preventDefault(); });
canvas.addEventListener('wheel', (e) => {
  if (control !== 'granted') return;
  e.preventDefault();
  send(msg.wheel(Math.sign(e.deltaX), Math.sign(e.deltaY)));
}, { passive: false });
for (const [type, down] of [['keydown', true], ['keyup', false]]) {
  canvas.addEventListener(type, (e) => {
    if (control !== 'granted') return;
    const keysym = msg.keysymOf(e);
    if (!keysym) return;
    e.preventDefault();
    send(msg.key(keysym, down));
  });
}

controlButton.addEventListener('click', () => {
  if (!ws || ws.readyState !== WebSocket.OPEN || control !== 'none') return;
  ws.send(msg.controlRequest());
  setControl('asked');
});

leaveButton.addEventListener('click', () => {
  wanted = false;
  ws?.close(1000, 'viewer left');
  leaveButton.classList.add('hidden');
  status('Left the session.');
});

$('join').addEventListener('submit', (e) => {
  e.preventDefault();
  const key = digits(keyInput.value);
  if (!/^\d{9}$/.test(key)) {
    error('A key is 9 digits, like 123 456 789.');
    return;
  }
  ws?.close(1000, 'new key');
  start(key).catch((err) => error(`cannot start the viewer: ${err.message}`));
});

keyInput.addEventListener('input', () => {
  const d = digits(keyInput.value).replace(/\D/g, '').slice(0, 9);
  keyInput.value = d.replace(/(\d{3})(?=\d)/g, '$1 ');
});

const fromUrl = new URLSearchParams(location.search).get('key');
if (fromUrl) {
  keyInput.value = digits(fromUrl).replace(/(\d{3})(?=\d)/g, '$1 ');
  start(fromUrl).catch((err) => error(`cannot start the viewer: ${err.message}`));
}
