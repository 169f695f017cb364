// Relay addresses, session keys and close codes: small helpers shared by join() and share().
import { engine } from './engine.js';
import { call, ErrorCode, GlimpseError, toGlimpseError } from './errors.js';

/** The WebSocket URL of `path` ('/ws/view' or '/ws/host') on the relay at `relayUrl`. */
export function relaySocketUrl(relayUrl: string, path: '/ws/view' | '/ws/host'): string {
  return `${relayOrigin(relayUrl, 'ws')}${path}`;
}

/** The page viewers open for the relay at `relayUrl`, with `keyDigits` in the fragment. */
export function joinLink(relayUrl: string, keyDigits: string): string {
  return `${relayOrigin(relayUrl, 'http')}/#key=${keyDigits}`;
}

/**
 * `ws(s)://HOST[:PORT]` or `http(s)://HOST[:PORT]` of a relay given as ws://, wss://, http:// or
 * https:// (any path is dropped, as the native clients do). Throws INVALID_RELAY_URL.
 */
function relayOrigin(relayUrl: string, as: 'ws' | 'http'): string {
  const bad = (reason: string) => new GlimpseError(ErrorCode.INVALID_RELAY_URL, `invalid relay URL ${JSON.stringify(relayUrl)}: ${reason}`);
  let url: URL;
  try {
    url = new URL(String(relayUrl).trim());
  } catch {
    throw bad('it needs a scheme: ws://, wss://, http:// or https://');
  }
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  if (!secure && url.protocol !== 'ws:' && url.protocol !== 'http:') throw bad('the scheme must be ws, wss, http or https');
  if (!url.host || url.username || url.password) throw bad('it needs a host (and no user name)');
  const scheme = as === 'ws' ? (secure ? 'wss' : 'ws') : (secure ? 'https' : 'http');
  return `${scheme}://${url.host}`;
}

/**
 * A session key as people read it ('123 456 789') from what a user typed (9 digits, optionally
 * grouped by spaces or dashes). Throws INVALID_SESSION_KEY. Needs init().
 */
export function formatSessionKey(text: string): string {
  return call(() => engine().formatSessionKey(String(text)));
}

/** A session key as digits only ('123456789', for links). Throws INVALID_SESSION_KEY. Needs init(). */
export function sessionKeyDigits(text: string): string {
  return call(() => engine().sessionKeyDigits(String(text)));
}

/** The error a WebSocket close code and reason from a relay stand for. Needs init(). */
export function closeError(code: number, reason: string): GlimpseError {
  return toGlimpseError(engine().closeError(code, reason));
}

/** A random u32 (spreads reconnections). */
export function randomU32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** A WebSocket close code as the engine takes it (u16); 1006 for anything odd. */
export function closeCode(code: number): number {
  return Number.isInteger(code) && code >= 0 && code <= 0xffff ? code : 1006;
}

/** A close reason cut to what a log line needs (a hostile relay may send anything). */
export function closeReason(reason: string): string {
  return String(reason ?? '').slice(0, 200);
}

/** A socket with its handlers removed, closed (nothing of it reaches us any more). */
export function discard(socket: WebSocket, code = 1000, reason = ''): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onerror = null;
  socket.onclose = null;
  try {
    socket.close(code, reason);
  } catch {
    socket.close();
  }
}
