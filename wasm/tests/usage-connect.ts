// A typed usage of quick connect (join and share): tsc --noEmit must accept it, and reject the marked misuse.
import {
  init, GlimpseViewer, GlimpseSharer, GlimpseError, ErrorCode, formatSessionKey, sessionKeyDigits,
  type ViewerState, type StateDetail, type ControlDetail, type PaintDetail, type ShareResult, type SharerState,
  type ViewerInfo, type InputEvent,
} from 'glimpse-web';

export async function watch(canvas: HTMLCanvasElement, typed: string): Promise<GlimpseViewer | null> {
  await init();
  const viewer = new GlimpseViewer(canvas, { size: 'manual' });
  viewer.addEventListener('state', (e) => {
    const d: StateDetail = e.detail;
    const s: ViewerState = d.state;
    if (s === 'ended' && d.error?.code === ErrorCode.SESSION_ENDED) console.log('the host ended it');
    if (s === 'reconnecting') console.log(`again in ${d.delayMs ?? 0} ms`);
  });
  viewer.addEventListener('viewers', (e) => console.log(e.detail.count + 1));
  viewer.addEventListener('control', (e) => {
    const c: ControlDetail = e.detail;
    if (c.change === 'refused' || c.state === 'granted') console.log(c);
  });
  viewer.addEventListener('paint', (e) => { const p: PaintDetail = e.detail; console.log(p.seq, p.paintedAtMs - p.capturedAtMs); });
  try {
    await viewer.join('https://relay.example', formatSessionKey(typed), { name: 'Grace', timeoutMs: 5000, signal: AbortSignal.timeout(60_000) });
  } catch (e) {
    if (e instanceof GlimpseError && e.code === ErrorCode.UNKNOWN_SESSION_KEY) return null;
    throw e;
  }
  const asked: boolean = viewer.requestControl();
  const move: InputEvent = { type: 'pointer-move', x: 10, y: 20 };
  const sent: boolean = viewer.sendInput(move);
  // @ts-expect-error: input events are a closed set
  viewer.sendInput({ type: 'scroll', dx: 1 });
  void [asked, sent, viewer.viewerCount, viewer.hostName, viewer.key, sessionKeyDigits(typed)];
  const other: GlimpseViewer = await GlimpseViewer.join('ws://127.0.0.1:8080', '123 456 789', { canvas, forwardInput: false });
  other.leave();
  // @ts-expect-error: the static join needs the canvas
  void GlimpseViewer.join('ws://127.0.0.1:8080', '123 456 789', {});
  return viewer;
}

export async function share(track: MediaStreamTrack): Promise<ShareResult> {
  await init();
  const { key, link, sharer } = await GlimpseSharer.share('https://relay.example', { track, fps: 5, control: 'ask', name: 'Ada' });
  sharer.addEventListener('viewerjoined', (e) => { const v: ViewerInfo = e.detail; console.log(v.name, v.address); });
  sharer.addEventListener('controlrequest', (e) => sharer.grant(e.detail.viewer));
  sharer.addEventListener('input', (e) => { if (e.detail.event.type === 'key') console.log(e.detail.event.keysym); });
  sharer.addEventListener('state', (e) => { const s: SharerState = e.detail.state; console.log(s, e.detail.error?.code); });
  // @ts-expect-error: the control policy is a closed set
  void GlimpseSharer.share('https://relay.example', { track, control: 'everyone' });
  const own = new GlimpseSharer(track);
  const again: ShareResult = await own.share('wss://relay.example', { reconnectForMs: 30_000 });
  own.end();
  return { key: key ?? again.key, link };
}
