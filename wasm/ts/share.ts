// A sharer's link to a relay (GlimpseSharer.share): the WebSocket, driven by the engine's
// HostSession (every message is encoded and decoded in Rust), checkpoints on request, viewers,
// remote control, and reconnection with the same key.
import type * as raw from '../dist/glimpse_wasm.js';
import { engine } from './engine.js';
import { call, ErrorCode, GlimpseError, toGlimpseError } from './errors.js';
import type { InputEvent } from './input.js';
import { closeCode, closeError, closeReason, discard, joinLink, randomU32, relaySocketUrl } from './relay.js';

/** Where a shared session stands; 'ended' is final (the detail's error says why). */
export type SharerState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'ended';

/** Detail of a sharer's 'state' event. */
export interface SharerStateDetail {
  state: SharerState;
  previous: SharerState;
  /** 'ended': why, with its code (SESSION_ENDED after end() or stop()...). */
  error?: GlimpseError;
  /** 'reconnecting' and 'ended': the WebSocket close code (1006: dropped without one). */
  closeCode?: number;
  /** 'reconnecting': why the connection dropped. */
  reason?: string;
  /** 'reconnecting': milliseconds until the next attempt. */
  delayMs?: number;
}

/** What happens when a viewer asks for remote control. */
export type ControlPolicy = 'view-only' | 'ask' | 'auto-grant';

/** Settings of GlimpseSharer.share(). */
export interface ShareOptions {
  /** A name viewers see (default empty). */
  name?: string;
  /**
   * Remote control: 'view-only' (the default: every request is refused), 'ask' ('controlrequest'
   * events; answer with grant() or refuse()), 'auto-grant'. A browser tab cannot inject input:
   * granted input arrives as 'input' events for the page to act on.
   */
  control?: ControlPolicy;
  /** share() rejects with TIMEOUT when the relay has not given a key by then (default 20000 ms). */
  timeoutMs?: number;
  /** One connection attempt's time limit (default 10000 ms). */
  connectTimeoutMs?: number;
  /** After a drop, keep trying this long before the session ends with CONNECTION_LOST (default 60000 ms). */
  reconnectForMs?: number;
  /** Aborting it ends the session. */
  signal?: AbortSignal;
}

/** What share() resolves with. */
export interface ShareResult {
  /** The key viewers type: '123 456 789'. */
  key: string;
  /** The page viewers open: the relay's page with the key in the URL fragment (never sent to a server). */
  link: string;
}

/** A viewer of a shared session. */
export interface ViewerInfo {
  /** Its id in this session. */
  viewer: number;
  /** The name it gave (may be empty). */
  name: string;
  /** Its address as the relay sees it (IP:port). */
  address: string;
}

/** Detail of a sharer's 'control' event: remote control changed hands. */
export interface SharerControlDetail {
  change: 'requested' | 'granted' | 'refused' | 'revoked';
  viewer: number;
}

/** Detail of a sharer's 'input' event: input from the viewer holding control. */
export interface InputDetail {
  viewer: number;
  event: InputEvent;
}

/** The events a link dispatches on its sharer, with their details. */
export interface LinkEvents {
  state: SharerStateDetail;
  viewerjoined: ViewerInfo;
  viewerleft: { viewer: number };
  controlrequest: { viewer: number };
  control: SharerControlDetail;
  input: InputDetail;
}

/** What the link needs from its sharer. */
export interface SharerPort {
  /** Emits a checkpoint of the current screen (through sendPacket); undefined before the first frame. */
  checkpoint(): Uint8Array | undefined;
  emit<K extends keyof LinkEvents>(type: K, detail: LinkEvents[K]): void;
}

/** Bytes waiting in the socket above which frames are skipped (the encoder catches up later). */
const MAX_BUFFERED = 8 << 20;

function ms(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(typeof value === 'number' && value > 0 && value <= 86_400_000)) {
    throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, `${name} must be a number of ms in (0, 86400000], not ${String(value)}`);
  }
  return value;
}

