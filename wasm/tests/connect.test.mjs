// Quick connect from the packed package against a real glimpse-relay (127.0.0.1:0) in headless
// Chromium: GlimpseViewer.join on a glimpse-share session, the relay's own page joining from
// /#key=, join errors with their codes, GlimpseSharer.share joined by glimpse-view and by a browser,
// and both ends surviving a relay restart with the same key. Every canvas check is pixel-exact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';
import { DATA } from './common.mjs';
import {
  startRelay, startShare, run, stopAll, corpusSize, bgraToRgba, rgbaToBgra, fnv,
} from './procs.mjs';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--autoplay-policy=no-user-gesture-required',
  // Several pages run at once: none of them may be throttled as a background window.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];
const dir = mkdtempSync(join(tmpdir(), 'glimpse-connect-'));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let browser;
let relay;
let staticServer;
/** Run by after(), whatever failed. */
const cleanups = [];

before(async () => {
  relay = await startRelay();
  staticServer = await serve(process.cwd(), DATA);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
});

after(async () => {
  for (const f of cleanups) f();
  await browser?.close();
  staticServer?.server.close();
  await stopAll();
});

/** A page of the relay (CSP and all); `path` '/test/relay-page.html' loads the package for the test. */
async function openRelayPage(path, base = relay.http) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
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
async function canvasEquals(page, expected, width, height, ms = 20_000) {
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

async function waitFile(path, ms) {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear in ${ms} ms`);
    await sleep(100);
  }
  await sleep(100); // written in one go; let it land
}

test('GlimpseViewer.join follows a glimpse-share session to the host\'s last frame; the relay page joins from /#key=', async () => {
  const lastFrame = join(dir, 'last.bgra');
  const share = await startShare(relay.ws, lastFrame, ['--fps', '20', '--seconds', '40']);
  const api = await openRelayPage('/test/relay-page.html');
  const joined = await api.page.evaluate(async (key) => {
    const { GlimpseViewer } = window.glimpse;
    const viewer = new GlimpseViewer(document.getElementById('screen'));
    window.viewer = viewer;
    window.log = { states: [], paints: 0, viewers: [], control: [] };
    viewer.addEventListener('state', (e) => window.log.states.push(e.detail.state));
    viewer.addEventListener('paint', () => { window.log.paints++; });
    viewer.addEventListener('viewers', (e) => window.log.viewers.push(e.detail.count));
    viewer.addEventListener('control', (e) => window.log.control.push(`${e.detail.state}/${e.detail.change}`));
    const t0 = performance.now();
    await viewer.join(location.href, key, { name: 'api test' });
    return { ms: performance.now() - t0, state: viewer.state, key: viewer.key, paints: window.log.paints };
  }, share.key);
  assert.equal(joined.state, 'connected');
  assert.equal(joined.key.replace(/ /g, ''), share.key);
  assert.ok(joined.paints >= 1);
  console.log(`join (API): first screen painted ${joined.ms.toFixed(0)} ms after join()`);
  // The relay's own page, from a join link.
  const pageView = await openRelayPage(`/#key=${share.key}`);

  await waitFile(lastFrame, 30_000);
  const { width, height } = corpusSize();
  const expected = bgraToRgba(readFileSync(lastFrame));
  assert.equal(expected.length, width * height * 4);
  const a = await canvasEquals(api.page, expected, width, height);
  assert.ok(a.exact, `API viewer canvas differs from the host's last frame: ${JSON.stringify(a.got)}`);
  const b = await canvasEquals(pageView.page, expected, width, height);
  assert.ok(b.exact, `relay page canvas differs from the host's last frame: ${JSON.stringify(b.got)}`);
  const debug = await pageView.page.evaluate(() => window.glimpseDebug);
  assert.equal(debug.joined, true);
  assert.equal(debug.key, share.key);
  assert.deepEqual(debug.states.map((s) => s[0]).slice(0, 2), ['connecting', 'connected']);
  assert.ok(debug.paints.length > 1 && debug.paints.every((p, i) => i === 0 || p[0] >= debug.paints[i - 1][0]));
  assert.ok(debug.viewerCount >= 2, `viewer count ${debug.viewerCount}`);

  // Remote control from the page's button: the view-only host refuses, the page says so.
  await pageView.page.click('#control');
  await pageView.page.waitForFunction(() => window.glimpseDebug.control.some((c) => c[1] === 'refused'), null, { timeout: 10_000 });
  assert.match(await pageView.page.textContent('#error'), /refused/);
  // The API: requestControl() and its events, then leave().
  const left = await api.page.evaluate(async () => {
    const asked = window.viewer.requestControl();
    const again = window.viewer.requestControl();
    for (let i = 0; i < 100 && !window.log.control.includes('none/refused'); i++) await new Promise((r) => setTimeout(r, 50));
    const ended = new Promise((resolve) => window.viewer.addEventListener('state', (e) => resolve(e.detail), { once: true }));
    window.viewer.leave();
    const detail = await ended;
    return { asked, again, control: window.log.control, viewers: window.log.viewers, state: detail.state, code: detail.error.code, name: detail.error.name };
  });
  assert.deepEqual([left.asked, left.again], [true, false]);
  assert.deepEqual(left.control, ['asked/asked', 'none/refused']);
  assert.ok(left.viewers.length >= 1 && left.viewers.every((n) => n >= 1));
  assert.deepEqual([left.state, left.code, left.name], ['ended', 48, 'GlimpseError']);
  assert.deepEqual(api.logs, []);
  assert.deepEqual(pageView.logs, []);
  await api.context.close();
  await pageView.context.close();
  share.proc.kill('SIGTERM');
  await share.exited;
});

