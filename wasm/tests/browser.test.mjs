// Real headless Chromium tests of the packed package (playwright-core driving /usr/bin/chromium): the
// viewer's canvas against the source frames, error recovery, HiDPI, the browser sharer decoded by the
// native Rust decoder, and the benchmark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';
import { DATA, manifest, readFramed } from './common.mjs';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--autoplay-policy=no-user-gesture-required'];
let browser;
let server;
let base;

before(async () => {
  ({ server, url: base } = await serve(process.cwd(), DATA));
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function openPage(contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const logs = [];
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') logs.push(`console: ${m.text()}`); });
  await page.goto(`${base}/page.html`);
  await page.waitForFunction(() => window.glimpseReady === true);
  // The page splits framed files with the very function the Node tests use (it is self-contained).
  await page.evaluate(`window.parseFramed = ${readFramed}`);
  await page.evaluate(() => {
    window.fetchBytes = async (name) => new Uint8Array(await (await fetch(`/data/${name}`)).arrayBuffer());
    window.compareCanvas = async (canvas, file) => {
      const expected = await window.fetchBytes(file);
      const got = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      if (got.length !== expected.length) return { differing: -1, first: null };
      let differing = 0;
      let first = null;
      for (let i = 0; i < got.length; i++) {
        if (got[i] !== expected[i]) { differing++; first ??= i; }
      }
      return { differing, first };
    };
    window.cursorOffset = (viewer) => {
      const c = viewer.canvas.getBoundingClientRect();
      const k = viewer.cursorElement.getBoundingClientRect();
      const dpr = devicePixelRatio;
      return { x: Math.round((k.left - c.left) * dpr), y: Math.round((k.top - c.top) * dpr), w: Math.round(k.width * dpr), h: Math.round(k.height * dpr), display: viewer.cursorElement.style.display };
    };
  });
  return { context, page, logs };
}

test('viewer canvas equals the source frames at several points of each stream', async () => {
  const { context, page, logs } = await openPage();
  for (const stream of manifest.streams) {
    const r = await page.evaluate(async (stream) => {
      const canvas = document.getElementById('screen');
      const viewer = new window.glimpse.GlimpseViewer(canvas, { statsIntervalMs: 20 });
      const resizes = [];
      const errors = [];
      let stats = null;
      viewer.addEventListener('resize', (e) => resizes.push(e.detail));
      viewer.addEventListener('error', (e) => errors.push(e.detail.error.code));
      viewer.addEventListener('stats', (e) => { stats = e.detail; });
      const packets = window.parseFramed(await window.fetchBytes(stream.packets));
      const checks = [];
      for (let i = 0; i < packets.length; i++) {
        if (!viewer.push(packets[i])) throw new Error(`packet ${i} rejected`);
        for (const check of stream.checks.filter((c) => c.afterPacket === i + 1)) {
          checks.push({ frame: check.frame, ...(await window.compareCanvas(canvas, check.file)), cursor: window.cursorOffset(viewer), expectedCursor: check.cursor });
        }
      }
      const size = [canvas.width, canvas.height, canvas.style.width, canvas.style.height];
      viewer.destroy();
      return { resizes, errors, checks, size, stats, overlays: document.querySelectorAll('.glimpse-cursor').length };
    }, stream);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.resizes, [{ width: stream.width, height: stream.height, scalePercent: 100 }]);
    assert.deepEqual(r.size, [stream.width, stream.height, `${stream.width}px`, `${stream.height}px`]);
    assert.equal(r.checks.length, stream.checks.length);
    for (const c of r.checks) {
      assert.equal(c.differing, 0, `${stream.name} frame ${c.frame}: ${c.differing} bytes differ, first at ${c.first}`);
      assert.deepEqual(c.cursor, { x: c.expectedCursor[0], y: c.expectedCursor[1], w: 12, h: 18, display: '' }, `${stream.name} cursor at frame ${c.frame}`);
    }
    assert.ok(r.stats, 'a stats event');
    assert.ok(r.stats.frames > 0 && r.stats.packets > 0 && r.stats.kbps > 0 && r.stats.fps >= 0 && r.stats.latencyMs >= 0 && r.stats.errors === 0, JSON.stringify(r.stats));
    assert.equal(r.overlays, 0);
  }
  assert.deepEqual(logs, []);
  await context.close();
});

test('bad packets: error event with a code, the page keeps working, recovery at the next checkpoint', async () => {
  const { context, page, logs } = await openPage();
  const stream = manifest.streams[0];
  const r = await page.evaluate(async (stream) => {
    const { GlimpseViewer, ErrorCode } = window.glimpse;
    const canvas = document.getElementById('screen');
    const viewer = new GlimpseViewer(canvas);
    const errors = [];
    viewer.addEventListener('error', (e) => errors.push({ code: e.detail.error.code, name: e.detail.error.name, isError: e.detail.error instanceof Error, needsCheckpoint: e.detail.needsCheckpoint }));
    const packets = window.parseFramed(await window.fetchBytes(stream.packets));
    // A viewer joining mid-stream: updates before its first checkpoint are dropped quietly.
    const firstUpdate = stream.kinds.indexOf(2);
    const joinedLate = viewer.push(packets[firstUpdate]);
    const out = { joinedLate, errorsBeforeStart: errors.length };
    const secondCheckpoint = stream.kinds.indexOf(1, 1);
    const lost = stream.kinds.indexOf(2, firstUpdate + 1);
    for (let i = 0; i < packets.length; i++) {
      let p = packets[i];
      if (i === lost) p = p.subarray(0, p.length >> 1); // corrupted in transit: truncated
      const applied = viewer.push(p);
      if (i === lost) {
        out.lostApplied = applied;
        out.needsCheckpointAfterLoss = viewer.needsCheckpoint;
        out.garbage = viewer.push(new Uint8Array([0x47, 1, 9, 0xff, 0xff, 0xff]));
      }
      if (i === secondCheckpoint - 1) out.needsCheckpointBefore = viewer.needsCheckpoint;
      if (i === secondCheckpoint) out.needsCheckpointAfter = viewer.needsCheckpoint;
      for (const check of stream.checks.filter((c) => c.afterPacket === i + 1 && i > secondCheckpoint)) {
        (out.checks ??= []).push(await window.compareCanvas(canvas, check.file));
      }
    }
    out.errors = errors;
    out.ErrorCode = { ...ErrorCode };
    out.stats = viewer.stats;
    viewer.destroy();
    return out;
  }, stream);
  assert.equal(r.joinedLate, false);
  assert.equal(r.errorsBeforeStart, 0);
  assert.equal(r.lostApplied, false);
  assert.equal(r.needsCheckpointAfterLoss, true);
  assert.equal(r.garbage, false);
  assert.equal(r.needsCheckpointBefore, true);
  assert.equal(r.needsCheckpointAfter, false);
  // One event for the truncated packet, one for the garbage; the out-of-sync updates in between are
  // counted as dropped, not reported.
  assert.deepEqual(r.errors.map((e) => e.code), [r.ErrorCode.TRUNCATED, r.ErrorCode.MALFORMED]);
  assert.ok(r.errors.every((e) => e.name === 'GlimpseError' && e.isError && e.needsCheckpoint));
  assert.ok(r.checks.length >= 1);
  for (const c of r.checks) assert.equal(c.differing, 0);
  assert.deepEqual(logs, []);
  await context.close();
});

test('HiDPI: pixel-exact at devicePixelRatio 2 at natural size, smooth when scaled', async () => {
  const { context, page, logs } = await openPage({ deviceScaleFactor: 2, viewport: { width: 1400, height: 900 } });
  const stream = manifest.streams[0];
  const r = await page.evaluate(async (stream) => {
    const canvas = document.getElementById('screen');
    const viewer = new window.glimpse.GlimpseViewer(canvas);
    const packets = window.parseFramed(await window.fetchBytes(stream.packets));
    const check = stream.checks[0];
    packets.slice(0, check.afterPacket).forEach((p) => viewer.push(p));
    const rect = canvas.getBoundingClientRect();
    const out = {
      dpr: devicePixelRatio, backing: [canvas.width, canvas.height], css: [rect.width, rect.height],
      rendering: canvas.style.imageRendering, pixels: await window.compareCanvas(canvas, check.file), cursor: window.cursorOffset(viewer),
      expectedCursor: check.cursor,
    };
    viewer.destroy();
    const scaled = new window.glimpse.GlimpseViewer(canvas, { size: 'manual' });
    canvas.style.width = '700px';
    canvas.style.height = 'auto';
    packets.slice(0, check.afterPacket).forEach((p) => scaled.push(p));
    out.scaledRendering = canvas.style.imageRendering;
    out.scaledCss = canvas.getBoundingClientRect().width;
    const k = scaled.cursorElement.getBoundingClientRect();
    out.scaledCursor = [(k.left - canvas.getBoundingClientRect().left), k.width];
    scaled.destroy();
    return out;
  }, stream);
  assert.equal(r.dpr, 2);
  assert.deepEqual(r.backing, [stream.width, stream.height]);
  assert.deepEqual(r.css, [stream.width / 2, stream.height / 2]);
  assert.equal(r.rendering, 'pixelated');
  assert.equal(r.pixels.differing, 0);
  assert.deepEqual(r.cursor, { x: r.expectedCursor[0], y: r.expectedCursor[1], w: 12, h: 18, display: '' });
  assert.equal(r.scaledRendering, 'auto');
  assert.equal(r.scaledCss, 700);
  const scale = 700 / stream.width;
  assert.ok(Math.abs(r.scaledCursor[0] - r.expectedCursor[0] * scale) < 0.01 && Math.abs(r.scaledCursor[1] - 12 * scale) < 0.01, JSON.stringify(r.scaledCursor));
  assert.deepEqual(logs, []);
  await context.close();
});

test('browser share: a canvas captureStream() encoded in wasm, decoded by the native Rust decoder pixel-exact', async () => {
  const { context, page, logs } = await openPage();
  const r = await page.evaluate(async () => {
    const { GlimpseSharer } = window.glimpse;
    const src = document.createElement('canvas');
    src.width = 320;
    src.height = 240;
    document.body.append(src);
    const ctx = src.getContext('2d');
    const draw = (k) => {
      ctx.fillStyle = '#f0f0f0';
      ctx.fillRect(0, 0, 320, 240);
      ctx.fillStyle = '#202080';
      ctx.fillRect(10 + k * 20, 20, 60, 40); // a moving window
      ctx.fillStyle = '#000';
      ctx.font = '16px sans-serif';
      ctx.fillText(`typing ${'x'.repeat(k)}`, 10, 200);
      ctx.fillStyle = `rgb(${k * 40}, 160, 60)`;
      ctx.fillRect(250, 150, 50, 50);
    };
    draw(0);
    const track = src.captureStream(30).getVideoTracks()[0];
    const sharer = new GlimpseSharer(track, { fps: 30 });
    const packets = [];
    const frames = [];
    let last = null;
    sharer.addEventListener('packet', (e) => {
      packets.push(e.detail.packet);
      if (e.detail.kind === 'checkpoint' || e.detail.kind === 'frame-update') {
        if (e.detail.image) last = new Uint8Array(e.detail.image.data);
        frames.push(last);
      }
    });
    const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    for (let k = 0; k < 6; k++) {
      draw(k);
      await wait(120);
      await sharer.captureFrame();
    }
    sharer.checkpoint();
    // start()/stop() and the async iterator.
    const iterated = [];
    const it = sharer.packets();
    await sharer.start();
    draw(7);
    const first = await Promise.race([it.next(), wait(3000).then(() => ({ done: true, timeout: true }))]);
    sharer.stop();
    iterated.push(first.done ? 'none' : window.glimpse.packetKind(first.value));
    const b64 = (u8) => { let s = ''; for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000)); return btoa(s); };
    return { packets: packets.map(b64), frames: frames.map(b64), kinds: packets.map((p) => window.glimpse.packetKind(p)), iterated };
  });
  assert.ok(r.kinds[0] === 'checkpoint', r.kinds.join());
  assert.ok(r.kinds.filter((k) => k === 'frame-update').length >= 3, r.kinds.join());
  assert.equal(r.kinds.at(-1), 'checkpoint');
  assert.ok(['checkpoint', 'frame-update'].includes(r.iterated[0]), r.iterated.join());
  const dir = mkdtempSync(join(tmpdir(), 'glimpse-share-'));
  const packets = r.packets.map((s) => Buffer.from(s, 'base64'));
  const framedBody = Buffer.concat(packets.flatMap((p) => { const h = Buffer.alloc(4); h.writeUInt32LE(p.length); return [h, p]; }));
  writeFileSync(join(dir, 'share.glp'), framedBody);
  writeFileSync(join(dir, 'share.rgba'), Buffer.concat(r.frames.map((s) => Buffer.from(s, 'base64'))));
  const out = execFileSync(process.env.GLIMPSE_PACKETS_TOOL, ['check', join(dir, 'share.glp'), join(dir, 'share.rgba'), '320', '240'], { encoding: 'utf8' });
  assert.match(out, /pixel-exact/);
  assert.deepEqual(logs, []);
  await context.close();
});

