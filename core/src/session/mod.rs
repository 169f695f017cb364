//! Quick-connect sessions, sans IO: what a relay (and a host) decide, without sockets, threads,
//! clocks or randomness. Time comes in as `now_ms`, random bytes from the caller (use a CSPRNG), and
//! every call returns at once, so the same code runs in a Tokio relay, a test, or a browser.
//!
//! - [`FanOut`] (relay, one per shared screen): host packets in, one paced stream per viewer out.
//!   Joiners start from the latest checkpoint plus a catch-up log; slow viewers skip to a newer
//!   checkpoint; viewers in step never receive checkpoints. Packets are [`Bytes`](bytes::Bytes)
//!   shared by every viewer.
//! - [`Control`] (host, mirrored by the relay): who may send input.
//!
//! The messages, keys and network code of quick connect (relay, host and viewer clients) live in the
//! `glimpse-connect` crate, on top of these.
//!
//! # Driving a fan-out
//!
//! On every host packet call [`FanOut::host_packet`]; then, for every viewer whose transport can take
//! data, call [`FanOut::poll_send`] until it returns `None`; on a viewer's
//! [`SessionMessage::Ack`] call [`FanOut::ack`]; after each of these drain [`FanOut::poll_event`]
//! and ask the host for a checkpoint on each [`FanOutEvent::NeedCheckpoint`]. The host answers with
//! [`Encoder::checkpoint`](crate::Encoder::checkpoint). A relay that cannot read packets (end-to-end
//! encryption) uses [`FanOut::push`] with what the host declares instead of [`FanOut::host_packet`].
//!
//! ```
//! use glimpse::session::{FanOut, FanOutConfig, FanOutEvent};
//! use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat};
//!
//! let (width, height) = (64u32, 48u32);
//! let mut screen = vec![0u8; (width * height * 4) as usize];
//! let mut encoder = Encoder::new(EncoderConfig::default()); // on the host
//! let mut fanout = FanOut::new(FanOutConfig::default()); // on the relay
//! let mut viewers = vec![(fanout.add_viewer(0), Decoder::new(DecoderConfig::default()))];
//!
//! for step in 0..20u64 {
//!     let now_ms = step * 100;
//!     // Host: capture, encode, send. Answer checkpoint requests.
//!     screen[(step as usize * 397) % (64 * 48 * 4)] = 0xff;
//!     let frame = Frame::new(&screen, width, height, width as usize * 4, PixelFormat::Bgra8)?;
//!     if let Some(packet) = encoder.encode(&frame)? {
//!         fanout.host_packet(packet.into_bytes(), now_ms)?;
//!     }
//!     while let Some(FanOutEvent::NeedCheckpoint) = fanout.poll_event() {
//!         // The relay asks the host, which answers with a checkpoint of the current screen.
//!         if let Some(checkpoint) = encoder.checkpoint() {
//!             fanout.host_packet(checkpoint.into_bytes(), now_ms)?;
//!         }
//!     }
//!     if step == 10 {
//!         viewers.push((fanout.add_viewer(now_ms), Decoder::new(DecoderConfig::default())));
//!     }
//!     // Relay -> viewers; each viewer acknowledges what it applied.
//!     for (id, decoder) in &mut viewers {
//!         while let Some(packet) = fanout.poll_send(*id, now_ms) {
//!             decoder.apply(&packet)?;
//!             fanout.ack(*id, decoder.seq().unwrap(), now_ms); // the viewer's acknowledgement
//!         }
//!     }
//! }
//! for (_, decoder) in &viewers {
//!     assert_eq!(decoder.framebuffer().unwrap().pixels, &screen[..]);
//! }
//! # Ok::<(), glimpse::Error>(())
//! ```

mod control;
mod fanout;

pub use control::{Control, ControlEvent, InputEvent};
pub use fanout::{FanOut, FanOutConfig, FanOutEvent, StreamKind, ViewerId, ViewerStats};
