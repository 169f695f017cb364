// The relay's share page: shares what the user picks (getDisplayMedia) with GlimpseSharer.share,
// view-only, and shows the key and the join link.
import { init, GlimpseSharer, type ViewerInfo } from './glimpse-web/js/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const shareButton = $<HTMLButtonElement>('share');
const stopButton = $<HTMLButtonElement>('stop');
let sharer: GlimpseSharer | null = null;

function status(text: string): void {
  $('status').textContent = text;
}

function showViewers(viewers: ViewerInfo[]): void {
  const names = viewers.map((v) => v.name || `viewer ${v.viewer}`);
  $('viewers').textContent = names.length ? `Watching: ${names.join(', ')}` : 'Nobody is watching yet.';
}

async function share(): Promise<void> {
  $('error').textContent = '';
  await init();
  shareButton.disabled = true;
  status('Connecting…');
  const result = await GlimpseSharer.share(location.href, { fps: 10, control: 'view-only' });
  const s = result.sharer;
  sharer = s;
  $('key').textContent = result.key;
  const link = $<HTMLAnchorElement>('link');
  link.href = result.link;
  link.textContent = result.link;
  status('Sharing. Viewers open the link, or this page and type the key.');
  stopButton.classList.remove('hidden');
  showViewers(s.viewers);
  s.addEventListener('viewerjoined', () => showViewers(s.viewers));
  s.addEventListener('viewerleft', () => showViewers(s.viewers));
  s.addEventListener('state', (e) => {
    if (e.detail.state === 'reconnecting') status('Connection lost; reconnecting…');
    if (e.detail.state === 'live') status('Sharing.');
    if (e.detail.state === 'ended') {
      status('Not sharing.');
      if (e.detail.error) $('error').textContent = e.detail.error.message;
      stopButton.classList.add('hidden');
      shareButton.disabled = false;
      $('key').textContent = '';
    }
  });
}

shareButton.addEventListener('click', () => {
  share().catch((e: unknown) => {
    $('error').textContent = e instanceof Error ? e.message : String(e);
    status('Not sharing.');
    shareButton.disabled = false;
  });
});

stopButton.addEventListener('click', () => sharer?.stop());
