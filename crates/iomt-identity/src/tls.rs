//! placeholder
pub(crate) fn is_usable_anchor(_der: &[u8]) -> bool { true }