/** One sharer's session with a relay (see GlimpseSharer.share). */
export class HostLink {
  readonly #port: SharerPort;
  readonly #session: raw.HostSession;
  readonly #relayUrl: string;
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #reconnectForMs: number;
  readonly #signal: AbortSignal | undefined;
  #socket: WebSocket | null = null;
  #state: SharerState = 'idle';
  #link: string | undefined;
  #pending: { resolve: (r: ShareResult) => void; reject: (e: GlimpseError) => void } | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #downSince: number | null = null;
  #attempts = 0;
  readonly #onAbort = () => this.end();

  /** Throws INVALID_RELAY_URL or INVALID_ARGUMENT. */
  constructor(relayUrl: string, options: ShareOptions, port: SharerPort) {
    this.#port = port;
    this.#relayUrl = relayUrl;
    this.#url = relaySocketUrl(relayUrl, '/ws/host');
    this.#timeoutMs = ms('timeoutMs', options.timeoutMs, 20_000);
    this.#connectTimeoutMs = ms('connectTimeoutMs', options.connectTimeoutMs, 10_000);
    this.#reconnectForMs = ms('reconnectForMs', options.reconnectForMs, 60_000);
    this.#signal = options.signal;
    const policy = options.control ?? 'view-only';
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const name = options.name === undefined ? '' : String(options.name);
    this.#session = call(() => new (engine().HostSession)(policy, name, secret));
  }

