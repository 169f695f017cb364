// glimpse-web: view a Glimpse screen share in a <canvas>, or share a browser tab, with the same Rust
// engine as native hosts (compiled to WebAssembly). Plain ESM: works from bundlers, from
// <script type="module">, and in Node (headless Decoder/Encoder).
import initWasm, * as raw from '../dist/glimpse_wasm.js';

/** Stable numeric error codes; the same numbers as the C library's GLIMPSE_RESULT_*. */
export const ErrorCode = Object.freeze({
  PANIC: 2,
  INVALID_ARGUMENT: 4,
  NOT_AVAILABLE: 8,
  INVALID_DIMENSIONS: 10,
  INVALID_STRIDE: 11,
  FRAME_DATA_TOO_SHORT: 12,
  UNKNOWN_PIXEL_FORMAT: 13,
  INVALID_RECT: 14,
  TRUNCATED: 20,
  MALFORMED: 21,
  UNSUPPORTED_VERSION: 22,
  LIMIT_EXCEEDED: 23,
  MISSING_CACHE_ENTRY: 24,
  OUT_OF_SYNC: 25,
  NO_CHECKPOINT: 26,
  CORRUPT_PAYLOAD: 27,
  UNKNOWN: 99,
});

/** Every error this package throws or reports: an Error with a stable numeric `code`. */
export class GlimpseError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'GlimpseError';
    this.code = code;
  }
}

/** Turns whatever the wasm layer threw into a GlimpseError (a trap is PANIC: a bug in Glimpse). */
function toGlimpseError(e) {
  if (e instanceof GlimpseError) return e;
  if (e && e.name === 'GlimpseError' && typeof e.code === 'number') return new GlimpseError(e.code, e.message);
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
    return new GlimpseError(ErrorCode.PANIC, `internal error in Glimpse (please report a bug): ${e.message}`, { cause: e });
  }
  return new GlimpseError(ErrorCode.UNKNOWN, String(e && e.message ? e.message : e), { cause: e });
}

function call(f) {
  try {
    return f();
  } catch (e) {
    throw toGlimpseError(e);
  }
}

let ready = null;
let wasm = null;

/**
 * Loads the WebAssembly engine; call (and await) once before creating any object. `source` is optional:
 * a URL, Response, BufferSource or WebAssembly.Module of `glimpse_wasm_bg.wasm` (default: next to this file).
 */
export function init(source) {
  ready ??= (async () => {
    let moduleOrPath = source;
    if (moduleOrPath === undefined) {
      const url = new URL('../dist/glimpse_wasm_bg.wasm', import.meta.url);
      if (url.protocol === 'file:') {
        // Node (and other file:// hosts): fetch() cannot read files.
        const fs = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:fs/promises');
        moduleOrPath = await fs.readFile(url);
      } else {
        moduleOrPath = url;
      }
    }
    wasm = await initWasm({ module_or_path: moduleOrPath });
  })();
  ready.catch(() => {
    ready = null;
  });
  return ready;
}

function engine() {
  if (!wasm) throw new GlimpseError(ErrorCode.NOT_AVAILABLE, 'glimpse-web: await init() before creating objects');
  return raw;
}

const KINDS = [undefined, 'checkpoint', 'frame-update', 'cursor-shape', 'cursor-position'];

/** The kind of a packet from its header, without applying it. */
export function packetKind(packet) {
  return KINDS[call(() => engine().packetKind(packet))];
}

function rectList(flat) {
  const rects = [];
  for (let i = 0; i < flat.length; i += 4) rects.push({ x: flat[i], y: flat[i + 1], width: flat[i + 2], height: flat[i + 3] });
  return rects;
}

function flatRects(rects) {
  const flat = new Uint32Array(rects.length * 4);
  rects.forEach((r, i) => flat.set([r.x, r.y, r.width, r.height], i * 4));
  return flat;
}

/** The video chunks of the raw decoder's last push, in the public shape. */
function videoChunks(rawDecoder) {
  return rawDecoder.videoChunks().map((c) => ({
    region: c.region, rect: { x: c.x, y: c.y, width: c.width, height: c.height }, keyframe: c.keyframe, data: c.data,
  }));
}

/**
 * The WebCodecs codec string of an H.264 keyframe, from its SPS: `avc1.PPCCLL` (profile_idc, constraint
 * flags, level_idc). Undefined when the picture has no SPS.
 */
