//! WebAssembly binding of Glimpse: the engine of the `@glimpse/web` npm package.
//!
//! This crate only translates. [`Decoder`] applies packets to an RGBA framebuffer that JavaScript
//! reads in place (zero-copy, see `framebufferPtr`); [`Encoder`] turns RGBA pixels (from `getImageData`)
//! into the same packets a native host sends. Every failure is a JavaScript `Error` whose `name` is
//! `"GlimpseError"` and whose numeric `code` equals the C library's `GLIMPSE_RESULT_*` (see [`error`]).
//!
//! [`ViewerSession`] and [`HostSession`] are quick connect's sans-IO sessions
//! ([`glimpse_connect`]): every message between the browser and a relay is encoded and decoded
//! here, never in JavaScript.
//!
//! The friendly API (`GlimpseViewer`, `GlimpseSharer`, `Decoder`, `Encoder`) is the TypeScript in
//! `ts/` over these classes; the classes here are its raw layer.

pub mod decoder;
pub mod encoder;
pub mod error;
pub mod host_session;
pub mod viewer_session;

pub use decoder::Decoder;
pub use encoder::Encoder;
pub use host_session::HostSession;
pub use viewer_session::ViewerSession;

use glimpse_connect::protocol::{close, close_error, SessionKey};
use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

/// A plain object with these properties.
pub(crate) fn object(fields: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in fields {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &(*k).into(), v);
    }
    o
}

/// A session key as people read it (`"123 456 789"`), from what a user typed: 9 digits,
/// optionally grouped by spaces or dashes. Throws `INVALID_SESSION_KEY` (32) otherwise.
#[wasm_bindgen(js_name = formatSessionKey)]
pub fn format_session_key(text: &str) -> Result<String, JsValue> {
    SessionKey::parse(text)
        .map(|k| k.to_string())
        .map_err(|e| error::from_connect(&e))
}

/// A session key as digits only (`"123456789"`, for links), from what a user typed. Throws
/// `INVALID_SESSION_KEY` (32) for text that is not a key.
#[wasm_bindgen(js_name = sessionKeyDigits)]
pub fn session_key_digits(text: &str) -> Result<String, JsValue> {
    SessionKey::parse(text)
        .map(|k| k.digits())
        .map_err(|e| error::from_connect(&e))
}

/// True when a client must not reconnect after the relay closed its WebSocket with `code`.
#[wasm_bindgen(js_name = closeIsFinal)]
pub fn close_is_final(code: u16) -> bool {
    close::is_final(code)
}

/// The `GlimpseError` a WebSocket close code and reason stand for (returned, not thrown).
#[wasm_bindgen(js_name = closeError)]
pub fn close_error_js(code: u16, reason: &str) -> JsValue {
    error::from_connect(&close_error(code, reason))
}

/// The kind of a packet (1 checkpoint, 2 frame update, 3 cursor shape, 4 cursor position) read from
/// its header, without applying it. Throws a `GlimpseError` for a packet that is not Glimpse's.
#[wasm_bindgen(js_name = packetKind)]
pub fn packet_kind(packet: &[u8]) -> Result<u32, JsValue> {
    glimpse::protocol::peek_kind(packet)
        .map(|k| k as u32)
        .map_err(|e| error::from_core(&e))
}

/// The wire protocol version this build speaks.
#[wasm_bindgen(js_name = protocolVersion)]
pub fn protocol_version() -> u32 {
    u32::from(glimpse::PROTOCOL_VERSION)
}

