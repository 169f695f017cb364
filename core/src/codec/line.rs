//! Colour lines: anti-aliased text or drawing in one colour on a background of another (white on a
//! navy title bar, a blue link, a grey hand on a clock face). Its pixels lie on the line between the
//! two colours: one channel (the *key*, the one that changes most) tells where on the line a pixel is,
//! and the other two follow from it. The rectangle goes as the key channel's plane and two planes of
//! what the line does not predict (mostly zeros), instead of three interleaved channels: about a
//! third of the bytes for zstd to code, and the same glyph gives the same key bytes wherever it is.
//!
//! Payload: `key` u8 (0 B, 1 G, 2 R), the two end colours (B, G, R each), then `w * h` key bytes, then
//! `w * h` residuals of each other channel in B, G, R order. Every pixel is opaque.

use crate::error::{Error, Result};

/// Share of the residual bytes that must be zero (in percent) for a rectangle to go as a line.
const MIN_ZERO_PERCENT: usize = 90;

/// The end colours and key channel of a rectangle's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line {
    key: usize,
    from: [u8; 3],
    to: [u8; 3],
}

impl Line {
    /// The line through the pixels (`bgr`: 3 bytes each) where the channel with the widest range is at
    /// its lowest and at its highest.
    fn fit(bgr: &[u8]) -> Line {
        let (mut lo, mut hi) = ([0usize; 3], [0usize; 3]);
        for (i, px) in bgr.chunks_exact(3).enumerate() {
            for c in 0..3 {
                if px[c] < bgr[lo[c] * 3 + c] {
                    lo[c] = i;
                }
                if px[c] > bgr[hi[c] * 3 + c] {
                    hi[c] = i;
                }
            }
        }
        let range = |c: usize| bgr[hi[c] * 3 + c] - bgr[lo[c] * 3 + c];
        let key = (0..3)
            .max_by_key(|&c| (range(c), c))
            .expect("three channels");
        let colour = |i: usize| [bgr[i * 3], bgr[i * 3 + 1], bgr[i * 3 + 2]];
        Line {
            key,
            from: colour(lo[key]),
            to: colour(hi[key]),
        }
    }

    /// Channel `c` of the line's colour whose key channel is `k`.
    #[inline]
    fn predict(&self, k: u8, c: usize) -> u8 {
        let (f, t) = (i32::from(self.from[c]), i32::from(self.to[c]));
        let (fk, tk) = (i32::from(self.from[self.key]), i32::from(self.to[self.key]));
        let den = tk - fk;
        if den == 0 {
            return self.from[c];
        }
        let (num, den) = ((i32::from(k) - fk) * (t - f), den);
        let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
        // Rounded to nearest (halves up), the same on both sides.
        (f + (2 * num + den).div_euclid(2 * den)) as u8
    }

    fn others(&self) -> [usize; 2] {
        match self.key {
            0 => [1, 2],
            1 => [0, 2],
            _ => [0, 1],
        }
    }
}

/// Rewrites `bgr` (opaque pixels, 3 bytes each, at the end of `out` from `start`) as a line when
/// the line predicts at least [`MIN_ZERO_PERCENT`] of the other channels exactly. Returns false (and
/// leaves `out` alone) otherwise. `scratch` is working memory.
pub(crate) fn encode(out: &mut Vec<u8>, start: usize, scratch: &mut Vec<u8>) -> bool {
    let bgr = &out[start..];
    let pixels = bgr.len() / 3;
    if pixels == 0 {
        return false;
    }
    let line = Line::fit(bgr);
    scratch.clear();
    scratch.reserve(7 + pixels * 3);
    scratch.push(line.key as u8);
    scratch.extend_from_slice(&line.from);
    scratch.extend_from_slice(&line.to);
    scratch.extend(bgr.chunks_exact(3).map(|px| px[line.key]));
    let mut zeros = 0usize;
    for c in line.others() {
        scratch.extend(bgr.chunks_exact(3).map(|px| {
            let residual = px[c].wrapping_sub(line.predict(px[line.key], c));
            zeros += usize::from(residual == 0);
            residual
        }));
    }
    if zeros * 100 < pixels * 2 * MIN_ZERO_PERCENT {
        return false;
    }
    out.truncate(start);
    out.extend_from_slice(scratch);
    true
}

