// Remote-control input from a viewer's canvas: pointer, wheel and keyboard events as Glimpse input
// events (screen pixels, wheel steps, X11 keysyms).
import { screenPoint } from './view-transform.js';

/** An input event for the host's screen (the same shapes the host receives). */
export type InputEvent =
  | { type: 'pointer-move'; x: number; y: number }
  /** button: 0 left, 1 middle, 2 right, 3 back, 4 forward (MouseEvent.button). */
  | { type: 'button'; button: number; down: boolean }
  /** Wheel steps; dy > 0 scrolls down. */
  | { type: 'wheel'; dx: number; dy: number }
  /** An X11 keysym (see keysymOf). */
  | { type: 'key'; keysym: number; down: boolean };

const NAMED_KEYS: Readonly<Record<string, number>> = {
  Enter: 0xff0d, Backspace: 0xff08, Tab: 0xff09, Escape: 0xff1b, Delete: 0xffff, Insert: 0xff63,
  Home: 0xff50, End: 0xff57, PageUp: 0xff55, PageDown: 0xff56,
  ArrowLeft: 0xff51, ArrowUp: 0xff52, ArrowRight: 0xff53, ArrowDown: 0xff54,
  Shift: 0xffe1, Control: 0xffe3, Alt: 0xffe9, Meta: 0xffeb, AltGraph: 0xfe03, CapsLock: 0xffe5,
  F1: 0xffbe, F2: 0xffbf, F3: 0xffc0, F4: 0xffc1, F5: 0xffc2, F6: 0xffc3,
  F7: 0xffc4, F8: 0xffc5, F9: 0xffc6, F10: 0xffc7, F11: 0xffc8, F12: 0xffc9,
};

/** The X11 keysym of a KeyboardEvent's `key`, or 0 when it has none. */
export function keysymOf(key: string): number {
  const named = NAMED_KEYS[key];
  if (named) return named;
  const chars = [...key];
  if (chars.length === 1) {
    const cp = chars[0]!.codePointAt(0)!;
    if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp;
    return 0x01000000 + cp;
  }
  return 0;
}

/**
 * Forwards the canvas's pointer, wheel and keyboard events through `send` while `active()` is true
 * (control granted), in screen pixels whatever the canvas's CSS size. Pointer moves are coalesced
 * to one per animation frame. Keys go to the host only while the canvas has focus; Shift+Escape
 * gives the focus back to the page, and keys held when the focus leaves are released on the host.
 * `skipTouch`: touch pointers are left alone (the viewer turns them into gestures). Returns a
 * function that removes the listeners.
 */
export function forwardCanvasInput(canvas: HTMLCanvasElement, active: () => boolean, send: (event: InputEvent) => void, options: { skipTouch?: boolean } = {}): () => void {
  const point = (event: MouseEvent): [number, number] => screenPoint(event.clientX, event.clientY, canvas.getBoundingClientRect(), canvas);
  const ours = (e: Event) => active() && !(options.skipTouch && (e as PointerEvent).pointerType === 'touch');
  let pendingMove: [number, number] | null = null;
  const held = new Set<number>();
  const releaseKeys = () => {
    for (const keysym of held) if (active()) send({ type: 'key', keysym, down: false });
    held.clear();
  };
  const listeners: [string, (e: Event) => void, AddEventListenerOptions?][] = [
    ['pointermove', (e) => {
      if (!ours(e)) return;
      if (!pendingMove) {
        requestAnimationFrame(() => {
          if (pendingMove && active()) send({ type: 'pointer-move', x: pendingMove[0], y: pendingMove[1] });
          pendingMove = null;
        });
      }
      pendingMove = point(e as PointerEvent);
    }],
    ['pointerdown', (e) => {
      if (!ours(e)) return;
      const p = e as PointerEvent;
      canvas.focus();
      const [x, y] = point(p);
      send({ type: 'pointer-move', x, y });
      send({ type: 'button', button: p.button, down: true });
      e.preventDefault();
    }],
    ['pointerup', (e) => {
      if (ours(e)) send({ type: 'button', button: (e as PointerEvent).button, down: false });
    }],
    ['contextmenu', (e) => {
      if (active()) e.preventDefault();
    }],
    ['wheel', (e) => {
      if (!active()) return;
      const w = e as WheelEvent;
      e.preventDefault();
      send({ type: 'wheel', dx: Math.sign(w.deltaX), dy: Math.sign(w.deltaY) });
    }, { passive: false }],
    ...(['keydown', 'keyup'] as const).map((type): [string, (e: Event) => void] => [type, (e) => {
      if (!active()) return;
      const k = e as KeyboardEvent;
      if (type === 'keydown' && k.key === 'Escape' && k.shiftKey) {
        e.preventDefault();
        canvas.blur(); // the way out: the keys are the page's again ('blur' releases what is held)
        return;
      }
      const keysym = keysymOf(k.key);
      if (!keysym) return;
      e.preventDefault();
      if (type === 'keydown') held.add(keysym);
      else held.delete(keysym);
      send({ type: 'key', keysym, down: type === 'keydown' });
    }]),
    ['blur', releaseKeys],
  ];
  if (canvas.tabIndex < 0) canvas.tabIndex = 0; // keyboard events need focus
  for (const [type, f, options] of listeners) canvas.addEventListener(type, f, options);
  return () => {
    for (const [type, f, options] of listeners) canvas.removeEventListener(type, f, options);
  };
}
