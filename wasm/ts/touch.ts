// Touch gestures over a viewer's canvas (pure: points and times in, gestures out, no DOM), so that
// Node tests can drive them. One finger: a tap, a long press, or a drag. Two fingers: a pinch (the
// distance between them changes) or a scroll (they move together); under remote control the first
// clear movement decides which, and the gesture keeps it until the fingers lift.

/** What the fingers did. Positions and deltas are CSS pixels in the page (clientX, clientY). */
export type Gesture =
  | { type: 'tap'; x: number; y: number }
  | { type: 'long-press'; x: number; y: number }
  /** One finger dragging: pan the view by (dx, dy). */
  | { type: 'pan'; dx: number; dy: number }
  /** Two fingers: zoom by `scale` (relative to the last event) around (x, y), and pan by (dx, dy). */
  | { type: 'pinch'; scale: number; x: number; y: number; dx: number; dy: number }
  /** Two fingers moving together: scroll by (dx, dy) at (x, y). */
  | { type: 'scroll'; x: number; y: number; dx: number; dy: number };

/** Settings of a TouchGestures. */
export interface TouchSettings {
  /** A press held this long without moving is a long press (default 500 ms). */
  longPressMs?: number;
  /** Movement under this many CSS pixels is no movement (default 10). */
  slop?: number;
}

interface Finger {
  x: number;
  y: number;
  startX: number;
  startY: number;
}

/** Two fingers' centre and distance. */
function pair(a: Finger, b: Finger): { x: number; y: number; distance: number } {
  return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, distance: Math.hypot(a.x - b.x, a.y - b.y) };
}

/**
 * Turns touch points into gestures. Call down/move/up with each finger's id, position and time;
 * call check(now) `longPressMs` after a down (a timer) to get the long press. `twoFinger` says what
 * two fingers do: 'pinch' (zoom and pan together, when viewing) or 'pinch-or-scroll' (under remote
 * control: the first clear movement decides between a pinch and a scroll).
 */
export class TouchGestures {
  readonly longPressMs: number;
  readonly slop: number;
  readonly #fingers = new Map<number, Finger>();
  /** What the current gesture is; 'none' after it was spent (a long press, a lifted second finger). */
  #kind: 'pending' | 'drag' | 'two' | 'pinch' | 'scroll' | 'none' = 'none';
  #downAt = 0;
  #last: { x: number; y: number; distance: number } | null = null;
  #start: { x: number; y: number; distance: number } | null = null;

  constructor(settings: TouchSettings = {}) {
    this.longPressMs = settings.longPressMs ?? 500;
    this.slop = settings.slop ?? 10;
  }

  /** Fingers on the screen. */
  get fingers(): number { return this.#fingers.size; }

  down(id: number, x: number, y: number, now: number): Gesture[] {
    this.#fingers.set(id, { x, y, startX: x, startY: y });
    if (this.#fingers.size === 1) {
      this.#kind = 'pending';
      this.#downAt = now;
    } else if (this.#fingers.size === 2) {
      this.#kind = 'two';
      const [a, b] = [...this.#fingers.values()] as [Finger, Finger];
      this.#start = this.#last = pair(a, b);
    }
    return [];
  }

  move(id: number, x: number, y: number, twoFinger: 'pinch' | 'pinch-or-scroll'): Gesture[] {
    const f = this.#fingers.get(id);
    if (!f) return [];
    const dx = x - f.x;
    const dy = y - f.y;
    f.x = x;
    f.y = y;
    if (this.#fingers.size === 1) {
      if (this.#kind === 'pending' && Math.hypot(x - f.startX, y - f.startY) >= this.slop) this.#kind = 'drag';
      return this.#kind === 'drag' ? [{ type: 'pan', dx, dy }] : [];
    }
    if (this.#fingers.size !== 2 || !this.#last || !this.#start) return [];
    const [a, b] = [...this.#fingers.values()] as [Finger, Finger];
    const now = pair(a, b);
    if (this.#kind === 'two') {
      const spread = Math.abs(now.distance - this.#start.distance);
      const travel = Math.hypot(now.x - this.#start.x, now.y - this.#start.y);
      if (twoFinger === 'pinch') {
        if (Math.max(spread, travel) >= this.slop) this.#kind = 'pinch';
      } else if (Math.max(spread, travel) >= this.slop) {
        this.#kind = spread > travel ? 'pinch' : 'scroll';
      }
      if (this.#kind === 'two') return [];
      // The movement up to the decision counts: from the start, not from the last event.
      this.#last = this.#start;
    }
    const last = this.#last;
    this.#last = now;
    if (this.#kind === 'pinch') {
      const scale = last.distance > 0 && now.distance > 0 ? now.distance / last.distance : 1;
      return [{ type: 'pinch', scale, x: now.x, y: now.y, dx: now.x - last.x, dy: now.y - last.y }];
    }
    if (this.#kind === 'scroll') return [{ type: 'scroll', x: now.x, y: now.y, dx: now.x - last.x, dy: now.y - last.y }];
    return [];
  }

  up(id: number): Gesture[] {
    const f = this.#fingers.get(id);
    if (!f) return [];
    this.#fingers.delete(id);
    const out: Gesture[] = [];
    if (this.#fingers.size === 0 && this.#kind === 'pending') out.push({ type: 'tap', x: f.x, y: f.y });
    // A finger lifting ends the gesture: whatever the others do until they lift is ignored.
    this.#kind = 'none';
    this.#last = this.#start = null;
    return out;
  }

  /** A finger's touch was cancelled by the browser: the gesture ends with nothing. */
  cancel(id: number): void {
    this.#fingers.delete(id);
    this.#kind = 'none';
    this.#last = this.#start = null;
  }

  /** The long press, when one finger was held still for longPressMs by `now`. */
  check(now: number): Gesture[] {
    if (this.#kind !== 'pending' || this.#fingers.size !== 1 || now - this.#downAt < this.longPressMs) return [];
    this.#kind = 'none';
    const f = [...this.#fingers.values()][0]!;
    return [{ type: 'long-press', x: f.x, y: f.y }];
  }
}
