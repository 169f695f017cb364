// A misbehaving relay for the tests: a minimal WebSocket server on 127.0.0.1 (no dependencies) that
// answers each viewer's hello with a scripted list of messages (made by the native
// `relay_messages` tool, so the tests keep no copy of the message format) and counts connections.
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const MESSAGES = process.env.GLIMPSE_RELAY_MESSAGES;

/** A message written by relay_messages: 'welcome', 'garbage', 'host-hello', 'count', 'stream-bad-payload'. */
export function message(name) {
  if (!MESSAGES) throw new Error('GLIMPSE_RELAY_MESSAGES is not set: run the tests with bash wasm/ci.sh');
  return readFileSync(join(MESSAGES, `${name}.bin`));
}

/** One unmasked server frame: binary, or text when `text`. */
function frame(payload, text = false) {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([text ? 0x81 : 0x82, len])
    : len < 65536 ? Buffer.from([text ? 0x81 : 0x82, 126, len >> 8, len & 0xff])
      : (() => { const h = Buffer.alloc(10); h[0] = text ? 0x81 : 0x82; h[1] = 127; h.writeBigUInt64BE(BigInt(len), 2); return h; })();
  return Buffer.concat([head, payload]);
}

/**
 * Serves `/ws/view`: after a client's first frame (its hello) sends `script(connection)` (an array of
 * Buffers, or strings for text frames), then keeps the connection open. Resolves with
 * { url, connections(), close() }.
 */
export function hostileRelay(script) {
  let connections = 0;
  const sockets = new Set();
  const server = createServer((req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const key = req.headers['sec-websocket-key'];
    if (req.url !== '/ws/view' || !key) {
      socket.destroy();
      return;
    }
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const n = connections++;
    socket.once('data', () => {
      for (const m of script(n)) socket.write(typeof m === 'string' ? frame(Buffer.from(m), true) : frame(m));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `ws://127.0.0.1:${server.address().port}`,
    connections: () => connections,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  })));
}
