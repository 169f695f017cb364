// End-to-end test of quick connect in real headless Chromium: glimpse-share (with its built-in relay)
// streams a corpus recording; three browsers open the relay's viewer page (built on glimpse-web's
// GlimpseViewer.join) from a join link: one from the start, one on a throttled connection, one
// joining halfway. After the stream settles, every canvas must equal the host's last frame exactly,
// and the view-only host's refusal of remote control must show on the page. Reports join time and
// capture-to-paint latency (p50, p95) per viewer as JSON on the last line (figures, not assertions).
//
// Usage: node e2e.mjs SHARE_BINARY [--corpus NAME@WxH] [--corpus-dir DIR] [--web DIR]
// Everything stops by itself: share runs with --seconds, and the whole test has a hard time limit.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const shareBin = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const corpus = opt('--corpus', 'typing_editor@1920x1080');
const corpusDir = opt('--corpus-dir', undefined);
const web = opt('--web', undefined);
if (!shareBin) {
  console.error('usage: node e2e.mjs SHARE_BINARY [--corpus NAME@WxH] [--corpus-dir DIR] [--web DIR]');
  process.exit(2);
}
// The recordings are 100 frames at 10 fps: 10 s of typing, long enough to join halfway.
const FPS = 10;
const HARD_LIMIT_MS = 150_000;
const hardLimit = setTimeout(() => { console.error('e2e: time limit reached'); process.exit(3); }, HARD_LIMIT_MS);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'glimpse-e2e-'));
const timingFile = join(dir, 'timing.txt');
const lastFrameFile = join(dir, 'last.bgra');

function percentile(values, p) {
  if (!values.length) return 0;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.round((p / 100) * (v.length - 1)))];
}

// 1. The host with its built-in relay.
const shareArgs = ['--corpus', corpus, '--listen', '127.0.0.1:0', '--fps', String(FPS), '--seconds', '24',
  '--view-only', '--timing', timingFile, '--last-frame', lastFrameFile];