/**
 * Runs a video stream through a viewer in the page. At each check (after awaiting the VideoDecoders'
 * output): bytes outside the encoder's lossy rectangles that differ from the source, and the PSNR (dB,
 * RGB) inside them; after the last packet, bytes of the whole canvas that differ from the last frame.
 */
async function runVideoStream(page, stream, { noWebCodecs = false } = {}) {
  return page.evaluate(async ({ stream, noWebCodecs }) => {
    if (noWebCodecs) delete window.VideoDecoder;
    const canvas = document.getElementById('screen');
    const viewer = new window.glimpse.GlimpseViewer(canvas);
    const errors = [];
    let videoFrames = 0;
    viewer.addEventListener('error', (e) => errors.push({ code: e.detail.error.code, region: e.detail.region, needsCheckpoint: e.detail.needsCheckpoint, message: e.detail.error.message }));
    viewer.addEventListener('videoframe', () => { videoFrames++; });
    const idle = () => Promise.race([
      viewer.videoIdle().then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 10000)),
    ]);
    const packets = window.parseFramed(await window.fetchBytes(stream.packets));
    const checks = [];
    const ctx = canvas.getContext('2d');
    for (let i = 0; i < packets.length; i++) {
      if (!viewer.push(packets[i])) throw new Error(`packet ${i} rejected`);
      for (const check of stream.checks.filter((c) => c.afterPacket === i + 1)) {
        const settled = await idle();
        const source = await window.fetchBytes(check.file);
        const got = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        const w = canvas.width;
        const lossy = new Uint8Array(canvas.width * canvas.height);
        for (const [x, y, rw, rh] of check.lossy) {
          for (let yy = y; yy < y + rh; yy++) lossy.fill(1, yy * w + x, yy * w + x + rw);
        }
        let outside = 0;
        let se = 0;
        let n = 0;
        for (let p = 0; p < lossy.length; p++) {
          const o = p * 4;
          if (lossy[p]) {
            for (let k = 0; k < 3; k++) { const d = got[o + k] - source[o + k]; se += d * d; }
            n += 3;
          } else if (got[o] !== source[o] || got[o + 1] !== source[o + 1] || got[o + 2] !== source[o + 2] || got[o + 3] !== source[o + 3]) {
            outside++;
          }
        }
        const psnr = n === 0 ? null : se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / n));
        checks.push({ frame: check.frame, settled, outside, psnr, lossyPixels: n / 3, nativePsnr: check.nativePsnr, drawnSoFar: videoFrames });
      }
    }
    const settled = await idle();
    const last = await window.compareCanvas(canvas, stream.last);
    const stats = viewer.videoStats;
    viewer.destroy();
    return { checks, settled, last, errors, videoFrames, stats };
  }, { stream, noWebCodecs });
}

