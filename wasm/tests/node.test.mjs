// Node tests of the packed package (no DOM): the headless Decoder and the Encoder.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  init, Decoder, Encoder, GlimpseError, ErrorCode, engineErrorCodes, packetKind, protocolVersion, h264CodecString,
  formatCode, codeDigits,
} from 'glimpse-web';
import { manifest, loadStream, loadRgba, firstDiff, framed } from './common.mjs';

before(async () => {
  await init();
});

test('ErrorCode equals the engine table', () => {
  assert.deepEqual({ ...ErrorCode }, engineErrorCodes());
  assert.equal(protocolVersion(), 1);
});

test('join codes: 10 digits grouped 3-3-4, spaces or dashes accepted, anything else INVALID_CODE (32)', () => {
  assert.equal(formatCode('1234567890'), '123 456 7890');
  assert.equal(formatCode(' 12345-67890 '), '123 456 7890');
  assert.equal(codeDigits('123 456 7890'), '1234567890');
  for (const bad of ['123 456 789', '12345678901', '123456789x', '']) {
    assert.throws(() => formatCode(bad), (e) => e instanceof GlimpseError && e.code === ErrorCode.INVALID_CODE, bad);
  }
  assert.deepEqual([ErrorCode.WRONG_CODE, ErrorCode.NOT_ADMITTED, ErrorCode.UNKNOWN_SESSION, ErrorCode.CODE_EXPIRED, ErrorCode.CODE_IN_USE], [36, 37, 33, 34, 50]);
});

test('init() with an integrity needs a URL: INVALID_ARGUMENT in a fresh process', () => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e',
    "import { init, GlimpseError } from 'glimpse-web'; init(new Uint8Array(8), { integrity: 'sha384-x' }).then(() => console.log('loaded'), (e) => console.log(e instanceof GlimpseError, e.code));"],
  { encoding: 'utf8' });
  assert.equal(out.trim(), 'true 4');
});

test('objects before init() would need it; init() is idempotent', async () => {
  await init();
  await init();
  assert.ok(new Decoder());
});

for (const stream of manifest.streams) {
  test(`decode ${stream.name} (${stream.width}x${stream.height}, native packets) pixel-exact`, () => {
    const packets = loadStream(stream);
    const decoder = new Decoder();
    let checked = 0;
    packets.forEach((p, i) => {
      const update = decoder.push(p);
      assert.equal(update.kind, packetKind(p));
      if (update.kind === 'checkpoint') {
        assert.deepEqual(update.damage, [{ x: 0, y: 0, width: stream.width, height: stream.height }]);
      }
      for (const r of update.damage) assert.ok(r.x + r.width <= decoder.width && r.y + r.height <= decoder.height);
      for (const check of stream.checks.filter((c) => c.afterPacket === i + 1)) {
        const expected = loadRgba(check.file);
        const fb = decoder.framebuffer();
        assert.equal(firstDiff(fb, expected), -1, `frame ${check.frame} differs`);
        assert.equal(firstDiff(decoder.framebufferView(), expected), -1);
        const cursor = decoder.cursor();
        assert.deepEqual([cursor.x, cursor.y, cursor.visible], [...check.cursor, true]);
        assert.deepEqual(cursor.shape, { id: 1, width: 12, height: 18, hotspotX: 0, hotspotY: 0 });
        checked++;
      }
    });
    assert.equal(checked, stream.checks.length);
    assert.deepEqual([decoder.width, decoder.height, decoder.scalePercent], [stream.width, stream.height, 100]);
    const img = decoder.cursorImage();
    assert.equal(img.data.length, 12 * 18 * 4);
    assert.deepEqual([...img.data.subarray(0, 4)], [0, 0, 0, 255]); // the arrow's black tip, RGBA
  });
}

