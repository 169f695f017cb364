//! Screens as the tests hold and inspect them, and the colours of the headless desktop.

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
    /// A copy of BGRA rows `stride` bytes apart (a captured frame), without their padding.
    pub fn of_rows(pixels: &[u8], width: u32, height: u32, stride: usize) -> Shot {
        let row = width as usize * 4;
        let mut packed = Vec::with_capacity(row * height as usize);
        for y in 0..height as usize {
            packed.extend_from_slice(&pixels[y * stride..][..row]);
        }
        Shot {
            pixels: packed,
            width,
            height,
        }
    }

    pub fn frame(&self) -> Frame<'_> {
        let stride = self.width as usize * 4;
        Frame::new(
            &self.pixels,
            self.width,
            self.height,
            stride,
            PixelFormat::Bgra8,
        )
        .expect("a shot is a valid frame")
    }

    /// The pixel at (x, y) as 0xRRGGBB.
    pub fn rgb(&self, x: u32, y: u32) -> u32 {
        let i = ((y * self.width + x) * 4) as usize;
        let p = &self.pixels[i..i + 4];
        u32::from(p[2]) << 16 | u32::from(p[1]) << 8 | u32::from(p[0])
    }

    /// Does `self` hold exactly the pixels of `part` (a crop) with its top left at (x, y)?
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

    /// Saves the shot as a PPM picture `name` in the [`artifacts`](crate::artifacts) folder.
    pub fn write_ppm(&self, name: &str) -> PathBuf {
        let path = crate::artifacts().join(name);
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

/// The area of screen-app.py's terminal: its background is [`TERMINAL`].
pub fn terminal_area(shot: &Shot) -> Rect {
    let full = Rect::new(0, 0, shot.width, shot.height);
    bbox(shot, full, |c| c == TERMINAL).expect("the terminal on the screen")
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
