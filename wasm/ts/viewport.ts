// A viewer's view of the shared screen in the page: the canvas's CSS size (fit, 1:1, zoomed), the
// scroll position of its parent while zoomed, and touch (pinch-zoom and pan; under remote control
// tap = click, long press = right click, two-finger drag = wheel). The math is in view-transform.ts,
// the gestures in touch.ts.
import type { InputEvent } from './input.js';
import { TouchGestures, type Gesture } from './touch.js';
import {
  anchoredScroll, clampZoom, cssSize, fitZoom, screenPoint, stepZoom, DEFAULT_MAX_ZOOM, type Size, type ViewSize,
} from './view-transform.js';

/** Detail of a viewer's 'view' event: how the screen is drawn now. */
export interface ViewDetail {
  /** 'fit': scaled to the area; 'zoom': at `zoom` (1 = 1:1); 'manual': sized by the page's CSS. */
  mode: 'fit' | 'zoom' | 'manual';
  /** Device pixels per screen pixel (1 = 1:1, pixel-exact). */
  zoom: number;
}

/** What the viewport needs from its viewer. */
export interface ViewportPort {
  /** The shared screen's size (0 x 0 before the first checkpoint). */
  screen(): Size;
  /** True while touch under remote control goes to the host. */
  controlling(): boolean;
  send(event: InputEvent): void;
  /** The view changed (mode or zoom). */
  changed(detail: ViewDetail): void;
  /** The canvas moved or was resized in the page (the cursor overlay follows). */
  placed(): void;
}

/** Finger travel in CSS pixels per wheel step of a two-finger scroll. */
const WHEEL_STEP_PX = 30;

/** Sizes the canvas and handles touch over it. */
export class Viewport {
  readonly #canvas: HTMLCanvasElement;
  readonly #port: ViewportPort;
  readonly #maxZoom: number;
  #mode: ViewDetail['mode'];
  #zoom = 1;
  readonly #gestures = new TouchGestures();
  #longPressTimer: ReturnType<typeof setTimeout> | undefined;
  #wheel = { x: 0, y: 0 };
  readonly #touch: boolean;
  readonly #undo: (() => void)[] = [];