for (const stream of manifest.videoStreams ?? []) {
  test(`headless Decoder hands over the H.264 pictures of ${stream.name}; exact outside the lossy rects`, () => {
    const packets = loadStream(stream);
    const decoder = new Decoder();
    const chunks = [];
    const ended = [];
    let checked = 0;
    packets.forEach((p, i) => {
      const u = decoder.push(p);
      for (const c of u.video) chunks.push({ ...c, packet: i });
      ended.push(...u.videoEnded);
      if (u.kind !== 'frame-update') assert.deepEqual([u.video, u.videoEnded], [[], []]);
      for (const check of stream.checks.filter((c) => c.afterPacket === i + 1)) {
        const expected = loadRgba(check.file);
        const fb = decoder.framebufferView();
        const inLossy = (x, y) => check.lossy.some(([rx, ry, rw, rh]) => x >= rx && x < rx + rw && y >= ry && y < ry + rh);
        let outside = 0;
        for (let p = 0; p < fb.length / 4; p++) {
          if (inLossy(p % stream.width, Math.floor(p / stream.width))) continue;
          for (let k = 0; k < 4; k++) if (fb[p * 4 + k] !== expected[p * 4 + k]) { outside++; break; }
        }
        assert.equal(outside, 0, `frame ${check.frame}`);
        checked++;
      }
    });
    assert.equal(checked, stream.checks.length);
    assert.equal(chunks.length, stream.pictures);
    assert.equal(chunks.filter((c) => c.keyframe).length, stream.keyframes);
    assert.deepEqual([...new Set(chunks.map((c) => c.region))], stream.regions);
    assert.equal(ended.length, stream.ended);
    const first = chunks[0];
    assert.ok(first.keyframe);
    assert.ok(first.data instanceof Uint8Array);
    const startCode = [...first.data.subarray(0, 4)].join();
    assert.ok(startCode === '0,0,0,1' || startCode.startsWith('0,0,1,'), `Annex-B start code, got ${startCode}`);
    assert.match(h264CodecString(first.data), /^avc1\.[0-9A-F]{6}$/);
    assert.equal(h264CodecString(chunks.find((c) => !c.keyframe).data), undefined);
    for (const c of chunks) {
      assert.ok(c.rect.x + c.rect.width <= stream.width && c.rect.y + c.rect.height <= stream.height);
    }
    assert.equal(firstDiff(decoder.framebuffer(), loadRgba(stream.last)), -1, 'exact after the region settled');
  });
}

test('errors are GlimpseErrors with stable codes; a failed push changes nothing', () => {
  const [stream] = manifest.streams;
  const packets = loadStream(stream);
  const decoder = new Decoder();
  const expectCode = (f, code) => {
    assert.throws(f, (e) => e instanceof GlimpseError && e instanceof Error && e.name === 'GlimpseError' && e.code === code && e.message.length > 0);
  };
  expectCode(() => decoder.framebuffer(), ErrorCode.NOT_AVAILABLE);
  assert.equal(decoder.framebufferView(), undefined);
  const updateIndex = stream.kinds.indexOf(2);
  expectCode(() => decoder.push(packets[updateIndex]), ErrorCode.NO_CHECKPOINT);
  expectCode(() => decoder.push(new Uint8Array([1, 2, 3])), ErrorCode.MALFORMED);
  expectCode(() => packetKind(new Uint8Array([0x47, 99, 1])), ErrorCode.UNSUPPORTED_VERSION);
  decoder.push(packets[0]);
  const before = decoder.framebuffer();
  const seq = decoder.seq;
  expectCode(() => decoder.push(packets[updateIndex].subarray(0, packets[updateIndex].length - 7)), ErrorCode.TRUNCATED);
  const nextUpdate = stream.kinds.indexOf(2, updateIndex + 1);
  expectCode(() => decoder.push(packets[nextUpdate]), ErrorCode.OUT_OF_SYNC);
  assert.equal(decoder.seq, seq);
  assert.equal(firstDiff(decoder.framebuffer(), before), -1);
  expectCode(() => new Decoder({ maxWidth: 0 }), ErrorCode.INVALID_ARGUMENT);
  expectCode(() => new Encoder({ entropy: 'brotli' }), ErrorCode.INVALID_ARGUMENT);
  expectCode(() => new Encoder({ motionDetection: 'yes' }), ErrorCode.INVALID_ARGUMENT);
  const encoder = new Encoder();
  expectCode(() => encoder.encode({ data: new Uint8Array(10), width: 4, height: 4 }), ErrorCode.FRAME_DATA_TOO_SHORT);
  expectCode(() => encoder.encode({ data: new Uint8Array(64), width: 0, height: 4 }), ErrorCode.INVALID_DIMENSIONS);
  expectCode(() => encoder.encode({ data: new Uint8Array(64), width: 4, height: 4, stride: 8 }), ErrorCode.INVALID_STRIDE);
  expectCode(() => encoder.encode({ data: new Uint8Array(64), width: 4, height: 4, format: 'argb' }), ErrorCode.UNKNOWN_PIXEL_FORMAT);
  const small = { data: new Uint8Array(16 * 16 * 4), width: 16, height: 16 };
  expectCode(() => encoder.setCursorShape(small, 16, 0), ErrorCode.INVALID_RECT);
  expectCode(() => decoder.push(new Uint8Array(0)), ErrorCode.TRUNCATED);
});

