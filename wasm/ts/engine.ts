// Loading the WebAssembly engine (the raw layer made by wasm-bindgen from the Rust crate).
import initWasm, * as raw from '../dist/glimpse_wasm.js';
import { ErrorCode, GlimpseError } from './errors.js';

/** A `.wasm` source for init(): by default the file next to the package's JS. */
export type WasmSource = string | URL | Request | Response | BufferSource | WebAssembly.Module;

/** The raw classes and functions of the engine (translation of the Rust API, no logic). */
export type Raw = typeof raw;

let ready: Promise<void> | null = null;
let memory: WebAssembly.Memory | null = null;

/**
 * Loads the WebAssembly engine; call (and await) once before creating any object (later calls are
 * free). `source` is optional: a URL, Response, BufferSource or WebAssembly.Module of
 * `glimpse_wasm_bg.wasm` (default: the file next to this package).
 */
export function init(source?: WasmSource | Promise<WasmSource>): Promise<void> {
  ready ??= (async () => {
    let moduleOrPath: WasmSource | Promise<WasmSource> | undefined = source;
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
    const exports = await initWasm({ module_or_path: moduleOrPath });
    memory = exports.memory;
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
