// A viewer's link to a relay (GlimpseViewer.join): the WebSocket, driven by the engine's
// ViewerSession (every message is encoded, decoded, sealed and opened in Rust: the key exchange with
// the host, the encrypted stream), acks of what was painted, automatic reconnection, remote control.
import type * as raw from '../dist/glimpse_wasm.js';
import { engine } from './engine.js';
import { call, ErrorCode, GlimpseError, toGlimpseError } from './errors.js';
import { forwardCanvasInput, type InputEvent } from './input.js';
import { closeCode, closeReason, discard, randomU32, relaySocketUrl } from './relay.js';

export type { InputEvent } from './input.js';

/**
 * Where a viewer's session stands. 'connecting' until the host let this viewer in (its code was
 * right); 'connected' after 'host-away' means the host is back; 'ended' is final (the detail's error
 * says why).
 */
export type ViewerState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'host-away' | 'ended';

/** Detail of a viewer's 'state' event. */
export interface StateDetail {
  state: ViewerState;
  previous: ViewerState;
  /** 'ended': why, with its code (CLOSED after leave(), SESSION_ENDED when the host ended it...). */
  error?: GlimpseError;
  /** 'reconnecting' and 'ended': the WebSocket close code (1006: dropped without one). */
  closeCode?: number;
  /** 'reconnecting': why the connection dropped. */
  reason?: string;
  /** 'reconnecting': milliseconds until the next attempt. */
  delayMs?: number;
}

/** Where remote control stands for this viewer. */
export type ControlState = 'none' | 'asked' | 'granted';

/** Detail of a viewer's 'control' event. */
export interface ControlDetail {
  state: ControlState;
  /** What happened: asked (requestControl()), granted, refused, or revoked (also when the connection dropped). */
  change: 'asked' | 'granted' | 'refused' | 'revoked';
}

/** Detail of a viewer's 'viewers' event. */
export interface ViewersDetail {
  /** Viewers watching, this one included. */
  count: number;
}

/** Detail of a viewer's 'paint' event: a checkpoint or update was applied, painted and acknowledged. */
export interface PaintDetail {
  seq: number;
  kind: 'checkpoint' | 'update';
  /** The host's capture time (ms since the Unix epoch; 0 when unknown). */
  capturedAtMs: number;
  /** Date.now() when it was painted. */
  paintedAtMs: number;
}

/** Settings of GlimpseViewer.join(). */
export interface JoinOptions {
  /** A name the host sees (default empty; at most 64 bytes are kept; sealed: the relay never sees it). */
  name?: string;
  /** join() rejects with TIMEOUT when the first screen has not been painted by then (default 20000 ms). */
  timeoutMs?: number;
  /** One connection attempt's time limit (default 10000 ms). */
  connectTimeoutMs?: number;
  /** Forward pointer, wheel and keyboard events on the canvas once control is granted (default true). */
  forwardInput?: boolean;
  /** Aborting it leaves the session. */
  signal?: AbortSignal;
}

/** What the link needs from its viewer. */
export interface ViewerPort {
  /** Applies and paints an opened packet: null when it was applied, else why not. */
  push(payload: Uint8Array, capturedAtMs: number): GlimpseError | null;
  /**
   * A packet was refused before decoding (it did not authenticate, or was replayed): count it.
   * `gap`: the stream now misses a packet (a resync was asked for): wait for the next checkpoint.
   */
  refused(reason: string, gap: boolean): void;
  /** Dispatches an event on the viewer. */
  emit(type: 'state' | 'viewers' | 'control' | 'paint', detail: StateDetail | ViewersDetail | ControlDetail | PaintDetail): void;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(typeof value === 'number' && value > 0 && value <= 3_600_000)) {
    throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, `${name} must be a number of ms in (0, 3600000], not ${String(value)}`);
  }
  return value;
}

/** An integer for the engine's i32 and u32 parameters. */
function int(value: number, min: number, max: number): number {
  const n = Math.trunc(Number(value));
  if (!Number.isFinite(n)) throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, `input values must be numbers, not ${String(value)}`);
  return Math.max(min, Math.min(max, n));
}

/** One viewer's session with a relay (see GlimpseViewer.join). */
export class ViewerLink {
  readonly #port: ViewerPort;
  readonly #canvas: HTMLCanvasElement;
  readonly #session: raw.ViewerSession;
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #forwardInput: boolean;
  readonly #skipTouch: boolean;
  readonly #signal: AbortSignal | undefined;
  #socket: WebSocket | null = null;
  #state: ViewerState = 'idle';
  #control: ControlState = 'none';
  #viewerCount = 0;
  #hostName = '';
  #refused = 0;
  /** A resync was asked for and no checkpoint applied since (one request per gap). */
  #resyncAsked = false;
  #pending: { resolve: () => void; reject: (e: GlimpseError) => void } | null = null;
  #joinTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #unforward: (() => void) | null = null;
  readonly #onAbort = () => this.leave();