/// The package version (the workspace version), for bug reports.
#[wasm_bindgen(js_name = engineVersion)]
pub fn engine_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Limits of a Decoder: sessions announcing more are rejected. */
export interface DecoderOptions {
  /** Largest screen width accepted, 1..=8192 (default 8192). */
  maxWidth?: number;
  /** Largest screen height accepted, 1..=8192 (default 8192). */
  maxHeight?: number;
  /** Largest tile cache accepted, in tiles (default 8192). */
  maxCacheTiles?: number;
}
/** Settings of an Encoder. */
export interface EncoderOptions {
  /** Tile cache capacity in 64x64 tiles, 0..=65536 (default 2048; 0 turns it off). */
  cacheTiles?: number;
  /** Detect scrolling and moved windows (default true). */
  motionDetection?: boolean;
  /** Entropy stage (default "adaptive", which is DEFLATE in WebAssembly). */
  entropy?: "adaptive" | "deflate" | "lz4" | "stored";
  /** Display scale announced to viewers, 1..=1000 (100 = 96 DPI, the default). */
  scalePercent?: number;
}
/** The cursor as a Decoder last received it; image fields are 0 until its image arrived. */
export interface RawCursor {
  x: number;
  y: number;
  visible: boolean;
  shapeId: number;
  width: number;
  height: number;
  hotspotX: number;
  hotspotY: number;
}
/** One H.264 picture of a video region, for the host to decode (`Decoder.videoChunks()`). */
export interface RawVideoChunk {
  /** Region id: the pictures of one region form one H.264 stream. */
  region: number;
  /** Screen rectangle the picture covers (its visible size; the coded size is padded). */
  x: number;
  y: number;
  width: number;
  height: number;
  /** An IDR picture with SPS and PPS in front: a fresh decoder starts here. */
  keyframe: boolean;
  /** Annex-B bytes of exactly one picture. */
  data: Uint8Array;
}
/** What a message from the relay means to a viewer (`ViewerSession.receive`). */
export type RawViewerEvent =
  | { type: "welcome"; viewer: number; hostName: string }
  | {
      type: "packet";
      kind: "checkpoint" | "update" | "cursor";
      /** A checkpoint after a gap (not the continuation of the stream). */
      restart: boolean;
      seq: number;
      /** The host's capture time (ms since the Unix epoch; 0 when unknown). */
      capturedAtMs: number;
      /** Where the Glimpse packet is inside the message given to receive(). */
      payloadOffset: number;
      payloadLength: number;
    }
  | { type: "viewer-count"; count: number }
  | { type: "control"; state: "none" | "asked" | "granted"; refused: boolean }
  | { type: "host-status"; connected: boolean };
/** What to do after a viewer's connection closed (`ViewerSession.closed`). */
export type RawReconnect =
  | { reconnect: true; delayMs: number }
  | { reconnect: false; error: Error & { code: number } };
/** A viewer as the relay announces it to the host. */
export interface RawViewerEntry {
  viewer: number;
  /** Its address as the relay sees it (IP:port). */
  address: string;
  /** The name it gave (may be empty). */
  name: string;
}
/** An input event from the viewer holding control. */
export type RawInputEvent =
  | { type: "pointer-move"; x: number; y: number }
  | { type: "button"; button: number; down: boolean }
  | { type: "wheel"; dx: number; dy: number }
  | { type: "key"; keysym: number; down: boolean };
/** What the host must know or do (`HostSession.pollEvent`). */
export type RawHostEvent =
  | { type: "ready"; key: string; keyDigits: string; resumed: boolean }
  | { type: "checkpoint-needed" }
  | ({ type: "viewer-joined" } & RawViewerEntry)
  | { type: "viewer-left"; viewer: number }
  | { type: "control-requested"; viewer: number }
  | { type: "control"; change: "requested" | "granted" | "refused" | "revoked"; viewer: number }
  | { type: "input"; viewer: number; event: RawInputEvent }
  | { type: "disconnected" }
  | { type: "ended"; error: Error & { code: number } };
/** Encoder counters. */
export interface EncoderStats {
  frames: number;
  unchangedFrames: number;
  checkpoints: number;
  bytes: number;
  copies: number;
  cacheHits: number;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `DecoderOptions | undefined` in TypeScript.
    #[wasm_bindgen(typescript_type = "DecoderOptions | undefined")]
    pub type DecoderOptions;
    /// `EncoderOptions | undefined` in TypeScript.
    #[wasm_bindgen(typescript_type = "EncoderOptions | undefined")]
    pub type EncoderOptions;
    /// `RawCursor | undefined` in TypeScript.
    #[wasm_bindgen(typescript_type = "RawCursor | undefined")]
    pub type MaybeCursor;
    /// `RawVideoChunk[]` in TypeScript.
    #[wasm_bindgen(typescript_type = "RawVideoChunk[]")]
    pub type RawVideoChunkArray;
    /// `EncoderStats` in TypeScript.
    #[wasm_bindgen(typescript_type = "EncoderStats")]
    pub type EncoderStatsObject;
    /// `RawViewerEvent | undefined` in TypeScript.
    #[wasm_bindgen(typescript_type = "RawViewerEvent | undefined")]
    pub type MaybeRawViewerEvent;
    /// `RawReconnect` in TypeScript.
    #[wasm_bindgen(typescript_type = "RawReconnect")]
    pub type RawReconnect;
    /// `RawHostEvent | undefined` in TypeScript.
    #[wasm_bindgen(typescript_type = "RawHostEvent | undefined")]
    pub type MaybeRawHostEvent;
    /// `RawViewerEntry[]` in TypeScript.
    #[wasm_bindgen(typescript_type = "RawViewerEntry[]")]
    pub type RawViewerEntryArray;
    /// `Record<string, number>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Record<string, number>")]
    pub type CodeTable;
}
