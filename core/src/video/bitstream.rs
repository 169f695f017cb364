//! Annex-B framing and the few SPS fields checked before untrusted data reaches OpenH264's decoder.

use super::VideoError;

/// NAL unit types.
pub(crate) const NAL_SLICE: u8 = 1;
pub(crate) const NAL_IDR: u8 = 5;
pub(crate) const NAL_SEI: u8 = 6;
pub(crate) const NAL_SPS: u8 = 7;
pub(crate) const NAL_PPS: u8 = 8;
pub(crate) const NAL_AUD: u8 = 9;
pub(crate) const NAL_FILLER: u8 = 12;

/// The NAL units (without start codes) of an Annex-B byte stream. Bytes before the first start code
/// are an error; empty units (two start codes in a row) are skipped.
pub(crate) fn nal_units(annexb: &[u8]) -> Result<Vec<&[u8]>, VideoError> {
    let mut starts = Vec::new(); // (start code position, payload position)
    let mut i = 0;
    while i + 3 <= annexb.len() {
        if annexb[i] == 0 && annexb[i + 1] == 0 && annexb[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    match starts.first() {
        None => return Err(VideoError::Malformed("no Annex-B start code")),
        Some(&(first, _)) if annexb[..first].iter().any(|&b| b != 0) => {
            return Err(VideoError::Malformed("bytes before the first start code"))
        }
        _ => {}
    }
    let mut units = Vec::with_capacity(starts.len());
    for (n, &(_, payload)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(annexb.len(), |&(next, _)| next);
        // Trailing zero bytes belong to the next start code (00 00 00 01) or are trailing_zero_8bits.
        let mut unit = &annexb[payload..end];
        while let [rest @ .., 0] = unit {
            unit = rest;
        }
        if !unit.is_empty() {
            units.push(unit);
        }
    }
    if units.is_empty() {
        return Err(VideoError::Malformed("no NAL units"));
    }
    Ok(units)
}

/// The type of a NAL unit (its first byte's low five bits); the forbidden zero bit must be clear.
pub(crate) fn nal_type(unit: &[u8]) -> Result<u8, VideoError> {
    match unit.first() {
        Some(&b) if b & 0x80 == 0 => Ok(b & 0x1f),
        _ => Err(VideoError::Malformed("forbidden_zero_bit set")),
    }
}

/// What the checks need from a sequence parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sps {
    pub profile_idc: u8,
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub chroma_format_idc: u32,
    pub bit_depth_luma: u32,
    pub bit_depth_chroma: u32,
    /// Size in whole macroblocks.
    pub coded_width: u64,
    pub coded_height: u64,
    /// Size after the frame cropping rectangle.
    pub width: u64,
    pub height: u64,
}

/// Parses an SPS NAL unit (header byte included) far enough to know the picture size and format.
pub(crate) fn parse_sps(unit: &[u8]) -> Result<Sps, VideoError> {
    const BAD: VideoError = VideoError::Malformed("truncated or invalid SPS");
    let rbsp = unescape(unit.get(1..).ok_or(BAD)?);
    let mut r = BitReader::new(&rbsp);
    let profile_idc = r.bits(8)? as u8;
    let constraint_flags = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    if r.ue()? > 31 {
        return Err(BAD); // seq_parameter_set_id
    }
    let (mut chroma_format_idc, mut bit_depth_luma, mut bit_depth_chroma) = (1, 8, 8);
    let mut separate_colour_plane = false;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc > 3 {
            return Err(BAD);
        }
        if chroma_format_idc == 3 {
            separate_colour_plane = r.bit()?;
        }
        bit_depth_luma = r.ue()?.checked_add(8).ok_or(BAD)?;
        bit_depth_chroma = r.ue()?.checked_add(8).ok_or(BAD)?;
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? {
            // seq_scaling_matrix_present_flag: skip the lists.
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i64, 8i64);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256).rem_euclid(256);
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.bit()?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let cycle = r.ue()?;
            if cycle > 255 {
                return Err(BAD);
            }
            for _ in 0..cycle {
                r.se()?;
            }
        }
        2 => {}
        _ => return Err(BAD),
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = u64::from(r.ue()?) + 1;
    let height_map_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.bit()?;
    if !frame_mbs_only {
        r.bit()?; // mb_adaptive_frame_field_flag
    }
    r.bit()?; // direct_8x8_inference_flag
    let field_factor = if frame_mbs_only { 1 } else { 2 };
    let coded_width = width_mbs * 16;
    let coded_height = height_map_units * 16 * field_factor;
    let (mut width, mut height) = (coded_width, coded_height);
    if r.bit()? {
        // frame_cropping_flag
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (sub_width, sub_height) = match chroma_array_type {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        let (unit_x, unit_y) = (sub_width, sub_height * field_factor);
        let left = u64::from(r.ue()?);
        let right = u64::from(r.ue()?);
        let top = u64::from(r.ue()?);
        let bottom = u64::from(r.ue()?);
        let crop_x = (left + right) * unit_x;
        let crop_y = (top + bottom) * unit_y;
        if crop_x >= coded_width || crop_y >= coded_height {
            return Err(BAD);
        }
        width -= crop_x;
        height -= crop_y;
    }
    Ok(Sps {
        profile_idc,
        constraint_flags,
        level_idc,
        chroma_format_idc,
        bit_depth_luma,
        bit_depth_chroma,
        coded_width,
        coded_height,
        width,
        height,
    })
}

