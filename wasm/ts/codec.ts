// The headless codec: Decoder (packets in, RGBA framebuffer out) and Encoder (frames in, packets
// out), exactly as native hosts and viewers make and read them. Works in Node (no DOM).
import type * as raw from '../dist/glimpse_wasm.js';
import { engine, wasmMemory } from './engine.js';
import { call, ErrorCode, GlimpseError } from './errors.js';

/** What a packet carries. */
export type PacketKind = 'checkpoint' | 'frame-update' | 'cursor-shape' | 'cursor-position';

const KINDS: readonly (PacketKind | undefined)[] = [undefined, 'checkpoint', 'frame-update', 'cursor-shape', 'cursor-position'];

/** The kind name of the engine's kind number. */
export function kindName(kind: number): PacketKind {
  const name = KINDS[kind];
  if (!name) throw new GlimpseError(ErrorCode.MALFORMED, `unknown packet kind ${kind}`);
  return name;
}

/** The kind of a packet from its header; throws a GlimpseError for a packet that is not Glimpse's. */
export function packetKind(packet: Uint8Array): PacketKind {
  return kindName(call(() => engine().packetKind(packet)));
}

/** The screen size a checkpoint announces, [width, height] (without applying it); undefined for other packets. */
export function screenSize(packet: Uint8Array): [number, number] | undefined {
  const size = engine().packetScreenSize(packet);
  return size && size.length === 2 ? [size[0]!, size[1]!] : undefined;
}

/** A rectangle in screen pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * One H.264 picture of a video region, for the caller to decode (the headless Decoder never decodes
 * video; GlimpseViewer does it with WebCodecs).
 */
export interface VideoChunk {
  /** Region id: the pictures of one region form one H.264 stream (a moved region gets a new id). */
  region: number;
  /** Screen rectangle the picture covers. The coded size is this padded to even and at least 16x16: show only its top-left width x height. */
  rect: Rect;
  /** An IDR picture with SPS and PPS in front (BT.709 limited range): a fresh decoder starts here. */
  keyframe: boolean;
  /** Annex-B bytes of exactly one picture. */
  data: Uint8Array;
}

/** What one applied packet did. */
export interface Update {
  kind: PacketKind;
  /** True when a checkpoint changed the screen size. */
  resized: boolean;
  /** Rectangles that changed (the whole screen after a checkpoint). Video pictures are not in it. */
  damage: Rect[];
  /** Video pictures of this update, in order: decode and draw them yourself (see VideoChunk). */
  video: VideoChunk[];
  /**
   * Video regions that ended in this update: drop their decoders and never draw their pictures still
   * in flight. Their exact pixels are in the framebuffer (in this update's damage or a following one).
   */
  videoEnded: number[];
}

/** Decoder limits: sessions announcing more are rejected. */
export interface DecoderOptions {
  /** Largest screen width accepted, 1..=8192 (default 8192). */
  maxWidth?: number;
  /** Largest screen height accepted, 1..=8192 (default 8192). */
  maxHeight?: number;
  /** Largest tile cache accepted, in 64x64 tiles (default 8192). */
  maxCacheTiles?: number;
}

/** A cursor image's geometry. */
export interface CursorShape {
  id: number;
  width: number;
  height: number;
  hotspotX: number;
  hotspotY: number;
}

/** The cursor as last announced. `shape` is null until its image arrived. */
export interface CursorState {
  /** Hotspot position in screen pixels. */
  x: number;
  y: number;
  visible: boolean;
  shape: CursorShape | null;
}

/** RGBA pixels, rows packed. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

function rectList(flat: Uint32Array): Rect[] {
  const rects: Rect[] = [];
  for (let i = 0; i < flat.length; i += 4) rects.push({ x: flat[i]!, y: flat[i + 1]!, width: flat[i + 2]!, height: flat[i + 3]! });
  return rects;
}

function flatRects(rects: readonly Rect[]): Uint32Array {
  const flat = new Uint32Array(rects.length * 4);
  rects.forEach((r, i) => flat.set([r.x, r.y, r.width, r.height], i * 4));
  return flat;
}

/** The video chunks of the raw decoder's last push, in the public shape. */
export function videoChunks(rawDecoder: raw.Decoder): VideoChunk[] {
  return rawDecoder.videoChunks().map((c) => ({
    region: c.region, rect: { x: c.x, y: c.y, width: c.width, height: c.height }, keyframe: c.keyframe, data: c.data,
  }));
}

