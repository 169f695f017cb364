//! # Glimpse: the screen-share engine
//!
//! Frames in, compact packets out, pixel-exact screens back. The modules follow the data:
//!
//! 1. [`frame`]: a captured image is a borrowed, validated [`Frame`] (BGRA8 or RGBA8, any stride).
//! 2. `damage`: each frame is compared with the previous one, tile by tile, tightened to the changed
//!    pixels; capture-API damage rectangles ("hints") limit the compare.
//! 3. `tiles`: changed tiles are looked up in a tile cache that encoder and decoder keep in step
//!    (and small shapes, such as the glyphs of text, in a glyph cache), and moved content (scrolling,
//!    dragged windows, content back from the reference image saved before a large change) is found
//!    and sent as copies.
//! 4. `codec`: what is left is coded losslessly: fills, palettes for text and UI, recolourings,
//!    prediction for the rest, then one entropy stage per frame with the earlier payloads as its
//!    dictionary.
//! 5. [`protocol`]: everything travels in versioned [`Packet`]s; checkpoints let late viewers join.
//! 6. [`decoder`]: applies packets to a framebuffer and reports the damaged rectangles.
//!
//! Below them all, `wire` reads and writes bytes (varints, a reader that checks every length), and
//! `video_codec` is the one place the build decides between OpenH264 (the `video` module, feature
//! `h264`) and stand-ins that never start a region (`video_config`, the region encoder's settings,
//! exists in both). The stages without links are internal: the public API is the SDK (benchmark and
//! test helpers live in the hidden `internals` module, with no stability promise).
//!
//! [`Encoder`] and [`Decoder`] are the two ends most users hold:
//!
//! ```
//! use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat};
//!
//! let (width, height) = (320, 200);
//! let mut screen = vec![0u8; width * height * 4]; // BGRA, as captured
//! let mut encoder = Encoder::new(EncoderConfig::default());
//! let mut viewer = Decoder::new(DecoderConfig::default());
//! for step in 0..10 {
//!     screen[(step * 1000) * 4] = 0xff; // something changes
//!     let frame = Frame::new(&screen, width as u32, height as u32, width * 4, PixelFormat::Bgra8)?;
//!     if let Some(packet) = encoder.encode(&frame)? {
//!         let update = viewer.apply(packet.as_bytes())?; // on the other side of the network
//!         assert!(!update.damage.is_empty());
//!     }
//! }
//! assert_eq!(viewer.framebuffer().unwrap().pixels, &screen[..]);
//! # Ok::<(), glimpse::Error>(())
//! ```
//!
//! ## Building with H.264
//!
//! The `h264` feature (on by default) sends video-like regions as H.264 through OpenH264, which the
//! `openh264` crate compiles from its C++ source. On x86 and x86_64 it needs [nasm](https://nasm.us)
//! installed **before** it is first built (`apt-get install nasm`, `brew install nasm`, `winget install
//! nasm`): without nasm, OpenH264 is built without its assembly, encodes about three times slower (a
//! 1920x1080 screen with a video region: 8 -> 24 ms per frame), and stays so in `target/` even after
//! nasm is installed, until it is rebuilt with `cargo clean -p openh264-sys2 -p glimpse`. Glimpse's
//! build script then prints a cargo warning; cargo shows build warnings of workspace and path
//! dependencies only, so as a crates.io dependency set `GLIMPSE_REQUIRE_NASM=1` in the build
//! environment to turn it into a build error, or check `glimpse::video::OPENH264_ASSEMBLY` at run time.
//!
//! OpenH264's AVX2 kernels need one more step: `openh264-sys2` leaves them out, while OpenH264's own
//! build enables them on x86. This workspace turns them on in `.cargo/config.toml` (`NASMENV` and
//! `CXXFLAGS` set to `-DHAVE_AVX2`; both, or the C++ does not link): about 6% less encode time for the
//! same bytes. As a dependency, set the same two variables in your build environment (or your own
//! `.cargo/config.toml`) before OpenH264 is first built. The kernels are picked by CPU detection at run
//! time, so such a build still runs on CPUs without AVX2.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codec;
mod damage;
pub mod decoder;
pub mod encoder;
mod error;
mod fast_hash;
pub mod frame;
#[doc(hidden)]
pub mod internals;
pub mod protocol;
pub mod result_code;
pub mod session;
mod tiles;
#[cfg(all(feature = "h264", not(target_arch = "wasm32")))]
pub mod video;
mod video_codec;
// Without H.264 the settings are filled in but never read.
#[cfg_attr(
    not(all(feature = "h264", not(target_arch = "wasm32"))),
    allow(dead_code)
)]
mod video_config;
mod wire;

pub use codec::Entropy;
pub use decoder::{CursorView, Decoder, DecoderConfig, FramebufferView, Update, VideoChunk};
pub use encoder::{Encoder, EncoderConfig, EncoderStats, VideoSettings, MASK_COLOR};
pub use error::{Error, Result};
pub use frame::{Frame, PixelFormat, Rect, MAX_DIMENSION};
pub use protocol::{
    CursorImage, CursorPosition, Packet, PacketHeader, PacketKind, SessionInfo, PROTOCOL_VERSION,
};