/// Reads a line rectangle into `out` (canonical BGRA).
pub(crate) fn decode(data: &mut &[u8], out: &mut [u8]) -> Result<()> {
    let pixels = out.len() / 4;
    let (header, rest) = data
        .split_at_checked(7)
        .ok_or(Error::Truncated("colour line"))?;
    let key = usize::from(header[0]);
    if key > 2 {
        return Err(Error::Malformed("colour line key channel"));
    }
    let line = Line {
        key,
        from: [header[1], header[2], header[3]],
        to: [header[4], header[5], header[6]],
    };
    let (planes, rest) = rest
        .split_at_checked(pixels * 3)
        .ok_or(Error::Truncated("colour line planes"))?;
    let (keys, residuals) = planes.split_at(pixels);
    let (first, second) = residuals.split_at(pixels);
    let [a, b] = line.others();
    for (((px, &k), &ra), &rb) in out.chunks_exact_mut(4).zip(keys).zip(first).zip(second) {
        px[key] = k;
        px[a] = line.predict(k, a).wrapping_add(ra);
        px[b] = line.predict(k, b).wrapping_add(rb);
        px[3] = 255;
    }
    *data = rest;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bgr: &[u8]) -> Option<usize> {
        let mut out = vec![7u8];
        out.extend_from_slice(bgr);
        if !encode(&mut out, 1, &mut Vec::new()) {
            assert_eq!(&out[1..], bgr, "left alone");
            return None;
        }
        let mut back = vec![0u8; bgr.len() / 3 * 4];
        let mut data = &out[1..];
        decode(&mut data, &mut back).unwrap();
        assert!(data.is_empty());
        let expect: Vec<u8> = bgr
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        assert_eq!(back, expect);
        // Truncated: an error, never a panic.
        for cut in [0, 3, 7, out.len() - 2] {
            assert!(decode(&mut &out[1..cut.max(1)], &mut back).is_err());
        }
        Some(out.len() - 1)
    }

    #[test]
    fn text_on_a_coloured_background_goes_as_a_line() {
        // White-ish text anti-aliased over navy: B follows R and G.
        let navy = [0x55u8, 0, 0];
        let text = [0xeeu8, 0xdd, 0xdd];
        let bgr: Vec<u8> = (0..400u32)
            .flat_map(|i| {
                let a = ((i * 37) % 256) as i32;
                let mix = |c: usize| {
                    (i32::from(navy[c]) + (i32::from(text[c]) - i32::from(navy[c])) * a / 255) as u8
                };
                [mix(0), mix(1), mix(2)]
            })
            .collect();
        let size = round_trip(&bgr).expect("a line");
        assert_eq!(size, 7 + 400 * 3);
        // Exact whatever the rounding of the source: residuals carry the difference.
        let noisy: Vec<u8> = bgr
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % 97 == 50 { v ^ 1 } else { v })
            .collect();
        round_trip(&noisy).expect("still a line");
    }

    #[test]
    fn many_colours_stay_pixels() {
        let bgr: Vec<u8> = (0..300u32)
            .flat_map(|i| [(i * 7) as u8, (i * 13) as u8, (i * 29) as u8])
            .collect();
        assert_eq!(round_trip(&bgr), None);
        // One colour, and odd end colours: never a panic.
        round_trip(&[9, 9, 9]);
        round_trip(&[0, 255, 0, 255, 0, 255]);
    }

    #[test]
    fn hostile_headers_are_errors() {
        let mut back = vec![0u8; 4 * 2];
        let mut data: &[u8] = &[3, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6];
        assert!(decode(&mut data, &mut back).is_err());
    }
}
