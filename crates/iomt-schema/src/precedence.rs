//! Message precedence, the order in which relays serve and shed traffic.

/// Precedence of a message. Orders by urgency: `Routine < Priority < Immediate < Flash`.
/// Relays serve the highest first and shed `Routine` first under congestion.
///
/// ```
/// use iomt_schema::Precedence;
/// assert!(Precedence::Flash > Precedence::Routine);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub enum Precedence {
    /// Normal traffic; shed first.
    #[default]
    Routine,
    /// Needs prompt delivery.
    Priority,
    /// Affects a situation in progress.
    Immediate,
    /// Life or mission critical; served first.
    Flash,
}

impl Precedence {
    /// All values, lowest first.
    pub const ALL: [Self; 4] = [Self::Routine, Self::Priority, Self::Immediate, Self::Flash];

    /// The 2-bit wire code (0 = Routine ... 3 = Flash).
    pub const fn code(self) -> u8 {
        match self {
            Self::Routine => 0,
            Self::Priority => 1,
            Self::Immediate => 2,
            Self::Flash => 3,
        }
    }

    /// The value for a 2-bit code; every code is named, higher bits are ignored.
    pub const fn from_code(code: u8) -> Self {
        match code & 0b11 {
            0 => Self::Routine,
            1 => Self::Priority,
            2 => Self::Immediate,
            _ => Self::Flash,
        }
    }

    /// Index into a table with one slot per precedence (Routine = 0).
    pub const fn index(self) -> usize {
        match self {
            Self::Routine => 0,
            Self::Priority => 1,
            Self::Immediate => 2,
            Self::Flash => 3,
        }
    }
}
