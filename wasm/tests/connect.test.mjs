// Quick connect from the packed package against a real glimpse-relay (127.0.0.1:0) in headless
// Chromium, end-to-end encrypted: GlimpseViewer.join on a glimpse-share session, the relay's own page
// joining from /#code=, join errors with their codes (wrong code, not admitted...), GlimpseSharer.share
// joined by glimpse-view (a Rust viewer) and by a browser with approval, wrong codes and a replaced
// code, and both ends surviving a relay restart with the same code. Every canvas check is
// pixel-exact. A misbehaving relay is in hostile-relay.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startRelay, startShare, run, corpusSize, bgraToRgba, rgbaToBgra, WEB_DIR,
} from './procs.mjs';
import { ARGS, sleep, openRelayPage as openPage, canvasEquals, shareCanvas, relayHooks } from './relay-browser.mjs';

const dir = mkdtempSync(join(tmpdir(), 'glimpse-connect-'));
let browser;
let relay;
let staticServer;
/** Run by after(), whatever failed. */
const cleanups = relayHooks(ARGS, (started) => ({ browser, relay, staticServer } = started));

/** A page of the relay (CSP and all); `path` '/test/relay-page.html' loads the package for the test. */
function openRelayPage(path, base = relay.http) {
  return openPage(browser, base, path);
}

/** `digits` with its lookup (first five) or its secret (last five) changed. */
function otherCode(digits, part) {
  const bump = (five) => String((Number(five) + 1) % 100000).padStart(5, '0');
  return part === 'lookup' ? bump(digits.slice(0, 5)) + digits.slice(5) : digits.slice(0, 5) + bump(digits.slice(5));
}

async function waitFile(path, ms) {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear in ${ms} ms`);
    await sleep(100);
  }
  await sleep(100); // written in one go; let it land
}

test('GlimpseViewer.join follows a glimpse-share session to the host\'s last frame; the relay page joins from /#code=', async () => {
  const lastFrame = join(dir, 'last.bgra');
  const share = await startShare(relay.ws, lastFrame, ['--fps', '20', '--seconds', '40', '--name', 'Ada at the host']);
  const api = await openRelayPage('/test/relay-page.html');
  const joined = await api.page.evaluate(async (code) => {
    const { GlimpseViewer } = window.glimpse;
    const viewer = new GlimpseViewer(document.getElementById('screen'));
    window.viewer = viewer;
    window.log = { states: [], paints: 0, viewers: [], control: [] };
    viewer.addEventListener('state', (e) => window.log.states.push(e.detail.state));
    viewer.addEventListener('paint', () => { window.log.paints++; });
    viewer.addEventListener('viewers', (e) => window.log.viewers.push(e.detail.count));
    viewer.addEventListener('control', (e) => window.log.control.push(`${e.detail.state}/${e.detail.change}`));
    const t0 = performance.now();
    await viewer.join(location.href, code, { name: 'api test' });
    return { ms: performance.now() - t0, state: viewer.state, code: viewer.code, hostName: viewer.hostName, paints: window.log.paints };
  }, share.code);
  assert.equal(joined.state, 'connected');
  assert.equal(joined.code.replace(/ /g, ''), share.code);
  assert.match(joined.code, /^\d{3} \d{3} \d{4}$/);
  // Names cross end to end: the host's in the admission, the viewer's in its key confirmation.
  assert.equal(joined.hostName, 'Ada at the host');
  assert.ok(joined.paints >= 1);
  console.log(`join (API): first screen painted ${joined.ms.toFixed(0)} ms after join()`);
  // The relay's own page, from a join link.
  const pageView = await openRelayPage(`/#code=${share.code}`);

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
  assert.equal(debug.code, share.code);
  assert.deepEqual(debug.states.map((s) => s[0]).slice(0, 2), ['connecting', 'connected']);
  assert.ok(debug.paints.length > 1 && debug.paints.every((p, i) => i === 0 || p[0] >= debug.paints[i - 1][0]));
  assert.ok(debug.viewerCount >= 2, `viewer count ${debug.viewerCount}`);
  assert.match(share.output().out, /api test/, 'the host saw the viewer\'s name');

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
    const refused = window.viewer.stats?.refused ?? 0;
    window.viewer.leave();
    const detail = await ended;
    return { asked, again, refused, control: window.log.control, viewers: window.log.viewers, state: detail.state, code: detail.error.code, name: detail.error.name };
  });
  assert.deepEqual([left.asked, left.again, left.refused], [true, false, 0]);
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