  get state(): SharerState { return this.#state; }
  /** '123 456 789' once the relay gave the key. */
  get key(): string | undefined { return this.#session.key; }
  /** The join link once the relay gave the key. */
  get link(): string | undefined { return this.#link; }
  /** Viewers connected now. */
  get viewers(): ViewerInfo[] { return this.#session.viewers(); }
  /** True while frames should not be captured (the relay reads slower than we send). */
  get congested(): boolean { return (this.#socket?.bufferedAmount ?? 0) > MAX_BUFFERED; }

  /** Opens the first connection; resolves with the key once the relay confirmed the session. */
  start(): Promise<ShareResult> {
    if (this.#signal?.aborted) return Promise.reject(new GlimpseError(ErrorCode.CLOSED, 'aborted before sharing'));
    const ready = new Promise<ShareResult>((resolve, reject) => {
      this.#pending = { resolve, reject };
    });
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#timer = setTimeout(() => {
      this.#end(new GlimpseError(ErrorCode.TIMEOUT, `timed out waiting for the session key (${this.#timeoutMs} ms)`));
    }, this.#timeoutMs);
    this.#setState('connecting', {});
    this.#open();
    return ready;
  }

  /** Wraps an encoder packet for the relay and sends it (dropped while disconnected: a checkpoint follows the reconnection). */
  sendPacket(packet: Uint8Array, capturedAtMs: number): void {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const message = call(() => this.#session.streamMessage(packet, Math.max(0, Math.floor(capturedAtMs))));
    if (message) socket.send(message);
    this.#drain(); // a gap asks for a checkpoint
  }

  grant(viewer: number): void {
    call(() => this.#session.grant(viewer));
    this.#drain();
  }

  refuse(viewer: number): void {
    call(() => this.#session.refuse(viewer));
    this.#drain();
  }

  revoke(): void {
    this.#session.revoke();
    this.#drain();
  }

  remove(viewer: number): void {
    call(() => this.#session.remove(viewer));
    this.#drain();
  }

  /** Ends the session for every viewer. */
  end(): void {
    const socket = this.#socket;
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(this.#session.end());
    this.#end(new GlimpseError(ErrorCode.SESSION_ENDED, 'the session ended: ended by the host'));
  }

  #open(): void {
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.#url);
    } catch (e) {
      this.#end(new GlimpseError(ErrorCode.RELAY_UNREACHABLE, `cannot reach the relay: ${toGlimpseError(e).message}`));
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    this.#connectTimer = setTimeout(() => this.#drop(socket, 'connection timed out'), this.#connectTimeoutMs);
    socket.onopen = () => {
      clearTimeout(this.#connectTimer);
      socket.send(this.#session.hello());
      this.#drain();
    };
    socket.onmessage = (e) => {
      if (socket !== this.#socket) return;
      if (!(e.data instanceof ArrayBuffer)) return this.#drop(socket, 'the relay sent a text message');
      try {
        this.#session.receive(new Uint8Array(e.data));
        this.#drain();
      } catch (err) {
        // A message a relay may not send (or a failure acting on it): reconnect.
        this.#drop(socket, toGlimpseError(err).message);
      }
    };
    socket.onerror = () => {}; // onclose follows, with the code
    socket.onclose = (e) => this.#closed(socket, e.code, e.reason);
  }

  /** Acts on the session's events and sends what it queued. */
  #drain(): void {
    for (let event = this.#session.pollEvent(); event; event = this.#session.pollEvent()) {
      switch (event.type) {
        case 'ready': this.#ready(event.key, event.keyDigits); break;
        case 'checkpoint-needed': this.#port.checkpoint(); break;
        case 'viewer-joined': this.#port.emit('viewerjoined', { viewer: event.viewer, name: event.name, address: event.address }); break;
        case 'viewer-left': this.#port.emit('viewerleft', { viewer: event.viewer }); break;
        case 'control-requested': this.#port.emit('controlrequest', { viewer: event.viewer }); break;
        case 'control': this.#port.emit('control', { change: event.change, viewer: event.viewer }); break;
        case 'input': this.#port.emit('input', { viewer: event.viewer, event: event.event }); break;
        case 'disconnected': break; // the state says it
        case 'ended': this.#end(toGlimpseError(event.error)); return;
      }
    }
    const socket = this.#socket;
    for (let m = this.#session.pollOutgoing(); m; m = this.#session.pollOutgoing()) {
      if (socket?.readyState === WebSocket.OPEN) socket.send(m);
    }
  }

  #ready(key: string, keyDigits: string): void {
    this.#link ??= joinLink(this.#relayUrl, keyDigits);
    this.#downSince = null;
    this.#attempts = 0;
    this.#setState('live', {});
    if (this.#pending) {
      clearTimeout(this.#timer);
      const { resolve } = this.#pending;
      this.#pending = null;
      resolve({ key, link: this.#link });
    }
  }

  #drop(socket: WebSocket, reason: string): void {
    if (socket !== this.#socket) return;
    discard(socket);
    this.#closed(socket, 1006, reason);
  }

  #closed(socket: WebSocket, code: number, reason: string): void {
    if (socket !== this.#socket) return;
    discard(socket);
    this.#socket = null;
    clearTimeout(this.#connectTimer);
    code = closeCode(code);
    reason = closeReason(reason);
    if (this.#pending && this.#session.key === undefined) {
      // The first connection failed: say why at once.
      const error = code === 1006 || code === 1005
        ? new GlimpseError(ErrorCode.RELAY_UNREACHABLE, `cannot reach the relay${reason ? `: ${reason}` : ''}`)
        : closeError(code, reason);
      return this.#end(error, code);
    }
    if (engine().closeIsFinal(code)) return this.#end(closeError(code, reason), code);
    this.#session.disconnected();
    this.#drain();
    const now = Date.now();
    this.#downSince ??= now;
    if (now - this.#downSince > this.#reconnectForMs) {
      const error = new GlimpseError(ErrorCode.CONNECTION_LOST, `connection lost: could not reconnect within ${Math.round(this.#reconnectForMs / 1000)} s`);
      return this.#end(error, code);
    }
    const base = Math.min(2000, 100 * 2 ** Math.min(this.#attempts, 5));
    const delayMs = base + (randomU32() % (base / 2 + 1));
    this.#attempts++;
    this.#setState('reconnecting', { closeCode: code, reason, delayMs });
    this.#retryTimer = setTimeout(() => this.#open(), delayMs);
  }

  #end(error: GlimpseError, code?: number): void {
    if (this.#state === 'ended') return;
    clearTimeout(this.#timer);
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#connectTimer);
    if (this.#socket) discard(this.#socket, 1000, 'session ended');
    this.#socket = null;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#setState('ended', code === undefined ? { error } : { error, closeCode: code });
    if (this.#pending) {
      const { reject } = this.#pending;
      this.#pending = null;
      reject(error);
    }
  }

  #setState(state: SharerState, extra: Omit<SharerStateDetail, 'state' | 'previous'>): void {
    const previous = this.#state;
    if (state === previous && state !== 'reconnecting') return;
    this.#state = state;
    this.#port.emit('state', { state, previous, ...extra });
  }
}
