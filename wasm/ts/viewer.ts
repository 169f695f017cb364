// GlimpseViewer: shows a shared screen in a <canvas>. Packets come from push() (any transport), or
// from a relay session opened by join() (see join.ts).
import type * as raw from '../dist/glimpse_wasm.js';
import { newRawDecoder, screenSize, type DecoderOptions, type Rect } from './codec.js';
import { wasmMemory } from './engine.js';
import { ErrorCode, GlimpseError, toGlimpseError, type ErrorCodeValue } from './errors.js';
import { TypedEventTarget } from './events.js';
import {
  ViewerLink, type ControlDetail, type ControlState, type InputEvent, type JoinOptions, type PaintDetail,
  type StateDetail, type ViewerState, type ViewersDetail,
} from './join.js';
import { MAX_VIDEO_REGIONS, VideoRegions, type VideoStats } from './video.js';
import { Viewport, type ViewDetail } from './viewport.js';
import type { ViewSize } from './view-transform.js';

/**
 * GlimpseViewer settings. Its decoder limits follow the device unless given: screens up to
 * 4096x4096 (maxWidth, maxHeight; at most 8192), and a tile cache of 4096 tiles (64 MiB), 2048 on
 * devices with less than 4 GiB of memory (maxCacheTiles). A larger screen is refused with
 * LIMIT_EXCEEDED.
 */
export interface ViewerOptions extends DecoderOptions {
  /**
   * How the canvas is sized (change it later with fit(), actualSize(), zoomIn(), zoomOut(), setZoom()):
   * - 'natural' (default): 1:1, the canvas CSS size is the screen size / devicePixelRatio, so one screen
   *   pixel is one device pixel (pixel-exact; the parent scrolls when it is smaller).
   * - 'fit': scaled down to fit the canvas's parent (its content box: give it a definite size, e.g. a
   *   flex item, and `overflow: auto` for zooming in), aspect kept, smooth filtering; a screen smaller
   *   than the parent is drawn 1:1. Follows the parent's size (ResizeObserver).
   * - 'manual': you size the canvas with CSS; the screen is scaled smoothly.
   */
  size?: ViewSize;
  /** The largest zoom of zoomIn() and pinching, in device pixels per screen pixel (default 4). */
  maxZoom?: number;
  /**
   * Touch over the canvas (default: true with size 'fit', else false): pinch to zoom, drag to pan
   * (the parent scrolls); under remote control a tap clicks, a long press right-clicks and a
   * two-finger drag scrolls (wheel) at the screen point under the fingers. False: touch is left to
   * the browser (a swipe scrolls the page) and, under control, forwarded as mouse input.
   */
  touch?: boolean;
  /** Draw the cursor overlay (default true). */
  cursor?: boolean;
  /** How often 'stats' events are dispatched, in ms (default 1000). */
  statsIntervalMs?: number;
}

/** Options of the static GlimpseViewer.join(): the canvas, the viewer's and the join's settings. */
export interface ViewerJoinOptions extends ViewerOptions, JoinOptions {
  /** The <canvas> to draw into. */
  canvas: HTMLCanvasElement;
}

/** Detail of a viewer's 'resize' event. */
export interface ResizeDetail {
  width: number;
  height: number;
  scalePercent: number;
}

/** Detail of an 'error' event. */
export interface ErrorDetail {
  error: GlimpseError;
  /** True when the stream is only usable again from the next checkpoint (ask the host for one). */
  needsCheckpoint: boolean;
  /**
   * For a video region's error (viewer only; needsCheckpoint false): its id. NOT_AVAILABLE: this
   * browser cannot decode it (reported once; the region shows once it settles); CORRUPT_PAYLOAD: a
   * picture failed (the region recovers at its next keyframe).
   */
  region?: number;
}

/** Detail of a viewer's 'videoframe' event: a decoded video picture was drawn. */
export interface VideoFrameDetail {
  region: number;
  rect: Rect;
}

