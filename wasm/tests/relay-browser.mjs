// Shared by the Chromium tests against a real glimpse-relay (connect.test.mjs, viewer-page.test.mjs,
// hostile-relay.test.mjs): the browser's flags, before/after hooks, a relay page opened in its own
// context, a canvas shared from a page with GlimpseSharer.share (known content, the images it
// encoded), pixel checks of a page's #screen canvas, and a PNG decoder for screenshots.
import { after, before } from 'node:test';
import { inflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { DATA } from './common.mjs';
import { fnv, startRelay, stopAll } from './procs.mjs';
import { serve } from './server.mjs';

export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--autoplay-policy=no-user-gesture-required',
  // Several pages run at once: none of them may be throttled as a background window.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The hooks of a test file against a real glimpse-relay. before(): starts the relay, a static server
 * of the working directory and the test data, and Chromium with `args`, and hands them to
 * `started({ relay, staticServer, browser })`. after(), whatever failed: runs every function of the
 * returned list (the file adds to it as it goes), then closes the browser and the server and stops
 * the relay.
 */
export function relayHooks(args, started) {
  const cleanups = [];
  let browser;
  let staticServer;
  before(async () => {
    const relay = await startRelay();
    staticServer = await serve(process.cwd(), DATA);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
    started({ relay, staticServer, browser });
  });
  after(async () => {
    for (const f of cleanups) f();
    await browser?.close();
    staticServer?.server.close();
    await stopAll();
  });
  return cleanups;
}

/**
 * A page of the relay at `base` (CSP and all) in a new context of `browser` (`contextOptions`: the
 * viewport, device scale factor, touch...); `path` '/test/relay-page.html' loads the package for the
 * test. The page gets window.canvasHash(canvas); `logs` collects page errors.
 */
export async function openRelayPage(browser, base, path, contextOptions = { viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 }) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const logs = [];
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') logs.push(`console: ${m.text()}`); });
  await page.goto(`${base}${path}`);
  if (path.startsWith('/test/')) await page.waitForFunction(() => window.glimpseReady === true);
  await page.evaluate(() => {
    window.canvasHash = (canvas) => {
      if (!canvas.width) return { width: 0, height: 0, hash: 0 };
      const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let h = 0x811c9dc5;
      for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 0x01000193) >>> 0;
      return { width: canvas.width, height: canvas.height, hash: h };
    };
  });
  return { context, page, logs };
}

/** Polls the page's #screen canvas until it equals `expected` (RGBA) or `ms` passed. */
export async function canvasEquals(page, expected, width, height, ms = 20_000) {
  const want = fnv(expected);
  const deadline = Date.now() + ms;
  let got;
  for (;;) {
    got = await page.evaluate(() => window.canvasHash(document.getElementById('screen')));
    if (got.width === width && got.height === height && got.hash === want) return { exact: true, got };
    if (Date.now() > deadline) return { exact: false, got };
    await sleep(200);
  }
}

/** The colour marks of the 'marks' scene: a square of MARK pixels in each corner of the screen. */
export const MARK = 96;
export const MARKS = { topLeft: [230, 30, 30], topRight: [30, 200, 40], bottomLeft: [40, 60, 230], bottomRight: [250, 210, 20] };

/**
 * In the page: a canvas drawn with known content, shared with GlimpseSharer.share (`options`: its
 * ShareOptions). `scene`: 'default' (320x240, a moving box and typed text) or 'marks' (`width` x
 * `height`: text, a fine grid, and the MARKS colours in the corners). The page gets window.draw(k),
 * window.settle(k) (draws frame k, waits until it was encoded; the image, base64 RGBA), window.sharer
 * and window.log (states, viewers, control input from viewers in log.input...).
 */