/// The WebCodecs / RFC 6381 codec string (`avc1.PPCCLL`) of the first SPS in `annexb`, for configuring
/// a browser's `VideoDecoder`; `None` when there is no parsable SPS (only keyframes carry one).
#[must_use]
pub fn codec_string(annexb: &[u8]) -> Option<String> {
    let units = nal_units(annexb).ok()?;
    let sps = units
        .into_iter()
        .find(|u| nal_type(u) == Ok(NAL_SPS))
        .and_then(|u| parse_sps(u).ok())?;
    Some(format!(
        "avc1.{:02x}{:02x}{:02x}",
        sps.profile_idc, sps.constraint_flags, sps.level_idc
    ))
}

/// Removes emulation prevention bytes (00 00 03 -> 00 00).
fn unescape(escaped: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut zeros = 0;
    for &b in escaped {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads bits most significant first; running out of data is an error.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn bit(&mut self) -> Result<bool, VideoError> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or(VideoError::Malformed("truncated or invalid SPS"))?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    fn bits(&mut self, n: u32) -> Result<u32, VideoError> {
        let mut value = 0;
        for _ in 0..n {
            value = (value << 1) | u32::from(self.bit()?);
        }
        Ok(value)
    }

    /// Unsigned Exp-Golomb, at most 32 bits of value.
    fn ue(&mut self) -> Result<u32, VideoError> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(VideoError::Malformed("truncated or invalid SPS"));
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }

    /// Signed Exp-Golomb.
    fn se(&mut self) -> Result<i64, VideoError> {
        let k = i64::from(self.ue()?);
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_annexb_with_three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4,
        ];
        let units = nal_units(&data).unwrap();
        assert_eq!(units, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4]]);
        assert!(nal_units(&[1, 2, 3]).is_err());
        assert!(nal_units(&[7, 0, 0, 1, 0x65]).is_err());
        assert!(nal_units(&[0, 0, 1, 0, 0, 1]).is_err());
    }

    #[test]
    fn unescapes_emulation_prevention() {
        assert_eq!(
            unescape(&[0, 0, 3, 1, 0, 0, 3, 0, 3]),
            vec![0, 0, 1, 0, 0, 0, 3]
        );
    }

    #[test]
    fn exp_golomb() {
        // 1 | 010 | 011 | 00100 | 00101 -> 0, 1, 2, 3, 4
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut r = BitReader::new(&data);
        assert_eq!(
            (0..5).map(|_| r.ue().unwrap()).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        let mut r = BitReader::new(&[0, 0, 0, 0, 0]);
        assert!(r.ue().is_err());
    }
}
