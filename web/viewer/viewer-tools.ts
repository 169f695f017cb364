// The viewer page's screen tools: fit / 1:1 / zoom, full screen, the on-screen keyboard for remote
// control, the hint that says where keys go, and the link-quality indicator.
import { keysymOf, type GlimpseViewer, type ViewDetail, type ViewerStats } from './glimpse-web/js/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** What the page shows while controlling, by where the keyboard focus is. */
const HINT_KEYS = 'Your keys go to the host while the screen has focus. Shift+Esc or a click outside the screen gives them back.';
const HINT_FOCUS = 'You control the host\'s screen: click or tap it to type there.';
const HINT_FULLSCREEN = 'Full screen: press Esc (or the Exit full screen button) to leave.';

/** The fit / 1:1 / zoom buttons follow the viewer's view. */
function wireZoom(viewer: GlimpseViewer, onView: (detail: ViewDetail) => void): void {
  const fit = $<HTMLButtonElement>('fit');
  const actual = $<HTMLButtonElement>('actual');
  fit.addEventListener('click', () => viewer.fit());
  actual.addEventListener('click', () => viewer.actualSize());
  $('zoom-in').addEventListener('click', () => viewer.zoomIn());
  $('zoom-out').addEventListener('click', () => viewer.zoomOut());
  const show = (detail: ViewDetail) => {
    fit.setAttribute('aria-pressed', String(detail.mode === 'fit'));
    actual.setAttribute('aria-pressed', String(detail.mode === 'zoom' && detail.zoom === 1));
    actual.title = `Zoom ${Math.round(detail.zoom * 100)}%; 1:1 shows one screen pixel per device pixel`;
    onView(detail);
  };
  viewer.addEventListener('view', (e) => show(e.detail));
}

/** Full screen for the screen and its tools (Fullscreen API), with a hint how to leave. */
function wireFullscreen(refreshHint: () => void): void {
  const button = $<HTMLButtonElement>('fullscreen');
  const area = $('viewer');
  if (!document.fullscreenEnabled) {
    button.classList.add('hidden');
    return;
  }
  button.addEventListener('click', () => {
    const done = document.fullscreenElement ? document.exitFullscreen() : area.requestFullscreen();
    done.catch(() => {}); // refused (no user gesture, a policy): the page stays as it is
  });
  document.addEventListener('fullscreenchange', () => {
    const on = document.fullscreenElement === area;
    button.textContent = on ? 'Exit full screen' : 'Full screen';
    button.setAttribute('aria-pressed', String(on));
    refreshHint();
  });
}

/**
 * The on-screen keyboard: a focused text field (the phone shows its keyboard) whose typing is sent
 * to the host as key presses.
 */
function wireKeyboard(viewer: GlimpseViewer, refreshHint: () => void): void {
  const field = $<HTMLInputElement>('keys');
  const press = (keysym: number) => {
    viewer.sendInput({ type: 'key', keysym, down: true });
    viewer.sendInput({ type: 'key', keysym, down: false });
  };
  $('keyboard').addEventListener('click', () => field.focus({ preventScroll: true }));
  field.addEventListener('beforeinput', (e) => {
    e.preventDefault();
    if (e.inputType === 'deleteContentBackward') press(keysymOf('Backspace'));
    else if (e.inputType === 'insertLineBreak') press(keysymOf('Enter'));
    else for (const ch of e.data ?? '') press(keysymOf(ch));
  });
  field.addEventListener('keydown', (e) => {
    // Keys that type no text (Enter, arrows, Escape...); text arrives as 'beforeinput'.
    if (e.key.length > 1 && e.key !== 'Unidentified' && e.key !== 'Process') {
      const keysym = keysymOf(e.key);
      if (keysym && e.key !== 'Shift') {
        e.preventDefault();
        press(keysym);
      }
    }
  });
  field.addEventListener('focus', refreshHint);
  field.addEventListener('blur', refreshHint);
}

/** 'good', 'fair' or 'poor' for a capture-to-paint latency. */
function level(latencyMs: number): string {
  return latencyMs < 150 ? 'good' : latencyMs < 400 ? 'fair' : 'poor';
}

/** The link-quality indicator, from the viewer's stats (latency: host capture to paint here). */
function wireQuality(viewer: GlimpseViewer, onStats: (stats: ViewerStats) => void): void {
  const q = $('quality');
  viewer.addEventListener('stats', (e) => {
    const s = e.detail;
    const ms = Math.max(0, Math.round(s.latencyMs));
    const fps = Math.round(s.fps);
    q.textContent = `${ms} ms · ${fps} fps`;
    q.dataset['level'] = level(s.latencyMs);
    q.setAttribute('aria-label', `Link quality ${level(s.latencyMs)}: ${ms} milliseconds behind the host, ${fps} screen updates per second`);
    onStats(s);
  });
}

/** Wires the tools to the page's viewer. */
export function wireTools(viewer: GlimpseViewer, hooks: { onView: (detail: ViewDetail) => void; onStats: (stats: ViewerStats) => void }): { refreshHint: () => void } {
  const canvas = viewer.canvas;
  const hint = $('hint');
  const refreshHint = () => {
    const controlling = viewer.control === 'granted';
    const focused = document.activeElement === canvas || document.activeElement === $('keys');
    const text = document.fullscreenElement && !controlling ? HINT_FULLSCREEN
      : controlling ? (focused ? HINT_KEYS : HINT_FOCUS) + (document.fullscreenElement ? ' Esc leaves full screen.' : '')
        : '';
    hint.textContent = text;
    hint.classList.toggle('hidden', !text);
    $('keyboard').classList.toggle('hidden', !controlling);
  };
  canvas.addEventListener('focus', refreshHint);
  canvas.addEventListener('blur', refreshHint);
  viewer.addEventListener('control', refreshHint);
  wireZoom(viewer, hooks.onView);
  wireFullscreen(refreshHint);
  wireKeyboard(viewer, refreshHint);
  wireQuality(viewer, hooks.onStats);
  return { refreshHint };
}
