// The one Node API the package touches (init() reading the .wasm file under file://). Declared here
// so the build needs no @types/node; this file is not part of the published types.
declare module 'node:fs/promises' {
  export function readFile(path: URL): Promise<Uint8Array>;
}
