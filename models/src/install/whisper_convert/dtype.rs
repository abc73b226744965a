//! CTranslate2 dtypes, the ggml types written here, and the re-encoding of
//! tensor bytes from one to the other.

/// CT2 dtype codes.
pub(super) const DT_F32: u8 = 0;
pub(super) const DT_I8: u8 = 1;
pub(super) const DT_I16: u8 = 2;
pub(super) const DT_I32: u8 = 3;
pub(super) const DT_F16: u8 = 4;
pub(super) const DT_BF16: u8 = 5;
/// ggml types written here.
pub(super) const GGML_F32: u32 = 0;
pub(super) const GGML_F16: u32 = 1;

pub(super) fn dtype_size(dtype: u8) -> Option<u64> {
    match dtype {
        DT_F32 | DT_I32 => Some(4),
        DT_I16 | DT_F16 | DT_BF16 => Some(2),
        DT_I8 => Some(1),
        _ => None,
    }
}

/// Re-encodes tensor bytes from a CT2 dtype to a ggml type (f32 or f16).
pub(super) fn convert_data(src: &[u8], dtype: u8, out: u32) -> Option<Vec<u8>> {
    match (dtype, out) {
        (DT_F16, GGML_F16) | (DT_F32, GGML_F32) => Some(src.to_vec()),
        (DT_F16, GGML_F32) => Some(
            src.chunks_exact(2)
                .flat_map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])).to_le_bytes())
                .collect(),
        ),
        (DT_BF16, GGML_F32) => Some(
            src.chunks_exact(2)
                .flat_map(|c| {
                    f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16).to_le_bytes()
                })
                .collect(),
        ),
        _ => None,
    }
}

/// IEEE half to single precision (exact: every half is a float).
pub(super) fn f16_to_f32(bits: u16) -> f32 {
    let negative = bits & 0x8000 != 0;
    let exp = u32::from((bits >> 10) & 0x1f);
    let mant = u32::from(bits & 0x3ff);
    let magnitude = match exp {
        0 => mant as f32 * (2.0f32).powi(-24), // zero and subnormals
        0x1f if mant == 0 => f32::INFINITY,
        0x1f => f32::NAN,
        _ => f32::from_bits(((exp + 127 - 15) << 23) | (mant << 13)),
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_widen_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
    }
}