test('join errors carry their codes: unknown session 33, wrong code 36, not admitted 37, bad code 32, bad relay URL 42, unreachable relay 40, timeout 49', async () => {
  const share = await startShare(relay.ws, join(dir, 'errors.bgra'), ['--fps', '5', '--seconds', '60']);
  const strict = await startShare(relay.ws, join(dir, 'strict.bgra'), ['--fps', '5', '--seconds', '60', '--approve-viewers']);
  const { context, page, logs } = await openRelayPage('/test/relay-page.html');
  const r = await page.evaluate(async (codes) => {
    const { GlimpseViewer, GlimpseError } = window.glimpse;
    const canvas = document.getElementById('screen');
    const attempt = async (url, code, options) => {
      const viewer = new GlimpseViewer(canvas);
      const states = [];
      viewer.addEventListener('state', (e) => states.push(e.detail.state));
      try {
        await viewer.join(url, code, options);
        return { ok: true };
      } catch (e) {
        return { isGlimpseError: e instanceof GlimpseError, code: e.code, message: e.message, states, state: viewer.state };
      } finally {
        viewer.destroy();
      }
    };
    return {
      unknown: await attempt(location.href, codes.unknown),
      wrong: await attempt(location.href, codes.wrong),
      notAdmitted: await attempt(location.href, codes.strict, { name: 'stranger' }),
      badCode: await attempt(location.href, '123 456 789'),
      badUrl: await attempt('ftp://example', '123 456 7890'),
    };
  }, { unknown: otherCode(share.code, 'lookup'), wrong: otherCode(share.code, 'secret'), strict: strict.code });
  assert.deepEqual({ ...r.unknown, message: undefined }, { isGlimpseError: true, code: 33, message: undefined, states: ['connecting', 'ended'], state: 'ended' });
  assert.match(r.unknown.message, /no session has this code/);
  assert.deepEqual([r.wrong.code, r.wrong.states], [36, ['connecting', 'ended']]);
  assert.match(r.wrong.message, /wrong code/);
  assert.equal(r.notAdmitted.code, 37, JSON.stringify(r.notAdmitted));
  assert.equal(r.badCode.code, 32);
  assert.equal(r.badUrl.code, 42);
  assert.deepEqual(logs, []);
  // The hosts saw it: a wrong code from the viewer's address, a stranger turned away.
  assert.match(share.output().out, /wrong code was tried/);
  assert.match(strict.output().out, /stranger/);
  await context.close();
  share.proc.kill('SIGTERM');
  strict.proc.kill('SIGTERM');
  await Promise.all([share.exited, strict.exited]);
  // Off the relay's origin (its CSP allows only itself): a port nobody listens on, and a timeout.
  const other = await browser.newContext();
  const p = await other.newPage();
  await p.goto(`${staticServer.url}/page.html`);
  await p.waitForFunction(() => window.glimpseReady === true);
  const codes = await p.evaluate(async (relayWs) => {
    const { GlimpseViewer } = window.glimpse;
    const canvas = document.getElementById('screen');
    const codeOf = (url, options) => GlimpseViewer.join(url, '123 456 7890', { canvas, ...options }).then(() => 0, (e) => e.code);
    return { unreachable: await codeOf('ws://127.0.0.1:9'), timeout: await codeOf(relayWs, { timeoutMs: 1 }) };
  }, relay.ws);
  assert.deepEqual(codes, { unreachable: 40, timeout: 49 });
  await other.close();
});