for (const stream of manifest.videoStreams ?? []) {
  test(`video region (${stream.name}): H.264 decoded through WebCodecs and drawn in place, exact elsewhere, exact after it settles`, async () => {
    const { context, page, logs } = await openPage();
    const support = await page.evaluate(async () => {
      if (typeof VideoDecoder === 'undefined') return { webcodecs: false };
      const r = await VideoDecoder.isConfigSupported({ codec: 'avc1.42E01F', codedWidth: 480, codedHeight: 352 });
      return { webcodecs: true, h264: r.supported };
    });
    // No skipping: this Chromium must decode H.264 with WebCodecs.
    assert.deepEqual(support, { webcodecs: true, h264: true }, 'headless Chromium lacks WebCodecs H.264');
    const r = await runVideoStream(page, stream);
    assert.deepEqual(r.errors, []);
    assert.ok(r.videoFrames > 0, 'no video picture was drawn');
    const lines = [`video ${stream.name} (${stream.scenario}, ${stream.width}x${stream.height}, ${stream.frames} frames, ${stream.pictures} H.264 pictures, ${stream.keyframes} keyframes; ${r.videoFrames} drawn in Chromium, ${r.stats.dropped} dropped):`];
    let lossyChecks = 0;
    for (const c of r.checks) {
      assert.ok(c.settled, `frame ${c.frame}: the VideoDecoder did not output in time`);
      assert.equal(c.outside, 0, `${stream.name} frame ${c.frame}: ${c.outside} pixels outside the lossy rects differ from the source`);
      if (c.psnr !== null && c.lossyPixels > 0 && c.psnr !== Infinity) {
        lossyChecks++;
        assert.ok(c.psnr > 30, `${stream.name} frame ${c.frame}: PSNR ${c.psnr.toFixed(2)} dB <= 30 dB`);
      }
      const psnr = c.psnr === null ? 'no lossy pixels (all exact)' : c.psnr === Infinity ? 'exact (after a checkpoint)' : `PSNR ${c.psnr.toFixed(2)} dB over ${c.lossyPixels} lossy px (native OpenH264 decode: ${c.nativePsnr} dB)`;
      lines.push(`  frame ${c.frame}: exact outside the lossy rects; ${psnr}`);
    }
    assert.ok(lossyChecks >= 3, `only ${lossyChecks} checks while the video played`);
    assert.ok(r.settled);
    assert.equal(r.last.differing, 0, `${stream.name}: after the region settled, ${r.last.differing} bytes differ from the last frame (first at ${r.last.first})`);
    lines.push(`  settled: whole canvas equals the last frame exactly`);
    console.log(lines.join('\n'));
    writeFileSync(join(DATA, '..', `${stream.name}.txt`), `${lines.join('\n')}\n`);
    assert.deepEqual(logs, []);
    await context.close();
  });
}