  constructor(canvas: HTMLCanvasElement, size: ViewSize, port: ViewportPort, options: { maxZoom?: number; touch?: boolean }) {
    this.#canvas = canvas;
    this.#port = port;
    this.#maxZoom = clampZoom(options.maxZoom ?? DEFAULT_MAX_ZOOM, 64);
    this.#mode = size === 'fit' ? 'fit' : size === 'natural' ? 'zoom' : 'manual';
    // By default only where the viewer manages the view: elsewhere a swipe scrolls the page as before.
    this.#touch = (options.touch ?? size === 'fit') && typeof window !== 'undefined';
    if (typeof window === 'undefined') return;
    const onResize = () => this.layout();
    window.addEventListener('resize', onResize);
    this.#undo.push(() => window.removeEventListener('resize', onResize));
    if (typeof ResizeObserver === 'function' && canvas.parentElement) {
      // The area changes without a window resize: full screen, a toolbar that wraps, the page's layout.
      const observer = new ResizeObserver(() => { if (this.#mode === 'fit') this.layout(); });
      observer.observe(canvas.parentElement);
      this.#undo.push(() => observer.disconnect());
    }
    if (this.#touch) this.#listenTouch();
  }

  get mode(): ViewDetail['mode'] { return this.#mode; }
  get zoom(): number { return this.#zoom; }
  /** Touch is handled here (not forwarded as mouse input). */
  get handlesTouch(): boolean { return this.#touch; }

  /** The area the screen is fitted into: the parent's content box, in CSS pixels. */
  #area(): Size {
    const parent = this.#canvas.parentElement;
    if (!parent) return { width: window.innerWidth, height: window.innerHeight };
    const s = getComputedStyle(parent);
    const px = (v: string) => parseFloat(v) || 0;
    return {
      width: Math.max(0, parent.clientWidth - px(s.paddingLeft) - px(s.paddingRight)),
      height: Math.max(0, parent.clientHeight - px(s.paddingTop) - px(s.paddingBottom)),
    };
  }

  /** Sizes the canvas for the current mode (after a new screen, a window resize, a dpr change). */
  layout(): void {
    const screen = this.#port.screen();
    const style = this.#canvas.style;
    if (this.#mode === 'manual' || !screen.width) {
      style.imageRendering = this.#mode === 'manual' ? 'auto' : style.imageRendering;
      this.#port.placed();
      return;
    }
    const dpr = globalThis.devicePixelRatio || 1;
    if (this.#mode === 'fit') {
      // Whole CSS pixels: a fraction over would show scroll bars, which shrink the area, and so on.
      const area = this.#area();
      this.#zoom = fitZoom(screen, { width: Math.floor(area.width), height: Math.floor(area.height) }, dpr);
    }
    const css = cssSize(screen, this.#zoom, dpr);
    style.width = `${css.width}px`;
    style.height = `${css.height}px`;
    style.flex = 'none';
    // One screen pixel per device pixel is drawn exactly; any other zoom is filtered smoothly.
    style.imageRendering = this.#zoom === 1 ? 'pixelated' : 'auto';
    this.#port.placed();
  }

  /** Fit the screen to the area (scaled down, never up). */
  fit(): void {
    this.#set('fit', this.#zoom);
  }

  /** Sets the zoom (1 = 1:1), keeping the page point (clientX, clientY) in place (default: the area's centre). */
  setZoom(zoom: number, clientX?: number, clientY?: number): void {
    this.#set('zoom', clampZoom(zoom, this.#maxZoom), clientX, clientY);
  }

  zoomBy(direction: 1 | -1): void {
    this.setZoom(stepZoom(this.#zoom, direction, this.#maxZoom));
  }

  #set(mode: 'fit' | 'zoom', zoom: number, clientX?: number, clientY?: number): void {
    const before = this.#zoom;
    const parent = this.#canvas.parentElement;
    const offset = this.#offset();
    this.#mode = mode;
    this.#zoom = zoom;
    this.layout();
    const box = parent?.getBoundingClientRect();
    if (parent && box && before > 0 && mode === 'zoom') {
      // The parent's scroll offset is not changed by the resize yet: the offsets are comparable.
      const after = this.#offset();
      const ax = (clientX ?? box.left + box.width / 2) - box.left - parent.clientLeft;
      const ay = (clientY ?? box.top + box.height / 2) - box.top - parent.clientTop;
      const [sx, sy] = [parent.scrollLeft, parent.scrollTop];
      parent.scrollLeft = anchoredScroll(sx, ax, offset.x, after.x, this.#zoom / before);
      parent.scrollTop = anchoredScroll(sy, ay, offset.y, after.y, this.#zoom / before);
    }
    this.#port.changed({ mode: this.#mode, zoom: this.#zoom });
  }

  /** Where the canvas starts in its parent's scrolled content (its margin, the parent's padding). */
  #offset(): { x: number; y: number } {
    const parent = this.#canvas.parentElement;
    if (!parent) return { x: 0, y: 0 };
    const box = parent.getBoundingClientRect();
    const c = this.#canvas.getBoundingClientRect();
    return { x: c.left - box.left - parent.clientLeft + parent.scrollLeft, y: c.top - box.top - parent.clientTop + parent.scrollTop };
  }

  #listenTouch(): void {
    const canvas = this.#canvas;
    // The page does not scroll or zoom under the fingers: the gestures below do it.
    canvas.style.touchAction = 'none';
    const on = (type: string, f: (e: PointerEvent) => void) => {
      const listener = (e: Event) => {
        const p = e as PointerEvent;
        if (p.pointerType !== 'touch') return;
        e.preventDefault();
        f(p);
      };
      canvas.addEventListener(type, listener);
      this.#undo.push(() => canvas.removeEventListener(type, listener));
    };
    on('pointerdown', (e) => {
      canvas.setPointerCapture?.(e.pointerId);
      this.#gestures.down(e.pointerId, e.clientX, e.clientY, performance.now());
      clearTimeout(this.#longPressTimer);
      if (this.#gestures.fingers === 1) {
        this.#wheel = { x: 0, y: 0 };
        this.#longPressTimer = setTimeout(() => this.#apply(this.#gestures.check(performance.now())), this.#gestures.longPressMs);
      }
    });
    on('pointermove', (e) => {
      const mode = this.#port.controlling() ? 'pinch-or-scroll' : 'pinch';
      this.#apply(this.#gestures.move(e.pointerId, e.clientX, e.clientY, mode));
    });
    on('pointerup', (e) => {
      clearTimeout(this.#longPressTimer);
      this.#apply(this.#gestures.up(e.pointerId));
    });
    on('pointercancel', (e) => {
      clearTimeout(this.#longPressTimer);
      this.#gestures.cancel(e.pointerId);
    });
    const noMenu = (e: Event) => e.preventDefault(); // a long press is ours, not the browser's menu
    canvas.addEventListener('contextmenu', noMenu);
    this.#undo.push(() => canvas.removeEventListener('contextmenu', noMenu));
  }

  #apply(gestures: Gesture[]): void {
    for (const g of gestures) {
      switch (g.type) {
        case 'tap': this.#click(g.x, g.y, 0); break;
        case 'long-press': this.#click(g.x, g.y, 2); break;
        case 'pan': this.#pan(g.dx, g.dy); break;
        case 'pinch':
          this.setZoom(this.#zoom * g.scale, g.x, g.y);
          this.#pan(g.dx, g.dy);
          break;
        case 'scroll': this.#scroll(g); break;
      }
    }
  }

  #pan(dx: number, dy: number): void {
    const parent = this.#canvas.parentElement;
    if (!parent) return;
    parent.scrollLeft -= dx;
    parent.scrollTop -= dy;
    this.#port.placed();
  }

  #at(clientX: number, clientY: number): [number, number] {
    return screenPoint(clientX, clientY, this.#canvas.getBoundingClientRect(), this.#port.screen());
  }

  /** Under remote control: a click of `button` (0 left, 2 right) where the finger was. */
  #click(clientX: number, clientY: number, button: number): void {
    if (!this.#port.controlling()) return;
    const [x, y] = this.#at(clientX, clientY);
    this.#canvas.focus();
    this.#port.send({ type: 'pointer-move', x, y });
    this.#port.send({ type: 'button', button, down: true });
    this.#port.send({ type: 'button', button, down: false });
  }

  /** Under remote control: wheel steps for a two-finger drag (fingers up = scroll down, as on a phone). */
  #scroll(g: Extract<Gesture, { type: 'scroll' }>): void {
    if (!this.#port.controlling()) return;
    this.#wheel.x -= g.dx;
    this.#wheel.y -= g.dy;
    const steps = (v: number) => Math.trunc(v / WHEEL_STEP_PX);
    const sx = steps(this.#wheel.x);
    const sy = steps(this.#wheel.y);
    if (!sx && !sy) return;
    this.#wheel.x -= sx * WHEEL_STEP_PX;
    this.#wheel.y -= sy * WHEEL_STEP_PX;
    const [x, y] = this.#at(g.x, g.y);
    this.#port.send({ type: 'pointer-move', x, y });
    this.#port.send({ type: 'wheel', dx: sx, dy: sy });
  }

  destroy(): void {
    clearTimeout(this.#longPressTimer);
    for (const f of this.#undo.splice(0)) f();
  }
}