if (corpusDir) shareArgs.push('--corpus-dir', corpusDir);
if (web) shareArgs.push('--web', web);
const share = spawn(shareBin, shareArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
const shareStarted = Date.now();
let shareOut = '';
const shareExit = new Promise((resolve) => share.on('exit', (code) => resolve(code)));
const ready = new Promise((resolve, reject) => {
  share.stdout.on('data', (chunk) => {
    shareOut += chunk;
    process.stdout.write(chunk);
    const key = /session key: (\d{3} \d{3} \d{3})/.exec(shareOut);
    const link = /or open (http:\/\/[\d.:]+)\/#key=(\d{9})/.exec(shareOut);
    if (key && link) resolve({ key: key[1].replace(/ /g, ''), base: link[1], linkKey: link[2] });
  });
  share.on('exit', (code) => reject(new Error(`share exited (${code}) before printing its key`)));
});
const { key, base, linkKey } = await ready;
if (linkKey !== key) throw new Error(`the join link's key ${linkKey} is not the session key ${key}`);

// 2. The browser and three viewers, each opening the join link (the key in the URL fragment).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
  timeout: 30_000,
});
const viewers = [];
const pageErrors = [];
async function openViewer(name, throttle) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    pageErrors.push(`${name}: ${e.message}`);
    console.error(`e2e: ${name}: page error: ${e.message}`);
  });
  if (throttle) {
    // A slow link for the WebSocket too (CDP throttling covers HTTP; Chromium does not apply it to
    // WebSocket frames): messages reach the page one after another at about 300 KB/s plus 30 ms each.
    await page.addInitScript(() => {
      const Native = WebSocket;
      window.WebSocket = class SlowWebSocket extends Native {
        #handler = null;
        #queue = Promise.resolve();
        constructor(...a) {
          super(...a);
          super.onmessage = (event) => {
            const bytes = event.data.byteLength || 0;
            this.#queue = this.#queue
              .then(() => new Promise((r) => setTimeout(r, 30 + bytes / 300)))
              .then(() => this.#handler?.(event));
          };
        }
        set onmessage(f) { this.#handler = f; }
        get onmessage() { return this.#handler; }
      };
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 150, downloadThroughput: 400 * 1024, uploadThroughput: 50 * 1024,
    });
  }
  const started = Date.now();
  await page.goto(`${base}/#key=${key}`, { timeout: 30_000 });
  const v = { name, page, started, throttle };
  viewers.push(v);
  return v;
}
await openViewer('from the start', false);
await openViewer('throttled', true);
const streamMs = (100 / FPS) * 1000;
await sleep(Math.max(0, shareStarted + streamMs / 2 - Date.now()));
await openViewer('late joiner', false);

// 3. Wait for the recording to end (the host writes its last frame), then for every canvas to settle.
while (!existsSync(lastFrameFile)) {
  if (Date.now() - shareStarted > 60_000) throw new Error('the host never finished the recording');
  await sleep(100);
}
await sleep(200);
const [width, height] = corpus.split('@')[1].split('x').map(Number);
const bgra = readFileSync(lastFrameFile);
if (bgra.length !== width * height * 4) throw new Error(`last frame has ${bgra.length} bytes`);
const expected = new Uint8Array(bgra.length);
for (let i = 0; i < bgra.length; i += 4) {
  expected[i] = bgra[i + 2]; expected[i + 1] = bgra[i + 1]; expected[i + 2] = bgra[i]; expected[i + 3] = 255;
}
function fnv(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return h;
}
const expectedHash = fnv(expected);
const canvasHash = (page) => page.evaluate(() => {
  const c = document.getElementById('screen');
  if (!c.width) return { width: 0, height: 0, hash: 0 };
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 0x811c9dc5;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 0x01000193) >>> 0;
  return { width: c.width, height: c.height, hash: h };
});
const results = {};
let failed = false;
for (const v of viewers) {
  const deadline = Date.now() + 20_000;
  let got;
  for (;;) {
    got = await canvasHash(v.page);
    if (got.width === width && got.height === height && got.hash === expectedHash) break;
    if (Date.now() > deadline) break;
    await sleep(250);
  }
  const debug = await v.page.evaluate(() => window.glimpseDebug);
  const exact = got.hash === expectedHash && got.width === width && got.height === height;
  let wrongPixels = 0;
  if (!exact && got.width === width && got.height === height) {
    wrongPixels = await v.page.evaluate(async (exp) => {
      const bin = atob(exp);
      const c = document.getElementById('screen');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let wrong = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] !== bin.charCodeAt(i) || d[i + 1] !== bin.charCodeAt(i + 1) || d[i + 2] !== bin.charCodeAt(i + 2)) wrong++;
      }
      return wrong;
    }, Buffer.from(expected).toString('base64'));
  }
  if (!exact) failed = true;
  results[v.name] = {
    exact, wrongPixels, size: `${got.width}x${got.height}`, paints: debug.paints.length,
    joinToFirstPaintMs: debug.paints.length ? debug.paints[0][1] - v.started : null,
    errors: debug.errors, states: debug.states.map(([s]) => s), paintsLog: debug.paints,
  };
  console.log(`e2e: ${v.name}: ${exact ? 'canvas equals the host\'s last frame' : `MISMATCH (${wrongPixels} wrong pixels, ${got.width}x${got.height})`}`);
}
// The control button: the host runs with --view-only, so the request is refused, and the page says so.
const first = viewers[0].page;
await first.click('#control');
let controlRefused = false;
for (let i = 0; i < 40 && !controlRefused; i++) {
  controlRefused = await first.evaluate(() => window.glimpseDebug.errors.some((e) => e.includes('refused')));
  if (!controlRefused) await sleep(100);
}
console.log(`e2e: control request ${controlRefused ? 'refused by the view-only host, shown on the page' : 'NOT ANSWERED'}`);
if (!controlRefused) failed = true;
// The page never showed the key in a request URL: only the fragment carries it.
const leaked = viewers.some((v) => v.page.url().split('#')[0].includes(key));
if (leaked) failed = true;
await browser.close();

// 4. Latency: the host's capture time of each seq vs the page's paint time (same machine clock).
const code = await shareExit;
const captured = new Map(readFileSync(timingFile, 'utf8').trim().split('\n').map((l) => {
  const [seq, ms] = l.split(' ');
  return [Number(seq), Number(ms)];
}));
function latency(name) {
  // Live updates only: captured after this viewer first painted (not the catch-up a joiner replays).
  const paints = results[name].paintsLog;
  const firstPaint = paints.length ? paints[0][1] : Infinity;
  const l = paints
    .filter(([seq]) => captured.get(seq) > firstPaint)
    .map(([seq, t]) => t - captured.get(seq));
  return { p50: +percentile(l, 50).toFixed(1), p95: +percentile(l, 95).toFixed(1), samples: l.length };
}
const joins = Object.values(results).map((r) => r.joinToFirstPaintMs).filter((ms) => ms !== null);
const summary = {
  corpus, fps: FPS, share_exit: code,
  all_exact: Object.values(results).every((r) => r.exact), control_refused_shown: controlRefused, key_in_url_path: leaked,
  join_to_first_paint_ms: { p50: percentile(joins, 50), p95: percentile(joins, 95) },
  viewers: Object.fromEntries(Object.entries(results).map(([name, r]) => [name, {
    exact: r.exact, wrong_pixels: r.wrongPixels, paints: r.paints,
    join_to_first_paint_ms: r.joinToFirstPaintMs, latency_ms: latency(name),
    errors: r.errors.slice(0, 5), states: r.states,
  }])),
  page_errors: pageErrors.slice(0, 5),
};
if (pageErrors.length) failed = true;
console.log(JSON.stringify(summary));
clearTimeout(hardLimit);
if (failed) {
  console.error('e2e: FAILED (see above)');
  process.exit(1);
}
console.log('e2e: 4 passed, 0 failed');