test('video region without WebCodecs: one NOT_AVAILABLE error, lossless parts exact, exact after it settles', async () => {
  const stream = manifest.videoStreams[0];
  const { context, page, logs } = await openPage();
  const r = await runVideoStream(page, stream, { noWebCodecs: true });
  assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
  assert.equal(r.errors[0].code, 8);
  assert.equal(r.errors[0].needsCheckpoint, false);
  assert.equal(typeof r.errors[0].region, 'number');
  assert.equal(r.videoFrames, 0);
  for (const c of r.checks) assert.equal(c.outside, 0, `frame ${c.frame}`);
  // The lossy area keeps stale pixels while the video plays: the PSNR check above tells them apart.
  const stale = r.checks.filter((c) => c.psnr !== null && c.psnr !== Infinity).map((c) => c.psnr);
  assert.ok(stale.length >= 3 && stale.every((p) => p < 30), `stale PSNR ${stale.map((p) => p.toFixed(1))}`);
  console.log(`video without WebCodecs: lossy area stale while playing (PSNR ${stale.map((p) => p.toFixed(1)).join(', ')} dB), exact once settled`);
  assert.equal(r.last.differing, 0);
  assert.deepEqual(logs, []);
  await context.close();
});

test('hostile streams: an update with 5 video regions is refused, at most 4 decoders live (LRU), a screen over the limit is refused clearly', async () => {
  const hostile = manifest.hostile;
  const { context, page, logs } = await openPage();
  const r = await page.evaluate(async (h) => {
    const { GlimpseViewer } = window.glimpse;
    const canvas = document.getElementById('screen');
    const run = async (file) => {
      const viewer = new GlimpseViewer(canvas);
      const errors = [];
      viewer.addEventListener('error', (e) => errors.push({ code: e.detail.error.code, message: e.detail.error.message, needsCheckpoint: e.detail.needsCheckpoint }));
      const applied = [];
      let maxRegions = 0;
      for (const p of window.parseFramed(await window.fetchBytes(file))) {
        applied.push(viewer.push(p));
        maxRegions = Math.max(maxRegions, viewer.videoStats.regions);
      }
      await Promise.race([viewer.videoIdle(), new Promise((r) => setTimeout(r, 5000))]);
      const out = { applied, errors, maxRegions, stats: viewer.videoStats, width: viewer.width, needsCheckpoint: viewer.needsCheckpoint };
      viewer.destroy();
      return out;
    };
    return { five: await run(h.video5), regions: await run(h.regions), huge: await run(h.huge) };
  }, hostile);
  assert.deepEqual(r.five.applied, [true, false]);
  assert.equal(r.five.errors.length, 1, JSON.stringify(r.five.errors));
  assert.equal(r.five.errors[0].code, 23);
  assert.equal(r.five.errors[0].needsCheckpoint, true);
  assert.match(r.five.errors[0].message, /5 video pictures.*at most 4 video regions/);
  assert.deepEqual([r.five.stats.regions, r.five.stats.frames, r.five.needsCheckpoint], [0, 0, true]);

  assert.deepEqual(r.regions.applied, Array(hostile.regionCount + 1).fill(true));
  assert.deepEqual(r.regions.errors, []);
  assert.ok(r.regions.maxRegions <= 4, `${r.regions.maxRegions} decoders at once`);
  assert.equal(r.regions.stats.evicted, hostile.regionCount - 4);
  assert.equal(r.regions.stats.regions, 4);

  assert.deepEqual(r.huge.applied, [false]);
  assert.equal(r.huge.errors.length, 1);
  assert.equal(r.huge.errors[0].code, 23);
  assert.match(r.huge.errors[0].message, /the shared screen is 8192x8192: this viewer shows at most 4096x4096/);
  assert.equal(r.huge.width, 0);
  console.log(`hostile streams: 5 regions in one update refused (${r.five.errors[0].code}); ${hostile.regionCount} regions over time: at most ${r.regions.maxRegions} decoders, ${r.regions.stats.evicted} closed (least recently used), ${r.regions.stats.frames} pictures drawn; 8192x8192 refused: "${r.huge.errors[0].message}"`);
  assert.deepEqual(logs, []);
  await context.close();
});

