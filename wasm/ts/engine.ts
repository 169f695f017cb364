// Loading the WebAssembly engine (the raw layer made by wasm-bindgen from the Rust crate).
import initWasm, * as raw from '../dist/glimpse_wasm.js';
import { ErrorCode, GlimpseError } from './errors.js';

/** A `.wasm` source for init(): by default the file next to the package's JS. */
export type WasmSource = string | URL | Request | Response | BufferSource | WebAssembly.Module;

/** The raw classes and functions of the engine (translation of the Rust API, no logic). */
export type Raw = typeof raw;

let ready: Promise<void> | null = null;
let memory: WebAssembly.Memory | null = null;

/** Options of init(). */
export interface InitOptions {
  /**
   * Subresource Integrity of the `.wasm` ('sha384-...'): it is fetched with `fetch(url, { integrity })`
   * and refused (init() rejects) when it does not match. Only for a URL source (or the default file).
   */
  integrity?: string;
}

/** The default `.wasm`: the file next to the package's JavaScript. */
function defaultWasmUrl(): URL {
  return new URL('../dist/glimpse_wasm_bg.wasm', import.meta.url);
}

/** What initWasm loads: `source`, fetched with its integrity when one is given. */
async function wasmSource(source: WasmSource | Promise<WasmSource> | undefined, integrity: string | undefined): Promise<WasmSource> {
  if (integrity !== undefined) {
    const resolved = await source;
    if (resolved !== undefined && typeof resolved !== 'string' && !(resolved instanceof URL)) {
      throw new GlimpseError(ErrorCode.INVALID_ARGUMENT, 'init(): integrity needs the .wasm as a URL (or the default file)');
    }
    return fetch(resolved ?? defaultWasmUrl(), { integrity });
  }
  if (source !== undefined) return source;
  const url = defaultWasmUrl();
  if (url.protocol !== 'file:') return url;
  // Node (and other file:// hosts): fetch() cannot read files.
  const fs = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:fs/promises');
  return fs.readFile(url);
}

/**
 * Loads the WebAssembly engine; call (and await) once before creating any object (later calls are
 * free). `source` is optional: a URL, Response, BufferSource or WebAssembly.Module of
 * `glimpse_wasm_bg.wasm` (default: the file next to this package). `options.integrity` pins the file
 * by its hash. Rejects with NOT_AVAILABLE when the engine cannot be loaded (a file that does not
 * match its integrity, a network error, a browser without WebAssembly).
 */
export function init(source?: WasmSource | Promise<WasmSource>, options: InitOptions = {}): Promise<void> {
  ready ??= (async () => {
    try {
      const exports = await initWasm({ module_or_path: await wasmSource(source, options.integrity) });
      memory = exports.memory;
    } catch (e) {
      if (e instanceof GlimpseError) throw e;
      const reason = e instanceof Error ? e.message : String(e);
      throw new GlimpseError(ErrorCode.NOT_AVAILABLE, `glimpse-web: cannot load the engine: ${reason}`, { cause: e });
    }
  })();
  ready.catch(() => {
    ready = null;
  });
  return ready;
}

/** The engine; throws NOT_AVAILABLE before init() finished. */
export function engine(): Raw {
  if (!memory) throw new GlimpseError(ErrorCode.NOT_AVAILABLE, 'glimpse-web: await init() before creating objects');
  return raw;
}

/** The engine's memory (framebuffers are read in place from it). */
export function wasmMemory(): WebAssembly.Memory {
  if (!memory) throw new GlimpseError(ErrorCode.NOT_AVAILABLE, 'glimpse-web: await init() before creating objects');
  return memory;
}

/** The engine's own table of error codes (equal to ErrorCode; the tests check it). Needs init(). */
export function engineErrorCodes(): Record<string, number> {
  return engine().errorCodes();
}

/** The wire protocol version the engine speaks. Needs init(). */
export function protocolVersion(): number {
  return engine().protocolVersion();
}
