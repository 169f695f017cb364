// One browser viewer for tests: opens the relay's viewer page (a join link) in headless Chromium,
// records every paint [seq, Date.now()] and every state change [name, Date.now()] (the page keeps
// them in window.glimpseDebug), until N seconds passed or the session ended, then writes them as
// JSON and, when asked, the final canvas as BGRA rows packed (read 1:1, device scale factor 1).
//
// Usage: node page_viewer.mjs --url http://ADDR/#key=123456789 --seconds N --out RESULT.json
//          [--screen-out FILE.bgra] [--spki BASE64]
//   --spki: trust a test certificate over https/wss (the base64 SHA-256 of its public key, as
//           Chromium's --ignore-certificate-errors-spki-list takes it)
// Prints `page_viewer: ready` once the first screen is painted. Exit 0 when it joined, 1 when it did
// not, 2 for bad arguments. RESULT.json: { joined, paints, states, errors, width, height }.
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

function parse(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (!['--url', '--seconds', '--out', '--screen-out', '--spki'].includes(name) || value === undefined) return null;
    opts[name.slice(2)] = value;
  }
  const seconds = Number(opts.seconds);
  if (!opts.url || !opts.out || !(seconds > 0 && seconds <= 3600)) return null;
  return { ...opts, seconds };
}

const opts = parse(process.argv.slice(2));
if (!opts) {
  console.error('usage: node page_viewer.mjs --url URL --seconds N --out RESULT.json [--screen-out FILE.bgra] [--spki BASE64]');
  process.exit(2);
}
const hardLimit = setTimeout(() => {
  console.error('page_viewer: time limit reached');
  process.exit(1);
}, (opts.seconds + 60) * 1000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (line) => new Promise((resolve) => process.stdout.write(`${line}\n`, resolve));

// Playwright gives every launch a fresh profile directory (--user-data-dir) and removes it afterwards.
const args = ['--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--no-sandbox');
if (opts.spki) args.push(`--ignore-certificate-errors-spki-list=${opts.spki}`);

const errors = [];
let browser;
let result = { joined: false, paints: [], states: [], errors, width: 0, height: 0 };
try {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args, timeout: 30_000 });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, ignoreHTTPSErrors: false });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  const started = Date.now();
  await page.goto(opts.url, { timeout: 30_000 });
  let ready = false;
  for (;;) {
    const d = await page.evaluate(() => {
      const g = window.glimpseDebug;
      return g ? { joined: g.joined || g.paints.length > 0, last: g.states.at(-1)?.[0] } : { joined: false, last: undefined };
    });
    if (d.joined && !ready) {
      ready = true;
      await say('page_viewer: ready');
    }
    if (d.last === 'ended' || Date.now() - started >= opts.seconds * 1000) break;
    await sleep(100);
  }
  const debug = await page.evaluate(() => {
    const g = window.glimpseDebug ?? { paints: [], states: [], errors: [], joined: false };
    const c = document.getElementById('screen');
    return { joined: g.joined || g.paints.length > 0, paints: g.paints, states: g.states, errors: g.errors, width: c?.width ?? 0, height: c?.height ?? 0 };
  });
  result = { ...debug, errors: [...debug.errors, ...errors] };
  if (opts['screen-out']) {
    const b64 = await page.evaluate(() => {
      const c = document.getElementById('screen');
      if (!c || !c.width) return '';
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      // BGRA rows packed, as the native tools write screens.
      const out = new Uint8Array(d.length);
      for (let i = 0; i < d.length; i += 4) {
        out[i] = d[i + 2]; out[i + 1] = d[i + 1]; out[i + 2] = d[i]; out[i + 3] = d[i + 3];
      }
      let s = '';
      for (let i = 0; i < out.length; i += 0x8000) s += String.fromCharCode(...out.subarray(i, i + 0x8000));
      return btoa(s);
    });
    writeFileSync(opts['screen-out'], Buffer.from(b64, 'base64'));
  }
} catch (e) {
  errors.push(`page_viewer: ${e instanceof Error ? e.message : String(e)}`);
  result.errors = errors;
} finally {
  await browser?.close().catch(() => {});
}
writeFileSync(opts.out, JSON.stringify(result));
clearTimeout(hardLimit);
process.exit(result.joined ? 0 : 1);
