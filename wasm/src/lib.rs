//! WebAssembly binding of Glimpse: the engine of the `@glimpse/web` npm package.
//!
//! This crate only translates. [`Decoder`] applies packets to an RGBA framebuffer that JavaScript
//! reads in place (zero-copy, see `framebufferPtr`); [`Encoder`] turns RGBA pixels (from `getImageData`)
//! into the same packets a native host sends. Every failure is a JavaScript `Error` whose `name` is
//! `"GlimpseError"` and whose numeric `code` equals the C library's `GLIMPSE_RESULT_*` (see [`error`]).
//!
//! The friendly API (`GlimpseViewer`, `GlimpseSharer`, `Decoder`) is the hand-written `js/index.js`
//! over these classes; the classes here are its raw layer.

pub mod decoder;
pub mod encoder;
pub mod error;

pub use decoder::Decoder;
pub use encoder::Encoder;

use wasm_bindgen::prelude::*;

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
    /// `Record<string, number>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Record<string, number>")]
    pub type CodeTable;
}
