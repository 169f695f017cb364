//! The demo source: an animated desktop-like scene drawn in memory, for hosts without an X server.
//!
//! Everything follows a frame counter (one tick per capture), so two sources of the same size give
//! the same frames. Each tick redraws only what changes (one typed character, the clock when its
//! second turns, the animation box) and reports exactly those rectangles as damage.

use crate::{CaptureError, CapturedFrame, CursorShape, CursorState, ScreenSource};
use glimpse::{PixelFormat, Rect};

/// Ticks per demo second (the clock advances once per this many captures).
const TICKS_PER_SECOND: u64 = 30;
/// Character cell of the typed text.
const CELL_W: u32 = 8;
const CELL_H: u32 = 12;
const PANEL_H: u32 = 28;
const TITLE_H: u32 = 24;
/// Clock digit cell (seven segments).
const DIGIT_W: u32 = 12;
const DIGIT_H: u32 = 18;

const TEXT: &str = "fn main() {\n    let screen = capture::open_default()?;\n    let mut encoder = \
Encoder::new(EncoderConfig::default());\n    loop {\n        let shot = screen.capture()?;\n        \
send(encoder.encode(&shot)?);\n    }\n}\n\n// Glimpse demo: this window is typed one character per \
frame,\n// the clock in the panel ticks every second and the box on the\n// right animates, so every \
capture has a little damage.\n\n";

const BACKGROUND_TOP: [u8; 3] = [0x1d, 0x4e, 0x5c];
const BACKGROUND_BOTTOM: [u8; 3] = [0x0c, 0x24, 0x33];
const PANEL: u32 = 0xff20_2428;
const PANEL_TEXT: u32 = 0xffe8_eaed;
const TITLE: u32 = 0xff2f_6fd1;
const TITLE_INACTIVE: u32 = 0xff5f_6b7a;
const WINDOW_BODY: u32 = 0xfffb_fbf8;
const INK: u32 = 0xff1f_2328;
const KEYWORD: u32 = 0xffa6_2a8a;
const COMMENT: u32 = 0xff4f_8a3c;
const CARET: u32 = 0xff0b_57d0;
const BOX_BODY: u32 = 0xff16_1b22;
const BAR_EMPTY: u32 = 0xff30_363d;
const BAR_FULL: u32 = 0xff3f_b950;
const BALL: u32 = 0xfff0_8c2e;

/// An animated 1280x720 (or any size from 320x200) desktop-like scene: a window where code is being
/// typed, a panel clock, an animated box and a moving synthetic cursor. No X server needed.
///
/// ```
/// use glimpse_capture::{DemoSource, ScreenSource};
/// let mut demo = DemoSource::new(1280, 720);
/// assert!(demo.capture().unwrap().damage.is_none()); // first frame: everything is new
/// let next = demo.capture().unwrap();
/// assert!(!next.damage.unwrap().is_empty()); // then: only what was redrawn
/// ```
#[derive(Debug, Clone)]
pub struct DemoSource {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
    tick: u64,
    layout: Layout,
    /// Next character of `TEXT` to type and where the caret is, in cells.
    text_pos: usize,
    caret: (u32, u32),
    colour: u32,
    clock_shown: Option<u64>,
    ball: Rect,
    bar_filled: u32,
    damage: Vec<Rect>,
    cursor_serial_sent: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Layout {
    window: Rect,
    text: Rect,
    anim: Rect,
    arena: Rect,
    bar: Rect,
    clock: Rect,
}

impl DemoSource {
    /// A scene of `width` x `height` pixels; sizes are clamped to 320x200 ..= 8192x8192.
    pub fn new(width: u32, height: u32) -> Self {
        let width = width.clamp(320, glimpse::MAX_DIMENSION);
        let height = height.clamp(200, glimpse::MAX_DIMENSION);
        let layout = Layout::new(width, height);
        DemoSource {
            width,
            height,
            pixels: vec![0; width as usize * height as usize * 4],
            tick: 0,
            layout,
            text_pos: 0,
            caret: (0, 0),
            colour: INK,
            clock_shown: None,
            ball: Rect::default(),
            bar_filled: 0,
            damage: Vec::new(),
            cursor_serial_sent: None,
        }
    }

    /// Captures taken so far.
    pub fn ticks(&self) -> u64 {
        self.tick
    }

