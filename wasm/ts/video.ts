// Video regions of a GlimpseViewer: H.264 pictures decoded with WebCodecs and drawn in place.
import type * as raw from '../dist/glimpse_wasm.js';
import { h264CodecString, type Rect } from './codec.js';
import { ErrorCode, type ErrorCodeValue } from './errors.js';

/** A viewer's video counters. */
export interface VideoStats {
  /** Pictures decoded and drawn. */
  frames: number;
  /** Pictures dropped because their region ended (or a checkpoint came) before they were decoded. */
  dropped: number;
  /** Video errors reported. */
  errors: number;
  /** Regions being decoded now. */
  regions: number;
}

/** What the regions need from their viewer. */
export interface VideoHost {
  /** Draws a decoded picture's top-left rect.width x rect.height at rect. */
  paint(frame: VideoFrame, rect: Rect): void;
  /** A picture was drawn. */
  drawn(region: number, rect: Rect): void;
  /** A region failed (not fatal). */
  error(region: number, code: ErrorCodeValue, message: string, cause?: unknown): void;
}

interface Region {
  decoder: VideoDecoder;
  rect: Rect;
  pending: number;
  timestamp: number;
}

/** The video regions being decoded, by region id. */
export class VideoRegions {
  readonly #host: VideoHost;
  readonly #regions = new Map<number, Region>();
  /** Codec strings this browser cannot decode (reported once each; '*' = no WebCodecs). */
  readonly #unsupported = new Set<string>();
  #idleWaiters: (() => void)[] = [];
  readonly #stats = { frames: 0, dropped: 0, errors: 0 };
  #closed = false;

  constructor(host: VideoHost) {
    this.#host = host;
  }

  /** Video counters. */
  get stats(): VideoStats {
    return { ...this.#stats, regions: this.#regions.size };
  }

  /** Resolves once every picture decoded so far was drawn or dropped. */
  idle(): Promise<void> {
    if (this.#pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #pending(): number {
    let n = 0;
    for (const r of this.#regions.values()) n += r.pending;
    return n;
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length && this.#pending() === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  #error(region: number, code: ErrorCodeValue, message: string, cause?: unknown): void {
    this.#stats.errors++;
    this.#host.error(region, code, message, cause);
  }

  /** Feeds one picture to its region's VideoDecoder (made at the region's first keyframe). */
  decode(c: raw.RawVideoChunk): void {
    let entry = this.#regions.get(c.region);
    if (entry && (entry.rect.x !== c.x || entry.rect.y !== c.y || entry.rect.width !== c.width || entry.rect.height !== c.height)) {
      this.end(c.region);
      entry = undefined;
    }
    if (!entry) {
      // A new region (or one restarting after an error or a checkpoint) starts at a keyframe.
      if (!c.keyframe) return;
      entry = this.#open(c);
      if (!entry) return;
    }
    try {
      entry.decoder.decode(new EncodedVideoChunk({ type: c.keyframe ? 'key' : 'delta', timestamp: entry.timestamp, data: c.data }));
      entry.timestamp += 1000;
      entry.pending++;
    } catch (e) {
      this.end(c.region);
      this.#error(c.region, ErrorCode.CORRUPT_PAYLOAD, `video region ${c.region}: ${e instanceof Error ? e.message : String(e)}`, e);
    }
  }

  #open(c: raw.RawVideoChunk): Region | undefined {
    const codec = h264CodecString(c.data);
    if (typeof VideoDecoder === 'undefined' || typeof EncodedVideoChunk === 'undefined') {
      if (!this.#unsupported.has('*')) {
        this.#unsupported.add('*');
        this.#error(c.region, ErrorCode.NOT_AVAILABLE, 'this browser has no WebCodecs VideoDecoder: video regions show once they settle');
      }
      return undefined;
    }
    if (!codec) {
      this.#error(c.region, ErrorCode.CORRUPT_PAYLOAD, `video region ${c.region}: keyframe without an SPS`);
      return undefined;
    }
    if (this.#unsupported.has(codec)) return undefined;
    const rect = { x: c.x, y: c.y, width: c.width, height: c.height };
    const region = c.region;
    // Filled in below: the callbacks only run after configure() and decode().
    const entry: Region = { decoder: undefined as unknown as VideoDecoder, rect, pending: 0, timestamp: 0 };
    entry.decoder = new VideoDecoder({
      output: (frame) => {
        try {
          // Frames of a region that ended, restarted or was reset by a checkpoint are dropped.
          if (this.#closed || this.#regions.get(region) !== entry) return; // counted by end()
          entry.pending = Math.max(0, entry.pending - 1);
          this.#host.paint(frame, rect);
          this.#stats.frames++;
          this.#host.drawn(region, { ...rect });
        } finally {
          frame.close();
          this.#checkIdle();
        }
      },
      error: (e) => {
        if (this.#regions.get(region) !== entry) return; // closed by us
        this.end(region);
        if (e && e.name === 'NotSupportedError') {
          if (this.#unsupported.has(codec)) return;
          this.#unsupported.add(codec);
          this.#error(region, ErrorCode.NOT_AVAILABLE, `this browser cannot decode H.264 ${codec}: video regions show once they settle`, e);
        } else {
          this.#error(region, ErrorCode.CORRUPT_PAYLOAD, `video region ${region}: ${e?.message} (recovers at its next keyframe)`, e);
        }
      },
    });
    try {
      entry.decoder.configure({
        codec,
        codedWidth: Math.max(16, c.width + (c.width & 1)),
        codedHeight: Math.max(16, c.height + (c.height & 1)),
        optimizeForLatency: true,
      });
    } catch (e) {
      entry.decoder.close();
      this.#unsupported.add(codec);
      this.#error(c.region, ErrorCode.NOT_AVAILABLE, `this browser cannot decode H.264 ${codec}: ${e instanceof Error ? e.message : String(e)}`, e);
      return undefined;
    }
    this.#regions.set(region, entry);
    return entry;
  }

  /** Drops a region's decoder; its pictures still in flight are never drawn. */
  end(region: number): void {
    const entry = this.#regions.get(region);
    if (!entry) return;
    this.#regions.delete(region);
    this.#stats.dropped += entry.pending;
    if (entry.decoder.state !== 'closed') entry.decoder.close();
    this.#checkIdle();
  }

  /** Drops every region (a checkpoint holds exact pixels everywhere). */
  endAll(): void {
    for (const region of [...this.#regions.keys()]) this.end(region);
  }

  /** Drops every region for good: later outputs are never drawn. */
  close(): void {
    this.#closed = true;
    this.endAll();
  }
}