test('join errors carry their codes: wrong key 33, bad key 32, bad relay URL 42, unreachable relay 40, timeout 49', async () => {
  const { context, page, logs } = await openRelayPage('/test/relay-page.html');
  const r = await page.evaluate(async () => {
    const { GlimpseViewer, GlimpseError } = window.glimpse;
    const canvas = document.getElementById('screen');
    const attempt = async (url, key, options) => {
      const viewer = new GlimpseViewer(canvas);
      const states = [];
      viewer.addEventListener('state', (e) => states.push(e.detail.state));
      try {
        await viewer.join(url, key, options);
        return { ok: true };
      } catch (e) {
        return { isGlimpseError: e instanceof GlimpseError, code: e.code, message: e.message, states, state: viewer.state };
      } finally {
        viewer.destroy();
      }
    };
    return {
      wrongKey: await attempt(location.href, '999 999 999'),
      badKey: await attempt(location.href, '12345'),
      badUrl: await attempt('ftp://example', '123 456 789'),
    };
  });
  assert.deepEqual({ ...r.wrongKey, message: undefined }, { isGlimpseError: true, code: 33, message: undefined, states: ['connecting', 'ended'], state: 'ended' });
  assert.match(r.wrongKey.message, /no session has this key/);
  assert.equal(r.badKey.code, 32);
  assert.equal(r.badUrl.code, 42);
  assert.deepEqual(logs, []);
  await context.close();
  // Off the relay's origin (its CSP allows only itself): a port nobody listens on, and a timeout.
  const other = await browser.newContext();
  const p = await other.newPage();
  await p.goto(`${staticServer.url}/page.html`);
  await p.waitForFunction(() => window.glimpseReady === true);
  const codes = await p.evaluate(async (relayWs) => {
    const { GlimpseViewer } = window.glimpse;
    const canvas = document.getElementById('screen');
    const codeOf = (url, options) => GlimpseViewer.join(url, '123 456 789', { canvas, ...options }).then(() => 0, (e) => e.code);
    return { unreachable: await codeOf('ws://127.0.0.1:9'), timeout: await codeOf(relayWs, { timeoutMs: 1 }) };
  }, relay.ws);
  assert.deepEqual(codes, { unreachable: 40, timeout: 49 });
  await other.close();
});