export function h264CodecString(annexB) {
  for (let i = 0; i + 4 < annexB.length; i++) {
    if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1) {
      const header = i + 3;
      if ((annexB[header] & 0x1f) === 7 && header + 3 < annexB.length) {
        const hex = (b) => b.toString(16).toUpperCase().padStart(2, '0');
        return `avc1.${hex(annexB[header + 1])}${hex(annexB[header + 2])}${hex(annexB[header + 3])}`;
      }
      i = header - 1;
    }
  }
  return undefined;
}

function cursorState(rawDecoder) {
  const c = rawDecoder.cursor();
  if (!c) return undefined;
  const shape = c.shapeId && c.width
    ? { id: c.shapeId, width: c.width, height: c.height, hotspotX: c.hotspotX, hotspotY: c.hotspotY }
    : null;
  return { x: c.x, y: c.y, visible: c.visible, shape };
}

/** Headless viewer (no DOM): packets in, an RGBA framebuffer and damaged rectangles out. */
export class Decoder {
  #raw;
  constructor(options) {
    this.#raw = call(() => new (engine().Decoder)(options));
  }
  /** Applies one packet. Throws a GlimpseError for a bad packet; then nothing changed. */
  push(packet) {
    const kind = call(() => this.#raw.push(packet));
    return {
      kind: KINDS[kind],
      resized: this.#raw.resized,
      damage: rectList(this.#raw.damage()),
      video: videoChunks(this.#raw),
      videoEnded: [...this.#raw.videoEnded()],
    };
  }
  get width() { return this.#raw.width; }
  get height() { return this.#raw.height; }
  get scalePercent() { return this.#raw.scalePercent; }
  get seq() { return this.#raw.seq; }
  /** A copy of the RGBA framebuffer (rows packed). Throws NOT_AVAILABLE before the first checkpoint. */
  framebuffer() {
    return call(() => this.#raw.framebuffer());
  }
  /**
   * A zero-copy view of the framebuffer inside the wasm memory: valid until the next push() or free().
   * Undefined before the first checkpoint.
   */
  framebufferView() {
    const len = this.#raw.framebufferLen();
    return len ? new Uint8Array(wasm.memory.buffer, this.#raw.framebufferPtr(), len) : undefined;
  }
  /** The cursor as last announced, or undefined. */
  cursor() {
    return cursorState(this.#raw);
  }
  /** The current cursor image in RGBA, or undefined. */
  cursorImage() {
    const c = this.#raw.cursor();
    const pixels = this.#raw.cursorPixels();
    if (!c || !pixels) return undefined;
    return { width: c.width, height: c.height, data: pixels };
  }
  /** Frees the wasm memory now (otherwise the garbage collector does it eventually). */
  free() {
    this.#raw?.free();
    this.#raw = undefined;
  }
}

/** Encoder: RGBA (or BGRA) frames in, packets out, exactly as a native host makes them. */
export class Encoder {
  #raw;
  constructor(options) {
    this.#raw = call(() => new (engine().Encoder)(options));
  }
  /**
   * Encodes a frame: an ImageData, or `{ data, width, height, stride?, format? }` (format 'rgba' default,
   * or 'bgra'). Returns a packet, or undefined when nothing changed. `hints`: the only rectangles
   * that may have changed.
   */
  encode(frame, hints) {
    const format = frame.format === 'bgra' ? 0 : 1;
    if (frame.format !== undefined && frame.format !== 'bgra' && frame.format !== 'rgba') {
      throw new GlimpseError(ErrorCode.UNKNOWN_PIXEL_FORMAT, `unknown pixel format ${frame.format}`);
    }
    const data = frame.data instanceof Uint8Array
      ? frame.data
      : new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
    const stride = frame.stride ?? 0;
    return call(() => (hints
      ? this.#raw.encodeWithHints(data, frame.width, frame.height, stride, format, flatRects(hints))
      : this.#raw.encode(data, frame.width, frame.height, stride, format)));
  }
  /** A self-contained checkpoint for viewers joining now; undefined before the first frame. */
  checkpoint() {
    return call(() => this.#raw.checkpoint());
  }
  /** Rectangles whose pixels never leave this encoder (sent as dark grey), from the next frame on. */
  setPrivacyMasks(rects) {
    call(() => this.#raw.setPrivacyMasks(flatRects(rects)));
  }
  /** Sets the cursor image (RGBA unless format 'bgra', at most 256x256) and hotspot. */
  setCursorShape(image, hotspotX, hotspotY) {
    const format = image.format === 'bgra' ? 0 : 1;
    const data = new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
    return call(() => this.#raw.setCursorShape(data, image.width, image.height, image.stride ?? 0, format, hotspotX, hotspotY));
  }
  /** Moves the cursor hotspot; undefined when nothing changed. */
  moveCursor(x, y, visible = true) {
    return call(() => this.#raw.moveCursor(x, y, visible));
  }
  stats() {
    return this.#raw.stats();
  }
  free() {
    this.#raw?.free();
    this.#raw = undefined;
  }
}

const RECOVERABLE_WHILE_WAITING = new Set([ErrorCode.OUT_OF_SYNC, ErrorCode.NO_CHECKPOINT, ErrorCode.MISSING_CACHE_ENTRY]);

/**
 * Shows a shared screen in a <canvas>. Feed it packets with push(); it repaints only damaged rectangles,
 * draws the cursor in an overlay canvas, and dispatches 'resize', 'error' and 'stats' events.
 */
export class GlimpseViewer extends EventTarget {
  #canvas;
  #ctx;
  #decoder;
  #image = null;
  #imageBuffer = null;
  #imagePtr = 0;
  #size;
  #cursor = null;
  #cursorCtx = null;
  #cursorShapeId = 0;
  #waiting = true;
  #statsInterval;
  #window;
  #totals = { packets: 0, bytes: 0, frames: 0, errors: 0, dropped: 0 };
  #lastStats = null;
  #onWindowResize;
  /** Video regions being decoded: region id -> { decoder, rect, pending, timestamp }. */
  #video = new Map();
  /** Codec strings this browser cannot decode (reported once each). */
  #videoUnsupported = new Set();
  #videoIdleWaiters = [];
  #videoStats = { frames: 0, dropped: 0, errors: 0 };
  #destroyed = false;

  /**
   * @param canvas the <canvas> to draw into (its backing store becomes the shared screen's size).
   * @param options size: 'natural' (default: CSS size = screen size / devicePixelRatio, pixel-exact) or
   *   'manual' (you set the CSS size; the screen is scaled smoothly); cursor: draw the cursor overlay
   *   (default true); statsIntervalMs (default 1000); maxWidth, maxHeight, maxCacheTiles: decoder limits.
   */
  constructor(canvas, options = {}) {
    super();
    this.#decoder = call(() => new (engine().Decoder)({
      maxWidth: options.maxWidth, maxHeight: options.maxHeight, maxCacheTiles: options.maxCacheTiles,
    }));
    if (options.size !== undefined && options.size !== 'natural' && options.size !== 'manual') {
      throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, `size must be 'natural' or 'manual', not ${options.size}`);
    }
    this.#canvas = canvas;
    this.#ctx = canvas.getContext('2d');
    this.#size = options.size ?? 'natural';
    this.#statsInterval = options.statsIntervalMs ?? 1000;
    this.#window = this.#newWindow(performance.now());
    if (options.cursor !== false && typeof document !== 'undefined') {
      const c = document.createElement('canvas');
      c.className = 'glimpse-cursor';
      c.style.cssText = 'position:absolute;pointer-events:none;display:none;image-rendering:auto;';
      this.#cursor = c;
      this.#cursorCtx = c.getContext('2d');
      canvas.insertAdjacentElement('afterend', c);
    }
    if (typeof window !== 'undefined') {
      this.#onWindowResize = () => this.#layout();
      window.addEventListener('resize', this.#onWindowResize);
      this.#watchPixelRatio();
    }
  }

  /** Re-lays out when devicePixelRatio changes (zoom, or the window moved to another screen). */
  #watchPixelRatio() {
    if (typeof matchMedia !== 'function') return;
    const query = matchMedia(`(resolution: ${globalThis.devicePixelRatio || 1}dppx)`);
    const onChange = () => {
      this.#layout();
      this.#watchPixelRatio();
    };
    query.addEventListener('change', onChange, { once: true });
    this.#unwatchPixelRatio = () => query.removeEventListener('change', onChange);
  }

  #unwatchPixelRatio = null;

  /** The canvas the screen is drawn into. */
  get canvas() { return this.#canvas; }
  /** The cursor overlay element (a <canvas> after the main one), or null. */
  get cursorElement() { return this.#cursor; }
  /** Shared screen width in pixels (0 before the first checkpoint). */
  get width() { return this.#decoder.width; }
  /** Shared screen height in pixels (0 before the first checkpoint). */
  get height() { return this.#decoder.height; }
  /** True until a checkpoint arrives after a lost or bad packet (ask the host for one). */
  get needsCheckpoint() { return this.#waiting; }
  /** The last stats reported (or null before the first interval). */
  get stats() { return this.#lastStats; }

  /**
   * Applies one packet and repaints what it changed. `sentAtMs` (optional): the sender's
   * `Date.now()` when the packet left, if your transport carries it; latency is measured from it,
   * else it is the local apply + paint time. Never throws for a bad packet: it dispatches an 'error'
   * event (and recovers at the next checkpoint). Returns true when the packet was applied.
   */
  push(packet, sentAtMs) {
    const t0 = performance.now();
    const bytes = packet.byteLength;
    this.#totals.packets++;
    this.#totals.bytes += bytes;
    this.#window.bytes += bytes;
    let kind;
    try {
      kind = this.#decoder.push(packet);
    } catch (e) {
      const error = toGlimpseError(e);
      this.#totals.errors++;
      if (this.#waiting && RECOVERABLE_WHILE_WAITING.has(error.code)) {
        // Still waiting for a checkpoint: updates in between are expected to fail; reported once.
        this.#totals.dropped++;
      } else {
        this.#waiting = true;
        this.dispatchEvent(new CustomEvent('error', { detail: { error, needsCheckpoint: true } }));
      }
      this.#maybeStats(t0);
      return false;
    }
    if (kind === 1) {
      this.#waiting = false;
      // A checkpoint holds exact pixels everywhere: pictures still in flight must not paint over them,
      // and every region restarts at its next keyframe.
      this.#endAllVideo();
    }
    if (kind === 1 || kind === 2) {
      if (this.#decoder.resized) this.#resize();
      this.#paint(this.#decoder.damage());
      this.#window.frames++;
      this.#totals.frames++;
    }
    if (kind === 2) {
      for (const chunk of this.#decoder.videoChunks()) this.#decodeVideo(chunk);
      // Ended regions: their pixels come (or came, above) losslessly from the framebuffer.
      for (const region of this.#decoder.videoEnded()) this.#endVideo(region);
    }
    this.#drawCursor();
    const t1 = performance.now();
    this.#window.applyMs += t1 - t0;
    this.#window.latencyMs += sentAtMs === undefined ? t1 - t0 : Date.now() - sentAtMs;
    this.#window.applied++;
    this.#maybeStats(t1);
    return true;
  }

  /**
   * The one place video regions reach the canvas: draws the top-left `rect.width` x `rect.height` of a
   * decoded frame (a WebCodecs VideoFrame, whose coded size may be padded) at `rect`, unscaled.
   */
  paintVideoFrame(frame, rect) {
    this.#ctx.drawImage(frame, 0, 0, rect.width, rect.height, rect.x, rect.y, rect.width, rect.height);
  }

  /** Video counters: pictures drawn, pictures dropped (their region ended first), decode errors. */
  get videoStats() { return { ...this.#videoStats, regions: this.#video.size }; }

  /**
   * Resolves once every video picture pushed so far was drawn (or dropped): the canvas then shows
   * everything push() was given. Immediately when no picture is in flight.
   */
  videoIdle() {
    if (this.#videoPending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.#videoIdleWaiters.push(resolve));
  }

  #videoPending() {
    let n = 0;
    for (const r of this.#video.values()) n += r.pending;
    return n;
  }

  #checkVideoIdle() {
    if (this.#videoIdleWaiters.length && this.#videoPending() === 0) {
      for (const resolve of this.#videoIdleWaiters.splice(0)) resolve();
    }
  }

  /** Reports a video region's failure: not fatal (lossless parts go on; the region recovers). */
  #videoError(region, code, message, cause) {
    this.#videoStats.errors++;
    this.#totals.errors++;
    const error = new GlimpseError(code, message, cause === undefined ? undefined : { cause });
    this.dispatchEvent(new CustomEvent('error', { detail: { error, needsCheckpoint: false, region } }));
  }

  /** Feeds one picture to its region's VideoDecoder (made at the region's first keyframe). */
  #decodeVideo(c) {
    let entry = this.#video.get(c.region);
    if (entry && (entry.rect.x !== c.x || entry.rect.y !== c.y || entry.rect.width !== c.width || entry.rect.height !== c.height)) {
      this.#endVideo(c.region);
      entry = undefined;
    }
    if (!entry) {
      // A new region (or one restarting after an error or a checkpoint) starts at a keyframe.
      if (!c.keyframe) return;
      entry = this.#openVideo(c);
      if (!entry) return;
    }
    try {
      entry.decoder.decode(new EncodedVideoChunk({ type: c.keyframe ? 'key' : 'delta', timestamp: entry.timestamp, data: c.data }));
      entry.timestamp += 1000;
      entry.pending++;
    } catch (e) {
      this.#endVideo(c.region);
      this.#videoError(c.region, ErrorCode.CORRUPT_PAYLOAD, `video region ${c.region}: ${e.message}`, e);
    }
  }

  #openVideo(c) {
    const codec = h264CodecString(c.data);
    if (typeof VideoDecoder === 'undefined' || typeof EncodedVideoChunk === 'undefined') {
      if (!this.#videoUnsupported.has('*')) {
        this.#videoUnsupported.add('*');
        this.#videoError(c.region, ErrorCode.NOT_AVAILABLE, 'this browser has no WebCodecs VideoDecoder: video regions show once they settle');
      }
      return undefined;
    }
    if (!codec) {
      this.#videoError(c.region, ErrorCode.CORRUPT_PAYLOAD, `video region ${c.region}: keyframe without an SPS`);
      return undefined;
    }
    if (this.#videoUnsupported.has(codec)) return undefined;
    const rect = { x: c.x, y: c.y, width: c.width, height: c.height };
    const entry = { decoder: null, rect, pending: 0, timestamp: 0, codec };
    const region = c.region;
    const decoder = new VideoDecoder({
      output: (frame) => {
        try {
          // Frames of a region that ended, restarted or was reset by a checkpoint are dropped.
          if (this.#destroyed || this.#video.get(region) !== entry) return; // counted by #endVideo
          entry.pending = Math.max(0, entry.pending - 1);
          this.paintVideoFrame(frame, rect);
          this.#videoStats.frames++;
          this.dispatchEvent(new CustomEvent('videoframe', { detail: { region, rect: { ...rect } } }));
        } finally {
          frame.close();
          this.#checkVideoIdle();
        }
      },
      error: (e) => {
        if (this.#video.get(region) !== entry) return; // closed by us
        this.#endVideo(region);
        if (e && e.name === 'NotSupportedError') {
          if (this.#videoUnsupported.has(codec)) return;
          this.#videoUnsupported.add(codec);
          this.#videoError(region, ErrorCode.NOT_AVAILABLE, `this browser cannot decode H.264 ${codec}: video regions show once they settle`, e);
        } else {
          this.#videoError(region, ErrorCode.CORRUPT_PAYLOAD, `video region ${region}: ${e && e.message} (recovers at its next keyframe)`, e);
        }
      },
    });
    entry.decoder = decoder;
    try {
      decoder.configure({
        codec,
        codedWidth: Math.max(16, c.width + (c.width & 1)),
        codedHeight: Math.max(16, c.height + (c.height & 1)),
        optimizeForLatency: true,
      });
    } catch (e) {
      decoder.close();
      this.#videoUnsupported.add(codec);
      this.#videoError(c.region, ErrorCode.NOT_AVAILABLE, `this browser cannot decode H.264 ${codec}: ${e.message}`, e);
      return undefined;
    }
    this.#video.set(region, entry);
    return entry;
  }

  /** Drops a region's decoder; its pictures still in flight are never drawn. */
  #endVideo(region) {
    const entry = this.#video.get(region);
    if (!entry) return;
    this.#video.delete(region);
    this.#videoStats.dropped += entry.pending;
    if (entry.decoder.state !== 'closed') entry.decoder.close();
    this.#checkVideoIdle();
  }

  #endAllVideo() {
    for (const region of [...this.#video.keys()]) this.#endVideo(region);
  }

  /** Repaints the whole screen (e.g. after the canvas was cleared by someone else). */
  repaint() {
    if (this.width) this.#paint(new Uint32Array([0, 0, this.width, this.height]));
    this.#drawCursor(true);
  }

  /** Removes the overlay and listeners, closes the video decoders and frees the engine's memory. */
  destroy() {
    this.#destroyed = true;
    this.#endAllVideo();
    this.#cursor?.remove();
    if (this.#onWindowResize) window.removeEventListener('resize', this.#onWindowResize);
    this.#unwatchPixelRatio?.();
    this.#decoder.free();
    this.#image = null;
  }

  #newWindow(start) {
    return { start, frames: 0, bytes: 0, applied: 0, applyMs: 0, latencyMs: 0 };
  }

  #maybeStats(now) {
    const w = this.#window;
    const seconds = (now - w.start) / 1000;
    if (seconds <= 0 || seconds * 1000 < this.#statsInterval) return;
    const stats = {
      fps: w.frames / seconds,
      kbps: (w.bytes * 8) / 1000 / seconds,
      latencyMs: w.applied ? w.latencyMs / w.applied : 0,
      applyMs: w.applied ? w.applyMs / w.applied : 0,
      ...this.#totals,
    };
    this.#lastStats = stats;
    this.#window = this.#newWindow(now);
    this.dispatchEvent(new CustomEvent('stats', { detail: stats }));
  }

  #resize() {
    const { width, height } = this;
    this.#canvas.width = width;
    this.#canvas.height = height;
    this.#image = null;
    this.#layout();
    this.dispatchEvent(new CustomEvent('resize', { detail: { width, height, scalePercent: this.#decoder.scalePercent } }));
  }

  /** CSS size and smoothing: pixel-exact at natural size, smooth when scaled. */
  #layout() {
    const s = this.#canvas.style;
    if (this.#size === 'natural' && this.width) {
      const dpr = globalThis.devicePixelRatio || 1;
      s.width = `${this.width / dpr}px`;
      s.height = `${this.height / dpr}px`;
      s.imageRendering = 'pixelated';
    } else {
      s.imageRendering = 'auto';
    }
    this.#placeCursor();
  }

  /** An ImageData over the framebuffer in wasm memory; re-made after memory growth or a new screen. */
  #framebufferImage() {
    const buffer = wasm.memory.buffer;
    const ptr = this.#decoder.framebufferPtr();
    if (!this.#image || this.#imageBuffer !== buffer || this.#imagePtr !== ptr) {
      const len = this.#decoder.framebufferLen();
      this.#image = new ImageData(new Uint8ClampedArray(buffer, ptr, len), this.width, this.height);
      this.#imageBuffer = buffer;
      this.#imagePtr = ptr;
    }
    return this.#image;
  }

  #paint(flat) {
    const image = this.#framebufferImage();
    for (let i = 0; i < flat.length; i += 4) {
      this.#ctx.putImageData(image, 0, 0, flat[i], flat[i + 1], flat[i + 2], flat[i + 3]);
    }
  }

  #drawCursor(force = false) {
    if (!this.#cursor) return;
    const c = this.#decoder.cursor();
    if (!c || !c.visible || !c.width) {
      this.#cursor.style.display = 'none';
      return;
    }
    if (force || c.shapeId !== this.#cursorShapeId) {
      const pixels = this.#decoder.cursorPixels();
      this.#cursor.width = c.width;
      this.#cursor.height = c.height;
      this.#cursorCtx.putImageData(new ImageData(new Uint8ClampedArray(pixels.buffer), c.width, c.height), 0, 0);
      this.#cursorShapeId = c.shapeId;
    }
    this.#cursorPos = c;
    this.#cursor.style.display = '';
    this.#placeCursor();
  }

  #cursorPos = null;

  #placeCursor() {
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

/**
 * Shares a video track (from getDisplayMedia(), or any track such as a canvas captureStream()): each
 * captured frame is read as RGBA and encoded in wasm into the same packets a native host sends.
 * Packets go to `onPacket`, to 'packet' events, and to the async iterator packets().
 */
export class GlimpseSharer extends EventTarget {
  #track;
  #encoder;
  #video = null;
  #canvas = null;
  #ctx = null;
  #fps;
  #timer = null;
  #running = false;
  #onPacket;
  #queue = [];
  #waiters = [];
  #ownsTrack = false;

  /** Asks the user for a tab, window or screen (getDisplayMedia) and shares it. */
  static async fromDisplayMedia(constraints = { video: true }, options = {}) {
    const stream = await navigator.mediaDevices.getDisplayMedia(constraints);
    const sharer = new GlimpseSharer(stream.getVideoTracks()[0], options);
    sharer.#ownsTrack = true;
    return sharer;
  }

  /**
   * @param track a video MediaStreamTrack.
   * @param options fps (frames read per second, default 10), onPacket(packet, kind), and the encoder
   *   settings cacheTiles, motionDetection, entropy, scalePercent.
   */
  constructor(track, options = {}) {
    super();
    if (!track || track.kind !== 'video') throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, 'GlimpseSharer needs a video MediaStreamTrack');
    const { fps = 10, onPacket, ...encoderOptions } = options;
    if (!(fps > 0 && fps <= 120)) throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, `fps must be in (0, 120], not ${fps}`);
    this.#track = track;
    this.#fps = fps;
    this.#onPacket = onPacket;
    this.#encoder = new Encoder(encoderOptions);
    track.addEventListener('ended', () => this.stop());
  }

  /** The encoder, e.g. for privacy masks or the cursor. */
  get encoder() { return this.#encoder; }

  /** Starts reading frames at `fps`. Resolves once the first frame was encoded. */
  async start() {
    await this.#ensureVideo();
    this.#running = true;
    await this.captureFrame();
    const tick = async () => {
      if (!this.#running) return;
      try {
        await this.captureFrame();
      } catch (e) {
        this.dispatchEvent(new CustomEvent('error', { detail: { error: toGlimpseError(e), needsCheckpoint: false } }));
      }
      if (this.#running) this.#timer = setTimeout(tick, 1000 / this.#fps);
    };
    this.#timer = setTimeout(tick, 1000 / this.#fps);
  }

  /** Stops reading frames (and the track, if fromDisplayMedia() opened it); ends packets(). */
  stop() {
    this.#running = false;
    clearTimeout(this.#timer);
    if (this.#ownsTrack) this.#track.stop();
    if (this.#video) this.#video.srcObject = null;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
  }

  /**
   * Reads the track's current frame and encodes it now. Returns the packet (undefined when nothing
   * changed); also emits it.
   */
  async captureFrame() {
    await this.#ensureVideo();
    const v = this.#video;
    const width = v.videoWidth;
    const height = v.videoHeight;
    if (!width || !height) return undefined;
    if (this.#canvas.width !== width || this.#canvas.height !== height) {
      this.#canvas.width = width;
      this.#canvas.height = height;
    }
    this.#ctx.drawImage(v, 0, 0);
    const image = this.#ctx.getImageData(0, 0, width, height);
    const packet = this.#encoder.encode(image);
    if (packet) this.#emit(packet, image);
    return packet;
  }

  /** A checkpoint for viewers joining now (emitted too); undefined before the first frame. */
  checkpoint() {
    const packet = this.#encoder.checkpoint();
    if (packet) this.#emit(packet, undefined);
    return packet;
  }

  /** The packets, in order, as an async iterator (ends when stop() is called). */
  packets() {
    const self = this;
    return {
      [Symbol.asyncIterator]() { return this; },
      next() {
        if (self.#queue.length) return Promise.resolve({ value: self.#queue.shift(), done: false });
        if (!self.#running && self.#video) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => self.#waiters.push(resolve));
      },
      return() {
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  #emit(packet, image) {
    const kind = packetKind(packet);
    this.#onPacket?.(packet, kind);
    this.dispatchEvent(new CustomEvent('packet', { detail: { packet, kind, image } }));
    const waiter = this.#waiters.shift();
    if (waiter) waiter({ value: packet, done: false });
    else this.#queue.push(packet);
  }

  async #ensureVideo() {
    if (this.#video) return;
    const v = document.createElement('video');
    v.muted = true;
    v.playsInline = true;
    v.srcObject = new MediaStream([this.#track]);
    this.#video = v;
    await v.play();
    if (!v.videoWidth) await new Promise((resolve) => v.addEventListener('resize', resolve, { once: true }));
    this.#canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(v.videoWidth, v.videoHeight) : document.createElement('canvas');
    this.#ctx = this.#canvas.getContext('2d', { willReadFrequently: true });
  }
}

/** The engine's own table of error codes (equal to ErrorCode; the tests check it). Needs init(). */
export function engineErrorCodes() {
  return engine().errorCodes();
}

/** The wire protocol version the engine speaks. Needs init(). */
export function protocolVersion() {
  return engine().protocolVersion();
}
