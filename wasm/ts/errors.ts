// Errors: every failure this package throws or reports is a GlimpseError with a stable numeric code.

/**
 * Stable numeric error codes; the same numbers (and names) as the C library's GLIMPSE_RESULT_*.
 * Never change. 10-31: the engine; 30-59: quick connect (sessions, relays, connections).
 */
export const ErrorCode = Object.freeze({
  /** The engine trapped (a bug in Glimpse); the object that threw should be dropped. */
  PANIC: 2,
  INVALID_ARGUMENT: 4,
  /** No such state yet (no framebuffer before the first checkpoint; init() not awaited). */
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
  /** A frame update that does not follow the previous one: wait for (or ask for) a checkpoint. */
  OUT_OF_SYNC: 25,
  NO_CHECKPOINT: 26,
  CORRUPT_PAYLOAD: 27,
  /** Input from a viewer that does not hold remote control. */
  CONTROL_NOT_GRANTED: 30,
  /** A pointer event outside the shared screen. */
  POINTER_OUTSIDE_SCREEN: 31,
  /** Text that is not a session key (9 digits, optionally grouped by spaces or dashes). */
  INVALID_SESSION_KEY: 32,
  /** No session has this key (a typo, or the host ended the session). */
  UNKNOWN_SESSION_KEY: 33,
  /** The key's session was unused for too long. */
  SESSION_KEY_EXPIRED: 34,
  /** Too many wrong keys from this address: try again later. */
  RATE_LIMITED: 35,
  /** The relay could not be reached. */
  RELAY_UNREACHABLE: 40,
  /** TLS failed (native clients only; a browser reports an unreachable relay). */
  TLS: 41,
  /** A relay URL that cannot be used: ws://, wss://, http:// or https:// with a host. */
  INVALID_RELAY_URL: 42,
  /** The relay sent something the protocol does not allow. */
  PROTOCOL_ERROR: 43,
  /** The session is over: the host ended it, or the relay closed it for good. */
  SESSION_ENDED: 44,
  /** The host removed this viewer. */
  REMOVED: 45,
  /** The relay is full (sessions, viewers or memory). */
  RELAY_FULL: 46,
  /** The connection was lost and could not be restored in time. */
  CONNECTION_LOST: 47,
  /** Closed by this side (leave(), end(), destroy()). */
  CLOSED: 48,
  /** Something did not happen in time (the first screen, the session key). */
  TIMEOUT: 49,
  /** A host tried to take over a session another host holds. */
  SESSION_KEY_IN_USE: 50,
  /** A request that does not fit the current state (joining twice, a viewer not connected...). */
  INVALID_REQUEST: 51,
  UNKNOWN: 99,
} as const);

/** One of the values of ErrorCode. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every error this package throws or reports. Branch on `code`, not on the message. */
export class GlimpseError extends Error {
  override readonly name: 'GlimpseError' = 'GlimpseError';
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

const KNOWN_CODES: ReadonlySet<number> = new Set(Object.values(ErrorCode));

/** The code of a number the engine gave (UNKNOWN when this layer has no name for it). */
function knownCode(code: number): ErrorCodeValue {
  return (KNOWN_CODES.has(code) ? code : ErrorCode.UNKNOWN) as ErrorCodeValue;
}

/** Turns whatever the wasm layer threw into a GlimpseError (a trap is PANIC: a bug in Glimpse). */
export function toGlimpseError(e: unknown): GlimpseError {
  if (e instanceof GlimpseError) return e;
  if (e instanceof Error && e.name === 'GlimpseError' && typeof (e as { code?: unknown }).code === 'number') {
    return new GlimpseError(knownCode((e as Error & { code: number }).code), e.message);
  }
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
    return new GlimpseError(ErrorCode.PANIC, `internal error in Glimpse (please report a bug): ${e.message}`, { cause: e });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new GlimpseError(ErrorCode.UNKNOWN, message, { cause: e });
}

/** Runs a call into the engine; whatever it throws comes out as a GlimpseError. */
export function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw toGlimpseError(e);
  }
}