/** In the page: a 320x240 canvas drawn with known content, shared with GlimpseSharer.share. */
async function shareCanvas(page, relayUrl) {
  return page.evaluate(async (relayUrl) => {
    const { GlimpseSharer } = window.glimpse;
    const src = document.createElement('canvas');
    src.width = 320;
    src.height = 240;
    document.body.append(src);
    const ctx = src.getContext('2d');
    window.draw = (k) => {
      ctx.fillStyle = '#f0f0f0';
      ctx.fillRect(0, 0, 320, 240);
      ctx.fillStyle = '#202080';
      ctx.fillRect(10 + k * 20, 20, 60, 40);
      ctx.fillStyle = '#000';
      ctx.font = '16px sans-serif';
      ctx.fillText(`typing ${'x'.repeat(k % 12)}`, 10, 200);
      ctx.fillStyle = `rgb(${(k * 40) % 256}, 160, 60)`;
      ctx.fillRect(250, 150, 50, 50);
      track.requestFrame(); // a frame for the track now, not when the page's rendering gets to it
    };
    const track = src.captureStream(0).getVideoTracks()[0];
    window.draw(0);
    window.log = { states: [], joined: [], left: [], last: null };
    const result = await GlimpseSharer.share(relayUrl, { track, fps: 15, name: 'browser host' });
    const sharer = result.sharer;
    window.sharer = sharer;
    sharer.addEventListener('state', (e) => window.log.states.push(e.detail.state));
    sharer.addEventListener('viewerjoined', (e) => window.log.joined.push(e.detail.name));
    sharer.addEventListener('viewerleft', (e) => window.log.left.push(e.detail.viewer));
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
    return { key: result.key, link: result.link, state: sharer.state, joinLink: sharer.joinLink };
  }, relayUrl);
}

test('GlimpseSharer.share: a canvas track joined by glimpse-view and by a browser viewer, pixel-exact', async () => {
  const host = await openRelayPage('/test/relay-page.html');
  const shared = await shareCanvas(host.page, host.page.url());
  assert.match(shared.key, /^\d{3} \d{3} \d{3}$/);
  assert.equal(shared.link, `${relay.http}/#key=${shared.key.replace(/ /g, '')}`);
  assert.equal(shared.joinLink, shared.link);
  assert.equal(shared.state, 'live');
  for (let k = 1; k < 5; k++) await host.page.evaluate((k) => window.settle(k), k);
  const last = await host.page.evaluate(() => window.settle(5));
  const rgba = Buffer.from(last.rgba, 'base64');
  const expectFile = join(dir, 'browser-share.bgra');
  writeFileSync(expectFile, rgbaToBgra(rgba));
  const view = await run('glimpse-view', ['--relay', relay.ws, '--key', shared.key, '--seconds', '3', '--expect', expectFile,
    '--expect-size', `${last.width}x${last.height}`, '--stats', join(dir, 'view.json')], 30_000);
  assert.equal(view.code, 0, `glimpse-view exit ${view.code}: ${view.out} ${view.err}`);
  // A browser viewer of the browser sharer.
  const viewer = await openRelayPage(`/#key=${shared.key.replace(/ /g, '')}`);
  const exact = await canvasEquals(viewer.page, rgba, last.width, last.height);
  assert.ok(exact.exact, `browser viewer differs from the shared canvas: ${JSON.stringify(exact.got)}`);
  const log = await host.page.evaluate(() => ({ ...window.log, last: undefined, viewers: window.sharer.viewers.map((v) => v.name) }));
  assert.ok(log.joined.includes('glimpse-view'), JSON.stringify(log));
  assert.equal(log.left.length, 1, 'glimpse-view left');
  assert.deepEqual(log.viewers, ['']);
  const ended = await host.page.evaluate(() => {
    window.sharer.stop();
    return { state: window.sharer.state, states: window.log.states };
  });
  assert.deepEqual(ended, { state: 'ended', states: ['ended'] });
  await viewer.page.waitForFunction(() => window.glimpseDebug.states.at(-1)?.[0] === 'ended', null, { timeout: 10_000 });
  assert.match(await viewer.page.textContent('#error'), /ended the session/);
  assert.deepEqual(host.logs, []);
  await host.context.close();
  await viewer.context.close();
});

test('relay restart: the browser sharer and viewer reconnect by themselves with the same key', async () => {
  const own = await startRelay();
  const host = await openRelayPage('/test/relay-page.html', own.http);
  const shared = await shareCanvas(host.page, own.ws);
  await host.page.evaluate(() => window.settle(1));
  const viewer = await openRelayPage('/test/relay-page.html', own.http);
  await viewer.page.evaluate(async (key) => {
    const v = new window.glimpse.GlimpseViewer(document.getElementById('screen'));
    window.states = [];
    v.addEventListener('state', (e) => window.states.push(e.detail.state));
    await v.join(location.href, key);
  }, shared.key);
  await own.stop();
  const again = await startRelay(own.port);
  const last = await host.page.evaluate(() => window.settle(7));
  const exact = await canvasEquals(viewer.page, Buffer.from(last.rgba, 'base64'), last.width, last.height, 30_000);
  assert.ok(exact.exact, `after the restart the viewer shows ${JSON.stringify(exact.got)}`);
  const states = await viewer.page.evaluate(() => window.states);
  const hostStates = await host.page.evaluate(() => window.log.states);
  assert.deepEqual(states.slice(0, 2), ['connecting', 'connected']);
  assert.ok(states.includes('reconnecting') && states.at(-1) === 'connected', states.join());
  assert.ok(hostStates.includes('reconnecting') && hostStates.at(-1) === 'live', hostStates.join());
  assert.equal(await host.page.evaluate(() => window.sharer.key), shared.key);
  await host.page.evaluate(() => window.sharer.stop());
  await host.context.close();
  await viewer.context.close();
  await again.stop();
});

