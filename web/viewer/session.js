// Glimpse session messages (the small binary messages next to screen packets), as the Rust core's
// glimpse::session::SessionMessage writes them: 'G', protocol version 1, kind (16 and up), then
// LEB128 varints (signed ones zig-zag), booleans as one byte. Only what a viewer sends or receives.

export const MAGIC = 0x47;
export const VERSION = 1;
export const KIND = Object.freeze({
  WELCOME: 16, VIEWER_COUNT: 17, CONTROL_GRANTED: 18, CONTROL_REFUSED: 19, CONTROL_REVOKED: 20,
  ACK: 21, CONTROL_REQUEST: 22, INPUT: 23,
});
const INPUT_POINTER_MOVE = 0;
const INPUT_BUTTON = 1;
const INPUT_WHEEL = 2;
const INPUT_KEY = 3;

/** True for a session message; false for a screen packet (kinds 1-15). */
export function isSessionMessage(bytes) {
  return bytes.length >= 3 && bytes[0] === MAGIC && bytes[1] === VERSION && bytes[2] >= 16;
}

function putVarint(out, value) {
  let v = BigInt(value);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
}

function putSigned(out, n) {
  const v = BigInt(Math.trunc(n));
  putVarint(out, v >= 0n ? v << 1n : ((-v) << 1n) - 1n);
}

function readVarint(bytes, pos) {
  let value = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos.at >= bytes.length) throw new Error('truncated message');
    const b = bytes[pos.at++];
    value |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return value;
  }
  throw new Error('varint too long');
}

function message(kind, body = []) {
  return new Uint8Array([MAGIC, VERSION, kind, ...body]);
}

/** Ack { seq }: everything up to update or checkpoint `seq` was applied. */
export function ack(seq) {
  const body = [];
  putVarint(body, seq);
  return message(KIND.ACK, body);
}

export function controlRequest() {
  return message(KIND.CONTROL_REQUEST);
}

/** Input(PointerMove { x, y }) in screen pixels. */
export function pointerMove(x, y) {
  const body = [INPUT_POINTER_MOVE];
  putSigned(body, x);
  putSigned(body, y);
  return message(KIND.INPUT, body);
}

/** Input(Button { button, down }): 0 left, 1 middle, 2 right, 3 back, 4 forward (MouseEvent.button). */
export function button(b, down) {
  return message(KIND.INPUT, [INPUT_BUTTON, b & 0xff, down ? 1 : 0]);
}

/** Input(Wheel { dx, dy }) in wheel steps (dy > 0: down). */
export function wheel(dx, dy) {
  const body = [INPUT_WHEEL];
  putSigned(body, dx);
  putSigned(body, dy);
  return message(KIND.INPUT, body);
}

/** Input(Key { keysym, down }) with an X11 keysym. */
export function key(keysym, down) {
  const body = [INPUT_KEY];
  putVarint(body, keysym);
  body.push(down ? 1 : 0);
  return message(KIND.INPUT, body);
}

/** Decodes a message a viewer receives: { type, ... } (unknown kinds give { type: 'unknown' }). */
export function decode(bytes) {
  const pos = { at: 3 };
  switch (bytes[2]) {
    case KIND.WELCOME: {
      const viewer = Number(readVarint(bytes, pos));
      if (bytes.length !== pos.at + 16) throw new Error('bad welcome');
      return { type: 'welcome', viewer, token: bytes.slice(pos.at, pos.at + 16) };
    }
    case KIND.VIEWER_COUNT: return { type: 'viewer-count', count: Number(readVarint(bytes, pos)) };
    case KIND.CONTROL_GRANTED: return { type: 'control-granted' };
    case KIND.CONTROL_REFUSED: return { type: 'control-refused' };
    case KIND.CONTROL_REVOKED: return { type: 'control-revoked' };
    default: return { type: 'unknown', kind: bytes[2] };
  }
}

/**
 * Sequence number of a checkpoint (kind 1: after width, height, scale, tile size, cache tiles) or a
 * frame update (kind 2: first field), else undefined.
 */
export function packetSeq(bytes) {
  const pos = { at: 3 };
  if (bytes[2] === 1) {
    for (let i = 0; i < 5; i++) readVarint(bytes, pos);
    return Number(readVarint(bytes, pos));
  }
  if (bytes[2] === 2) return Number(readVarint(bytes, pos));
  return undefined;
}

/** The X11 keysym of a KeyboardEvent, or 0 when unknown. */
export function keysymOf(event) {
  const named = NAMED_KEYS[event.key];
  if (named) return named;
  if (event.key.length >= 1 && [...event.key].length === 1) {
    const cp = event.key.codePointAt(0);
    if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp;
    return 0x01000000 + cp;
  }
  return 0;
}

const NAMED_KEYS = {
  Enter: 0xff0d, Backspace: 0xff08, Tab: 0xff09, Escape: 0xff1b, Delete: 0xffff, Insert: 0xff63,
  Home: 0xff50, End: 0xff57, PageUp: 0xff55, PageDown: 0xff56,
  ArrowLeft: 0xff51, ArrowUp: 0xff52, ArrowRight: 0xff53, ArrowDown: 0xff54,
  Shift: 0xffe1, Control: 0xffe3, Alt: 0xffe9, Meta: 0xffeb, AltGraph: 0xfe03, CapsLock: 0xffe5,
  F1: 0xffbe, F2: 0xffbf, F3: 0xffc0, F4: 0xffc1, F5: 0xffc2, F6: 0xffc3,
  F7: 0xffc4, F8: 0xffc5, F9: 0xffc6, F10: 0xffc7, F11: 0xffc8, F12: 0xffc9,
};