    fn fill(&mut self, rect: Rect, colour: u32) {
        let Some(rect) = rect.intersect(&Rect::new(0, 0, self.width, self.height)) else {
            return;
        };
        let stride = self.width as usize * 4;
        let px = colour.to_le_bytes();
        for y in rect.y..rect.bottom() {
            let start = y as usize * stride + rect.x as usize * 4;
            let row = &mut self.pixels[start..start + rect.width as usize * 4];
            for out in row.chunks_exact_mut(4) {
                out.copy_from_slice(&px);
            }
        }
    }

    /// Fills and records the rectangle as damage.
    fn paint(&mut self, rect: Rect, colour: u32) {
        self.fill(rect, colour);
        self.damage.push(rect);
    }

    fn draw_all(&mut self) {
        let (w, h) = (self.width, self.height);
        let stride = w as usize * 4;
        for y in 0..h {
            let mix = |a: u8, b: u8| (u32::from(a) * (h - y) + u32::from(b) * y) / h;
            let c = 0xff00_0000
                | mix(BACKGROUND_TOP[0], BACKGROUND_BOTTOM[0]) << 16
                | mix(BACKGROUND_TOP[1], BACKGROUND_BOTTOM[1]) << 8
                | mix(BACKGROUND_TOP[2], BACKGROUND_BOTTOM[2]);
            let row = &mut self.pixels[y as usize * stride..(y as usize + 1) * stride];
            for out in row.chunks_exact_mut(4) {
                out.copy_from_slice(&c.to_le_bytes());
            }
        }
        self.fill(Rect::new(0, 0, w, PANEL_H), PANEL);
        // Panel "menu" labels.
        for (i, word) in ["Activities", "Editor"].iter().enumerate() {
            let x = 12 + i as u32 * 110;
            self.draw_text(x, 8, word, PANEL_TEXT);
        }
        let l = self.layout;
        self.draw_window(l.window, "main.rs - Glimpse", TITLE);
        self.fill(l.text, WINDOW_BODY);
        self.draw_window(l.anim, "Build", TITLE_INACTIVE);
        self.fill(l.arena, BOX_BODY);
        self.fill(l.bar, BAR_EMPTY);
        self.clock_shown = None;
        self.ball = Rect::default();
        self.bar_filled = 0;
        self.text_pos = 0;
        self.caret = (0, 0);
    }

    fn draw_window(&mut self, frame: Rect, title: &str, title_colour: u32) {
        // Border, title bar, body.
        self.fill(
            Rect::new(frame.x - 1, frame.y - 1, frame.width + 2, frame.height + 2),
            0xff0a_0c10,
        );
        self.fill(
            Rect::new(frame.x, frame.y, frame.width, TITLE_H),
            title_colour,
        );
        self.fill(
            Rect::new(
                frame.x,
                frame.y + TITLE_H,
                frame.width,
                frame.height - TITLE_H,
            ),
            WINDOW_BODY,
        );
        self.draw_text(frame.x + 10, frame.y + 8, title, 0xffff_ffff);
        // Close button.
        let close = Rect::new(frame.right() - 20, frame.y + 6, 12, 12);
        self.fill(close, 0xffe0_5545);
    }

    /// Draws text with block glyphs (no font): each character is a 6x9 pattern derived from it.
    fn draw_text(&mut self, x: u32, y: u32, text: &str, colour: u32) {
        for (i, ch) in text.chars().enumerate() {
            self.draw_glyph(x + i as u32 * CELL_W, y, ch, colour);
        }
    }

    fn draw_glyph(&mut self, x: u32, y: u32, ch: char, colour: u32) {
        if ch == ' ' {
            return;
        }
        let code = u32::from(ch);
        // A stable pseudo-random pattern per character; ascenders for capitals, descenders for some
        // lower-case letters, a full stem so every glyph reads as a "letter".
        let mut bits = code.wrapping_mul(0x9e37_79b9) ^ (code << 7);
        let top = if ch.is_ascii_uppercase() || ch.is_ascii_digit() {
            0
        } else if ch.is_ascii_punctuation() {
            4
        } else {
            2
        };
        let bottom = if matches!(ch, 'g' | 'j' | 'p' | 'q' | 'y' | ',' | ';') {
            9
        } else {
            7
        };
        let stem = (code % 3) * 2;
        for row in top..bottom {
            for col in 0..6u32 {
                let on = if ch.is_ascii_punctuation() {
                    col / 2 == 1 && row % 3 != 2
                } else {
                    col == stem || col == stem + 1 || {
                        bits = bits.rotate_left(3) ^ 0x5bd1_e995;
                        bits & 3 == 0
                    }
                };
                if on {
                    self.fill(Rect::new(x + col, y + row, 1, 1), colour);
                }
            }
        }
    }

