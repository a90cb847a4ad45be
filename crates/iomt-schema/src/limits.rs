//! Decoder limits: every allocation a peer can cause is bounded by one of these.

/// Bounds applied while decoding. A length or count beyond a bound is rejected with
/// [`DecodeError::TooLong`](crate::DecodeError::TooLong) before anything is allocated for it.
///
/// ```
/// let limits = iomt_schema::Limits { max_text: 64, ..iomt_schema::Limits::DEFAULT };
/// assert_eq!(limits.max_list, 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame accepted, in bytes.
    pub max_frame: usize,
    /// Largest text field (chat text, unit names, fault text), in bytes of UTF-8.
    pub max_text: usize,
    /// Most items in any list field (inventory items, faults, batch records, ...).
    pub max_list: usize,
    /// Most extension records in one envelope.
    pub max_extensions: usize,
    /// Largest extension value, in bytes.
    pub max_extension_len: usize,
    /// Must-understand extension kinds the application understands. Any other must-understand
    /// extension makes the frame fail with
    /// [`DecodeError::UnknownCriticalExtension`](crate::DecodeError::UnknownCriticalExtension);
    /// unknown extensions without the bit are kept as opaque records.
    pub understood_extensions: &'static [u16],
}

impl Limits {
    /// Conservative defaults for a constrained node: 64 KiB frames, 1 KiB texts, 64 list items,
    /// 8 extensions of up to 256 bytes, no must-understand extension understood.
    pub const DEFAULT: Self = Self {
        max_frame: 65_535,
        max_text: 1024,
        max_list: 64,
        max_extensions: 8,
        max_extension_len: 256,
        understood_extensions: &[],
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
