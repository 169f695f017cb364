//! The real screen on X11: capture (MIT-SHM, XDamage, XFixes) and input (XTest, XInput2).
//!
//! Connections use x11rb's pure-Rust client (no libxcb). Each object has its own connection, so the
//! capture loop and the input handling can live on different threads.

mod input;
mod keymap;
mod monitors;
mod remote;
mod shm;

pub use input::{InputInjector, LocalInputWatch};
pub(crate) use monitors::list_monitors;
pub use remote::X11Input;

use crate::{CaptureError, CapturedFrame, CursorShape, CursorState, ScreenSource};
use glimpse::{PixelFormat, Rect};
use shm::ShmBuffer;
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::xproto::{self, ConnectionExt as _, ImageFormat, ImageOrder};
use x11rb::protocol::{damage, shm as xshm, xfixes, Event};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

fn protocol_error(err: impl std::fmt::Display) -> CaptureError {
    CaptureError::Protocol(err.to_string())
}

/// Connects to `display` (`None`: the `DISPLAY` variable) and returns the connection and screen.
fn connect(display: Option<&str>) -> Result<(RustConnection, usize), CaptureError> {
    x11rb::connect(display).map_err(|e| CaptureError::Connect(e.to_string()))
}

/// The real X11 screen (the root window of the default screen), or one rectangle of it (a RandR
/// monitor: [`open_area`](Self::open_area)).
///
/// Pixels come through MIT-SHM when the server supports passing a memory file (`ShmAttachFd`, MIT-SHM
/// 1.2), and through a plain `GetImage` otherwise. XDamage supplies the damage hints and XFixes the
/// cursor; without those extensions, damage is `None` and the cursor shape unknown. Screen size
/// changes (RandR) are noticed through the root window's `ConfigureNotify`. With an area, frames,
/// damage and cursor positions are relative to the area's top-left corner.
///
/// ```no_run
/// use glimpse_capture::{ScreenSource, X11Source};
/// let mut screen = X11Source::open(Some(":0"))?;
/// let frame = screen.capture()?;
/// println!("{}x{}, damage {:?}", frame.width, frame.height, frame.damage);
/// # Ok::<(), glimpse_capture::CaptureError>(())
/// ```
pub struct X11Source {
    conn: RustConnection,
    root: xproto::Window,
    /// The captured rectangle's size and its top-left corner on the root window.
    width: u32,
    height: u32,
    origin: (i16, i16),
    /// The area asked for (`None`: the whole root window), clipped to the root at every resize.
    area: Option<Rect>,
    shm: Option<ShmSegment>,
    /// Whether MIT-SHM with fd passing works on this server (false after any failure).
    shm_usable: bool,
    /// The last plain GetImage's pixels, when SHM is not in use.
    plain: Vec<u8>,
    damage: Option<(damage::Damage, xfixes::Region)>,
    /// Next frame reports `damage: None` (first frame, after a resize).
    fresh: bool,
    xfixes: bool,
    cursor_dirty: bool,
    cursor_serial: Option<u32>,
    cursor_visible: bool,
}

struct ShmSegment {
    seg: xshm::Seg,
    buffer: ShmBuffer,
}

impl X11Source {
    /// Connects to `display` (`None`: the `DISPLAY` variable) and prepares to capture its default
    /// screen. Fails with [`CaptureError::Connect`] when the server cannot be reached and with
    /// [`CaptureError::UnsupportedFormat`] when the screen is not 32-bit BGRX (depth 24 or 32).
    pub fn open(display: Option<&str>) -> Result<Self, CaptureError> {
        Self::open_area(display, None)
    }

    /// Like [`open`](Self::open), capturing only `area` of the root window (a monitor's geometry
    /// from [`list_monitors`](crate::list_monitors)); `None` is the whole screen. An area that
    /// lies outside the screen is [`CaptureError::InvalidSize`].
    pub fn open_area(display: Option<&str>, area: Option<Rect>) -> Result<Self, CaptureError> {
        let (conn, screen_num) = connect(display)?;
        let setup = conn.setup();
        let screen = &setup.roots[screen_num];
        check_format(setup, screen)?;
        let root = screen.root;
        let (origin, width, height) = clip_area(
            area,
            u32::from(screen.width_in_pixels),
            u32::from(screen.height_in_pixels),
        )?;

        let has = |name: &'static str| {
            conn.extension_information(name)
                .map(|info| info.is_some())
                .map_err(protocol_error)
        };
        let xfixes_ok = has(xfixes::X11_EXTENSION_NAME)?
            && xfixes::query_version(&conn, 5, 0)
                .map_err(protocol_error)?
                .reply()
                .is_ok_and(|v| v.major_version >= 2);
        let shm_ok = has(xshm::X11_EXTENSION_NAME)?
            && xshm::query_version(&conn)
                .map_err(protocol_error)?
                .reply()
                .is_ok_and(|v| (v.major_version, v.minor_version) >= (1, 2));
        let damage_ok = xfixes_ok
            && has(damage::X11_EXTENSION_NAME)?
            && damage::query_version(&conn, 1, 1)
                .map_err(protocol_error)?
                .reply()
                .is_ok();

