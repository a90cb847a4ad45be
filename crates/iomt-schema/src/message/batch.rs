//! Batches: several messages against a shared base time and position.

use alloc::vec::Vec;

use super::{Message, MessageKind, UnknownFields};
use crate::error::{DecodeError, EncodeError};
use crate::geo::Position;
use crate::wire::{Based, BufSink, Fault, Reader, Sink, Wire};

/// Several messages from one source sent as one frame, e.g. a minute of vitals samples or a
/// sensor's detections. Record times are offsets from the envelope's timestamp; when a base
/// position is present, every position inside the records is coded as a delta from it, which
/// for samples taken close together costs a few bytes instead of eight.
///
/// A batch cannot hold a batch or a fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Batch {
    /// The position that record positions are coded against.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub base_position: Option<Position>,
    /// The records, in the order sent.
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arb::batch_records()")
    )]
    pub records: Vec<BatchRecord>,
    /// Fields from a newer schema version, kept so the message re-encodes unchanged.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "UnknownFields::is_empty")
    )]
    #[cfg_attr(feature = "proptest", proptest(value = "UnknownFields::default()"))]
    pub unknown: UnknownFields,
}

/// One message in a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BatchRecord {
    /// Milliseconds after the envelope's timestamp.
    pub offset_ms: u32,
    /// The message.
    pub message: Message,
}

const HAS_BASE: u64 = 1;

impl Batch {
    pub(crate) const DESCRIPTION: &'static str =
        "Batch{?base_position:Position;}[BatchRecord(kind:u8;offset_ms:u32;len;body)]";
}

/// Wire form: presence bitmap (bit 0: base position), the base position (absolute), the record
/// count, then per record its kind byte, offset (varint ms), body length (varint) and body.
impl Wire for Batch {
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        let base = self.base_position.map(|p| (p.lat.raw(), p.lon.raw()));
        let unknown_bits = self.unknown.bits() & !HAS_BASE;
        s.put_varint(unknown_bits | u64::from(base.is_some()))?;
        if let Some(p) = &self.base_position {
            p.encode(s)?;
        }
        s.put_len(self.records.len())?;
        for record in &self.records {
            let kind = record.message.kind();
            if matches!(kind, MessageKind::Batch | MessageKind::Fragment) {
                return Err(EncodeError::NotAllowedInBatch { kind: kind.code() });
            }
            s.put_u8(kind.code())?;
            s.put_varint(u64::from(record.offset_ms))?;
            // Bodies go through a scratch buffer of one fixed sink type: encoding them through a
            // wrapper of `S` would instantiate the codec for ever deeper wrapper types.
            let mut body = Vec::new();
            let mut sink = BufSink(&mut body);
            match base {
                Some(base) => record.message.encode_body(&mut Based {
                    inner: &mut sink,
                    base,
                })?,
                None => record.message.encode_body(&mut sink)?,
            }
            s.put_len(body.len())?;
            s.put(&body)?;
        }
        self.unknown.encode_tail(unknown_bits, s)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        let bits = r.varint("Batch presence")?;
        let base_position = (bits & HAS_BASE != 0)
            .then(|| Position::decode(r))
            .transpose()?;
        let offset = r.offset();
        let n = r.length("batch records", r.limits.max_list)?;
        if n > r.remaining() {
            return Err(r.fail(DecodeError::Truncated {
                what: "batch records",
                offset,
            }));
        }
        let mut records = Vec::with_capacity(n);
        for _ in 0..n {
            let offset = r.offset();
            let kind = MessageKind::from_code(r.u8("record kind")?);
            if matches!(kind, MessageKind::Batch | MessageKind::Fragment) {
                return Err(r.fail(DecodeError::NotAllowedInBatch {
                    kind: kind.code(),
                    offset,
                }));
            }
            let offset_ms = r.varint_u32("record offset")?;
            let len = r.length("record body", r.limits.max_frame)?;
            let mut body = r.sub(len, "record body")?;
            body.base = base_position.map(|p| (p.lat.raw(), p.lon.raw()));
            let message = match Message::decode_body(kind, &mut body) {
                Ok(message) => message,
                Err(_) => return Err(r.absorb(body)),
            };
            records.push(BatchRecord { offset_ms, message });
        }
        let unknown = UnknownFields::take(bits & !HAS_BASE, r, "Batch")?;
        Ok(Self {
            base_position,
            records,
            unknown,
        })
    }
}
