// Misbehaving relays for the tests, on 127.0.0.1, without dependencies:
// - hostileRelay: a minimal WebSocket server that answers each viewer's hello with a scripted list
//   of messages (made by the native `relay_messages` tool, so the tests keep no copy of the message
//   format) and counts connections;
// - tamperingProxy: a relay in the middle of a real one that changes, replays, drops or injects the
//   messages a viewer receives (what an operator who cannot read the stream could still try).
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const MESSAGES = process.env.GLIMPSE_RELAY_MESSAGES;

/** A message written by relay_messages: 'welcome', 'garbage', 'host-hello', 'count'. */
export function message(name) {
  if (!MESSAGES) throw new Error('GLIMPSE_RELAY_MESSAGES is not set: run the tests with bash wasm/ci.sh');
  return readFileSync(join(MESSAGES, `${name}.bin`));
}

/** True when `payload` (a whole binary message) is a stream packet (relay_messages' tags.json says how to tell). */
let tags = null;
export function isStream(payload) {
  tags ??= JSON.parse(readFileSync(join(MESSAGES, 'tags.json'), 'utf8'));
  return payload.length > tags.header && payload[tags.header] === tags.stream;
}

/** One unmasked server frame: binary, or text when `text`. */
export function frame(payload, text = false) {
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
  return listen(server, sockets, () => connections);
}

function listen(server, sockets, connections, extra = {}) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `ws://127.0.0.1:${server.address().port}`,
    connections,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
    ...extra,
  })));
}

/**
 * Splits server-to-client WebSocket bytes into frames: calls `onFrame(header, payload, raw)` for each
 * whole frame (servers never mask). Returns the function to feed bytes to.
 */
function frameReader(onFrame) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (buf.length < off + len) return;
      const raw = buf.subarray(0, off + len);
      onFrame(buf[0], buf.subarray(off, off + len), raw);
      buf = buf.subarray(off + len);
    }
  };
}

/**
 * A relay in the middle of the real one at `upstream` (ws://HOST:PORT): viewers connect to its url;
 * every whole binary message the relay sends a viewer goes through `tamper(payload, n, connection)`
 * (n counts that connection's messages from 0, connection counts connections from 0), which returns
 * the messages to send instead (Buffers, or strings for text frames): [payload] passes it on, []
 * drops it. `inject(message)` sends a message to the newest viewer connection now and returns that
 * connection's number. Resolves with { url, connections(), inject(m), close() }.
 */
export function tamperingProxy(upstream, tamper) {
  const target = new URL(upstream);
  let connections = 0;
  let newest = null;
  const sockets = new Set();
  const server = createServer((req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, client, head) => {
    const relay = connect(Number(target.port), target.hostname);
    for (const s of [client, relay]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        relay.destroy();
      });
    }
    const connection = connections++;
    newest = { client, connection };
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      // Without Origin the relay takes it for a native client: the test page's origin is not its own.
      if (req.rawHeaders[i].toLowerCase() !== 'origin') lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    }
    relay.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) relay.write(head);
    client.pipe(relay); // the viewer's messages pass unchanged
    let n = 0;
    const frames = frameReader((first, payload, raw) => {
      const binaryWhole = first === 0x82; // FIN and binary: one whole message
      if (!binaryWhole) {
        client.write(raw);
        return;
      }
      for (const m of tamper(Buffer.from(payload), n++, connection)) client.write(typeof m === 'string' ? frame(Buffer.from(m), true) : frame(m));
    });
    let upgraded = false;
    let pending = Buffer.alloc(0);
    relay.on('data', (chunk) => {
      if (upgraded) {
        frames(chunk);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      upgraded = true;
      client.write(pending.subarray(0, end + 4));
      if (pending.length > end + 4) frames(pending.subarray(end + 4));
    });
  });
  const inject = (m) => {
    newest?.client.write(typeof m === 'string' ? frame(Buffer.from(m), true) : frame(m));
    return newest?.connection;
  };
  return listen(server, sockets, () => connections, { inject });
}
