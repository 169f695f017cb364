// Interop with end-to-end encryption on: a C host (examples/c/quick_share.c on libglimpse) shares
// through glimpse-relay; the relay's viewer page (glimpse-web in WebAssembly) joins in headless
// Chromium from the host's join link. The page's canvas must equal quick_share's final frame pixel
// for pixel, the host must see the viewer's name (sealed in the key exchange) and the page the
// host's name (sealed in the admission).
//
// Usage: node interop.mjs RELAY_BINARY QUICK_SHARE_BINARY --web DIR
// Everything stops by itself: the relay and the host run with time limits, the test has a hard one.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [relayBin, hostBin, webFlag, web] = process.argv.slice(2);
if (!relayBin || !hostBin || webFlag !== '--web' || !web) {
  console.error('usage: node interop.mjs RELAY_BINARY QUICK_SHARE_BINARY --web DIR');
  process.exit(2);
}
const hardLimit = setTimeout(() => { console.error('interop: time limit reached'); process.exit(3); }, 120_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'glimpse-interop-'));
const procs = [];

/** Starts a program; resolves with the first match of `pattern` in its stdout. */
function start(bin, args, pattern) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  const matched = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(m);
    });
    exited.then((code) => reject(new Error(`${bin} exited (${code}) before printing ${pattern}: ${out} ${err}`)));
  });
  return { proc, exited, matched, output: () => out, errors: () => err };
}

let failed = false;
const check = (ok, what) => {
  console.log(`interop: ${ok ? 'ok' : 'FAILED'}: ${what}`);
  if (!ok) failed = true;
};

let browser;
try {
  const relay = start(relayBin, ['--listen', '127.0.0.1:0', '--web', web, '--seconds', '110'], /relay listening on http:\/\/([\d.]+:\d+)/);
  const [, addr] = await relay.matched;
  const [width, height] = [640, 400];
  const finalFile = join(dir, 'final.bgra');
  const host = start(hostBin, ['--relay', `ws://${addr}`, '--frames', '30', '--fps', '15', '--size', `${width}x${height}`,
    '--name', 'C host', '--wait-viewers', '1', '--final', finalFile, '--linger', '8'], /join link: (\S+)/);
  const [, link] = await host.matched;
  const code = /code: (\d{3} \d{3} \d{4})/.exec(host.output())?.[1];
  check(code && link === `http://${addr}/#code=${code.replace(/ /g, '')}`, `the C host's code ${code} and join link ${link}`);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
    timeout: 30_000,
  });
  const page = await browser.newPage({ viewport: { width: 1024, height: 640 }, deviceScaleFactor: 1 });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  await page.addInitScript(() => localStorage.setItem('glimpse-name', 'Browser viewer'));
  await page.goto(link, { timeout: 30_000 });
  for (let i = 0; i < 300 && !existsSync(finalFile); i++) await sleep(100);
  check(existsSync(finalFile), 'quick_share wrote its final frame');
  await sleep(200);
  const bgra = readFileSync(finalFile);
  const expected = Buffer.alloc(bgra.length);
  for (let i = 0; i < bgra.length; i += 4) {
    expected[i] = bgra[i + 2]; expected[i + 1] = bgra[i + 1]; expected[i + 2] = bgra[i]; expected[i + 3] = 255;
  }
  let got = null;
  for (let i = 0; i < 100; i++) {
    got = await page.evaluate((b64) => {
      const c = document.getElementById('screen');
      if (!c.width) return { width: 0, height: 0, wrong: -1 };
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const want = atob(b64);
      let wrong = 0;
      for (let k = 0; k < d.length; k += 4) {
        if (d[k] !== want.charCodeAt(k) || d[k + 1] !== want.charCodeAt(k + 1) || d[k + 2] !== want.charCodeAt(k + 2)) wrong++;
      }
      return { width: c.width, height: c.height, wrong, debug: window.glimpseDebug };
    }, expected.toString('base64'));
    if (got.wrong === 0 && got.width === width) break;
    await sleep(200);
  }
  check(got.width === width && got.height === height && got.wrong === 0,
    `the browser's canvas equals the C host's final frame (${got.width}x${got.height}, ${got.wrong} pixels differ)`);
  check(got.debug?.hostName === 'C host', `the page knows the host's name (${JSON.stringify(got.debug?.hostName)})`);
  check(/name "Browser viewer"/.test(host.output()), 'the C host saw the viewer\'s name');
  check(pageErrors.length === 0, `no page errors ${JSON.stringify(pageErrors.slice(0, 3))}`);
  const status = await host.exited;
  check(status === 0, `quick_share exited ${status}`);
} catch (e) {
  console.error(`interop: ${e instanceof Error ? e.stack : String(e)}`);
  failed = true;
} finally {
  await browser?.close().catch(() => {});
  for (const p of procs) p.kill('SIGKILL');
  clearTimeout(hardLimit);
}
console.log(failed ? 'interop: FAILED' : 'interop: C host -> relay -> browser viewer: pixel-exact, names both ways');
process.exit(failed ? 1 : 0);
