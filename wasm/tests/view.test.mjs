// Node tests of the viewer's view math and touch gestures (pure modules of the packed package, no
// DOM): fit / 1:1 / zoom steps, page point to screen pixel, zooming around a point, and the gestures
// a phone's fingers make (tap, long press, pan, pinch, two-finger scroll).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fitZoom, cssSize, stepZoom, clampZoom, screenPoint, anchoredScroll,
} from './node_modules/glimpse-web/js/view-transform.js';
import { TouchGestures } from './node_modules/glimpse-web/js/touch.js';

const FHD = { width: 1920, height: 1080 };

test('fit: scaled down to the area with the aspect kept, never up; 1:1 is the screen / devicePixelRatio', () => {
  // A 1024x640 window (DPR 1): the width decides.
  const z = fitZoom(FHD, { width: 1016, height: 600 }, 1);
  assert.equal(z, 1016 / 1920);
  const css = cssSize(FHD, z, 1);
  assert.ok(css.width <= 1016 && css.height <= 600);
  // Lower: the height decides.
  assert.equal(fitZoom(FHD, { width: 1016, height: 540 }, 1), 0.5);
  // A phone (390 CSS px wide, DPR 3): 1170 device pixels for 1920.
  const phone = fitZoom(FHD, { width: 382, height: 600 }, 3);
  assert.equal(cssSize(FHD, phone, 3).width, 382);
  // A tall narrow area: the height decides.
  assert.equal(fitZoom(FHD, { width: 2000, height: 540 }, 1), 0.5);
  // A screen smaller than the area stays 1:1.
  assert.equal(fitZoom({ width: 800, height: 600 }, { width: 1400, height: 900 }, 1), 1);
  assert.deepEqual(cssSize(FHD, 1, 2), { width: 960, height: 540 });
  assert.equal(fitZoom({ width: 0, height: 0 }, { width: 100, height: 100 }, 1), 1);
});

test('zoom steps: x1.25, never stepping over 1:1, within [0.1, max]', () => {
  assert.equal(stepZoom(1, 1), 1.25);
  assert.equal(stepZoom(1, -1), 0.8);
  assert.equal(stepZoom(0.9, 1), 1);
  assert.equal(stepZoom(1.1, -1), 1);
  assert.equal(stepZoom(4, 1), 4);
  assert.equal(stepZoom(0.1, -1), 0.1);
  assert.equal(clampZoom(Number.NaN), 1);
  assert.equal(clampZoom(100, 8), 8);
});

test('page point to screen pixel: any CSS size, clamped to the screen', () => {
  const rect = { left: 10, top: 20, width: 960, height: 540 };
  assert.deepEqual(screenPoint(10, 20, rect, FHD), [0, 0]);
  assert.deepEqual(screenPoint(10 + 480, 20 + 270, rect, FHD), [960, 540]);
  assert.deepEqual(screenPoint(5000, 5000, rect, FHD), [1919, 1079]);
  assert.deepEqual(screenPoint(-5, -5, rect, FHD), [0, 0]);
});

test('zooming keeps the point under the anchor in place', () => {
  // Content point 300 px from the content start sits 100 px into the visible area (scroll 200).
  const after = anchoredScroll(200, 100, 0, 0, 2);
  assert.equal(after + 100, 600); // the same point, now at 600 px of the doubled content
  assert.equal(anchoredScroll(0, 10, 0, 0, 0.5), 0); // never a negative scroll
  // A centred canvas (margin 150) grown past the area (margin 0): its point 50 px in stays under the anchor.
  assert.equal(anchoredScroll(0, 200, 150, 0, 3), 50 * 3 - 200 < 0 ? 0 : 50 * 3 - 200);
  assert.equal(anchoredScroll(0, 200, 150, 0, 6), 50 * 6 - 200);
});

test('touch: a tap, a long press, a one-finger pan', () => {
  const t = new TouchGestures();
  assert.deepEqual(t.down(1, 100, 100, 0), []);
  assert.deepEqual(t.move(1, 103, 102, 'pinch'), []); // within the slop: still a tap
  assert.deepEqual(t.up(1), [{ type: 'tap', x: 103, y: 102 }]);

  t.down(1, 50, 60, 1000);
  assert.deepEqual(t.check(1400), []);
  assert.deepEqual(t.check(1500), [{ type: 'long-press', x: 50, y: 60 }]);
  assert.deepEqual(t.up(1), [], 'a long press is no tap');

  t.down(1, 0, 0, 0);
  assert.deepEqual(t.move(1, 20, 0, 'pinch'), [{ type: 'pan', dx: 20, dy: 0 }]);
  assert.deepEqual(t.move(1, 25, 5, 'pinch'), [{ type: 'pan', dx: 5, dy: 5 }]);
  assert.deepEqual(t.check(10_000), [], 'a drag is no long press');
  assert.deepEqual(t.up(1), []);
});

test('touch: two fingers pinch when viewing; under control they pinch or scroll by their first movement', () => {
  const t = new TouchGestures();
  t.down(1, 100, 100, 0);
  t.down(2, 200, 100, 0);
  assert.deepEqual(t.move(2, 205, 100, 'pinch'), []);
  const [p] = t.move(2, 300, 100, 'pinch');
  assert.equal(p.type, 'pinch');
  assert.equal(p.scale, 2);
  assert.deepEqual([p.x, p.y], [200, 100]);
  t.up(2);
  assert.deepEqual(t.up(1), [], 'a pinch is no tap');

  // Under control: moving together is a scroll, and stays one.
  const s = new TouchGestures();
  s.down(1, 100, 300, 0);
  s.down(2, 160, 300, 0);
  s.move(1, 100, 285, 'pinch-or-scroll');
  const [scroll] = s.move(2, 160, 285, 'pinch-or-scroll');
  assert.deepEqual(scroll, { type: 'scroll', x: 130, y: 285, dx: 0, dy: -15 });
  assert.equal(s.move(1, 80, 270, 'pinch-or-scroll')[0].type, 'scroll');
  s.up(1);
  s.up(2);
  // Spreading is a pinch.
  s.down(1, 100, 300, 0);
  s.down(2, 160, 300, 0);
  assert.equal(s.move(2, 200, 300, 'pinch-or-scroll')[0].type, 'pinch');
});