/**
 * The WebCodecs codec string of an H.264 keyframe, from its SPS: `avc1.PPCCLL` (profile_idc, constraint
 * flags, level_idc). Undefined when the picture has no SPS.
 */
export function h264CodecString(annexB: Uint8Array): string | undefined {
  for (let i = 0; i + 4 < annexB.length; i++) {
    if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1) {
      const header = i + 3;
      if ((annexB[header]! & 0x1f) === 7 && header + 3 < annexB.length) {
        const hex = (b: number) => b.toString(16).toUpperCase().padStart(2, '0');
        return `avc1.${hex(annexB[header + 1]!)}${hex(annexB[header + 2]!)}${hex(annexB[header + 3]!)}`;
      }
      i = header - 1;
    }
  }
  return undefined;
}

/** The cursor of a raw decoder in the public shape. */
export function cursorState(rawDecoder: raw.Decoder): CursorState | undefined {
  const c = rawDecoder.cursor();
  if (!c) return undefined;
  const shape = c.shapeId && c.width
    ? { id: c.shapeId, width: c.width, height: c.height, hotspotX: c.hotspotX, hotspotY: c.hotspotY }
    : null;
  return { x: c.x, y: c.y, visible: c.visible, shape };
}

/** A raw decoder with these limits. */
export function newRawDecoder(options: DecoderOptions = {}): raw.Decoder {
  return call(() => new (engine().Decoder)({
    maxWidth: options.maxWidth, maxHeight: options.maxHeight, maxCacheTiles: options.maxCacheTiles,
  }));
}

/** Headless viewer (no DOM; works in Node): packets in, an RGBA framebuffer and damaged rectangles out. */
export class Decoder {
  #raw: raw.Decoder | undefined;

  constructor(options?: DecoderOptions) {
    this.#raw = newRawDecoder(options);
  }

  #decoder(): raw.Decoder {
    if (!this.#raw) throw new GlimpseError(ErrorCode.NOT_AVAILABLE, 'this Decoder was freed');
    return this.#raw;
  }

  /** Applies one packet. Throws a GlimpseError for a bad packet; then nothing changed. */
  push(packet: Uint8Array): Update {
    const d = this.#decoder();
    const kind = call(() => d.push(packet));
    return {
      kind: kindName(kind),
      resized: d.resized,
      damage: rectList(d.damage()),
      video: videoChunks(d),
      videoEnded: [...d.videoEnded()],
    };
  }

