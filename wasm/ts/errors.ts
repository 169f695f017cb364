// Errors: every failure this package throws or reports is a GlimpseError with a stable numeric code.

import { ErrorCode, type ErrorCodeValue } from './codes.js';

export { ErrorCode, type ErrorCodeName, type ErrorCodeValue } from './codes.js';

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
