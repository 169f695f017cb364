//! Quick connect for Glimpse: share a screen with anyone through a relay, by a short key.
//!
//! - [`protocol`]: the messages host, relay and viewers exchange (defined once, with serde), the
//!   session key and the close codes.
//! - [`host_session`] and [`viewer_session`]: both ends of a session as sans-IO state machines;
//!   the Rust clients below, the C library and the npm package drive these same types.
//! - [`relay`] (feature `native`): the relay server, as a library (`glimpse-relay` wraps it).
//! - [`Host`] and [`Viewer`] (feature `native`): blocking Rust clients with their own network
//!   thread, reconnecting by themselves.
//!
//! ```no_run
//! use glimpse::{Frame, PixelFormat};
//! use glimpse_connect::{Host, HostConfig, HostEvent};
//!
//! # fn main() -> Result<(), glimpse_connect::ConnectError> {
//! let host = Host::connect(HostConfig::new("ws://127.0.0.1:8080"))?;
//! println!("type {} on the viewer page, or open {}", host.code(), host.join_link());
//! let screen = vec![0u8; 640 * 360 * 4];
//! host.push_frame(&Frame::new(&screen, 640, 360, 640 * 4, PixelFormat::Bgra8)?, None)?;
//! while let Some(event) = host.next_event(std::time::Duration::from_secs(1)) {
//!     if let HostEvent::ViewerJoined(viewer) = event {
//!         println!("{} joined from {}", viewer.name, viewer.address);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod crypto;
mod error;
pub mod host_session;
pub mod protocol;
pub mod viewer_session;

#[cfg(feature = "native")]
mod client;
#[cfg(feature = "native")]
pub mod relay;

pub use error::ConnectError;

/// The README's examples (the engine's and quick connect's), compiled as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
pub use host_session::{ControlPolicy, HostEvent, HostOptions, ViewerInfo};
pub use protocol::{JoinCode, Lookup};

#[cfg(feature = "native")]
pub use client::{
    host::{Host, HostConfig, HostStats},
    tls::ClientTls,
    viewer::{Screen, Viewer, ViewerConfig, ViewerEvent, ViewerStats},
};