test('bench: typing update, full checkpoint, wasm size', async () => {
  const { context, page, logs } = await openPage();
  const stream = manifest.bench;
  const r = await page.evaluate(async (stream) => {
    const { Decoder, GlimpseViewer } = window.glimpse;
    const packets = window.parseFramed(await window.fetchBytes(stream.packets));
    const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
    const run = (make) => {
      // 1: checkpoints; 2: typing updates; 0: the first update after each checkpoint, which also
      // re-stores the whole screen in the tile cache (the encoder does that after a checkpoint).
      const times = { 0: [], 1: [], 2: [] };
      for (let rep = 0; rep < 3; rep++) {
        const target = make();
        let afterCheckpoint = false;
        for (let i = 0; i < packets.length; i++) {
          const t0 = performance.now();
          target.push(packets[i]);
          const dt = performance.now() - t0;
          const kind = stream.kinds[i];
          const slot = kind === 2 && afterCheckpoint ? 0 : kind;
          if (kind === 1 || kind === 2) afterCheckpoint = kind === 1;
          if (rep > 0 && times[slot]) times[slot].push(dt);
        }
        target.destroy?.();
        target.free?.();
      }
      const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];
      return {
        update: median(times[2]), updateMean: mean(times[2]), updateP95: p95(times[2]), updateMax: Math.max(...times[2]),
        checkpoint: median(times[1]), checkpointMax: Math.max(...times[1]), updates: times[2].length, checkpoints: times[1].length,
        restore: median(times[0]), restoreMax: Math.max(...times[0]), restores: times[0].length,
      };
    };
    const canvas = document.getElementById('screen');
    const decoder = run(() => new Decoder());
    const viewer = run(() => new GlimpseViewer(canvas));
    const check = await window.compareCanvas(canvas, stream.checks[0].file);
    return { decoder, viewer, check };
  }, stream);
  assert.equal(r.check.differing, 0);
  const wasm = readFileSync('node_modules/glimpse-web/dist/glimpse_wasm_bg.wasm');
  const gz = gzipSync(wasm, { level: 9 }).length;
  const ms = (x) => `${x.toFixed(2)} ms`;
  const lines = [
    `bench (Chromium, ${stream.width}x${stream.height} ${stream.scenario} from the ${manifest.corpus} corpus${stream.width === 1920 ? '' : '; no 1080p recording, so 720p'}):`,
    `  typing update apply: decoder mean ${ms(r.decoder.updateMean)}, median ${ms(r.decoder.update)}, p95 ${ms(r.decoder.updateP95)}; viewer incl. paint mean ${ms(r.viewer.updateMean)}, median ${ms(r.viewer.update)}, p95 ${ms(r.viewer.updateP95)}, max ${ms(r.viewer.updateMax)}; ${r.viewer.updates} samples  [target < 2 ms]`,
    `  full checkpoint apply: decoder median ${ms(r.decoder.checkpoint)} (max ${ms(r.decoder.checkpointMax)}); viewer incl. full-canvas paint median ${ms(r.viewer.checkpoint)} (max ${ms(r.viewer.checkpointMax)}); ${r.viewer.checkpoints} samples  [target < 30 ms]`,
    `  first update after a checkpoint (re-stores the screen in the tile cache): decoder median ${ms(r.decoder.restore)}, viewer median ${ms(r.viewer.restore)} (max ${ms(r.viewer.restoreMax)}); ${r.viewer.restores} samples`,
    `  (timer resolution in the page: performance.now() is coarsened to 0.1 ms; means average it out)`,
    `  wasm: ${wasm.length} bytes, ${gz} bytes gzip (${(gz / 1024).toFixed(1)} KiB)  [target < 400 KB]`,
  ];
  writeFileSync(join(DATA, '..', 'bench.txt'), `${lines.join('\n')}\n`);
  console.log(lines.join('\n'));
  assert.deepEqual(logs, []);
  await context.close();
});
