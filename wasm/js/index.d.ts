// Types of glimpse-web (hand-written; `tsc --noEmit` checks them and a typed usage file in CI).

/** Stable numeric error codes; the same numbers as the C library's GLIMPSE_RESULT_*. Never change. */
export declare const ErrorCode: Readonly<{
  /** The engine trapped (a bug in Glimpse); the object that threw should be dropped. */
  PANIC: 2;
  INVALID_ARGUMENT: 4;
  /** No such state yet (no framebuffer before the first checkpoint; init() not awaited). */
  NOT_AVAILABLE: 8;
  INVALID_DIMENSIONS: 10;
  INVALID_STRIDE: 11;
  FRAME_DATA_TOO_SHORT: 12;
  UNKNOWN_PIXEL_FORMAT: 13;
  INVALID_RECT: 14;
  TRUNCATED: 20;
  MALFORMED: 21;
  UNSUPPORTED_VERSION: 22;
  LIMIT_EXCEEDED: 23;
  MISSING_CACHE_ENTRY: 24;
  /** A frame update that does not follow the previous one: wait for (or ask for) a checkpoint. */
  OUT_OF_SYNC: 25;
  NO_CHECKPOINT: 26;
  CORRUPT_PAYLOAD: 27;
  UNKNOWN: 99;
}>;

/** One of the values of ErrorCode. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every error this package throws or reports. Branch on `code`, not on the message. */
export declare class GlimpseError extends Error {
  constructor(code: ErrorCodeValue, message: string, options?: ErrorOptions);
  readonly name: 'GlimpseError';
  readonly code: ErrorCodeValue;
}

/** A `.wasm` source for init(): by default the file next to the package's JS. */
export type WasmSource = string | URL | Request | Response | BufferSource | WebAssembly.Module;

/** Loads the WebAssembly engine. Await it once before creating any object (later calls are free). */
export declare function init(source?: WasmSource | Promise<WasmSource>): Promise<void>;

/** What a packet carries. */
export type PacketKind = 'checkpoint' | 'frame-update' | 'cursor-shape' | 'cursor-position';

/** The kind of a packet from its header; throws a GlimpseError for a packet that is not Glimpse's. */
export declare function packetKind(packet: Uint8Array): PacketKind;

/** The engine's table of error codes by name (equal to ErrorCode). */
export declare function engineErrorCodes(): Record<string, number>;

/** The wire protocol version the engine speaks. */
export declare function protocolVersion(): number;

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

/** The WebCodecs codec string (`avc1.PPCCLL`) from the SPS of an H.264 keyframe; undefined without an SPS. */
export declare function h264CodecString(annexB: Uint8Array): string | undefined;

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

