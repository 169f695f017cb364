//! Screens as the test holds and inspects them: the viewer's, our own watch of the desktop, and
//! the independent PipeWire grab. Adapted from the capture crate's `tests/wayland/shot.rs`.

use glimpse::{Frame, PixelFormat, Rect};
use std::path::PathBuf;

/// A screen owned by the test: tightly packed BGRA.
#[derive(Clone, PartialEq, Eq)]
pub struct Shot {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for Shot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shot({}x{})", self.width, self.height)
    }
}

impl Shot {
    pub fn of(frame: &glimpse_capture::CapturedFrame<'_>) -> Shot {
        assert_eq!(frame.format, PixelFormat::Bgra8, "mutter streams BGRx");
        let row = frame.width as usize * 4;
        let mut pixels = Vec::with_capacity(row * frame.height as usize);
        for y in 0..frame.height as usize {
            pixels.extend_from_slice(&frame.pixels[y * frame.stride..][..row]);
        }
        Shot {
            pixels,
            width: frame.width,
            height: frame.height,
        }
    }

    pub fn of_screen(screen: glimpse_connect::Screen) -> Shot {
        Shot {
            pixels: screen.pixels,
            width: screen.width,
            height: screen.height,
        }
    }

    pub fn frame(&self) -> Frame<'_> {
        Frame::new(
            &self.pixels,
            self.width,
            self.height,
            self.width as usize * 4,
            PixelFormat::Bgra8,
        )
        .expect("valid frame")
    }

    /// The pixel at (x, y) as 0xRRGGBB.
    pub fn rgb(&self, x: u32, y: u32) -> u32 {
        let i = ((y * self.width + x) * 4) as usize;
        let p = &self.pixels[i..i + 4];
        u32::from(p[2]) << 16 | u32::from(p[1]) << 8 | u32::from(p[0])
    }

    /// Does `area` of `self` hold exactly the pixels of `part` (a crop) with its top left at (x, y)?
    pub fn holds_at(&self, part: &Shot, x: u32, y: u32) -> bool {
        if x + part.width > self.width || y + part.height > self.height {
            return false;
        }
        let row = part.width as usize * 4;
        (0..part.height as usize).all(|r| {
            let at = ((y as usize + r) * self.width as usize + x as usize) * 4;
            self.pixels[at..at + row] == part.pixels[r * row..(r + 1) * row]
        })
    }

    /// The pixels of `area` as a shot of their own.
    pub fn crop(&self, area: Rect) -> Shot {
        let mut pixels = Vec::with_capacity(area.area() as usize * 4);
        for y in area.y..area.bottom() {
            let at = ((y * self.width + area.x) * 4) as usize;
            pixels.extend_from_slice(&self.pixels[at..at + area.width as usize * 4]);
        }
        Shot {
            pixels,
            width: area.width,
            height: area.height,
        }
    }

    pub fn write_ppm(&self, name: &str) -> PathBuf {
        let path = super::artifacts().join(name);
        let mut out = format!("P6\n{} {}\n255\n", self.width, self.height).into_bytes();
        for p in self.pixels.chunks_exact(4) {
            out.extend_from_slice(&[p[2], p[1], p[0]]);
        }
        std::fs::write(&path, out).expect("write ppm");
        path
    }
}

/// The bounding box of the pixels in `area` whose colour `accept`s.
pub fn bbox(shot: &Shot, area: Rect, accept: impl Fn(u32) -> bool) -> Option<Rect> {
    let mut found: Option<Rect> = None;
    for y in area.y..area.bottom().min(shot.height) {
        for x in area.x..area.right().min(shot.width) {
            if accept(shot.rgb(x, y)) {
                found =
                    Some(found.map_or(Rect::new(x, y, 1, 1), |b| b.union(&Rect::new(x, y, 1, 1))));
            }
        }
    }
    found
}

pub fn centre(r: Rect) -> (u32, u32) {
    (r.x + r.width / 2, r.y + r.height / 2)
}

/// GNOME's accent blue: the dialog's Share button, and its switches when on.
pub const ACCENT: u32 = 0x3584e4;
/// Accent blue, maybe lightened by the pointer hovering it.
pub fn bluish(c: u32) -> bool {
    let (r, g, b) = (c >> 16, (c >> 8) & 0xff, c & 0xff);
    r < 120 && (100..180).contains(&g) && b > 200
}

/// The track of a switch that is off.
pub const SWITCH_OFF: u32 = 0xe1e1e1;
/// screen-app.py's terminal background.
pub const TERMINAL: u32 = 0x111111;
