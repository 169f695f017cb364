// A misbehaving relay against the packed package in headless Chromium: a fake relay that sends
// garbage or messages a relay may not send (clear GlimpseErrors, no reconnection loop), and a relay
// in the middle of a real one that changes, replays and injects messages after the viewer was let in
// (nothing forged or replayed is painted, bounded reconnection, the screen ends exact). No page error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startShare, corpusSize, bgraToRgba, fnv } from './procs.mjs';
import { relayHooks, sleep } from './relay-browser.mjs';
import { hostileRelay, tamperingProxy, message, isStream } from './hostile-relay.mjs';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];
const dir = mkdtempSync(join(tmpdir(), 'glimpse-hostile-'));
let browser;
let relay;
let staticServer;
const cleanups = relayHooks(ARGS, (started) => ({ browser, relay, staticServer } = started));

async function testPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const logs = [];
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') logs.push(`console: ${m.text()}`); });
  await page.goto(`${staticServer.url}/page.html`);
  await page.waitForFunction(() => window.glimpseReady === true);
  return { context, page, logs };
}

test('a fake relay: garbage or a host-only message before the admission rejects join() clearly, without reconnecting', async () => {
  const { context, page, logs } = await testPage();
  const attempt = (url) => page.evaluate(async (url) => {
    const viewer = new window.glimpse.GlimpseViewer(document.getElementById('screen'));
    const states = [];
    viewer.addEventListener('state', (e) => states.push(e.detail.state));
    const rejected = await viewer.join(url, '123 456 7890').then(() => null, (e) => ({ code: e.code, message: e.message, name: e.name }));
    viewer.destroy();
    return { rejected, states };
  }, url);
  const hostile = async (script) => {
    const r = await hostileRelay(script);
    cleanups.push(() => r.close());
    return r;
  };
  const garbage = await hostile(() => [message('garbage')]);
  const a = await attempt(garbage.url);
  assert.deepEqual([a.rejected.code, a.rejected.name, a.states], [40, 'GlimpseError', ['connecting', 'ended']]);
  assert.match(a.rejected.message, /not a Glimpse message/);

  const wrongRole = await hostile(() => [message('host-hello')]);
  const b = await attempt(wrongRole.url);
  assert.equal(b.rejected.code, 40);
  assert.match(b.rejected.message, /may not send HostHello/);

  // Welcomed, then garbage: never let in, so nothing to come back to (no loop of reconnections).
  const flapping = await hostile(() => [message('welcome'), message('count'), message('garbage'), 'a text message']);
  const c = await attempt(flapping.url);
  assert.equal(c.rejected.code, 40, JSON.stringify(c));
  assert.equal(flapping.connections(), 1);
  assert.deepEqual(logs, []);
  await context.close();
});

test('a tampering relay after admission: changed and replayed packets refused (never painted), injected garbage reconnects, the screen ends exact', async () => {
  const lastFrame = join(dir, 'last.bgra');
  const share = await startShare(relay.ws, lastFrame, ['--fps', '10', '--seconds', '40']);
  // Stream packets 10 to 60 of each connection: every 4th changed in its last byte (the seal's tag),
  // every 6th followed by a copy of an earlier one (a replay). Not after the garbage on the same
  // connection: the viewer drops it there and never reads what follows, so it could not refuse it.
  let kept = null;
  let garbageOn = -1;
  const tally = { changed: 0, replayed: 0 };
  const proxy = await tamperingProxy(relay.ws, (m, n, connection) => {
    if (!isStream(m) || n < 10 || n > 60 || connection === garbageOn) return [m];
    const out = [m];
    if (n % 4 === 0) {
      const changed = Buffer.from(m);
      changed[changed.length - 1] ^= 0x5a;
      out[0] = changed;
      tally.changed++;
    }
    if (n % 6 === 0 && kept) {
      out.push(kept);
      tally.replayed++;
    }
    kept ??= m;
    return out;
  });
  cleanups.push(() => proxy.close());
  const { context, page, logs } = await testPage();
  await page.evaluate(async ({ url, code }) => {
    const viewer = new window.glimpse.GlimpseViewer(document.getElementById('screen'), { statsIntervalMs: 200 });
    window.viewer = viewer;
    window.log = { states: [], errors: [], paints: 0 };
    viewer.addEventListener('state', (e) => window.log.states.push(e.detail.state));
    viewer.addEventListener('error', (e) => window.log.errors.push(e.detail.error.code));
    viewer.addEventListener('paint', () => { window.log.paints++; });
    await viewer.join(url, code, { name: 'behind a bad relay' });
  }, { url: proxy.url, code: share.code });
  // Let the tampered window pass, then garbage on the live connection: the viewer drops it and
  // comes back by itself (resume token), once.
  for (let i = 0; i < 100 && tally.changed < 8; i++) await sleep(100);
  garbageOn = proxy.inject(message('garbage'));
  await page.waitForFunction(() => window.log.states.includes('reconnecting') && window.viewer.state === 'connected', null, { timeout: 15_000 });
  // The recording ends; the viewer must show the host's last frame exactly.
  for (let i = 0; i < 300 && !existsSync(lastFrame); i++) await sleep(100);
  const { width, height } = corpusSize();
  const want = fnv(bgraToRgba(readFileSync(lastFrame)));
  let got;
  for (let i = 0; i < 100; i++) {
    got = await page.evaluate(() => {
      const c = document.getElementById('screen');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let h = 0x811c9dc5;
      for (let k = 0; k < d.length; k++) h = Math.imul(h ^ d[k], 0x01000193) >>> 0;
      return { width: c.width, height: c.height, hash: h, stats: window.viewer.stats, log: window.log, state: window.viewer.state };
    });
    if (got.width === width && got.height === height && got.hash === want) break;
    await sleep(200);
  }
  assert.equal(got.hash, want, `the canvas is not the host's last frame: ${JSON.stringify({ ...got, hash: undefined })}`);
  assert.ok(tally.changed >= 8 && tally.replayed >= 4, JSON.stringify(tally));
  // Every changed or replayed packet was refused before decoding: no decoder error, nothing painted from it.
  assert.ok(got.stats.refused >= tally.changed + tally.replayed, `${got.stats.refused} refused of ${JSON.stringify(tally)}`);
  assert.deepEqual(got.log.errors, []);
  assert.equal(proxy.connections(), 2);
  assert.deepEqual(logs, []);
  console.log(`tampering relay: ${tally.changed} packets changed and ${tally.replayed} replayed, ${got.stats.refused} refused by the viewer (none painted), ${got.log.paints} painted; garbage after admission: one reconnection; final canvas exact`);
  await context.close();
  share.proc.kill('SIGTERM');
  await share.exited;
});

