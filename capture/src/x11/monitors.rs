//! The monitors of an X11 screen, as RandR 1.5 lists them (`xrandr --listmonitors`).

use super::{connect, protocol_error};
use crate::{CaptureError, Monitor};
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::xproto::ConnectionExt as _;

/// The active monitors of `display`'s default screen, in the server's order. Without RandR 1.5 the
/// whole screen is one monitor named `"screen"`.
pub(crate) fn list_monitors(display: Option<&str>) -> Result<Vec<Monitor>, CaptureError> {
    let (conn, screen_num) = connect(display)?;
    let screen = &conn.setup().roots[screen_num];
    let whole = Monitor {
        index: 0,
        name: "screen".into(),
        x: 0,
        y: 0,
        width: u32::from(screen.width_in_pixels),
        height: u32::from(screen.height_in_pixels),
        primary: true,
    };
    let has_randr = conn
        .extension_information(randr::X11_EXTENSION_NAME)
        .map_err(protocol_error)?
        .is_some();
    let version = if has_randr {
        conn.randr_query_version(1, 5)
            .map_err(protocol_error)?
            .reply()
            .ok()
            .map(|v| (v.major_version, v.minor_version))
    } else {
        None
    };
    if version.is_none_or(|v| v < (1, 5)) {
        return Ok(vec![whole]);
    }
    let reply = conn
        .randr_get_monitors(screen.root, true)
        .map_err(protocol_error)?
        .reply()
        .map_err(protocol_error)?;
    let mut monitors = Vec::with_capacity(reply.monitors.len());
    for (index, info) in reply.monitors.iter().enumerate() {
        let name = conn
            .get_atom_name(info.name)
            .map_err(protocol_error)?
            .reply()
            .map(|r| String::from_utf8_lossy(&r.name).into_owned())
            .unwrap_or_else(|_| format!("monitor-{index}"));
        monitors.push(Monitor {
            index,
            name,
            x: i32::from(info.x),
            y: i32::from(info.y),
            width: u32::from(info.width),
            height: u32::from(info.height),
            primary: info.primary,
        });
    }
    if monitors.is_empty() {
        monitors.push(whole);
    }
    Ok(monitors)
}