test('wasm Encoder round trip: its packets decode pixel-exact in wasm and in the native decoder', () => {
  const stream = manifest.streams[0];
  const frames = stream.checks.map((c) => loadRgba(c.file));
  const encoder = new Encoder();
  const decoder = new Decoder();
  const packets = [];
  for (const data of frames) {
    const packet = encoder.encode({ data, width: stream.width, height: stream.height });
    assert.ok(packet instanceof Uint8Array);
    packets.push(packet);
    decoder.push(packet);
    assert.equal(firstDiff(decoder.framebuffer(), data), -1);
  }
  assert.equal(encoder.encode({ data: frames.at(-1), width: stream.width, height: stream.height }), undefined);
  const cp = encoder.checkpoint();
  assert.equal(packetKind(cp), 'checkpoint');
  assert.equal(new Decoder().push(cp).kind, 'checkpoint');
  const stats = encoder.stats();
  assert.equal(stats.frames, frames.length + 1);
  assert.equal(stats.checkpoints >= 1, true);
  // BGRA input with a stride gives the same screen.
  const w = 8, h = 3, stride = 40;
  const bgra = new Uint8Array(stride * h);
  for (let i = 0; i < bgra.length; i++) bgra[i] = (i * 37) & 0xff;
  const d2 = new Decoder();
  d2.push(new Encoder().encode({ data: bgra, width: w, height: h, stride, format: 'bgra' }));
  const fb = d2.framebuffer();
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const s = y * stride + x * 4, d = (y * w + x) * 4;
    assert.deepEqual([...fb.subarray(d, d + 4)], [bgra[s + 2], bgra[s + 1], bgra[s], bgra[s + 3]]);
  }
  // The same packets through the native Rust decoder.
  const dir = mkdtempSync(join(tmpdir(), 'glimpse-node-'));
  writeFileSync(join(dir, 'p.glp'), framed(packets));
  writeFileSync(join(dir, 'f.rgba'), Buffer.concat(frames));
  const out = execFileSync(process.env.GLIMPSE_PACKETS_TOOL, ['check', join(dir, 'p.glp'), join(dir, 'f.rgba'), String(stream.width), String(stream.height)], { encoding: 'utf8' });
  assert.match(out, /pixel-exact/);
});

test('privacy masks and cursor packets from the wasm Encoder', () => {
  const w = 64, h = 64;
  const data = new Uint8Array(w * h * 4).fill(255);
  const encoder = new Encoder({ cacheTiles: 0 });
  encoder.setPrivacyMasks([{ x: 0, y: 0, width: 8, height: 8 }]);
  const decoder = new Decoder();
  decoder.push(encoder.encode({ data, width: w, height: h }));
  assert.deepEqual([...decoder.framebuffer().subarray(0, 4)], [0x20, 0x20, 0x20, 0xff]);
  const arrow = { data: new Uint8Array(4 * 4 * 4).fill(9), width: 4, height: 4 };
  decoder.push(encoder.setCursorShape(arrow, 1, 2));
  assert.equal(encoder.setCursorShape(arrow, 1, 2), undefined);
  decoder.push(encoder.moveCursor(10, 20));
  assert.equal(encoder.moveCursor(10, 20), undefined);
  assert.deepEqual(decoder.cursor(), { x: 10, y: 20, visible: true, shape: { id: 1, width: 4, height: 4, hotspotX: 1, hotspotY: 2 } });
  decoder.free();
  encoder.free();
});

test('before init(): NOT_AVAILABLE, not a crash', () => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e',
    "import { Decoder, GlimpseError } from 'glimpse-web'; try { new Decoder(); console.log('created'); } catch (e) { console.log(e instanceof GlimpseError, e.code); }"],
  { encoding: 'utf8' });
  assert.equal(out.trim(), 'true 8');
});