    fn type_character(&mut self) {
        let text = self.layout.text;
        let cols = (text.width - 16) / CELL_W;
        let rows = (text.height - 12) / CELL_H;
        let pos = self.text_pos;
        let rest = &TEXT[pos..];
        let ch = rest.chars().next().unwrap_or('\n');
        self.text_pos = (pos + ch.len_utf8()) % TEXT.len();
        let cell =
            |c: u32, r: u32| Rect::new(text.x + 8 + c * CELL_W, text.y + 6 + r * CELL_H, 2, 10);
        // Erase the old caret.
        let (c, r) = self.caret;
        self.paint(cell(c, r), WINDOW_BODY);
        if ch == '\n' || c + 1 >= cols {
            self.caret = (0, r + 1);
            self.colour = INK;
        } else {
            let starts_word = pos == 0 || !TEXT.as_bytes()[pos - 1].is_ascii_alphanumeric();
            let keyword = starts_word
                && ["fn ", "let ", "mut ", "loop "]
                    .iter()
                    .any(|k| rest.starts_with(k));
            self.colour = if ch == '/' || self.colour == COMMENT {
                COMMENT
            } else if keyword || (ch.is_ascii_alphanumeric() && self.colour == KEYWORD) {
                KEYWORD
            } else {
                INK
            };
            let x = text.x + 8 + c * CELL_W;
            let y = text.y + 6 + r * CELL_H;
            self.draw_glyph(x, y, ch, self.colour);
            self.damage.push(Rect::new(x, y, CELL_W, CELL_H));
            self.caret = (c + 1, r);
        }
        if self.caret.1 >= rows {
            // Page full: clear the body and start again at the top.
            self.paint(text, WINDOW_BODY);
            self.caret = (0, 0);
        }
        let (c, r) = self.caret;
        self.paint(cell(c, r), CARET);
    }

    fn draw_clock(&mut self) {
        let seconds = (9 * 3600 + 41 * 60) + self.tick / TICKS_PER_SECOND;
        if self.clock_shown == Some(seconds) {
            return;
        }
        let digits = clock_digits(seconds);
        let old = self.clock_shown.map(clock_digits);
        let clock = self.layout.clock;
        for (i, &d) in digits.iter().enumerate() {
            if old.is_some_and(|o| o[i] == d) {
                continue;
            }
            let cell = Rect::new(
                clock.x + i as u32 * (DIGIT_W + 2),
                clock.y,
                DIGIT_W,
                DIGIT_H,
            );
            self.paint(cell, PANEL);
            self.draw_digit(cell, d as usize);
        }
        self.clock_shown = Some(seconds);
    }

    fn draw_digit(&mut self, cell: Rect, digit: usize) {
        // Segments a b c d e f g, as (x, y, w, h) in the 12x18 cell.
        const SEGMENTS: [(u32, u32, u32, u32); 7] = [
            (2, 0, 8, 2),
            (10, 2, 2, 6),
            (10, 10, 2, 6),
            (2, 16, 8, 2),
            (0, 10, 2, 6),
            (0, 2, 2, 6),
            (2, 8, 8, 2),
        ];
        const DIGITS: [u8; 10] = [
            0b0111111, 0b0000110, 0b1011011, 0b1001111, 0b1100110, 0b1101101, 0b1111101, 0b0000111,
            0b1111111, 0b1101111,
        ];
        if digit == 10 {
            // Colon.
            self.fill(Rect::new(cell.x + 5, cell.y + 4, 2, 2), PANEL_TEXT);
            self.fill(Rect::new(cell.x + 5, cell.y + 12, 2, 2), PANEL_TEXT);
            return;
        }
        for (bit, &(x, y, w, h)) in SEGMENTS.iter().enumerate() {
            if DIGITS[digit] & (1 << bit) != 0 {
                self.fill(Rect::new(cell.x + x, cell.y + y, w, h), PANEL_TEXT);
            }
        }
    }

