// A typed usage of the package: tsc --noEmit must accept it (and reject the marked misuse).
import {
  init, Decoder, Encoder, GlimpseViewer, GlimpseSharer, GlimpseError, ErrorCode,
  h264CodecString, type Update, type ViewerStats, type CursorState, type PacketKind, type VideoChunk,
  type VideoStats,
} from 'glimpse-web';

export async function view(canvas: HTMLCanvasElement, socket: WebSocket): Promise<GlimpseViewer> {
  await init();
  const viewer = new GlimpseViewer(canvas, { size: 'natural', statsIntervalMs: 500 });
  viewer.addEventListener('resize', (e) => console.log(e.detail.width, e.detail.height, e.detail.scalePercent));
  viewer.addEventListener('error', (e) => {
    const code: number = e.detail.error.code;
    if (code === ErrorCode.OUT_OF_SYNC || e.detail.needsCheckpoint) socket.send('need-checkpoint');
  });
  viewer.addEventListener('videoframe', (e) => console.log(e.detail.region, e.detail.rect.width));
  viewer.addEventListener('error', (e) => { if (e.detail.region !== undefined && e.detail.error.code === ErrorCode.NOT_AVAILABLE) console.log('no H.264 here'); });
  void viewer.videoIdle().then(() => { const v: VideoStats = viewer.videoStats; console.log(v.frames, v.dropped); });
  viewer.addEventListener('stats', (e) => {
    const s: ViewerStats = e.detail;
    console.log(s.fps.toFixed(1), s.kbps, s.latencyMs);
  });
  socket.binaryType = 'arraybuffer';
  socket.onmessage = (m) => { const applied: boolean = viewer.push(new Uint8Array(m.data as ArrayBuffer)); void applied; };
  return viewer;
}

export async function share(send: (p: Uint8Array) => void): Promise<GlimpseSharer> {
  await init();
  const sharer = await GlimpseSharer.fromDisplayMedia({ video: true }, { fps: 15, entropy: 'deflate' });
  sharer.addEventListener('packet', (e) => { const k: PacketKind = e.detail.kind; void k; send(e.detail.packet); });
  sharer.encoder.setPrivacyMasks([{ x: 0, y: 0, width: 100, height: 20 }]);
  await sharer.start();
  for await (const packet of sharer.packets()) send(packet);
  return sharer;
}

export function headless(packets: Uint8Array[]): Uint8Array {
  const decoder = new Decoder({ maxWidth: 4096 });
  for (const p of packets) {
    try {
      const u: Update = decoder.push(p);
      for (const r of u.damage) void (r.x + r.y + r.width + r.height);
      for (const c of u.video) {
        const chunk: VideoChunk = c;
        const codec: string | undefined = c.keyframe ? h264CodecString(chunk.data) : undefined;
        void [codec, chunk.region, chunk.rect.x];
      }
      for (const region of u.videoEnded) void (region + 1);
    } catch (e) {
      if (e instanceof GlimpseError && e.code === ErrorCode.NO_CHECKPOINT) continue;
      throw e;
    }
  }
  const cursor: CursorState | undefined = decoder.cursor();
  void cursor?.shape?.hotspotX;
  const encoder = new Encoder({ cacheTiles: 0 });
  void encoder.encode({ data: decoder.framebuffer(), width: decoder.width, height: decoder.height });
  // @ts-expect-error: entropy is a closed set of names
  void new Encoder({ entropy: 'brotli' });
  return decoder.framebuffer();
}