        // Root size changes (RandR) arrive as ConfigureNotify on the root window.
        conn.change_window_attributes(
            root,
            &xproto::ChangeWindowAttributesAux::new()
                .event_mask(xproto::EventMask::STRUCTURE_NOTIFY),
        )
        .map_err(protocol_error)?;
        let damage = if damage_ok {
            let dmg = conn.generate_id().map_err(protocol_error)?;
            let region = conn.generate_id().map_err(protocol_error)?;
            damage::create(&conn, dmg, root, damage::ReportLevel::NON_EMPTY)
                .map_err(protocol_error)?;
            xfixes::create_region(&conn, region, &[]).map_err(protocol_error)?;
            Some((dmg, region))
        } else {
            None
        };
        if xfixes_ok {
            xfixes::select_cursor_input(&conn, root, xfixes::CursorNotifyMask::DISPLAY_CURSOR)
                .map_err(protocol_error)?;
        }
        conn.sync().map_err(protocol_error)?;

        let mut source = X11Source {
            conn,
            root,
            width,
            height,
            origin,
            area,
            shm: None,
            shm_usable: shm_ok,
            plain: Vec::new(),
            damage,
            fresh: true,
            xfixes: xfixes_ok,
            cursor_dirty: true,
            cursor_serial: None,
            cursor_visible: true,
        };
        source.attach_shm();
        Ok(source)
    }

    /// True when frames come through MIT-SHM (false: plain `GetImage`, one more copy per frame).
    pub fn uses_shm(&self) -> bool {
        self.shm.is_some()
    }

    /// Stops using MIT-SHM (plain `GetImage` from now on), for servers where it misbehaves and for
    /// measuring the difference.
    pub fn disable_shm(&mut self) {
        self.detach_shm();
        self.shm_usable = false;
    }

    /// True when damage rectangles come from XDamage (false: every frame's damage is `None`).
    pub fn has_damage(&self) -> bool {
        self.damage.is_some()
    }

    /// (Re)creates the shared segment for the current size; on any failure falls back to GetImage.
    fn attach_shm(&mut self) {
        self.detach_shm();
        if !self.shm_usable {
            return;
        }
        let attached = (|| -> Result<ShmSegment, CaptureError> {
            let buffer = ShmBuffer::new(self.width as usize * self.height as usize * 4)?;
            let seg = self.conn.generate_id().map_err(protocol_error)?;
            xshm::attach_fd(&self.conn, seg, buffer.share_fd()?, false)
                .map_err(protocol_error)?
                .check()
                .map_err(protocol_error)?;
            Ok(ShmSegment { seg, buffer })
        })();
        match attached {
            Ok(segment) => self.shm = Some(segment),
            Err(_) => self.shm_usable = false,
        }
    }

    fn detach_shm(&mut self) {
        if let Some(old) = self.shm.take() {
            // The segment's pages stay mapped in the server until it processes the detach; ours are
            // unmapped when `old` drops, which does not affect the server's mapping.
            let _ = xshm::detach(&self.conn, old.seg);
            let _ = self.conn.flush();
        }
    }

    /// Reads every queued event: size changes, damage and cursor notifications.
    fn pump_events(&mut self) -> Result<(), CaptureError> {
        let mut resized = None;
        while let Some(event) = self.conn.poll_for_event().map_err(protocol_error)? {
            match event {
                Event::ConfigureNotify(e) if e.window == self.root => {
                    resized = Some((u32::from(e.width), u32::from(e.height)));
                }
                Event::XfixesCursorNotify(_) => self.cursor_dirty = true,
                // Damage is read with DamageSubtract on every capture; the notifications only say
                // "something changed".
                _ => {}
            }
        }
        if let Some((w, h)) = resized {
            let (origin, width, height) = clip_area(self.area, w, h)?;
            if (origin, width, height) != (self.origin, self.width, self.height) {
                self.origin = origin;
                self.width = width;
                self.height = height;
                self.fresh = true;
                self.attach_shm();
            }
        }
        Ok(())
    }

    /// Damage rectangles of the root window, relative to the captured area and clipped to it.
    fn area_damage(&self, rects: &[xproto::Rectangle]) -> Vec<Rect> {
        let (ox, oy) = self.origin;
        let shifted: Vec<xproto::Rectangle> = rects
            .iter()
            .map(|r| xproto::Rectangle {
                x: r.x.saturating_sub(ox),
                y: r.y.saturating_sub(oy),
                ..*r
            })
            .collect();
        clip_rects(&shifted, self.width, self.height)
    }
}