export async function shareCanvas(page, relayUrl, options = {}, { width = 320, height = 240, scene = 'default' } = {}) {
  return page.evaluate(async ({ relayUrl, options, width, height, scene, marks, mark }) => {
    const { GlimpseSharer } = window.glimpse;
    const src = document.createElement('canvas');
    src.width = width;
    src.height = height;
    document.body.append(src);
    const ctx = src.getContext('2d');
    const scenes = {
      default: (k) => {
        ctx.fillStyle = '#f0f0f0';
        ctx.fillRect(0, 0, 320, 240);
        ctx.fillStyle = '#202080';
        ctx.fillRect(10 + k * 20, 20, 60, 40);
        ctx.fillStyle = '#000';
        ctx.font = '16px sans-serif';
        ctx.fillText(`typing ${'x'.repeat(k % 12)}`, 10, 200);
        ctx.fillStyle = `rgb(${(k * 40) % 256}, 160, 60)`;
        ctx.fillRect(250, 150, 50, 50);
      },
      marks: (k) => {
        ctx.fillStyle = '#f4f4f0';
        ctx.fillRect(0, 0, width, height);
        ctx.fillStyle = '#d0d0d8';
        for (let x = 0; x < width; x += 16) ctx.fillRect(x, 0, 1, height);
        for (let y = 0; y < height; y += 16) ctx.fillRect(0, y, width, 1);
        ctx.fillStyle = '#111';
        ctx.font = '14px monospace';
        for (let line = 0; line < height / 40; line++) ctx.fillText(`line ${line} of the shared screen, frame ${k}: the quick brown fox`, 140, 130 + line * 40);
        const corner = { topLeft: [0, 0], topRight: [width - mark, 0], bottomLeft: [0, height - mark], bottomRight: [width - mark, height - mark] };
        for (const [name, [x, y]] of Object.entries(corner)) {
          ctx.fillStyle = `rgb(${marks[name].join(',')})`;
          ctx.fillRect(x, y, mark, mark);
        }
      },
    };
    window.draw = (k) => {
      scenes[scene](k);
      track.requestFrame(); // a frame for the track now, not when the page's rendering gets to it
    };
    const track = src.captureStream(0).getVideoTracks()[0];
    window.draw(0);
    window.log = { states: [], joined: [], left: [], asked: [], wrong: [], replaced: [], input: [], last: null };
    const result = await GlimpseSharer.share(relayUrl, { track, fps: 15, name: 'browser host', ...options });
    const sharer = result.sharer;
    window.sharer = sharer;
    sharer.addEventListener('state', (e) => window.log.states.push(e.detail.state));
    sharer.addEventListener('viewerjoined', (e) => window.log.joined.push(e.detail.name));
    sharer.addEventListener('viewerleft', (e) => window.log.left.push(e.detail.viewer));
    sharer.addEventListener('wrongcode', (e) => window.log.wrong.push(e.detail.attempts));
    sharer.addEventListener('codereplaced', (e) => window.log.replaced.push(e.detail));
    sharer.addEventListener('input', (e) => window.log.input.push(e.detail.event));
    // With approveViewers: everybody but 'intruder' is let in.
    sharer.addEventListener('approvalneeded', (e) => {
      window.log.asked.push(e.detail.name);
      if (e.detail.name === 'intruder') sharer.deny(e.detail.viewer);
      else sharer.approve(e.detail.viewer);
    });
    let lastAt = 0;
    window.log.packets = 0;
    sharer.addEventListener('packet', (e) => {
      window.log.packets++;
      if (!e.detail.image) return;
      window.log.last = e.detail.image;
      lastAt = performance.now();
    });
    /** Draws frame k, waits until the sharer encoded it and nothing changed for 600 ms; the image it encoded, base64 RGBA. */
    window.settle = async (k) => {
      const drawnAt = performance.now();
      window.draw(k);
      const wait = (ms) => new Promise((r) => setTimeout(r, ms));
      for (let i = 0; i < 100 && !(lastAt > drawnAt && performance.now() - lastAt > 600); i++) {
        await wait(100);
        if (i % 3 === 2) await sharer.captureFrame();
      }
      const img = window.log.last;
      if (!img) throw new Error(`no frame encoded after drawing frame ${k}: ${JSON.stringify({ state: sharer.state, states: window.log.states, track: [track.readyState, track.muted, track.enabled], packets: window.log.packets })}`);
      let s = '';
      for (let i = 0; i < img.data.length; i += 0x8000) s += String.fromCharCode(...img.data.subarray(i, i + 0x8000));
      return { width: img.width, height: img.height, rgba: btoa(s) };
    };
    return { code: result.code, link: result.link, state: sharer.state, joinLink: sharer.joinLink };
  }, { relayUrl, options, width, height, scene, marks: MARKS, mark: MARK });
}

/** Decodes a PNG (8-bit RGB or RGBA, not interlaced: what Chromium's screenshots are) to { width, height, rgba }. */
export function decodePng(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = data.subarray(8, 13);
      channels = { 2: 3, 6: 4 }[colour];
      if (depth !== 8 || !channels || interlace) throw new Error(`unsupported PNG: depth ${depth}, colour type ${colour}, interlace ${interlace}`);
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const rows = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = rows.subarray(y * stride, (y + 1) * stride);
    const up = y ? rows.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[i - channels] : 0;
      const b = up[i];
      const c = i >= channels ? up[i - channels] : 0;
      let p;
      switch (filter) {
        case 0: p = 0; break;
        case 1: p = a; break;
        case 2: p = b; break;
        case 3: p = (a + b) >> 1; break;
        case 4: {
          const pa = Math.abs(b - c);
          const pb = Math.abs(a - c);
          const pc = Math.abs(a + b - 2 * c);
          p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw new Error(`bad PNG filter ${filter}`);
      }
      out[i] = (line[i] + p) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += channels) {
    rgba[i] = rows[j];
    rgba[i + 1] = rows[j + 1];
    rgba[i + 2] = rows[j + 2];
    rgba[i + 3] = channels === 4 ? rows[j + 3] : 255;
  }
  return { width, height, rgba };
}
