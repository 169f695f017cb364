//! Helpers the Wayland tests of glimpse-capture and glimpse-connect share. They run inside the
//! headless GNOME session `capture/wayland/headless-session.sh` starts (mutter without a GPU,
//! xdg-desktop-portal with its GNOME backend, PipeWire, and `screen-app.py`'s terminal):
//!
//! - [`HeadlessSession`]: the session as the script describes it in the environment, and the
//!   terminal's controls (pause the clock, tick it once, its logs);
//! - [`LocalUser`]: the person at the host, through mutter's RemoteDesktop D-Bus API;
//! - [`Shot`]: a screen as a test holds and inspects it, and the colours it looks for;
//! - [`answer_dialog`]: the RemoteDesktop portal's dialog, answered by that person;
//! - [`PipeWireGrab`]: one frame of a PipeWire node grabbed by `gst-launch-1.0`, a consumer
//!   independent of the code under test.

mod dialog;
mod grab;
mod mutter;
mod session;
mod shot;

pub use dialog::{answer_dialog, wait_for_shot, DialogAnswer};
pub use grab::PipeWireGrab;
pub use mutter::LocalUser;
pub use session::{artifacts, skip, HeadlessSession};
pub use shot::{bbox, bluish, centre, terminal_area, Shot, ACCENT, SWITCH_OFF, TERMINAL};