/** Detail of a viewer's 'stats' event: rates over the last interval, counts since the start. */
export interface ViewerStats {
  /** Screen updates (checkpoints and frame updates) applied per second. */
  fps: number;
  /** Packet bits received per second / 1000. */
  kbps: number;
  /**
   * Mean latency in ms: of the updates push() was given the sender's timestamp for (join() gives the
   * host's capture time), from it to the paint; when the interval had none, the local apply + paint
   * time. Checkpoints are not counted against their timestamp: they re-send the screen as it was
   * captured, maybe long ago (a static screen, a resync).
   */
  latencyMs: number;
  /** Mean apply + paint time per packet, in ms. */
  applyMs: number;
  packets: number;
  bytes: number;
  frames: number;
  errors: number;
  /** Packets that failed while waiting for a checkpoint (reported once, not as events). */
  dropped: number;
  /**
   * join(): packets refused before decoding because they did not authenticate (changed on the way,
   * replayed, or sealed under a key this viewer does not have). None of them was shown.
   */
  refused: number;
}

/** The events of a GlimpseViewer. */
export interface GlimpseViewerEventMap {
  resize: CustomEvent<ResizeDetail>;
  error: CustomEvent<ErrorDetail>;
  stats: CustomEvent<ViewerStats>;
  videoframe: CustomEvent<VideoFrameDetail>;
  /** join(): the connection's state changed. */
  state: CustomEvent<StateDetail>;
  /** join(): how many viewers watch. */
  viewers: CustomEvent<ViewersDetail>;
  /** join(): remote control changed (asked, granted, refused, revoked). */
  control: CustomEvent<ControlDetail>;
  /** join(): a checkpoint or update was painted (and acknowledged). */
  paint: CustomEvent<PaintDetail>;
  /** The view changed: fit, zoom (1 = 1:1) or manual (fit(), setZoom(), a pinch...). */
  view: CustomEvent<ViewDetail>;
}

interface StatsWindow {
  start: number;
  frames: number;
  bytes: number;
  applied: number;
  applyMs: number;
  /** Apply + paint times of the packets without a sender's time (or checkpoints). */
  latencyMs: number;
  /** Sender's time to paint of updates that carried one, and how many. */
  sentLatencyMs: number;
  timed: number;
}

const RECOVERABLE_WHILE_WAITING: ReadonlySet<number> = new Set([ErrorCode.OUT_OF_SYNC, ErrorCode.NO_CHECKPOINT, ErrorCode.MISSING_CACHE_ENTRY]);

/** The largest screen a GlimpseViewer accepts unless its options raise it. */
const DEFAULT_MAX_SCREEN = 4096;

/** Decoder limits for this device: the embedder's, else defaults that fit a phone. */
function deviceLimits(options: ViewerOptions): DecoderOptions {
  const memoryGiB = (globalThis.navigator as { deviceMemory?: number } | undefined)?.deviceMemory;
  const smallDevice = typeof memoryGiB === 'number' && memoryGiB < 4;
  return {
    maxWidth: options.maxWidth ?? DEFAULT_MAX_SCREEN,
    maxHeight: options.maxHeight ?? DEFAULT_MAX_SCREEN,
    maxCacheTiles: options.maxCacheTiles ?? (smallDevice ? 2048 : 4096),
  };
}

/**
 * Shows a shared screen in a <canvas>. Feed it packets with push(), or let join() follow a session
 * through a relay. It repaints only damaged rectangles, decodes video regions with WebCodecs, draws
 * the cursor in an overlay canvas, and dispatches 'resize', 'error', 'stats' and 'videoframe'
 * events (join() adds 'state', 'viewers', 'control' and 'paint').
 */
