// GlimpseSharer: shares a video track (a tab, a window, a canvas) as Glimpse packets, to your own
// transport (packets, events, async iterator) or to viewers through a relay (share()).
import { Encoder, packetKind, type EncoderOptions, type PacketKind } from './codec.js';
import { ErrorCode, GlimpseError, toGlimpseError } from './errors.js';
import { TypedEventTarget } from './events.js';
import {
  HostLink, type CodeReplacedDetail, type ControlPolicy, type InputDetail, type LinkEvents, type SharerControlDetail,
  type ShareOptions, type ShareResult, type SharerState, type SharerStateDetail, type ViewerInfo, type WrongCodeDetail,
} from './share.js';
import type { ErrorDetail } from './viewer.js';

/** GlimpseSharer settings (plus the encoder's). */
export interface SharerOptions extends EncoderOptions {
  /** Frames read from the track per second (default 10). */
  fps?: number;
  /** Called with every packet, in order. */
  onPacket?: (packet: Uint8Array, kind: PacketKind) => void;
}

/** Options of the static GlimpseSharer.share(): what to share, the sharer's and the session's settings. */
export interface SharerShareOptions extends SharerOptions, ShareOptions {
  /** The video track to share (default: ask the user with getDisplayMedia). */
  track?: MediaStreamTrack;
  /** getDisplayMedia constraints when no track is given (default { video: true }). */
  displayMedia?: DisplayMediaStreamOptions;
}

/** Detail of a sharer's 'packet' event. */
export interface PacketDetail {
  packet: Uint8Array;
  kind: PacketKind;
  /** The frame this packet encodes (what the encoder read), for checkpoints and updates from frames. */
  image: ImageData | undefined;
}

/** The events of a GlimpseSharer. */
export interface GlimpseSharerEventMap {
  packet: CustomEvent<PacketDetail>;
  error: CustomEvent<ErrorDetail>;
  /** share(): the session's state changed. */
  state: CustomEvent<SharerStateDetail>;
  /** share(): someone tried a wrong code (at the third, the code is replaced). */
  wrongcode: CustomEvent<WrongCodeDetail>;
  /** share(): the code was burned after three wrong attempts: show the new code and link (viewers in stay). */
  codereplaced: CustomEvent<CodeReplacedDetail>;
  /** share() with approveViewers: a viewer has the code and waits (answer with approve() or deny()). */
  approvalneeded: CustomEvent<ViewerInfo>;
  /** share(): a viewer joined. */
  viewerjoined: CustomEvent<ViewerInfo>;
  /** share(): a viewer left. */
  viewerleft: CustomEvent<{ viewer: number }>;
  /** share() with control 'ask': a viewer asks for remote control (answer with grant() or refuse()). */
  controlrequest: CustomEvent<{ viewer: number }>;
  /** share(): remote control changed hands. */
  control: CustomEvent<SharerControlDetail>;
  /** share(): input from the viewer holding control (a tab cannot inject it: act on it yourself). */
  input: CustomEvent<InputDetail>;
}

type Canvas2D = OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;

/** Packets kept for a packets() iterator not opened yet. */
const MAX_QUEUED = 512;
const MAX_QUEUED_BYTES = 32 << 20;

/**
 * Shares a video track (from getDisplayMedia(), or any track such as a canvas captureStream()): each
 * captured frame is read as RGBA and encoded in wasm into the same packets a native host sends.
 * Packets go to `onPacket`, to 'packet' events, to the async iterator packets(), and with share()
 * to viewers through a relay.
 */
export class GlimpseSharer extends TypedEventTarget<GlimpseSharerEventMap> {
  readonly #track: MediaStreamTrack;
  readonly #encoder: Encoder;
  #video: HTMLVideoElement | null = null;
  #canvas: OffscreenCanvas | HTMLCanvasElement | null = null;
  #ctx: Canvas2D | null = null;
  readonly #fps: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  readonly #onPacket: ((packet: Uint8Array, kind: PacketKind) => void) | undefined;
  /** Packets for packets() iterators, oldest first (see #queuePacket for its bound). */
  #queue: Uint8Array[] = [];
  #queueBytes = 0;
  readonly #waiters: ((r: IteratorResult<Uint8Array, undefined>) => void)[] = [];
  /** Iterators from packets() still open. */
  #iterators = 0;
  #ownsTrack = false;
  #link: HostLink | null = null;

  /** Asks the user for a tab, window or screen (getDisplayMedia) and shares it (the track is stopped by stop()). */
  static async fromDisplayMedia(constraints: DisplayMediaStreamOptions = { video: true }, options: SharerOptions = {}): Promise<GlimpseSharer> {
    const stream = await navigator.mediaDevices.getDisplayMedia(constraints);
    const track = stream.getVideoTracks()[0];
    if (!track) throw new GlimpseError(ErrorCode.NOT_AVAILABLE, 'getDisplayMedia gave no video track');
    const sharer = new GlimpseSharer(track, options);
    sharer.#ownsTrack = true;
    return sharer;
  }