test('a misbehaving relay: clear GlimpseErrors, bounded reconnection, bad packets reported, no page errors', async () => {
  const { hostileRelay, message } = await import('./hostile-relay.mjs');
  const context = await browser.newContext();
  const page = await context.newPage();
  const logs = [];
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(`${staticServer.url}/page.html`);
  await page.waitForFunction(() => window.glimpseReady === true);
  /** Joins `url` in the page; after `watchMs` (if the join is still pending) reports and leaves. */
  const attempt = (url, options, watchMs) => page.evaluate(async ({ url, options, watchMs }) => {
    const viewer = new window.glimpse.GlimpseViewer(document.getElementById('screen'));
    const log = { states: [], errors: [], viewers: [] };
    viewer.addEventListener('state', (e) => log.states.push(e.detail.state));
    viewer.addEventListener('error', (e) => log.errors.push(e.detail.error.code));
    viewer.addEventListener('viewers', (e) => log.viewers.push(e.detail.count));
    const joined = viewer.join(url, '123 456 789', options).then(() => null, (e) => ({ code: e.code, message: e.message, name: e.name }));
    let during = null;
    if (watchMs) {
      await new Promise((r) => setTimeout(r, watchMs));
      during = { state: viewer.state, hostName: viewer.hostName, viewerCount: viewer.viewerCount };
      viewer.leave();
    }
    const rejected = await joined;
    viewer.destroy();
    return { rejected, during, ...log };
  }, { url, options, watchMs });

  const hostile = async (script) => {
    const r = await hostileRelay(script);
    cleanups.push(() => r.close());
    return r;
  };
  const garbage = await hostile(() => [message('garbage')]);
  const a = await attempt(garbage.url, {}, 0);
  assert.equal(a.rejected.code, 40);
  assert.match(a.rejected.message, /not a Glimpse message/);
  assert.deepEqual(a.states, ['connecting', 'ended']);

  const wrongRole = await hostile(() => [message('host-hello')]);
  const b = await attempt(wrongRole.url, {}, 0);
  assert.equal(b.rejected.code, 40);
  assert.match(b.rejected.message, /may not send HostHello/);

  // Welcomed, then garbage on every connection: reconnects with the session's backoff, never in a
  // tight loop, until join()'s time limit.
  const flapping = await hostile(() => [message('welcome'), message('garbage')]);
  const c = await attempt(flapping.url, { timeoutMs: 3000 }, 0);
  assert.equal(c.rejected.code, 49);
  assert.ok(c.states.includes('reconnecting') && c.states.at(-1) === 'ended', c.states.join());
  const n = flapping.connections();
  assert.ok(n >= 2 && n <= 40, `${n} connections in 3 s`);

  // A packet that does not decode: an error event, the connection stays; then leave().
  // A text message (never Glimpse's) on the first connection: dropped, and a new one made.
  const badPacket = await hostile((n) => (n === 0
    ? [message('welcome'), message('count'), message('stream-bad-payload'), 'a text message']
    : [message('welcome'), message('count')]));
  const d = await attempt(badPacket.url, {}, 1500);
  assert.deepEqual(d.during, { state: 'connected', hostName: 'hostile', viewerCount: 3 });
  assert.deepEqual(d.viewers.slice(0, 1), [3]);
  assert.ok(d.errors.length === 1 && (d.errors[0] === 21 || d.errors[0] === 20), d.errors.join());
  assert.ok(d.states.includes('reconnecting'), d.states.join());
  assert.equal(d.rejected.code, 48);
  assert.equal(badPacket.connections(), 2);
  assert.deepEqual(logs, []);
  await context.close();
});