/// The captured rectangle for `area` on a `root_width` x `root_height` root window: its top-left
/// corner and size (the area clipped to the root; the whole root without an area).
fn clip_area(
    area: Option<Rect>,
    root_width: u32,
    root_height: u32,
) -> Result<((i16, i16), u32, u32), CaptureError> {
    let root = Rect::new(0, 0, root_width, root_height);
    let Some(area) = area else {
        return Ok(((0, 0), root_width, root_height));
    };
    match area.intersect(&root) {
        Some(r) if r.width > 0 && r.height > 0 => Ok(((r.x as i16, r.y as i16), r.width, r.height)),
        _ => Err(CaptureError::InvalidSize {
            width: area.width,
            height: area.height,
        }),
    }
}

/// Checks that the root window's pixels are 32-bit little-endian BGRX.
fn check_format(setup: &xproto::Setup, screen: &xproto::Screen) -> Result<(), CaptureError> {
    let depth = screen.root_depth;
    let bpp = setup
        .pixmap_formats
        .iter()
        .find(|f| f.depth == depth)
        .map_or(0, |f| f.bits_per_pixel);
    let visual = screen
        .allowed_depths
        .iter()
        .flat_map(|d| d.visuals.iter())
        .find(|v| v.visual_id == screen.root_visual);
    let problem = if !matches!(depth, 24 | 32) || bpp != 32 {
        Some("only depth 24 or 32 at 32 bits per pixel is supported".to_string())
    } else if setup.image_byte_order != ImageOrder::LSB_FIRST {
        Some("the server sends big-endian images".to_string())
    } else {
        match visual {
            Some(v)
                if v.class == xproto::VisualClass::TRUE_COLOR
                    && (v.red_mask, v.green_mask, v.blue_mask) == (0xff0000, 0xff00, 0xff) =>
            {
                None
            }
            Some(v) => Some(format!(
                "visual class {:?} with masks {:#x}/{:#x}/{:#x}, not TrueColor BGRX",
                v.class, v.red_mask, v.green_mask, v.blue_mask
            )),
            None => Some("the root visual is not listed".to_string()),
        }
    };
    match problem {
        None => Ok(()),
        Some(detail) => Err(CaptureError::UnsupportedFormat {
            depth,
            bits_per_pixel: bpp,
            detail,
        }),
    }
}

/// Sets every pixel's alpha byte to 255 (X leaves the padding byte of depth 24 undefined).
fn make_opaque(pixels: &mut [u8]) {
    for px in pixels.chunks_exact_mut(4) {
        px[3] = 255;
    }
}

/// Clips X rectangles to the screen, dropping empty ones.
fn clip_rects(rects: &[xproto::Rectangle], width: u32, height: u32) -> Vec<Rect> {
    let screen = Rect::new(0, 0, width, height);
    rects
        .iter()
        .filter_map(|r| {
            let x0 = i64::from(r.x).max(0);
            let y0 = i64::from(r.y).max(0);
            let x1 = (i64::from(r.x) + i64::from(r.width)).min(i64::from(width));
            let y1 = (i64::from(r.y) + i64::from(r.height)).min(i64::from(height));
            (x0 < x1 && y0 < y1)
                .then(|| Rect::new(x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32))
                .and_then(|r| r.intersect(&screen))
        })
        .collect()
}