    fn animate(&mut self) {
        let arena = self.layout.arena;
        let size = 16;
        let span_x = u64::from(arena.width - size);
        let span_y = u64::from(arena.height - size);
        // Triangle waves: the ball bounces off the arena's walls.
        let bounce = |t: u64, span: u64| {
            let p = t % (2 * span);
            (if p < span { p } else { 2 * span - p }) as u32
        };
        let ball = Rect::new(
            arena.x + bounce(self.tick * 5, span_x),
            arena.y + bounce(self.tick * 3, span_y),
            size,
            size,
        );
        if ball != self.ball {
            if !self.ball.is_empty() {
                let old = self.ball;
                self.paint(old, BOX_BODY);
            }
            self.paint(ball, BALL);
            self.ball = ball;
        }
        let bar = self.layout.bar;
        let filled = ((self.tick * 2) % u64::from(bar.width + 1)) as u32;
        if filled < self.bar_filled {
            self.paint(bar, BAR_EMPTY);
            self.bar_filled = 0;
        }
        if filled > self.bar_filled {
            let grow = Rect::new(
                bar.x + self.bar_filled,
                bar.y,
                filled - self.bar_filled,
                bar.height,
            );
            self.paint(grow, BAR_FULL);
            self.bar_filled = filled;
        }
    }

    /// Where the synthetic cursor is at the current tick.
    fn cursor_position(&self) -> (i32, i32) {
        let t = self.tick as f64 / TICKS_PER_SECOND as f64;
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        let x = w * (0.5 + 0.4 * (t * 0.9).sin());
        let y = h * (0.5 + 0.38 * (t * 1.3 + 0.5).sin());
        (x as i32, y as i32)
    }
}

/// The clock's eight glyphs for a time of day in seconds: `HH:MM:SS`, 10 standing for the colon.
fn clock_digits(s: u64) -> [u64; 8] {
    [
        (s / 36000) % 3,
        (s / 3600) % 10,
        10,
        (s / 600) % 6,
        (s / 60) % 10,
        10,
        (s / 10) % 6,
        s % 10,
    ]
}

impl Layout {
    fn new(w: u32, h: u32) -> Self {
        let window = Rect::new(w / 20, PANEL_H + 24, w * 5 / 8, h - PANEL_H - 60);
        let text = Rect::new(
            window.x,
            window.y + TITLE_H,
            window.width,
            window.height - TITLE_H,
        );
        let anim_w = (w - window.right() - 40).min(320);
        let anim = Rect::new(window.right() + 20, window.y + 40, anim_w, (h / 3).max(120));
        let arena = Rect::new(
            anim.x + 10,
            anim.y + TITLE_H + 10,
            anim.width - 20,
            anim.height - TITLE_H - 40,
        );
        let bar = Rect::new(arena.x, arena.bottom() + 10, arena.width, 10);
        let clock_w = 8 * (DIGIT_W + 2);
        let clock = Rect::new(w - clock_w - 12, (PANEL_H - DIGIT_H) / 2, clock_w, DIGIT_H);
        Layout {
            window,
            text,
            anim,
            arena,
            bar,
            clock,
        }
    }
}

impl ScreenSource for DemoSource {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn capture(&mut self) -> Result<CapturedFrame<'_>, CaptureError> {
        self.damage.clear();
        let first = self.tick == 0;
        if first {
            self.draw_all();
        } else {
            self.type_character();
        }
        self.draw_clock();
        self.animate();
        self.tick += 1;
        let damage = if first {
            None
        } else {
            Some(std::mem::take(&mut self.damage))
        };
        Ok(CapturedFrame {
            pixels: &self.pixels,
            width: self.width,
            height: self.height,
            stride: self.width as usize * 4,
            format: PixelFormat::Bgra8,
            damage,
        })
    }

    fn cursor(&mut self) -> Result<Option<CursorState>, CaptureError> {
        let (x, y) = self.cursor_position();
        // An I-beam over the text, an arrow elsewhere.
        let over_text = {
            let t = self.layout.text;
            x >= t.x as i32 && y >= t.y as i32 && x < t.right() as i32 && y < t.bottom() as i32
        };
        let serial = if over_text { 2 } else { 1 };
        let shape = (self.cursor_serial_sent != Some(serial)).then(|| {
            self.cursor_serial_sent = Some(serial);
            if over_text {
                ibeam_cursor()
            } else {
                arrow_cursor()
            }
        });
        Ok(Some(CursorState {
            x,
            y,
            visible: true,
            shape,
        }))
    }

