//! External Authorization Data (RFC 9528 section 3.8): `1* (ead_label: int, ? ead_value: bstr)`.
//!
//! A negative label marks the item critical: a receiver that does not understand a critical
//! item aborts the handshake; it ignores non-critical items it does not understand. Label 0 is
//! padding and is always ignored.

use alloc::vec::Vec;

use iomt_identity::cbor::{self, CborError, CborErrorKind, Reader};

/// Most EAD items one message may carry.
pub const MAX_EAD_ITEMS: usize = 16;

/// One EAD item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EadItem {
    /// The registered (positive) label; 0 is padding.
    pub label: u64,
    /// Whether the sender requires the receiver to understand the item.
    pub critical: bool,
    /// The item's value, if it has one.
    pub value: Option<Vec<u8>>,
}

impl EadItem {
    /// A non-critical item.
    pub fn new(label: u64, value: Option<Vec<u8>>) -> Self {
        Self {
            label,
            critical: false,
            value,
        }
    }

    /// A critical item (label sent negated).
    pub fn critical(label: u64, value: Option<Vec<u8>>) -> Self {
        Self {
            label,
            critical: true,
            value,
        }
    }
}

/// Appends the EAD items as a CBOR sequence.
pub(crate) fn encode(items: &[EadItem], out: &mut Vec<u8>) {
    for item in items {
        // Padding (label 0) cannot be critical: -0 is 0.
        if item.critical && item.label > 0 {
            cbor::write_head(out, cbor::MAJOR_NINT, item.label - 1);
        } else {
            cbor::write_head(out, cbor::MAJOR_UINT, item.label);
        }
        if let Some(value) = &item.value {
            cbor::write_bstr(out, value);
        }
    }
}

/// Reads EAD items until the end of the input.
pub(crate) fn decode(reader: &mut Reader<'_>) -> Result<Vec<EadItem>, CborError> {
    let mut items = Vec::new();
    while !reader.is_empty() {
        let at = reader.position();
        let fail = |kind| CborError::new(at, kind, "EAD label");
        if items.len() == MAX_EAD_ITEMS {
            return Err(fail(CborErrorKind::OutOfRange));
        }
        let (critical, label) = match reader.peek_major() {
            Some(cbor::MAJOR_NINT) => {
                let n = reader.nint()?;
                (
                    true,
                    n.checked_add(1).ok_or(fail(CborErrorKind::OutOfRange))?,
                )
            }
            _ => (false, reader.uint()?),
        };
        let value = match reader.peek_major() {
            Some(cbor::MAJOR_BSTR) => Some(reader.bstr()?.to_vec()),
            _ => None,
        };
        items.push(EadItem {
            label,
            critical,
            value,
        });
    }
    Ok(items)
}

/// The first critical item that `understood` does not accept, if any.
pub(crate) fn first_unknown_critical(
    items: &[EadItem],
    understood: impl Fn(u64) -> bool,
) -> Option<u64> {
    items
        .iter()
        .find(|i| i.critical && i.label != 0 && !understood(i.label))
        .map(|i| i.label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn encodes_labels_and_criticality() {
        let items = vec![
            EadItem::new(0, Some(vec![0; 3])),
            EadItem::critical(1, Some(vec![0xaa])),
            EadItem::new(24, None),
        ];
        let mut out = Vec::new();
        encode(&items, &mut out);
        assert_eq!(out, [0x00, 0x43, 0, 0, 0, 0x20, 0x41, 0xaa, 0x18, 0x18]);
        assert_eq!(decode(&mut Reader::new(&out)), Ok(items.clone()));
        assert_eq!(first_unknown_critical(&items, |_| false), Some(1));
        assert_eq!(first_unknown_critical(&items, |l| l == 1), None);
    }

    #[test]
    fn rejects_bad_sequences() {
        let kind = |bytes: &[u8]| decode(&mut Reader::new(bytes)).map_err(|e| e.kind());
        assert_eq!(
            kind(&[0x41, 0x00]),
            Err(CborErrorKind::UnexpectedType { found: 2 })
        );
        let many = vec![0x01; MAX_EAD_ITEMS + 1];
        assert_eq!(kind(&many), Err(CborErrorKind::OutOfRange));
        assert_eq!(
            kind(&[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(CborErrorKind::OutOfRange)
        );
        assert_eq!(decode(&mut Reader::new(&[])), Ok(vec![]));
    }
}