  /**
   * Shares `options.track` (or what the user picks in getDisplayMedia) with viewers through the
   * relay at `relayUrl`; resolves with the code, the join link and the sharer once the relay started
   * the session. Rejects with a GlimpseError (RELAY_UNREACHABLE, RELAY_FULL, TIMEOUT...); the sharer is
   * then stopped.
   */
  static async share(relayUrl: string, options: SharerShareOptions = {}): Promise<ShareResult & { sharer: GlimpseSharer }> {
    const sharer = options.track
      ? new GlimpseSharer(options.track, options)
      : await GlimpseSharer.fromDisplayMedia(options.displayMedia ?? { video: true }, options);
    try {
      const result = await sharer.share(relayUrl, options);
      return { ...result, sharer };
    } catch (e) {
      sharer.stop();
      throw e;
    }
  }

  /**
   * @param track a video MediaStreamTrack.
   * @param options fps (frames read per second, default 10), onPacket(packet, kind), and the encoder
   *   settings cacheTiles, motionDetection, entropy, scalePercent.
   */
  constructor(track: MediaStreamTrack, options: SharerOptions = {}) {
    super();
    if (!track || track.kind !== 'video') throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, 'GlimpseSharer needs a video MediaStreamTrack');
    const { fps = 10, onPacket, cacheTiles, motionDetection, entropy, scalePercent } = options;
    if (!(fps > 0 && fps <= 120)) throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, `fps must be in (0, 120], not ${fps}`);
    this.#track = track;
    this.#fps = fps;
    this.#onPacket = onPacket;
    this.#encoder = new Encoder({ cacheTiles, motionDetection, entropy, scalePercent });
    track.addEventListener('ended', () => this.stop());
  }

  /** The encoder, e.g. for privacy masks or the cursor. */
  get encoder(): Encoder { return this.#encoder; }

  /** Starts reading frames at `fps`. Resolves once the first frame was encoded. */
  async start(): Promise<void> {
    await this.#ensureVideo();
    if (this.#running) return;
    this.#running = true;
    await this.captureFrame();
    const tick = async () => {
      if (!this.#running) return;
      try {
        // Frames are skipped while the relay reads slower than we send; the next one catches up.
        if (!this.#link?.congested) await this.captureFrame();
      } catch (e) {
        this.dispatchEvent(new CustomEvent('error', { detail: { error: toGlimpseError(e), needsCheckpoint: false } }));
      }
      if (this.#running) this.#timer = setTimeout(tick, 1000 / this.#fps);
    };
    this.#timer = setTimeout(tick, 1000 / this.#fps);
  }

  /** Stops reading frames (and the track, if fromDisplayMedia() opened it); ends the shared session and packets(). */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#link?.end();
    if (this.#ownsTrack) this.#track.stop();
    if (this.#video) this.#video.srcObject = null;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
  }

  /**
   * Reads the track's current frame and encodes it now. Returns the packet (undefined when nothing
   * changed); also emits it.
   */
  async captureFrame(): Promise<Uint8Array | undefined> {
    await this.#ensureVideo();
    const v = this.#video!;
    const canvas = this.#canvas!;
    const ctx = this.#ctx!;
    const width = v.videoWidth;
    const height = v.videoHeight;
    if (!width || !height) return undefined;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const capturedAt = Date.now();
    ctx.drawImage(v, 0, 0);
    const image = ctx.getImageData(0, 0, width, height);
    const packet = this.#encoder.encode(image);
    if (packet) this.#emit(packet, image, capturedAt);
    return packet;
  }

  /** A checkpoint for viewers joining now (emitted too); undefined before the first frame. */
  checkpoint(): Uint8Array | undefined {
    const packet = this.#encoder.checkpoint();
    if (packet) this.#emit(packet, undefined, Date.now());
    return packet;
  }

  /**
   * The packets, in order, as an async iterator (ends when stop() is called). Packets made before the
   * first call are kept from the last checkpoint on (at most 512 packets and 32 MiB).
   */
  packets(): AsyncIterableIterator<Uint8Array> {
    this.#iterators++;
    let open = true;
    const close = () => {
      if (open) this.#iterators--;
      open = false;
    };
    const iterator: AsyncIterableIterator<Uint8Array> = {
      [Symbol.asyncIterator]() { return iterator; },
      next: (): Promise<IteratorResult<Uint8Array, undefined>> => {
        const value = this.#queue.shift();
        if (value) {
          this.#queueBytes -= value.byteLength;
          return Promise.resolve({ value, done: false });
        }
        if (!this.#running && this.#video) {
          close();
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: (): Promise<IteratorResult<Uint8Array, undefined>> => {
        close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
    return iterator;
  }

  /**
   * Shares this sharer's track with viewers through the relay at `relayUrl` (ws://, wss://, or the
   * relay's http(s):// page URL): opens `/ws/host`, starts reading frames if start() was not called,
   * runs the key exchange with every joining viewer (the relay cannot read the stream), answers the
   * relay's checkpoint requests, and reconnects with the same code after drops. Resolves with the
   * code and join link; rejects with a GlimpseError (RELAY_UNREACHABLE, RELAY_FULL, TIMEOUT,
   * INVALID_REQUEST when sharing already).
   */
  async share(relayUrl: string, options: ShareOptions = {}): Promise<ShareResult> {
    if (this.#link && this.#link.state !== 'ended') {
      throw new GlimpseError(ErrorCode.INVALID_REQUEST, 'this sharer is sharing already: end() first');
    }
    const link = new HostLink(relayUrl, options, {
      checkpoint: () => this.checkpoint(),
      emit: <K extends keyof LinkEvents>(type: K, detail: LinkEvents[K]) => this.dispatchEvent(new CustomEvent(type, { detail })),
    });
    this.#link = link;
    const ready = link.start();
    try {
      await this.start();
    } catch (e) {
      link.end();
      ready.catch(() => {});
      throw toGlimpseError(e);
    }
    return ready;
  }

  /** Ends the shared session for every viewer (the track keeps being read until stop()). */
  end(): void {
    this.#link?.end();
  }

  /** The shared session's state ('idle' before share()). */
  get state(): SharerState { return this.#link?.state ?? 'idle'; }
  /** The code viewers type ('123 456 7890') once share() resolved; a new one after 'codereplaced'. */
  get code(): string | undefined { return this.#link?.code; }
  /** The link viewers open once share() resolved (with the current code). */
  get joinLink(): string | undefined { return this.#link?.link; }
  /** Viewers connected now. */
  get viewers(): ViewerInfo[] { return this.#link?.viewers ?? []; }

  /** Gives remote control to `viewer` (needs control 'ask' or 'auto-grant'). Throws INVALID_REQUEST when it is not connected. */
  grant(viewer: number): void { this.#requireLink().grant(viewer); }
  /** Refuses `viewer`'s request for control (or takes control from it). */
  refuse(viewer: number): void { this.#requireLink().refuse(viewer); }
  /** Takes remote control back. */
  revoke(): void { this.#requireLink().revoke(); }
  /** Disconnects `viewer` (it cannot come back with its resume token; the stream's key changes). */
  remove(viewer: number): void { this.#requireLink().remove(viewer); }
  /** Lets in a viewer that waits for approval ('approvalneeded'). Throws INVALID_REQUEST when it does not wait. */
  approve(viewer: number): void { this.#requireLink().approve(viewer); }
  /** Turns away a viewer that waits for approval (it sees NOT_ADMITTED). */
  deny(viewer: number): void { this.#requireLink().deny(viewer); }

  #requireLink(): HostLink {
    if (!this.#link || this.#link.state === 'ended') throw new GlimpseError(ErrorCode.INVALID_REQUEST, 'not sharing: call share() first');
    return this.#link;
  }

  #emit(packet: Uint8Array, image: ImageData | undefined, capturedAt: number): void {
    const kind = packetKind(packet);
    this.#link?.sendPacket(packet, capturedAt);
    this.#onPacket?.(packet, kind);
    this.dispatchEvent(new CustomEvent('packet', { detail: { packet, kind, image } }));
    const waiter = this.#waiters.shift();
    if (waiter) waiter({ value: packet, done: false });
    else this.#queuePacket(packet, kind);
  }

  /**
   * Keeps a packet for packets(). While no iterator is open (a sharer used through events or
   * share()), only what a late iterator can start from is kept: the packets since the last checkpoint,
   * at most MAX_QUEUED of them and MAX_QUEUED_BYTES.
   */
  #queuePacket(packet: Uint8Array, kind: PacketKind): void {
    if (this.#iterators === 0) {
      if (kind === 'checkpoint') {
        this.#queue = [];
        this.#queueBytes = 0;
      }
      while (this.#queue.length && (this.#queue.length >= MAX_QUEUED || this.#queueBytes + packet.byteLength > MAX_QUEUED_BYTES)) {
        this.#queueBytes -= this.#queue.shift()!.byteLength;
      }
    }
    this.#queue.push(packet);
    this.#queueBytes += packet.byteLength;
  }

  async #ensureVideo(): Promise<void> {
    if (this.#video) return;
    const v = document.createElement('video');
    v.muted = true;
    v.playsInline = true;
    v.srcObject = new MediaStream([this.#track]);
    this.#video = v;
    await v.play();
    if (!v.videoWidth) await new Promise((resolve) => v.addEventListener('resize', resolve, { once: true }));
    this.#canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(v.videoWidth, v.videoHeight) : document.createElement('canvas');
    this.#ctx = this.#canvas.getContext('2d', { willReadFrequently: true }) as Canvas2D | null;
    if (!this.#ctx) throw new GlimpseError(ErrorCode.NOT_AVAILABLE, 'no 2d canvas to read frames with');
  }
}

export type { ControlPolicy };
