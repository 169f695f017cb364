// The math of a viewer's view (pure functions, no DOM): how large the shared screen is drawn (fit,
// 1:1, zoomed), where a point of the page falls on the shared screen, and how to scroll so that a
// point stays put while zooming. Zoom is in device pixels per screen pixel: 1 is 1:1 (pixel-exact).

/** A width and a height. */
export interface Size {
  width: number;
  height: number;
}

/** How a GlimpseViewer sizes its canvas: see ViewerOptions.size. */
export type ViewSize = 'fit' | 'natural' | 'manual';

/** The smallest zoom the viewer goes to (a tenth of 1:1) and the largest by default. */
export const MIN_ZOOM = 0.1;
export const DEFAULT_MAX_ZOOM = 4;
/** One zoomIn() / zoomOut() step. */
export const ZOOM_STEP = 1.25;

/**
 * The zoom at which `screen` fits inside `area` (CSS pixels) with its aspect kept, never above 1:1:
 * a screen smaller than the area is drawn 1:1, not blown up.
 */
export function fitZoom(screen: Size, area: Size, dpr: number): number {
  if (!(screen.width > 0 && screen.height > 0)) return 1;
  const z = Math.min(1, (area.width * dpr) / screen.width, (area.height * dpr) / screen.height);
  return Math.max(MIN_ZOOM / 10, z);
}

/** The canvas's CSS size for `screen` at `zoom`. */
export function cssSize(screen: Size, zoom: number, dpr: number): Size {
  return { width: (screen.width * zoom) / dpr, height: (screen.height * zoom) / dpr };
}

/** `zoom` kept within [MIN_ZOOM, max]. */
export function clampZoom(zoom: number, max = DEFAULT_MAX_ZOOM): number {
  if (!Number.isFinite(zoom)) return 1;
  return Math.max(MIN_ZOOM, Math.min(max, zoom));
}

/** The next zoom step in (`direction` 1) or out (-1) from `zoom`. 1:1 is never stepped over. */
export function stepZoom(zoom: number, direction: 1 | -1, max = DEFAULT_MAX_ZOOM): number {
  const next = direction > 0 ? zoom * ZOOM_STEP : zoom / ZOOM_STEP;
  if ((zoom < 1 && next > 1) || (zoom > 1 && next < 1)) return 1;
  return clampZoom(next, max);
}

/**
 * The screen pixel under the page point (clientX, clientY) for a canvas drawn at `rect` (its
 * getBoundingClientRect()) showing `screen`; clamped to the screen.
 */
export function screenPoint(clientX: number, clientY: number, rect: { left: number; top: number; width: number; height: number }, screen: Size): [number, number] {
  const x = Math.floor(((clientX - rect.left) * screen.width) / (rect.width || 1));
  const y = Math.floor(((clientY - rect.top) * screen.height) / (rect.height || 1));
  return [Math.max(0, Math.min(screen.width - 1, x)), Math.max(0, Math.min(screen.height - 1, y))];
}

/**
 * The scroll offset that keeps the content point under `anchor` (CSS pixels from the scroll area's
 * visible top-left corner) in place when the content is scaled by `ratio`, with `scroll` the offset
 * before, and `before` / `after` where the content starts inside the scrolled area (its margin,
 * which centring changes with the size).
 */
export function anchoredScroll(scroll: number, anchor: number, before: number, after: number, ratio: number): number {
  const content = scroll + anchor - before; // the point, in content pixels before the zoom
  return Math.max(0, content * ratio + after - anchor);
}
