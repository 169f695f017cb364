// The relay's viewer page: joins a session by key with glimpse-web's GlimpseViewer.join (the key
// typed, or from the link's #key= fragment, which browsers never send to a server). The package does
// the rest: the relay's messages, painting, acks, reconnection, remote control input.
import {
  init, GlimpseViewer, ErrorCode, sessionKeyDigits, type GlimpseError, type ViewerState,
} from './glimpse-web/js/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>('screen');
const keyInput = $<HTMLInputElement>('key');
const controlButton = $<HTMLButtonElement>('control');
const leaveButton = $<HTMLButtonElement>('leave');

const MAX_SAMPLES = 100_000;

/** What tests read (connect/e2e/page_viewer.mjs): paints and state changes with Date.now(). */
interface GlimpseDebug {
  /** [seq, Date.now()] of every painted checkpoint and update (the most recent 100 000). */
  paints: [number, number][];
  /** [state, Date.now()] of every state change. */
  states: [ViewerState, number][];
  /** Messages shown to the user, and errors the viewer reported. */
  errors: string[];
  /** Control changes: [state, change, Date.now()]. */
  control: [string, string, number][];
  viewerCount: number;
  /** The first screen was painted. */
  joined: boolean;
  /** The key being viewed (digits). */
  key: string | null;
}

const debug: GlimpseDebug = { paints: [], states: [], errors: [], control: [], viewerCount: 0, joined: false, key: null };
(window as unknown as { glimpseDebug: GlimpseDebug }).glimpseDebug = debug;

function push<T>(list: T[], value: T): void {
  if (list.length >= MAX_SAMPLES) list.splice(0, MAX_SAMPLES / 2);
  list.push(value);
}

function status(text: string): void {
  $('status').textContent = text;
}

function showError(text: string): void {
  $('error').textContent = text;
  if (text) push(debug.errors, text);
}

/** '123456789' -> '123 456 789' (also for a partly typed key). */
function grouped(digits: string): string {
  return digits.replace(/(\d{3})(?=\d)/g, '$1 ');
}

/** What to tell the user when the session ended. */
function endMessage(error: GlimpseError | undefined): string {
  if (!error) return 'Not connected.';
  switch (error.code) {
    case ErrorCode.CLOSED: return '';
    case ErrorCode.UNKNOWN_SESSION_KEY: return 'No session has this key. Check it with the host.';
    case ErrorCode.SESSION_KEY_EXPIRED: return 'This key expired. Ask the host for a new one.';
    case ErrorCode.RATE_LIMITED: return 'Too many wrong keys. Wait a minute, then try again.';
    case ErrorCode.SESSION_ENDED: return 'The host ended the session.';
    case ErrorCode.REMOVED: return 'The host removed you from the session.';
    case ErrorCode.RELAY_UNREACHABLE: return 'Cannot reach the relay.';
    case ErrorCode.TIMEOUT: return 'The shared screen did not arrive in time.';
    default: return error.message;
  }
}

let viewer: GlimpseViewer | null = null;
let viewerCount = 0;

function watching(): string {
  return viewerCount <= 1 ? 'Watching (the only viewer).' : `Watching with ${viewerCount - 1} other viewer${viewerCount === 2 ? '' : 's'}.`;
}

function onState(state: ViewerState, error: GlimpseError | undefined, delayMs: number | undefined): void {
  push(debug.states, [state, Date.now()]);
  const live = state === 'connected' || state === 'host-away';
  controlButton.disabled = !live || viewer?.control !== 'none';
  leaveButton.classList.toggle('hidden', state === 'ended');
  switch (state) {
    case 'connecting': status('Connecting…'); break;
    case 'connected': showError(''); status(watching()); break;
    case 'host-away': status('The host\'s connection dropped: the screen is frozen until it is back.'); break;
    case 'reconnecting': status(`Connection lost; reconnecting${delayMs === undefined ? '' : ` in ${(delayMs / 1000).toFixed(1)} s`}…`); break;
    case 'ended':
      status(error?.code === ErrorCode.CLOSED ? 'Left the session.' : 'Not connected.');
      showError(endMessage(error));
      canvas.classList.remove('controlling');
      break;
    case 'idle': break;
  }
}

async function viewerForPage(): Promise<GlimpseViewer> {
  if (viewer) return viewer;
  await init();
  const v = new GlimpseViewer(canvas, { size: 'natural' });
  v.addEventListener('state', (e) => onState(e.detail.state, e.detail.error, e.detail.delayMs));
  v.addEventListener('paint', (e) => push(debug.paints, [e.detail.seq, e.detail.paintedAtMs]));
  v.addEventListener('viewers', (e) => {
    viewerCount = debug.viewerCount = e.detail.count;
    if (v.state === 'connected') status(watching());
  });
  v.addEventListener('control', (e) => {
    const { state, change } = e.detail;
    push(debug.control, [state, change, Date.now()]);
    canvas.classList.toggle('controlling', state === 'granted');
    controlButton.disabled = state !== 'none' || (v.state !== 'connected' && v.state !== 'host-away');
    controlButton.textContent = state === 'granted' ? 'Controlling' : state === 'asked' ? 'Asked for control…' : 'Ask for control';
    if (change === 'refused') showError('The host refused control.');
    if (change === 'revoked' && v.state === 'connected') status('The host took control back.');
    if (state === 'granted') canvas.focus();
  });
  v.addEventListener('error', (e) => push(debug.errors, `${e.detail.error.code}: ${e.detail.error.message}`));
  viewer = v;
  return v;
}

async function join(typed: string): Promise<void> {
  const v = await viewerForPage();
  let digits: string;
  try {
    digits = sessionKeyDigits(typed);
  } catch {
    showError('A key is 9 digits, like 123 456 789.');
    return;
  }
  v.leave();
  showError('');
  debug.key = digits;
  debug.joined = false;
  keyInput.value = grouped(digits);
  try {
    await v.join(location.href, digits, { name: '' });
    debug.joined = true;
  } catch {
    // The 'state' event ('ended') already said why.
  }
}

/** The key of a join link: /#key=123456789 (never sent to the server). */
function keyFromFragment(): string | null {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  return params.get('key');
}

function start(typed: string): void {
  join(typed).catch((e: unknown) => showError(`cannot start the viewer: ${e instanceof Error ? e.message : String(e)}`));
}

$('join').addEventListener('submit', (e) => {
  e.preventDefault();
  start(keyInput.value);
});

keyInput.addEventListener('input', () => {
  keyInput.value = grouped(keyInput.value.replace(/\D/g, '').slice(0, 9));
});

controlButton.addEventListener('click', () => {
  viewer?.requestControl();
});

leaveButton.addEventListener('click', () => {
  viewer?.leave();
});

window.addEventListener('hashchange', () => {
  const key = keyFromFragment();
  if (key) start(key);
});

const linked = keyFromFragment();
if (linked) {
  start(linked);
} else {
  init().catch((e: unknown) => showError(`cannot load the viewer: ${e instanceof Error ? e.message : String(e)}`));
}