export class GlimpseViewer extends TypedEventTarget<GlimpseViewerEventMap> {
  readonly #canvas: HTMLCanvasElement;
  readonly #ctx: CanvasRenderingContext2D;
  readonly #decoder: raw.Decoder;
  #image: ImageData | null = null;
  #imageBuffer: ArrayBufferLike | null = null;
  #imagePtr = 0;
  readonly #viewport: Viewport;
  readonly #cursor: HTMLCanvasElement | null = null;
  readonly #cursorCtx: CanvasRenderingContext2D | null = null;
  #cursorShapeId = 0;
  #cursorPos: raw.RawCursor | null = null;
  #waiting = true;
  readonly #statsInterval: number;
  #window: StatsWindow;
  readonly #totals = { packets: 0, bytes: 0, frames: 0, errors: 0, dropped: 0, refused: 0 };
  readonly #limits: DecoderOptions;
  #lastStats: ViewerStats | null = null;
  #unwatchPixelRatio: (() => void) | null = null;
  readonly #video: VideoRegions;
  #link: ViewerLink | null = null;
  #destroyed = false;

  /**
   * Joins the session of `code` through the relay at `relayUrl` with a new viewer drawing into
   * `options.canvas`; resolves with the viewer once the first screen is painted. Rejects with a
   * GlimpseError (WRONG_CODE, UNKNOWN_SESSION, RELAY_UNREACHABLE, TIMEOUT...); the viewer is then
   * destroyed. To see the 'state' events of the join itself, create the viewer first and call its
   * join() method.
   */
  static async join(relayUrl: string, code: string, options: ViewerJoinOptions): Promise<GlimpseViewer> {
    if (!options || typeof HTMLCanvasElement === 'undefined' || !(options.canvas instanceof HTMLCanvasElement)) {
      throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, 'GlimpseViewer.join needs options.canvas, a <canvas> element');
    }
    const viewer = new GlimpseViewer(options.canvas, options);
    try {
      await viewer.join(relayUrl, code, options);
    } catch (e) {
      viewer.destroy();
      throw e;
    }
    return viewer;
  }

  /**
   * @param canvas the <canvas> to draw into (its backing store becomes the shared screen's size).
   * @param options size, cursor overlay, stats interval and decoder limits.
   */
  constructor(canvas: HTMLCanvasElement, options: ViewerOptions = {}) {
    super();
    if (options.size !== undefined && options.size !== 'fit' && options.size !== 'natural' && options.size !== 'manual') {
      throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, `size must be 'fit', 'natural' or 'manual', not ${String(options.size)}`);
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, 'the canvas has no 2d context (it is used for something else)');
    this.#limits = deviceLimits(options);
    this.#decoder = newRawDecoder(this.#limits);
    this.#canvas = canvas;
    this.#ctx = ctx;
    this.#statsInterval = options.statsIntervalMs ?? 1000;
    this.#window = this.#newWindow(performance.now());
    this.#video = new VideoRegions({
      paint: (frame, rect) => this.paintVideoFrame(frame, rect),
      drawn: (region, rect) => this.dispatchEvent(new CustomEvent('videoframe', { detail: { region, rect } })),
      error: (region, code, message, cause) => this.#videoError(region, code, message, cause),
    });
    if (options.cursor !== false && typeof document !== 'undefined') {
      const c = document.createElement('canvas');
      c.className = 'glimpse-cursor';
      c.style.cssText = 'position:absolute;pointer-events:none;display:none;image-rendering:auto;';
      this.#cursor = c;
      this.#cursorCtx = c.getContext('2d');
      canvas.insertAdjacentElement('afterend', c);
    }
    this.#viewport = new Viewport(canvas, options.size ?? 'natural', {
      screen: () => ({ width: this.width, height: this.height }),
      controlling: () => this.control === 'granted' && (this.#link?.forwardsInput ?? false),
      send: (event) => { this.sendInput(event); },
      changed: (detail) => this.dispatchEvent(new CustomEvent('view', { detail })),
      placed: () => this.#placeCursor(),
    }, options);
    if (typeof window !== 'undefined') this.#watchPixelRatio();
  }

  /** Re-lays out when devicePixelRatio changes (zoom, or the window moved to another screen). */
  #watchPixelRatio(): void {
    if (typeof matchMedia !== 'function') return;
    const query = matchMedia(`(resolution: ${globalThis.devicePixelRatio || 1}dppx)`);
    const onChange = () => {
      this.#layout();
      this.#watchPixelRatio();
    };
    query.addEventListener('change', onChange, { once: true });
    this.#unwatchPixelRatio = () => query.removeEventListener('change', onChange);
  }

  /** How the screen is drawn: 'fit', 'zoom' (at `zoom`; 1:1 is zoom 1) or 'manual'. */
  get viewMode(): ViewDetail['mode'] { return this.#viewport.mode; }
  /** Device pixels per screen pixel (1 = 1:1, pixel-exact; below 1 when fitted down). */
  get zoom(): number { return this.#viewport.zoom; }
  /** Scales the screen down to fit the canvas's parent (aspect kept; never above 1:1). */
  fit(): void { this.#viewport.fit(); }
  /** 1:1: one screen pixel per device pixel, pixel-exact; the parent scrolls. */
  actualSize(): void { this.#viewport.setZoom(1); }
  /** One step (x1.25) closer, up to maxZoom; 1:1 is never stepped over. */
  zoomIn(): void { this.#viewport.zoomBy(1); }
  /** One step (/1.25) further. */
  zoomOut(): void { this.#viewport.zoomBy(-1); }
  /**
   * Sets the zoom (device pixels per screen pixel, within [0.1, maxZoom]), keeping the page point
   * (clientX, clientY) where it is (default: the centre of the canvas's parent).
   */
  setZoom(zoom: number, clientX?: number, clientY?: number): void { this.#viewport.setZoom(zoom, clientX, clientY); }

  /** The canvas the screen is drawn into. */
  get canvas(): HTMLCanvasElement { return this.#canvas; }
  /** The cursor overlay (a <canvas> placed after the main one), or null when disabled. */
  get cursorElement(): HTMLCanvasElement | null { return this.#cursor; }
  /** Shared screen width in pixels (0 before the first checkpoint). */
  get width(): number { return this.#decoder.width; }
  /** Shared screen height in pixels (0 before the first checkpoint). */
  get height(): number { return this.#decoder.height; }
  /** True until a checkpoint arrives (at the start and after a bad or lost packet). */
  get needsCheckpoint(): boolean { return this.#waiting; }
  /** The last stats dispatched, or null. */
  get stats(): ViewerStats | null { return this.#lastStats; }
  /** Sequence number of the screen shown (-1 before the first checkpoint). */
  get seq(): number { return this.#decoder.seq; }

  /**
   * Applies a packet and repaints what changed. Never throws for a bad packet: dispatches 'error' and
   * recovers at the next checkpoint. `sentAtMs`: the sender's Date.now() (or capture time), if the
   * transport carries it; latency is measured from it. Returns true when the packet was applied.
   */
  push(packet: Uint8Array, sentAtMs?: number): boolean {
    return this.#apply(packet, sentAtMs) === null;
  }

  /** push(): null when the packet was applied and painted, else the error (reported as an event). */
  #apply(packet: Uint8Array, sentAtMs: number | undefined): GlimpseError | null {
    const t0 = performance.now();
    const bytes = packet.byteLength;
    this.#totals.packets++;
    this.#totals.bytes += bytes;
    this.#window.bytes += bytes;
    let kind: number;
    try {
      kind = this.#decoder.push(packet);
      if (kind === 2 && this.#decoder.videoCount > MAX_VIDEO_REGIONS) {
        throw new GlimpseError(ErrorCode.LIMIT_EXCEEDED, `an update with ${this.#decoder.videoCount} video pictures: this viewer decodes at most ${MAX_VIDEO_REGIONS} video regions (the update is not shown; waiting for a checkpoint)`);
      }
    } catch (e) {
      const error = this.#explain(toGlimpseError(e), packet);
      this.#totals.errors++;
      if (this.#waiting && RECOVERABLE_WHILE_WAITING.has(error.code)) {
        // Still waiting for a checkpoint: updates in between are expected to fail; reported once.
        this.#totals.dropped++;
      } else {
        this.#waiting = true;
        this.#video.endAll();
        this.dispatchEvent(new CustomEvent('error', { detail: { error, needsCheckpoint: true } }));
      }
      this.#maybeStats(t0);
      return error;
    }
    if (kind === 1) {
      this.#waiting = false;
      // A checkpoint holds exact pixels everywhere: pictures still in flight must not paint over them,
      // and every region restarts at its next keyframe.
      this.#video.endAll();
    }
    if (kind === 1 || kind === 2) {
      if (this.#decoder.resized) this.#resize();
      this.#paint(this.#decoder.damage());
      this.#window.frames++;
      this.#totals.frames++;
    }
    if (kind === 2) {
      for (const chunk of this.#decoder.videoChunks()) this.#video.decode(chunk);
      // Ended regions: their pixels come (or came, above) losslessly from the framebuffer.
      for (const region of this.#decoder.videoEnded()) this.#video.end(region);
    }
    this.#drawCursor();
    const t1 = performance.now();
    this.#window.applyMs += t1 - t0;
    this.#window.applied++;
    // A checkpoint re-sends the screen as it is, captured maybe long ago (a static screen, a resync):
    // its age is no link latency. Updates with the sender's time are measured from it.
    if (sentAtMs !== undefined && kind === 2) {
      this.#window.sentLatencyMs += Date.now() - sentAtMs;
      this.#window.timed++;
    } else {
      this.#window.latencyMs += t1 - t0;
    }
    this.#maybeStats(t1);
    return null;
  }

  /** A clearer message for a screen larger than this viewer's limits. */
  #explain(error: GlimpseError, packet: Uint8Array): GlimpseError {
    if (error.code !== ErrorCode.LIMIT_EXCEEDED) return error;
    const size = screenSize(packet);
    const { maxWidth, maxHeight } = this.#limits;
    if (!size || (size[0]! <= maxWidth! && size[1]! <= maxHeight!)) return error;
    return new GlimpseError(ErrorCode.LIMIT_EXCEEDED,
      `the shared screen is ${size[0]}x${size[1]}: this viewer shows at most ${maxWidth}x${maxHeight} (the maxWidth and maxHeight options raise it, up to 8192)`,
      { cause: error });
  }

  /**
   * Draws the top-left rect.width x rect.height of a decoded video frame at rect, unscaled. The viewer
   * calls it for every H.264 picture its WebCodecs VideoDecoders output; override it to post-process.
   */
  paintVideoFrame(frame: CanvasImageSource, rect: Rect): void {
    this.#ctx.drawImage(frame, 0, 0, rect.width, rect.height, rect.x, rect.y, rect.width, rect.height);
  }

  /** Video counters: pictures drawn, pictures dropped (their region ended first), decode errors. */
  get videoStats(): VideoStats { return this.#video.stats; }

  /**
   * Resolves once every video picture pushed so far was drawn (or dropped): the canvas then shows
   * everything push() was given. Immediately when no picture is in flight.
   */
  videoIdle(): Promise<void> {
    return this.#video.idle();
  }

  /** Reports a video region's failure: not fatal (lossless parts go on; the region recovers). */
  #videoError(region: number, code: ErrorCodeValue, message: string, cause: unknown): void {
    this.#totals.errors++;
    const error = new GlimpseError(code, message, cause === undefined ? undefined : { cause });
    this.dispatchEvent(new CustomEvent('error', { detail: { error, needsCheckpoint: false, region } }));
  }

  /** Repaints the whole screen (e.g. after the canvas was cleared by someone else). */
  repaint(): void {
    if (this.width) this.#paint(new Uint32Array([0, 0, this.width, this.height]));
    this.#drawCursor(true);
  }

  /**
   * Follows the session of `code` (10 digits, spaces or dashes allowed: '123 456 7890') through the
   * relay at `relayUrl` (ws://, wss://, or the relay's http(s):// page URL). The code's last five
   * digits never leave this page: they key an exchange with the host that the relay cannot read,
   * and the stream is end-to-end encrypted. Resolves once the first screen is painted; rejects with
   * a GlimpseError: INVALID_CODE, UNKNOWN_SESSION (no session has the code's first five digits),
   * WRONG_CODE (its last five are wrong), NOT_ADMITTED (the host said no), CODE_EXPIRED,
   * RATE_LIMITED, RELAY_UNREACHABLE, RELAY_FULL, LIMIT_EXCEEDED (a screen larger than this viewer's
   * limits), TIMEOUT, CLOSED (leave() first), INVALID_REQUEST (already joined). Afterwards it
   * reconnects by itself after drops (resume token first, then the code) and reports through
   * 'state', 'viewers', 'control' and 'paint' events.
   */
  join(relayUrl: string, code: string, options: JoinOptions = {}): Promise<void> {
    if (this.#destroyed) return Promise.reject(new GlimpseError(ErrorCode.CLOSED, 'this viewer was destroyed'));
    if (this.#link && this.#link.state !== 'ended') {
      return Promise.reject(new GlimpseError(ErrorCode.INVALID_REQUEST, 'this viewer is in a session already: leave() first'));
    }
    let link: ViewerLink;
    try {
      link = new ViewerLink({ canvas: this.#canvas, handlesTouch: this.#viewport.handlesTouch }, relayUrl, code, options, {
        push: (payload, capturedAtMs) => this.#apply(payload, capturedAtMs || undefined),
        refused: (_reason, gap) => {
          this.#totals.refused++;
          // Updates until the next checkpoint cannot apply: expected, not reported one by one.
          if (gap) this.#waiting = true;
        },
        emit: (type, detail) => this.dispatchEvent(new CustomEvent(type, { detail })),
      });
    } catch (e) {
      return Promise.reject(toGlimpseError(e));
    }
    this.#link = link;
    return link.start();
  }

  /** Leaves the session (state 'ended' with a CLOSED error; a pending join() rejects with it). */
  leave(): void {
    this.#link?.leave();
  }

  /**
   * Asks the host for remote control; the answer comes as a 'control' event. False when there is
   * nothing to ask (not connected, asked already, or granted).
   */
  requestControl(): boolean {
    return this.#link?.requestControl() ?? false;
  }

  /**
   * Sends an input event to the host; false unless the host granted control. Pointer, wheel and
   * keyboard events on the canvas are forwarded by themselves (JoinOptions.forwardInput).
   */
  sendInput(event: InputEvent): boolean {
    return this.#link?.sendInput(event) ?? false;
  }

  /** The session's state ('idle' before join()). */
  get state(): ViewerState { return this.#link?.state ?? 'idle'; }
  /** Where remote control stands. */
  get control(): ControlState { return this.#link?.control ?? 'none'; }
  /** How many viewers watch (0 before the relay said). */
  get viewerCount(): number { return this.#link?.viewerCount ?? 0; }
  /** The code of the session being followed ('123 456 7890'), or undefined before join(). */
  get code(): string | undefined { return this.#link?.code; }
  /** The host's name (may be empty), once connected. */
  get hostName(): string { return this.#link?.hostName ?? ''; }

  /** Leaves the session, removes the overlay and listeners, closes the video decoders, frees the engine memory. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#link?.leave();
    this.#destroyed = true;
    this.#video.close();
    this.#cursor?.remove();
    this.#viewport.destroy();
    this.#unwatchPixelRatio?.();
    this.#decoder.free();
    this.#image = null;
  }

  #newWindow(start: number): StatsWindow {
    return { start, frames: 0, bytes: 0, applied: 0, applyMs: 0, latencyMs: 0, sentLatencyMs: 0, timed: 0 };
  }

  #maybeStats(now: number): void {
    const w = this.#window;
    const seconds = (now - w.start) / 1000;
    if (seconds <= 0 || seconds * 1000 < this.#statsInterval) return;
    const stats: ViewerStats = {
      fps: w.frames / seconds,
      kbps: (w.bytes * 8) / 1000 / seconds,
      latencyMs: w.timed ? w.sentLatencyMs / w.timed : w.applied ? w.latencyMs / w.applied : 0,
      applyMs: w.applied ? w.applyMs / w.applied : 0,
      ...this.#totals,
    };
    this.#lastStats = stats;
    this.#window = this.#newWindow(now);
    this.dispatchEvent(new CustomEvent('stats', { detail: stats }));
  }

  #resize(): void {
    const { width, height } = this;
    this.#canvas.width = width;
    this.#canvas.height = height;
    this.#image = null;
    this.#layout();
    this.dispatchEvent(new CustomEvent('resize', { detail: { width, height, scalePercent: this.#decoder.scalePercent } }));
  }

  /** CSS size and smoothing (see Viewport): pixel-exact at 1:1, smooth when scaled. */
  #layout(): void {
    this.#viewport.layout();
  }

  /** An ImageData over the framebuffer in wasm memory; re-made after memory growth or a new screen. */
  #framebufferImage(): ImageData {
    const buffer = wasmMemory().buffer;
    const ptr = this.#decoder.framebufferPtr();
    if (!this.#image || this.#imageBuffer !== buffer || this.#imagePtr !== ptr) {
      const len = this.#decoder.framebufferLen();
      this.#image = new ImageData(new Uint8ClampedArray(buffer, ptr, len), this.width, this.height);
      this.#imageBuffer = buffer;
      this.#imagePtr = ptr;
    }
    return this.#image;
  }

  #paint(flat: Uint32Array): void {
    const image = this.#framebufferImage();
    for (let i = 0; i < flat.length; i += 4) {
      this.#ctx.putImageData(image, 0, 0, flat[i]!, flat[i + 1]!, flat[i + 2]!, flat[i + 3]!);
    }
  }

  #drawCursor(force = false): void {
    if (!this.#cursor || !this.#cursorCtx) return;
    const c = this.#decoder.cursor();
    if (!c || !c.visible || !c.width) {
      this.#cursor.style.display = 'none';
      return;
    }
    if (force || c.shapeId !== this.#cursorShapeId) {
      const pixels = this.#decoder.cursorPixels();
      if (!pixels) return;
      this.#cursor.width = c.width;
      this.#cursor.height = c.height;
      this.#cursorCtx.putImageData(new ImageData(new Uint8ClampedArray(pixels), c.width, c.height), 0, 0);
      this.#cursorShapeId = c.shapeId;
    }
    this.#cursorPos = c;
    this.#cursor.style.display = '';
    this.#placeCursor();
  }

  #placeCursor(): void {
    const c = this.#cursorPos;
    if (!this.#cursor || !c || !this.width) return;
    const canvas = this.#canvas;
    const scale = (canvas.clientWidth || this.width) / this.width;
    const s = this.#cursor.style;
    s.left = `${canvas.offsetLeft + canvas.clientLeft + (c.x - c.hotspotX) * scale}px`;
    s.top = `${canvas.offsetTop + canvas.clientTop + (c.y - c.hotspotY) * scale}px`;
    s.width = `${c.width * scale}px`;
    s.height = `${c.height * scale}px`;
  }
}