/** Headless viewer (no DOM; works in Node): packets in, an RGBA framebuffer and damage out. */
export declare class Decoder {
  constructor(options?: DecoderOptions);
  /** Applies one packet. Throws a GlimpseError for a bad packet; then nothing changed. */
  push(packet: Uint8Array): Update;
  /** Screen size in pixels (0 before the first checkpoint). */
  readonly width: number;
  readonly height: number;
  /** The host's display scale (100 = 96 DPI; 0 before the first checkpoint). */
  readonly scalePercent: number;
  /** Sequence number of the last applied update (-1 before the first checkpoint). */
  readonly seq: number;
  /** A copy of the RGBA framebuffer. Throws NOT_AVAILABLE before the first checkpoint. */
  framebuffer(): Uint8Array;
  /** A zero-copy view into wasm memory, valid until the next push() or free(); undefined before the first checkpoint. */
  framebufferView(): Uint8Array | undefined;
  cursor(): CursorState | undefined;
  /** The current cursor image (RGBA), or undefined. */
  cursorImage(): RgbaImage | undefined;
  /** Frees the engine memory now. The object is unusable afterwards. */
  free(): void;
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

/** Encoder counters. */
export interface EncoderStats {
  frames: number;
  unchangedFrames: number;
  checkpoints: number;
  bytes: number;
  copies: number;
  cacheHits: number;
}

/** Frames in, packets out: the same packets a native host makes. */
export declare class Encoder {
  constructor(options?: EncoderOptions);
  /** A checkpoint for the first frame or a size change, an update when something changed, else undefined. */
  encode(frame: ImageData | FrameInput, hints?: Rect[]): Uint8Array | undefined;
  /** A self-contained checkpoint for viewers joining now; undefined before the first frame. */
  checkpoint(): Uint8Array | undefined;
  /** Rectangles whose pixels never leave this encoder, from the next frame on ([] removes all). */
  setPrivacyMasks(rects: Rect[]): void;
  /** Sets the cursor image (at most 256x256) and hotspot; undefined when viewers already have it. */
  setCursorShape(image: ImageData | FrameInput, hotspotX: number, hotspotY: number): Uint8Array | undefined;
  /** Moves the cursor hotspot; undefined when nothing changed. */
  moveCursor(x: number, y: number, visible?: boolean): Uint8Array | undefined;
  stats(): EncoderStats;
  free(): void;
}

/** GlimpseViewer settings. */
export interface ViewerOptions extends DecoderOptions {
  /**
   * 'natural' (default): the canvas CSS size is the screen size / devicePixelRatio, so one screen pixel
   * is one device pixel. 'manual': you size the canvas with CSS; the screen is scaled smoothly.
   */
  size?: 'natural' | 'manual';
  /** Draw the cursor overlay (default true). */
  cursor?: boolean;
  /** How often 'stats' events are dispatched, in ms (default 1000). */
  statsIntervalMs?: number;
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

/** A viewer's video counters. */
export interface VideoStats {
  /** Pictures decoded and drawn. */
  frames: number;
  /** Pictures dropped because their region ended (or a checkpoint came) before they were decoded. */
  dropped: number;
  /** Video errors reported. */
  errors: number;
  /** Regions being decoded now. */
  regions: number;
}

/** Detail of a viewer's 'stats' event: rates over the last interval, counts since the start. */
export interface ViewerStats {
  /** Screen updates (checkpoints and frame updates) applied per second. */
  fps: number;
  /** Packet bits received per second / 1000. */
  kbps: number;
  /**
   * Mean latency in ms: from the sender's timestamp when push() was given one, else the local
   * apply + paint time (packets carry no timestamp).
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
}

export interface GlimpseViewerEventMap {
  resize: CustomEvent<ResizeDetail>;
  error: CustomEvent<ErrorDetail>;
  stats: CustomEvent<ViewerStats>;
  videoframe: CustomEvent<VideoFrameDetail>;
}

/** Shows a shared screen in a <canvas>, repainting only damaged rectangles, with a cursor overlay. */
export declare class GlimpseViewer extends EventTarget {
  constructor(canvas: HTMLCanvasElement, options?: ViewerOptions);
  readonly canvas: HTMLCanvasElement;
  /** The cursor overlay (a <canvas> placed after the main one), or null when disabled. */
  readonly cursorElement: HTMLCanvasElement | null;
  readonly width: number;
  readonly height: number;
  /** True until a checkpoint arrives (at the start and after a bad or lost packet). */
  readonly needsCheckpoint: boolean;
  /** The last stats dispatched, or null. */
  readonly stats: ViewerStats | null;
  /**
   * Applies a packet and repaints what changed. Never throws for a bad packet: dispatches 'error' and
   * recovers at the next checkpoint. `sentAtMs`: the sender's Date.now(), if the transport carries it.
   * Returns true when the packet was applied.
   */
  push(packet: Uint8Array, sentAtMs?: number): boolean;
  /**
   * Draws the top-left rect.width x rect.height of a decoded video frame at rect, unscaled. The viewer
   * calls it for every H.264 picture its WebCodecs VideoDecoders output; override it to post-process.
   */
  paintVideoFrame(frame: CanvasImageSource, rect: Rect): void;
  /** Resolves once every video picture pushed so far was drawn or dropped. */
  videoIdle(): Promise<void>;
  /** Video counters. */
  readonly videoStats: VideoStats;
  /** Repaints the whole screen and the cursor. */
  repaint(): void;
  /** Removes the overlay and listeners, closes the video decoders and frees the engine memory. */
  destroy(): void;
  addEventListener<K extends keyof GlimpseViewerEventMap>(
    type: K,
    listener: (this: GlimpseViewer, ev: GlimpseViewerEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof GlimpseViewerEventMap>(
    type: K,
    listener: (this: GlimpseViewer, ev: GlimpseViewerEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** GlimpseSharer settings (plus the encoder's). */
export interface SharerOptions extends EncoderOptions {
  /** Frames read from the track per second (default 10). */
  fps?: number;
  /** Called with every packet, in order. */
  onPacket?: (packet: Uint8Array, kind: PacketKind) => void;
}

/** Detail of a sharer's 'packet' event. */
export interface PacketDetail {
  packet: Uint8Array;
  kind: PacketKind;
  /** The frame this packet encodes (what the encoder read), for checkpoints and updates from frames. */
  image: ImageData | undefined;
}

export interface GlimpseSharerEventMap {
  packet: CustomEvent<PacketDetail>;
  error: CustomEvent<ErrorDetail>;
}

/** Shares a video track (getDisplayMedia, a canvas captureStream, ...) as Glimpse packets. */
export declare class GlimpseSharer extends EventTarget {
  /** Asks the user for a tab, window or screen and shares it (the track is stopped by stop()). */
  static fromDisplayMedia(constraints?: DisplayMediaStreamOptions, options?: SharerOptions): Promise<GlimpseSharer>;
  constructor(track: MediaStreamTrack, options?: SharerOptions);
  /** The encoder, e.g. for privacy masks or the cursor. */
  readonly encoder: Encoder;
  /** Starts reading frames at `fps`; resolves once the first frame was encoded. */
  start(): Promise<void>;
  /** Stops reading frames; ends packets(). */
  stop(): void;
  /** Reads and encodes the track's current frame now; undefined when nothing changed. */
  captureFrame(): Promise<Uint8Array | undefined>;
  /** A checkpoint for viewers joining now (also emitted); undefined before the first frame. */
  checkpoint(): Uint8Array | undefined;
  /** The packets, in order. */
  packets(): AsyncIterableIterator<Uint8Array>;
  addEventListener<K extends keyof GlimpseSharerEventMap>(
    type: K,
    listener: (this: GlimpseSharer, ev: GlimpseSharerEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof GlimpseSharerEventMap>(
    type: K,
    listener: (this: GlimpseSharer, ev: GlimpseSharerEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}