  /** Throws INVALID_RELAY_URL, INVALID_CODE or INVALID_ARGUMENT. */
  /** `viewer.handlesTouch`: the viewer turns touch into input itself (not forwarded as mouse input here). */
  constructor(viewer: { readonly canvas: HTMLCanvasElement; readonly handlesTouch?: boolean }, relayUrl: string, code: string, options: JoinOptions, port: ViewerPort) {
    this.#port = port;
    this.#canvas = viewer.canvas;
    this.#url = relaySocketUrl(relayUrl, '/ws/view');
    this.#timeoutMs = positive('timeoutMs', options.timeoutMs, 20_000);
    this.#connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs, 10_000);
    this.#forwardInput = options.forwardInput !== false;
    this.#skipTouch = viewer.handlesTouch === true;
    this.#signal = options.signal;
    const name = options.name === undefined ? '' : String(options.name);
    this.#session = call(() => new (engine().ViewerSession)(String(code), name));
  }

  get state(): ViewerState { return this.#state; }
  get control(): ControlState { return this.#control; }
  get viewerCount(): number { return this.#viewerCount; }
  get hostName(): string { return this.#hostName; }
  /** Input on the canvas is forwarded once control is granted (JoinOptions.forwardInput). */
  get forwardsInput(): boolean { return this.#forwardInput; }
  /** The code, '123 456 7890'. */
  get code(): string { return this.#session.code; }
  /** Packets refused because they did not authenticate (changed on the way, replayed): never shown. */
  get refusedPackets(): number { return this.#refused; }

  /** Opens the first connection; resolves at the first painted screen. */
  start(): Promise<void> {
    if (this.#signal?.aborted) return Promise.reject(new GlimpseError(ErrorCode.CLOSED, 'aborted before joining'));
    const joined = new Promise<void>((resolve, reject) => {
      this.#pending = { resolve, reject };
    });
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (this.#forwardInput && typeof document !== 'undefined') {
      this.#unforward = forwardCanvasInput(this.#canvas, () => this.#control === 'granted', (e) => { this.sendInput(e); }, { skipTouch: this.#skipTouch });
    }
    this.#joinTimer = setTimeout(() => {
      this.#end(new GlimpseError(ErrorCode.TIMEOUT, `timed out waiting for the first screen (${this.#timeoutMs} ms)`));
    }, this.#timeoutMs);
    this.#setState('connecting', {});
    this.#open();
    return joined;
  }

  /** Leaves the session: closes the connection, state 'ended' with CLOSED. */
  leave(): void {
    if (this.#state === 'ended' || this.#state === 'idle') return;
    this.#end(new GlimpseError(ErrorCode.CLOSED, 'left the session'));
  }

  /** Sends a control request; false when there is nothing to ask. */
  requestControl(): boolean {
    const message = this.#live() ? this.#session.requestControl() : undefined;
    if (!message) return false;
    this.#socket!.send(message);
    this.#setControl('asked', 'asked');
    return true;
  }

  /** Sends an input event, sealed for the host, when this viewer holds control. */
  sendInput(event: InputEvent): boolean {
    if (!this.#live() || this.#control !== 'granted') return false;
    const s = this.#session;
    const i32 = (v: number) => int(v, -0x80000000, 0x7fffffff);
    let message: Uint8Array | undefined;
    switch (event?.type) {
      case 'pointer-move': message = s.pointerMove(i32(event.x), i32(event.y)); break;
      case 'button': message = s.button(int(event.button, 0, 255), Boolean(event.down)); break;
      case 'wheel': message = s.wheel(i32(event.dx), i32(event.dy)); break;
      case 'key': message = s.keyEvent(int(event.keysym, 0, 0xffffffff), Boolean(event.down)); break;
      default: throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, `unknown input event type ${String((event as { type?: unknown })?.type)}`);
    }
    if (!message) return false;
    this.#socket!.send(message);
    return true;
  }

  /** True while the connection is open. */
  #live(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  #open(): void {
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.#url);
    } catch (e) {
      // Refused by the browser itself (a blocked port, a mixed-content ws:// from https).
      this.#end(new GlimpseError(ErrorCode.RELAY_UNREACHABLE, `cannot reach the relay: ${toGlimpseError(e).message}`));
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    this.#resyncAsked = false;
    this.#connectTimer = setTimeout(() => this.#drop(socket, 'connection timed out'), this.#connectTimeoutMs);
    socket.onopen = () => {
      clearTimeout(this.#connectTimer);
      socket.send(this.#session.hello());
    };
    socket.onmessage = (e) => {
      try {
        this.#onMessage(socket, e);
      } catch (err) {
        // Never an exception per message: the connection goes, the session decides what next.
        this.#drop(socket, `internal error: ${toGlimpseError(err).message}`);
      }
    };
    socket.onerror = () => {}; // onclose follows, with the code
    socket.onclose = (e) => this.#closed(socket, e.code, e.reason);
  }

  #onMessage(socket: WebSocket, e: MessageEvent): void {
    if (socket !== this.#socket) return;
    if (!(e.data instanceof ArrayBuffer)) {
      this.#drop(socket, 'the relay sent a text message');
      return;
    }
    let event: raw.RawViewerEvent | undefined;
    try {
      event = this.#session.receive(new Uint8Array(e.data), Date.now());
    } catch (err) {
      this.#drop(socket, toGlimpseError(err).message);
      return;
    }
    // What the session queued (its key confirmation, a resync after a gap): before anything else.
    let queued = 0;
    for (let m = this.#session.pollOutgoing(); m; m = this.#session.pollOutgoing(), queued++) socket.send(m);
    switch (event?.type) {
      case undefined: break;
      case 'welcome': break; // the key exchange with the host runs
      case 'admitted':
        this.#hostName = event.hostName;
        this.#setState('connected', {});
        break;
      case 'packet': this.#onPacket(socket, event); break;
      case 'refused':
        // The session asks for a resync (what it queued) exactly when the refusal left a gap.
        this.#refused++;
        if (queued > 0) this.#resyncAsked = true;
        this.#port.refused(event.reason, queued > 0);
        break;
      case 'viewer-count':
        this.#viewerCount = event.count;
        this.#port.emit('viewers', { count: event.count });
        break;
      case 'control':
        this.#setControl(event.state, event.state === 'granted' ? 'granted' : event.refused ? 'refused' : 'revoked');
        break;
      case 'host-status': this.#setState(event.connected ? 'connected' : 'host-away', {}); break;
    }
  }

  #onPacket(socket: WebSocket, p: Extract<raw.RawViewerEvent, { type: 'packet' }>): void {
    const error = this.#port.push(p.data, p.capturedAtMs);
    if (error) {
      if (p.kind === 'checkpoint' && error.code === ErrorCode.LIMIT_EXCEEDED) {
        // A screen this viewer refuses to show (too large for its limits): nothing to wait for.
        this.#end(error);
        return;
      }
      // The decoder refused it: restart from the next checkpoint (asked once per gap).
      if (!this.#resyncAsked) socket.send(this.#session.resync());
      this.#resyncAsked = true;
      return;
    }
    if (p.kind === 'cursor') return;
    if (p.kind === 'checkpoint') this.#resyncAsked = false;
    // Painted: the relay sends more only within this viewer's window of unacknowledged updates.
    socket.send(this.#session.ack(p.seq));
    this.#port.emit('paint', { seq: p.seq, kind: p.kind, capturedAtMs: p.capturedAtMs, paintedAtMs: Date.now() });
    if (this.#pending) {
      clearTimeout(this.#joinTimer);
      const { resolve } = this.#pending;
      this.#pending = null;
      resolve();
    }
  }

  /** Ends a connection from this side (a bad message, a timeout), as a drop without a close code. */
  #drop(socket: WebSocket, reason: string): void {
    if (socket !== this.#socket) return;
    discard(socket);
    this.#closed(socket, 1006, reason);
  }

  /** The connection closed: reconnect after the session's delay, or end. */
  #closed(socket: WebSocket, code: number, reason: string): void {
    if (socket !== this.#socket) return;
    discard(socket);
    this.#socket = null;
    clearTimeout(this.#connectTimer);
    if (this.#control !== 'none') this.#setControl('none', 'revoked');
    const next = this.#session.closed(closeCode(code), closeReason(reason), Date.now(), randomU32());
    if (!next.reconnect) {
      this.#end(toGlimpseError(next.error), code);
      return;
    }
    this.#setState('reconnecting', { closeCode: code, reason: closeReason(reason), delayMs: next.delayMs });
    this.#retryTimer = setTimeout(() => this.#open(), next.delayMs);
  }

  /** Final: stops everything; a pending join() rejects with `error`. */
  #end(error: GlimpseError, code?: number): void {
    if (this.#state === 'ended') return;
    clearTimeout(this.#joinTimer);
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#connectTimer);
    if (this.#socket) discard(this.#socket, 1000, 'viewer left');
    this.#socket = null;
    this.#unforward?.();
    this.#unforward = null;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (this.#control !== 'none') this.#setControl('none', 'revoked');
    this.#setState('ended', code === undefined ? { error } : { error, closeCode: code });
    if (this.#pending) {
      const { reject } = this.#pending;
      this.#pending = null;
      reject(error);
    }
  }

  #setState(state: ViewerState, extra: Omit<StateDetail, 'state' | 'previous'>): void {
    const previous = this.#state;
    if (state === previous && state !== 'reconnecting') return;
    this.#state = state;
    this.#port.emit('state', { state, previous, ...extra });
  }

  #setControl(state: ControlState, change: ControlDetail['change']): void {
    this.#control = state;
    this.#port.emit('control', { state, change });
  }
}