/// Converts XFixes' premultiplied ARGB words to straight-alpha BGRA bytes.
fn cursor_pixels(argb: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(argb.len() * 4);
    for &word in argb {
        let [b, g, r, a] = word.to_le_bytes();
        let straight = |c: u8| match a {
            0 => 0,
            255 => c,
            _ => ((u32::from(c) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8,
        };
        out.extend_from_slice(&[straight(b), straight(g), straight(r), a]);
    }
    out
}

impl ScreenSource for X11Source {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn capture(&mut self) -> Result<CapturedFrame<'_>, CaptureError> {
        self.pump_events()?;
        let (w, h) = (self.width, self.height);
        let (w16, h16) = (
            u16::try_from(w).map_err(|_| CaptureError::InvalidSize {
                width: w,
                height: h,
            })?,
            u16::try_from(h).map_err(|_| CaptureError::InvalidSize {
                width: w,
                height: h,
            })?,
        );
        // Pipelined: take the damage, then the image, so whatever changes in between shows in this
        // image and is reported again next time (over-reporting is harmless).
        let region_cookie = match self.damage {
            Some((dmg, region)) => {
                damage::subtract(&self.conn, dmg, x11rb::NONE, region).map_err(protocol_error)?;
                Some(xfixes::fetch_region(&self.conn, region).map_err(protocol_error)?)
            }
            None => None,
        };
        let mut used_shm = false;
        if let Some(segment) = &self.shm {
            let reply = xshm::get_image(
                &self.conn,
                self.root,
                self.origin.0,
                self.origin.1,
                w16,
                h16,
                !0,
                ImageFormat::Z_PIXMAP.into(),
                segment.seg,
                0,
            )
            .map_err(protocol_error)?
            .reply();
            used_shm = reply.is_ok();
        }
        if !used_shm {
            if self.shm.is_some() {
                // SHM failed at run time: stop using it.
                if let Some(old) = self.shm.take() {
                    let _ = xshm::detach(&self.conn, old.seg);
                }
                self.shm_usable = false;
            }
            let reply = self
                .conn
                .get_image(
                    ImageFormat::Z_PIXMAP,
                    self.root,
                    self.origin.0,
                    self.origin.1,
                    w16,
                    h16,
                    !0,
                )
                .map_err(protocol_error)?
                .reply()
                .map_err(protocol_error)?;
            self.plain = reply.data;
        }
        let damage = match region_cookie {
            Some(cookie) => {
                let rects = cookie.reply().map_err(protocol_error)?.rectangles;
                Some(self.area_damage(&rects))
            }
            None => None,
        };
        let damage = if std::mem::take(&mut self.fresh) {
            None
        } else {
            damage
        };
        let len = w as usize * h as usize * 4;
        let pixels: &mut [u8] = match &mut self.shm {
            Some(segment) if used_shm => &mut segment.buffer.as_mut_slice()[..len],
            _ => {
                if self.plain.len() < len {
                    return Err(CaptureError::Protocol(format!(
                        "GetImage returned {} bytes, expected {len}",
                        self.plain.len()
                    )));
                }
                &mut self.plain[..len]
            }
        };
        make_opaque(pixels);
        Ok(CapturedFrame {
            pixels,
            width: w,
            height: h,
            stride: w as usize * 4,
            format: PixelFormat::Bgra8,
            damage,
        })
    }

    fn cursor(&mut self) -> Result<Option<CursorState>, CaptureError> {
        self.pump_events()?;
        if self.xfixes && self.cursor_dirty {
            let image = xfixes::get_cursor_image(&self.conn)
                .map_err(protocol_error)?
                .reply()
                .map_err(protocol_error)?;
            self.cursor_dirty = false;
            let shape = (self.cursor_serial != Some(image.cursor_serial)).then(|| {
                self.cursor_serial = Some(image.cursor_serial);
                let pixels = cursor_pixels(&image.cursor_image);
                self.cursor_visible = pixels.chunks_exact(4).any(|p| p[3] != 0);
                CursorShape {
                    pixels,
                    width: u32::from(image.width),
                    height: u32::from(image.height),
                    hotspot_x: u32::from(image.xhot),
                    hotspot_y: u32::from(image.yhot),
                    serial: u64::from(image.cursor_serial),
                }
            });
            return Ok(Some(CursorState {
                x: i32::from(image.x) - i32::from(self.origin.0),
                y: i32::from(image.y) - i32::from(self.origin.1),
                visible: self.cursor_visible,
                shape,
            }));
        }
        let pointer = self
            .conn
            .query_pointer(self.root)
            .map_err(protocol_error)?
            .reply()
            .map_err(protocol_error)?;
        Ok(Some(CursorState {
            x: i32::from(pointer.root_x) - i32::from(self.origin.0),
            y: i32::from(pointer.root_y) - i32::from(self.origin.1),
            visible: self.cursor_visible,
            shape: None,
        }))
    }

    fn kind(&self) -> &'static str {
        "x11"
    }
}

impl Drop for X11Source {
    fn drop(&mut self) {
        self.detach_shm();
        if let Some((dmg, region)) = self.damage {
            let _ = damage::destroy(&self.conn, dmg);
            let _ = xfixes::destroy_region(&self.conn, region);
        }
        let _ = self.conn.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_pixels_unpremultiply() {
        let px = cursor_pixels(&[0xff11_2233, 0x0000_0000, 0x8040_2010]);
        assert_eq!(&px[..4], &[0x33, 0x22, 0x11, 0xff]);
        assert_eq!(&px[4..8], &[0, 0, 0, 0]);
        assert_eq!(&px[8..], &[0x20, 0x40, 0x80, 0x80]);
    }

    #[test]
    fn damage_rects_are_clipped() {
        let rects = [
            xproto::Rectangle {
                x: -5,
                y: 10,
                width: 20,
                height: 5,
            },
            xproto::Rectangle {
                x: 630,
                y: 470,
                width: 50,
                height: 50,
            },
            xproto::Rectangle {
                x: 700,
                y: 0,
                width: 5,
                height: 5,
            },
        ];
        assert_eq!(
            clip_rects(&rects, 640, 480),
            vec![Rect::new(0, 10, 15, 5), Rect::new(630, 470, 10, 10)]
        );
    }
}