  /** Screen width in pixels (0 before the first checkpoint). */
  get width(): number { return this.#decoder().width; }
  /** Screen height in pixels (0 before the first checkpoint). */
  get height(): number { return this.#decoder().height; }
  /** The host's display scale (100 = 96 DPI; 0 before the first checkpoint). */
  get scalePercent(): number { return this.#decoder().scalePercent; }
  /** Sequence number of the last applied update (-1 before the first checkpoint). */
  get seq(): number { return this.#decoder().seq; }

  /** A copy of the RGBA framebuffer (rows packed). Throws NOT_AVAILABLE before the first checkpoint. */
  framebuffer(): Uint8Array {
    const d = this.#decoder();
    return call(() => d.framebuffer());
  }

  /**
   * A zero-copy view of the framebuffer inside the wasm memory: valid until the next push() or free().
   * Undefined before the first checkpoint.
   */
  framebufferView(): Uint8Array | undefined {
    const d = this.#decoder();
    const len = d.framebufferLen();
    return len ? new Uint8Array(wasmMemory().buffer, d.framebufferPtr(), len) : undefined;
  }

  /** The cursor as last announced, or undefined. */
  cursor(): CursorState | undefined {
    return cursorState(this.#decoder());
  }

  /** The current cursor image in RGBA, or undefined. */
  cursorImage(): RgbaImage | undefined {
    const d = this.#decoder();
    const c = d.cursor();
    const pixels = d.cursorPixels();
    if (!c || !pixels) return undefined;
    return { width: c.width, height: c.height, data: pixels };
  }

  /** Frees the engine memory now (otherwise the garbage collector does it eventually). The object is unusable afterwards. */
  free(): void {
    this.#raw?.free();
    this.#raw = undefined;
  }
}

/** Encoder settings. */
export interface EncoderOptions {
  /** Tile cache capacity in 64x64 tiles, 0..=65536 (default 2048; 0 turns it off). */
  cacheTiles?: number;
  /** Detect scrolling and moved windows (default true). */
  motionDetection?: boolean;
  /** Entropy stage (default 'adaptive', which is DEFLATE in WebAssembly). */
  entropy?: 'adaptive' | 'deflate' | 'lz4' | 'stored';
  /** Display scale announced to viewers, 1..=1000 (100 = 96 DPI, the default). */
  scalePercent?: number;
}

/** A frame to encode: an ImageData, or pixels with their geometry. */
export interface FrameInput {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** Bytes from one row to the next (default width * 4). */
  stride?: number;
  /** Byte order (default 'rgba', as ImageData). */
  format?: 'rgba' | 'bgra';
}

/** Encoder counters (the engine's type, declared with its bindings in wasm/src/lib.rs). */
export type EncoderStats = raw.EncoderStats;

/** The engine's format number (1 RGBA, 0 BGRA); throws UNKNOWN_PIXEL_FORMAT for another name. */
function formatOf(frame: ImageData | FrameInput): number {
  const format = 'format' in frame ? frame.format : undefined;
  if (format !== undefined && format !== 'bgra' && format !== 'rgba') {
    throw new GlimpseError(ErrorCode.UNKNOWN_PIXEL_FORMAT, `unknown pixel format ${String(format)}`);
  }
  return format === 'bgra' ? 0 : 1;
}

function bytesOf(data: Uint8Array | Uint8ClampedArray): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function strideOf(frame: ImageData | FrameInput): number {
  return ('stride' in frame ? frame.stride : undefined) ?? 0;
}

/** Frames in, packets out: the same packets a native host makes. */
export class Encoder {
  #raw: raw.Encoder | undefined;

  constructor(options?: EncoderOptions) {
    this.#raw = call(() => new (engine().Encoder)(options));
  }

  #encoder(): raw.Encoder {
    if (!this.#raw) throw new GlimpseError(ErrorCode.NOT_AVAILABLE, 'this Encoder was freed');
    return this.#raw;
  }

  /**
   * Encodes a frame: an ImageData, or `{ data, width, height, stride?, format? }` (format 'rgba'
   * default, or 'bgra'). Returns a checkpoint for the first frame or a size change, an update when
   * something changed, else undefined. `hints`: the only rectangles that may have changed.
   */
  encode(frame: ImageData | FrameInput, hints?: Rect[]): Uint8Array | undefined {
    const e = this.#encoder();
    const format = formatOf(frame);
    const data = bytesOf(frame.data);
    const stride = strideOf(frame);
    return call(() => (hints
      ? e.encodeWithHints(data, frame.width, frame.height, stride, format, flatRects(hints))
      : e.encode(data, frame.width, frame.height, stride, format)));
  }

  /** A self-contained checkpoint for viewers joining now; undefined before the first frame. */
  checkpoint(): Uint8Array | undefined {
    const e = this.#encoder();
    return call(() => e.checkpoint());
  }

  /** Rectangles whose pixels never leave this encoder (sent as dark grey), from the next frame on ([] removes all). */
  setPrivacyMasks(rects: Rect[]): void {
    const e = this.#encoder();
    call(() => e.setPrivacyMasks(flatRects(rects)));
  }

  /** Sets the cursor image (RGBA unless format 'bgra', at most 256x256) and hotspot; undefined when viewers already have it. */
  setCursorShape(image: ImageData | FrameInput, hotspotX: number, hotspotY: number): Uint8Array | undefined {
    const e = this.#encoder();
    const format = formatOf(image);
    const data = bytesOf(image.data);
    return call(() => e.setCursorShape(data, image.width, image.height, strideOf(image), format, hotspotX, hotspotY));
  }

  /** Moves the cursor hotspot; undefined when nothing changed. */
  moveCursor(x: number, y: number, visible = true): Uint8Array | undefined {
    const e = this.#encoder();
    return call(() => e.moveCursor(x, y, visible));
  }

  /** Encoder counters. */
  stats(): EncoderStats {
    return this.#encoder().stats();
  }

  /** Frees the engine memory now. The object is unusable afterwards. */
  free(): void {
    this.#raw?.free();
    this.#raw = undefined;
  }
}
