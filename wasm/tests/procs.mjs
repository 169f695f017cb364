// The quick-connect programs for the relay tests (built by wasm/ci.sh): glimpse-relay on
// 127.0.0.1:0 serving the pages built from the packed package, glimpse-share streaming a recording,
// glimpse-view checking a screen. Every process is bounded in time and killed by stopAll().
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const BIN = process.env.GLIMPSE_BIN_DIR;
export const WEB_DIR = process.env.GLIMPSE_WEB_DIR;
export const CORPUS_DIR = process.env.GLIMPSE_CORPUS_DIR;
export const CORPUS = process.env.GLIMPSE_CORPUS ?? 'typing_editor@1280x720';
if (!BIN || !WEB_DIR || !CORPUS_DIR) throw new Error('GLIMPSE_BIN_DIR, GLIMPSE_WEB_DIR and GLIMPSE_CORPUS_DIR must be set: run the tests with bash wasm/ci.sh');

const running = new Set();

/** Starts `name` with `args`; resolves once `pattern` matched its stdout (with the match). */
function startUntil(name, args, pattern, timeoutMs = 30_000) {
  const proc = spawn(join(BIN, name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      resolve(code ?? signal);
    });
    proc.on('error', (e) => {
      running.delete(proc);
      resolve(`not started: ${e.message}`);
    });
  });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  const matched = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed nothing matching ${pattern} in ${timeoutMs} ms: ${out} ${err}`)), timeoutMs);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before printing ${pattern}: ${out} ${err}`));
    });
  });
  return { proc, exited, matched, output: () => ({ out, err }) };
}

/** glimpse-relay on 127.0.0.1 (port 0 picks one) serving `web` (WEB_DIR); stops by itself after 10 min. */
export async function startRelay(port = 0, web = WEB_DIR) {
  const r = startUntil('glimpse-relay', ['--listen', `127.0.0.1:${port}`, '--web', web, '--seconds', '600'], /relay listening on http:\/\/([\d.]+:\d+)/);
  const [, addr] = await r.matched;
  return {
    ...r,
    addr,
    port: Number(addr.split(':')[1]),
    http: `http://${addr}`,
    ws: `ws://${addr}`,
    /** SIGTERM: the relay closes every connection with 1012 (restart) and exits. */
    stop: async () => {
      r.proc.kill('SIGTERM');
      await r.exited;
    },
  };
}

/**
 * glimpse-share streaming CORPUS through `relayWs` (view-only unless `extra` says otherwise);
 * resolves with its code (digits) once printed.
 */
export async function startShare(relayWs, lastFrame, extra = []) {
  const control = extra.includes('--allow-control') ? [] : ['--view-only'];
  const args = ['--relay', relayWs, '--corpus', CORPUS, '--corpus-dir', CORPUS_DIR, ...control, '--last-frame', lastFrame, ...extra];
  const s = startUntil('glimpse-share', args, /code: (\d{3}) (\d{3}) (\d{4})/);
  const m = await s.matched;
  return { ...s, code: `${m[1]}${m[2]}${m[3]}` };
}

/** Runs `name` to its end (killed after `timeoutMs`): { code, out, err }. */
export function run(name, args, timeoutMs) {
  const p = startUntil(name, args, /$^/, timeoutMs + 5000);
  p.matched.catch(() => {});
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), timeoutMs);
  return p.exited.then((code) => {
    clearTimeout(timer);
    return { code, ...p.output() };
  });
}

/** Kills every process still running. */
export async function stopAll() {
  const waits = [];
  for (const proc of running) {
    waits.push(new Promise((resolve) => proc.on('exit', resolve)));
    proc.kill('SIGKILL');
  }
  await Promise.all(waits);
}

/** The screen width and height of CORPUS (NAME@WxH). */
export function corpusSize() {
  const [w, h] = CORPUS.split('@')[1].split('x').map(Number);
  return { width: w, height: h };
}

/** Swaps the first and third byte of every 4-byte pixel (BGRA <-> RGBA); alpha becomes 255 with `opaque`. */
function swapRedBlue(pixels, opaque) {
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i += 4) {
    out[i] = pixels[i + 2];
    out[i + 1] = pixels[i + 1];
    out[i + 2] = pixels[i];
    out[i + 3] = opaque ? 255 : pixels[i + 3];
  }
  return out;
}

/** BGRA rows packed -> RGBA with opaque alpha (what a canvas shows). */
export function bgraToRgba(bgra) {
  return swapRedBlue(bgra, true);
}

/** RGBA -> BGRA rows packed (what glimpse-view --expect reads). */
export function rgbaToBgra(rgba) {
  return swapRedBlue(rgba, false);
}

/** FNV-1a of bytes (the pages hash their canvas the same way). */
export function fnv(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return h;
}
