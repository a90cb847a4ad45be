//! Hex for test vectors.
#![allow(
    clippy::panic,
    reason = "a mistyped vector stops the test where it happened"
)]

/// The bytes a hex string spells, whitespace ignored.
///
/// # Panics
///
/// On a character that is not a hex digit, or an odd number of digits: a vector is mistyped.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => panic!("{:?} is not a hex digit", char::from(b)),
        })
        .collect();
    assert!(
        digits.len().is_multiple_of(2),
        "an odd number of hex digits"
    );
    digits
        .chunks(2)
        .map(|p| p.iter().fold(0, |a, d| a << 4 | d))
        .collect()
}

/// Lower-case hex of `bytes`.
pub fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(hex("00 0a ff\n10"), [0x00, 0x0a, 0xff, 0x10]);
        assert_eq!(hex_string(&hex("DEADbeef")), "deadbeef");
    }
}