    fn kind(&self) -> &'static str {
        "demo"
    }
}

fn cursor_from_art(art: &[&str], hotspot: (u32, u32), serial: u64) -> CursorShape {
    let width = art[0].len() as u32;
    let height = art.len() as u32;
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for row in art {
        for b in row.bytes() {
            pixels.extend_from_slice(match b {
                b'#' => &[0, 0, 0, 255],
                b'.' => &[255, 255, 255, 255],
                _ => &[0, 0, 0, 0],
            });
        }
    }
    CursorShape {
        pixels,
        width,
        height,
        hotspot_x: hotspot.0,
        hotspot_y: hotspot.1,
        serial,
    }
}

fn arrow_cursor() -> CursorShape {
    const ART: [&str; 17] = [
        "#          ",
        "##         ",
        "#.#        ",
        "#..#       ",
        "#...#      ",
        "#....#     ",
        "#.....#    ",
        "#......#   ",
        "#.......#  ",
        "#........# ",
        "#.....#####",
        "#..#..#    ",
        "#.# #..#   ",
        "##  #..#   ",
        "#    #..#  ",
        "     #..#  ",
        "      ##   ",
    ];
    cursor_from_art(&ART, (0, 0), 1)
}

fn ibeam_cursor() -> CursorShape {
    const ART: [&str; 16] = [
        "##.##", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..",
        "..#..", "..#..", "..#..", "..#..", "..#..", "##.##",
    ];
    cursor_from_art(&ART, (2, 8), 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(source: &mut DemoSource) -> (Vec<u8>, Option<Vec<Rect>>) {
        let shot = source.capture().unwrap();
        (shot.pixels.to_vec(), shot.damage)
    }

    #[test]
    fn damage_covers_every_change_and_frames_are_deterministic() {
        // Small: long enough to wrap the text page and the progress bar. Full size: a short run.
        check_damage(480, 270, 1500);
        check_damage(1280, 720, 40);
    }

    fn check_damage(width: u32, height: u32, frames: usize) {
        let mut a = DemoSource::new(width, height);
        let mut b = DemoSource::new(width, height);
        let (mut prev, damage) = snapshot(&mut a);
        assert!(damage.is_none());
        assert!(prev.chunks_exact(4).all(|p| p[3] == 255));
        snapshot(&mut b);
        for _ in 0..frames {
            let (next, damage) = snapshot(&mut a);
            let damage = damage.expect("damage after the first frame");
            assert!(!damage.is_empty(), "the scene changes every tick");
            for r in &damage {
                r.check_inside(width, height).unwrap();
            }
            for (i, (p, n)) in prev.chunks_exact(4).zip(next.chunks_exact(4)).enumerate() {
                if p != n {
                    let (x, y) = (i as u32 % width, i as u32 / width);
                    assert!(
                        damage.iter().any(|r| r.contains(&Rect::new(x, y, 1, 1))),
                        "pixel {x},{y} changed outside {damage:?}"
                    );
                }
            }
            let (other, _) = snapshot(&mut b);
            assert!(other == next, "same ticks, same pixels");
            prev = next;
        }
    }

    #[test]
    fn cursor_moves_and_reports_shape_only_on_change() {
        let mut demo = DemoSource::new(640, 360);
        let first = demo.cursor().unwrap().unwrap();
        let shape = first.shape.expect("first call gives the shape");
        assert_eq!(
            shape.pixels.len(),
            (shape.width * shape.height * 4) as usize
        );
        assert!(demo.cursor().unwrap().unwrap().shape.is_none());
        let mut moved = false;
        let mut shapes = 0;
        for _ in 0..600 {
            demo.capture().unwrap();
            let c = demo.cursor().unwrap().unwrap();
            moved |= (c.x, c.y) != (first.x, first.y);
            shapes += usize::from(c.shape.is_some());
            assert!(c.x >= 0 && c.y >= 0 && c.x < 640 && c.y < 360);
        }
        assert!(moved);
        assert!((1..300).contains(&shapes), "{shapes} shape changes");
    }

    #[test]
    fn small_sizes_are_clamped() {
        let mut demo = DemoSource::new(1, 1);
        assert_eq!(demo.size(), (320, 200));
        for _ in 0..200 {
            demo.capture().unwrap();
        }
    }
}
