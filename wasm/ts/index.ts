// glimpse-web: view a Glimpse screen share in a <canvas>, or share a browser tab, with the same Rust
// engine as native hosts (compiled to WebAssembly). Join and share sessions through a Glimpse relay
// by code, end-to-end encrypted. ESM: works from bundlers, from <script type="module">, and in Node (headless Decoder/Encoder).
export { ErrorCode, GlimpseError, type ErrorCodeName, type ErrorCodeValue } from './errors.js';
export { init, engineErrorCodes, protocolVersion, type InitOptions, type WasmSource } from './engine.js';
export {
  Decoder, Encoder, packetKind, h264CodecString, type PacketKind, type Rect, type VideoChunk, type Update,
  type DecoderOptions, type CursorShape, type CursorState, type RgbaImage, type EncoderOptions, type FrameInput,
  type EncoderStats,
} from './codec.js';
export type { VideoStats } from './video.js';
export {
  GlimpseViewer, type ViewerOptions, type ViewerJoinOptions, type ResizeDetail, type ErrorDetail, type VideoFrameDetail,
  type ViewerStats, type GlimpseViewerEventMap,
} from './viewer.js';
export type {
  JoinOptions, ViewerState, StateDetail, ControlState, ControlDetail, ViewersDetail, PaintDetail,
} from './join.js';
export { keysymOf, type InputEvent } from './input.js';
export type { ViewDetail } from './viewport.js';
export type { ViewSize } from './view-transform.js';
export {
  GlimpseSharer, type SharerOptions, type SharerShareOptions, type PacketDetail, type GlimpseSharerEventMap,
} from './sharer.js';
export type {
  ShareOptions, ShareResult, SharerState, SharerStateDetail, ControlPolicy, ViewerInfo, SharerControlDetail, InputDetail,
  WrongCodeDetail, CodeReplacedDetail,
} from './share.js';
export { formatCode, codeDigits } from './relay.js';
