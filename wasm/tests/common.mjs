// Shared by the tests: test data made by the native encoder (`packets make`), framed-file reading.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DATA = process.env.GLIMPSE_TESTDATA;
if (!DATA) throw new Error('GLIMPSE_TESTDATA is not set: run the tests with bash wasm/ci.sh');
export const manifest = JSON.parse(readFileSync(join(DATA, 'manifest.json'), 'utf8'));

/** Splits a `write_framed` file (u32 LE length + packet, repeated) into packets. */
export function readFramed(buf) {
  const packets = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let off = 0; off < buf.length;) {
    const len = view.getUint32(off, true);
    packets.push(buf.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return packets;
}

/** Writes packets as a framed file body. */
export function framed(packets) {
  const total = packets.reduce((n, p) => n + 4 + p.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const p of packets) {
    view.setUint32(off, p.length, true);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

export function loadStream(stream) {
  return readFramed(readFileSync(join(DATA, stream.packets)));
}

export function loadRgba(file) {
  return readFileSync(join(DATA, file));
}

/** Index of the first differing byte, or -1. */
export function firstDiff(a, b) {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