test('GlimpseSharer.share with approval: joined by glimpse-view (Rust) and a browser, pixel-exact; an intruder denied; three wrong codes replace the code', async () => {
  const host = await openRelayPage('/test/relay-page.html');
  const shared = await shareCanvas(host.page, host.page.url(), { approveViewers: true });
  assert.match(shared.code, /^\d{3} \d{3} \d{4}$/);
  const digits = shared.code.replace(/ /g, '');
  assert.equal(shared.link, `${relay.http}/#code=${digits}`);
  assert.equal(shared.joinLink, shared.link);
  assert.equal(shared.state, 'live');
  for (let k = 1; k < 5; k++) await host.page.evaluate((k) => window.settle(k), k);
  const last = await host.page.evaluate(() => window.settle(5));
  const rgba = Buffer.from(last.rgba, 'base64');
  const expectFile = join(dir, 'browser-share.bgra');
  writeFileSync(expectFile, rgbaToBgra(rgba));
  const view = await run('glimpse-view', ['--relay', relay.ws, '--code', shared.code, '--seconds', '3', '--expect', expectFile,
    '--expect-size', `${last.width}x${last.height}`, '--stats', join(dir, 'view.json')], 30_000);
  assert.equal(view.code, 0, `glimpse-view exit ${view.code}: ${view.out} ${view.err}`);
  // A browser viewer of the browser sharer, from the join link.
  const viewer = await openRelayPage(`/#code=${digits}`);
  const exact = await canvasEquals(viewer.page, rgba, last.width, last.height);
  assert.ok(exact.exact, `browser viewer differs from the shared canvas: ${JSON.stringify(exact.got)}`);
  // An intruder with the right code is denied; three wrong codes burn it.
  const tries = await host.page.evaluate(async ({ digits, wrong }) => {
    const { GlimpseViewer } = window.glimpse;
    const canvas = document.createElement('canvas');
    const codeOf = (code, name) => GlimpseViewer.join(location.href, code, { canvas, name }).then((v) => { v.destroy(); return 0; }, (e) => e.code);
    const intruder = await codeOf(digits, 'intruder');
    const wrongs = [];
    for (const code of wrong) wrongs.push(await codeOf(code, 'guesser'));
    for (let i = 0; i < 50 && !window.log.replaced.length; i++) await new Promise((r) => setTimeout(r, 100));
    const replaced = window.log.replaced[0];
    const old = await codeOf(digits, 'late');
    const fresh = replaced ? await codeOf(replaced.code, 'late') : -1;
    return { intruder, wrongs, wrong: window.log.wrong, replaced, old, fresh, code: window.sharer.code, joinLink: window.sharer.joinLink };
  }, { digits, wrong: [1, 2, 3].map((k) => digits.slice(0, 5) + String((Number(digits.slice(5)) + k) % 100000).padStart(5, '0')) });
  assert.equal(tries.intruder, 37);
  assert.deepEqual(tries.wrongs, [36, 36, 36]);
  assert.deepEqual(tries.wrong, [1, 2, 3]);
  assert.ok(tries.replaced, 'no codereplaced event');
  assert.notEqual(tries.replaced.code, shared.code);
  assert.deepEqual([tries.code, tries.joinLink], [tries.replaced.code, `${relay.http}/#code=${tries.replaced.code.replace(/ /g, '')}`]);
  assert.equal(tries.replaced.link, tries.joinLink);
  assert.deepEqual([tries.old, tries.fresh], [33, 0]);
  // The viewer that was in stays, and follows.
  const after = await host.page.evaluate(() => window.settle(6));
  const still = await canvasEquals(viewer.page, Buffer.from(after.rgba, 'base64'), after.width, after.height);
  assert.ok(still.exact, `after the code changed the viewer shows ${JSON.stringify(still.got)}`);
  const log = await host.page.evaluate(() => ({ ...window.log, last: undefined, viewers: window.sharer.viewers.map((v) => v.name) }));
  assert.ok(log.joined.includes('glimpse-view'), JSON.stringify(log));
  assert.ok(log.asked.includes('glimpse-view') && log.asked.includes('intruder'), JSON.stringify(log.asked));
  assert.ok(!log.joined.includes('intruder'));
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

test('relay restart: the browser sharer and viewer reconnect by themselves with the same code', async () => {
  const own = await startRelay();
  const host = await openRelayPage('/test/relay-page.html', own.http);
  const shared = await shareCanvas(host.page, own.ws);
  await host.page.evaluate(() => window.settle(1));
  const viewer = await openRelayPage('/test/relay-page.html', own.http);
  await viewer.page.evaluate(async (code) => {
    const v = new window.glimpse.GlimpseViewer(document.getElementById('screen'));
    window.states = [];
    v.addEventListener('state', (e) => window.states.push(e.detail.state));
    await v.join(location.href, code);
  }, shared.code);
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
  assert.equal(await host.page.evaluate(() => window.sharer.code), shared.code);
  await host.page.evaluate(() => window.sharer.stop());
  await host.context.close();
  await viewer.context.close();
  await again.stop();
});

test('Subresource Integrity: the relay\'s pages pin every script they load and the .wasm; Chromium refuses a changed module or .wasm', async () => {
  // As built: every .js and .wasm the viewer page loads is pinned by an integrity attribute.
  const good = await openRelayPage('/');
  await good.page.waitForFunction(() => typeof window.glimpseDebug === 'object');
  await good.page.waitForLoadState('networkidle');
  const pins = await good.page.evaluate(() => {
    const pinned = {};
    for (const e of document.querySelectorAll('script[src], link[rel="modulepreload"], link[rel="preload"]')) {
      pinned[new URL(e.src || e.href, location.href).pathname] = e.integrity;
    }
    const loaded = performance.getEntriesByType('resource').map((r) => new URL(r.name).pathname).filter((p) => /\.(js|wasm)$/.test(p));
    return { pinned, loaded };
  });
  assert.ok(pins.loaded.length >= 10, JSON.stringify(pins.loaded));
  for (const path of pins.loaded) assert.match(pins.pinned[path] ?? '', /^sha384-/, `${path} is not pinned`);
  assert.deepEqual(good.logs, []);
  await good.context.close();

  const tampered = async (change) => {
    const web = mkdtempSync(join(tmpdir(), 'glimpse-sri-'));
    cpSync(WEB_DIR, web, { recursive: true });
    change(web);
    const own = await startRelay(0, web);
    const t = await openRelayPage('/', own.http);
    await sleep(1500);
    const seen = await t.page.evaluate(() => ({ debug: typeof window.glimpseDebug, error: document.getElementById('error')?.textContent ?? '' }));
    await t.context.close();
    await own.stop();
    return { ...seen, logs: t.logs };
  };
  // A changed module: the page's script never runs.
  const module = await tampered((web) => {
    const file = join(web, 'glimpse-web/js/join.js');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nglobalThis.stolen = true;\n`);
  });
  assert.equal(module.debug, 'undefined');
  assert.ok(module.logs.some((l) => /integrity/i.test(l)), JSON.stringify(module.logs));
  // A changed .wasm: the page runs, the engine is refused, the page says so.
  const wasm = await tampered((web) => {
    const file = join(web, 'glimpse-web/dist/glimpse_wasm_bg.wasm');
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(file, bytes);
  });
  assert.equal(wasm.debug, 'object');
  assert.match(wasm.error, /cannot load/);
  assert.ok(wasm.logs.some((l) => /integrity/i.test(l)), JSON.stringify(wasm.logs));
  console.log(`integrity: ${pins.loaded.length} scripts and .wasm pinned; a changed module and a changed .wasm were refused by Chromium`);
});
