// The relay's viewer page: joins a session by code with glimpse-web's GlimpseViewer.join (the code
// typed, or from the link's #code= fragment, which browsers never send to a server). The package does
// the rest: the key exchange with the host, the encrypted stream, painting, acks, reconnection,
// remote control input, fitting the screen to the window, touch. The screen tools (zoom, full
// screen, keyboard, link quality) are in viewer-tools.ts.
import {
  init, GlimpseViewer, ErrorCode, codeDigits, type GlimpseError, type ViewDetail, type ViewerState,
} from './glimpse-web/js/index.js';
import { wireTools } from './viewer-tools.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>('screen');
const codeInput = $<HTMLInputElement>('code');
const nameInput = $<HTMLInputElement>('name');
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
  /** The code being viewed (digits). */
  code: string | null;
  /** The host's name, once let in. */
  hostName: string;
  /** How the screen is drawn (the viewer's 'view' events). */
  view: ViewDetail | null;
  /** The last link-quality figures shown: [latency ms, frames per second]. */
  quality: [number, number] | null;
}

const debug: GlimpseDebug = {
  paints: [], states: [], errors: [], control: [], viewerCount: 0, joined: false, code: null, hostName: '',
  view: null, quality: null,
};

/** Where the viewer's name is remembered (this browser only). */
const NAME_KEY = 'glimpse-name';

function rememberedName(): string {
  try {
    return localStorage.getItem(NAME_KEY) ?? '';
  } catch {
    return ''; // storage blocked
  }
}

function rememberName(name: string): void {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // storage blocked: the name is used for this join only
  }
}
(window as unknown as { glimpseDebug: GlimpseDebug }).glimpseDebug = debug;

function push<T>(list: T[], value: T): void {
  if (list.length >= MAX_SAMPLES) list.splice(0, MAX_SAMPLES / 2);
  list.push(value);
}

function status(text: string, state: ViewerState | 'wrong-code' = 'idle'): void {
  const el = $('status');
  el.textContent = text;
  el.dataset['state'] = state;
}

function showError(text: string): void {
  $('error').textContent = text;
  if (text) push(debug.errors, text);
}

/** '1234567890' -> '123 456 7890' (also for a partly typed code). */
function grouped(digits: string): string {
  return [digits.slice(0, 3), digits.slice(3, 6), digits.slice(6, 10)].filter(Boolean).join(' ');
}

/** What to tell the user when the session ended. */
function endMessage(error: GlimpseError | undefined): string {
  if (!error) return 'Not connected.';
  switch (error.code) {
    case ErrorCode.CLOSED: return '';
    case ErrorCode.UNKNOWN_SESSION: return 'No session has this code. Check its first five digits with the host.';
    case ErrorCode.WRONG_CODE: return 'Wrong code. Check the digits with the host (after three wrong tries the host gets a new code).';
    case ErrorCode.NOT_ADMITTED: return 'The host did not let you in.';
    case ErrorCode.CODE_EXPIRED: return 'This code expired. Ask the host for a new one.';
    case ErrorCode.RATE_LIMITED: return 'Too many wrong codes. Wait a minute, then try again.';
    case ErrorCode.LIMIT_EXCEEDED: return `This screen is too large for this device: ${error.message}`;
    case ErrorCode.SESSION_ENDED: return 'The host ended the session.';
    case ErrorCode.REMOVED: return 'The host removed you from the session.';
    case ErrorCode.RELAY_UNREACHABLE: return 'Cannot reach the relay.';
    case ErrorCode.TIMEOUT: return 'The shared screen did not arrive in time.';
    default: return error.message;
  }
}

let viewer: GlimpseViewer | null = null;
let viewerCount = 0;

/** "N watching", this viewer included. */
function watching(): string {
  return `${Math.max(1, viewerCount)} watching`;
}

/** Whose screen this is, for the page and the canvas's text alternative. */
function hostLabel(): string {
  const name = viewer?.hostName ?? '';
  return name ? `${name}'s screen` : 'The host\'s screen';
}

/** After joining the screen takes the place of the join form; when the session ends the form is back. */
function showSession(inSession: boolean): void {
  $('join').classList.toggle('hidden', inSession);
  $('session').classList.toggle('hidden', !inSession);
  $('tools').classList.toggle('hidden', !inSession);
  if (!inSession) $('hint').classList.add('hidden');
}

function onState(state: ViewerState, error: GlimpseError | undefined, delayMs: number | undefined): void {
  push(debug.states, [state, Date.now()]);
  const live = state === 'connected' || state === 'host-away';
  controlButton.disabled = !live || viewer?.control !== 'none';
  $<HTMLButtonElement>('connect').disabled = state === 'connecting';
  switch (state) {
    case 'connecting': status('Connecting…', state); break;
    case 'connected':
      debug.hostName = viewer?.hostName ?? '';
      showError('');
      showSession(true);
      $('host').textContent = hostLabel();
      $('watching').textContent = watching();
      canvas.setAttribute('aria-label', `${hostLabel()}, shared with you by Glimpse`);
      status('Connected.', state);
      break;
    case 'host-away': status('Host paused: their connection dropped, the screen is frozen until they are back.', state); break;
    case 'reconnecting': status(`Connection lost; reconnecting${delayMs === undefined ? '' : ` in ${(delayMs / 1000).toFixed(1)} s`}…`, state); break;
    case 'ended': {
      const wrong = error?.code === ErrorCode.WRONG_CODE || error?.code === ErrorCode.UNKNOWN_SESSION;
      status(error?.code === ErrorCode.CLOSED ? 'Left the session.' : error?.code === ErrorCode.SESSION_ENDED ? 'The host ended the session.' : 'Not connected.', wrong ? 'wrong-code' : state);
      showError(endMessage(error));
      canvas.classList.remove('controlling');
      canvas.setAttribute('aria-label', `${hostLabel()}: not connected`);
      showSession(false);
      if (wrong) codeInput.focus();
      break;
    }
    case 'idle': break;
  }
}

/**
 * Loads the engine: the .wasm the page preloads, with the integrity hash build-web.sh wrote there
 * (a changed file is refused), else the package's default.
 */
function loadEngine(): Promise<void> {
  const preload = document.querySelector<HTMLLinkElement>('link[rel="preload"][as="fetch"][href$=".wasm"]');
  return preload?.integrity ? init(preload.href, { integrity: preload.integrity }) : init();
}

async function viewerForPage(): Promise<GlimpseViewer> {
  if (viewer) return viewer;
  await loadEngine();
  const v = new GlimpseViewer(canvas, { size: 'fit' });
  v.addEventListener('state', (e) => onState(e.detail.state, e.detail.error, e.detail.delayMs));
  v.addEventListener('paint', (e) => push(debug.paints, [e.detail.seq, e.detail.paintedAtMs]));
  v.addEventListener('resize', () => { debug.view = { mode: v.viewMode, zoom: v.zoom }; });
  v.addEventListener('viewers', (e) => {
    viewerCount = debug.viewerCount = e.detail.count;
    $('watching').textContent = watching();
  });
  v.addEventListener('control', (e) => {
    const { state, change } = e.detail;
    push(debug.control, [state, change, Date.now()]);
    canvas.classList.toggle('controlling', state === 'granted');
    controlButton.disabled = state !== 'none' || (v.state !== 'connected' && v.state !== 'host-away');
    controlButton.textContent = state === 'granted' ? 'Controlling' : state === 'asked' ? 'Asked for control…' : 'Ask for control';
    if (change === 'refused') showError('The host refused control.');
    if (change === 'revoked' && v.state === 'connected') status('The host took control back.', v.state);
    if (state === 'granted') canvas.focus();
  });
  wireTools(v, {
    onView: (detail) => { debug.view = detail; },
    onStats: (stats) => { debug.quality = [stats.latencyMs, stats.fps]; },
  });
  v.addEventListener('error', (e) => push(debug.errors, `${e.detail.error.code}: ${e.detail.error.message}`));
  viewer = v;
  return v;
}

async function join(typed: string): Promise<void> {
  const v = await viewerForPage();
  let digits: string;
  try {
    digits = codeDigits(typed);
  } catch {
    showError('A code is 10 digits, like 123 456 7890.');
    return;
  }
  v.leave();
  showError('');
  debug.code = digits;
  debug.joined = false;
  codeInput.value = grouped(digits);
  const name = nameInput.value.trim();
  rememberName(name);
  try {
    await v.join(location.href, digits, { name });
    debug.joined = true;
  } catch {
    // The 'state' event ('ended') already said why.
  }
}

/** The code of a join link: /#code=1234567890 (never sent to the server). */
function codeFromFragment(): string | null {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  return params.get('code');
}

function start(typed: string): void {
  join(typed).catch((e: unknown) => showError(`cannot start the viewer: ${e instanceof Error ? e.message : String(e)}`));
}

$('join').addEventListener('submit', (e) => {
  e.preventDefault();
  start(codeInput.value);
});

codeInput.addEventListener('input', () => {
  codeInput.value = grouped(codeInput.value.replace(/\D/g, '').slice(0, 10));
});

nameInput.value = rememberedName();

controlButton.addEventListener('click', () => {
  viewer?.requestControl();
});

leaveButton.addEventListener('click', () => {
  viewer?.leave();
});

window.addEventListener('hashchange', () => {
  const code = codeFromFragment();
  if (code) start(code);
});

const linked = codeFromFragment();
if (linked) {
  start(linked);
} else {
  loadEngine().catch((e: unknown) => showError(`cannot load the viewer: ${e instanceof Error ? e.message : String(e)}`));
}
