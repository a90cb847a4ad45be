//! Fragmentation: splitting a frame for a link's MTU ([`Fragments`]), and reassembling it with
//! bounded memory ([`Reassembler`]). The layout is described on [`Fragment`].

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use crate::classification::{Classification, Level};
use crate::envelope::Envelope;
use crate::error::{DecodeError, EncodeError};
use crate::frame::{Frame, FrameView};
use crate::id::ShortId;
use crate::limits::Limits;
use crate::message::MessageKind;
use crate::precedence::Precedence;
use crate::time::{Instant, Timestamp};
use crate::wire::{Counter, Fault, Reader, Sink, SliceSink, Wire};

/// A piece of a larger frame.
///
/// A fragment is itself a frame of kind [`MessageKind::Fragment`]. Its envelope repeats the
/// original's source (short form), sequence number, timestamp, precedence, classification level
/// and expiry, so a relay can prioritise and shed fragments without reassembling them. It leaves
/// out the rest (caveats, releasability, reference, extensions, ack request) so that its size is
/// bounded (33 bytes with the fragment header, for frames under 2 MiB) and any frame splits for
/// a 50-byte link; a relay that enforces caveats or releasability reassembles first. Its body is
/// the byte offset, the original frame's total length, and a slice of the original frame:
///
/// ```text
/// offset  varint u32
/// total   varint u32 (>= 1)
/// payload the rest (>= 1 byte; offset + payload length <= total)
/// ```
///
/// `(source, seq)` names the fragmented frame, so every fragment of one frame shares them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Fragment {
    /// Where the payload starts in the original frame.
    pub offset: u32,
    /// The original frame's length.
    pub total_len: u32,
    /// The bytes of the original frame from `offset`.
    pub payload: Vec<u8>,
}

impl Fragment {
    pub(crate) const DESCRIPTION: &'static str = "Fragment(offset:u32;total_len:u32;payload)";

    /// Reads the fragment header and borrows the payload.
    fn parse<'a>(r: &mut Reader<'a>) -> Result<(u32, u32, &'a [u8]), Fault> {
        let offset = r.varint_u32("fragment offset")?;
        let total_at = r.offset();
        let total_len = r.varint_u32("fragment total")?;
        if usize::try_from(total_len).map_or(true, |t| t > r.limits.max_frame) {
            return Err(r.fail(DecodeError::TooLong {
                what: "fragment total",
                len: u64::from(total_len),
                max: r.limits.max_frame,
                offset: total_at,
            }));
        }
        if total_len == 0 {
            return Err(r.bad_length(
                "fragment total",
                0,
                1,
                u64::try_from(r.limits.max_frame).unwrap_or(u64::MAX),
                total_at,
            ));
        }
        let payload_at = r.offset();
        let payload = r.rest();
        let len = u64::try_from(payload.len()).unwrap_or(u64::MAX);
        let room = u64::from(total_len.saturating_sub(offset));
        if payload.is_empty() || len > room {
            return Err(r.bad_length("fragment payload", len, 1, room, payload_at));
        }
        Ok((offset, total_len, payload))
    }
}

impl Wire for Fragment {
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        s.put_varint(u64::from(self.offset))?;
        s.put_varint(u64::from(self.total_len))?;
        s.put(&self.payload)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        let (offset, total_len, payload) = Self::parse(r)?;
        Ok(Self {
            offset,
            total_len,
            payload: payload.to_vec(),
        })
    }
}

#[cfg(feature = "proptest")]
impl proptest::arbitrary::Arbitrary for Fragment {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        (
            0u32..2000,
            proptest::collection::vec(any::<u8>(), 1..64),
            0u32..2000,
        )
            .prop_map(|(offset, payload, extra)| {
                let end = offset.saturating_add(u32::try_from(payload.len()).unwrap_or(u32::MAX));
                Self {
                    offset,
                    total_len: end.saturating_add(extra),
                    payload,
                }
            })
            .boxed()
    }
}

/// Why a frame could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FragmentError {
    /// The MTU leaves no room for payload after the fragment headers.
    #[error("MTU {mtu} too small: fragment headers need {needed} bytes")]
    MtuTooSmall {
        /// The MTU asked for.
        mtu: usize,
        /// Header bytes needed before the first payload byte.
        needed: usize,
    },
    /// The frame is already a fragment.
    #[error("a fragment cannot be fragmented again")]
    AlreadyFragment,
    /// The frame is longer than a fragment's `total` can describe.
    #[error("frame of {len} bytes cannot be fragmented: a fragment's total holds at most {max}")]
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The longest frame fragments can describe.
        max: u32,
    },
    /// The frame could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Fragments of one frame, each a complete frame of at most the MTU, in offset order. Yields
/// the frame itself, once, when it already fits.
#[derive(Debug)]
pub struct Fragments<'a> {
    frame: &'a [u8],
    envelope: Envelope,
    mtu: usize,
    next: usize,
    total_len: u32,
    whole: bool,
}

impl<'a> Fragments<'a> {
    /// Splits a parsed frame for links of `mtu` bytes.
    ///
    /// ```
    /// use iomt_schema::*;
    /// let env = Envelope::new(ShortId::from_u64(1).into(), 9, Timestamp::from_millis(0).unwrap());
    /// let chat = Chat { text: "x".repeat(120), to: None, channel: None, unknown: Default::default() };
    /// let bytes = Frame::new(env, chat).to_vec()?;
    /// let view = FrameView::decode(&bytes)?;
    /// let pieces: Vec<Vec<u8>> = Fragments::new(&view, 50)?.collect();
    /// assert!(pieces.len() > 1 && pieces.iter().all(|p| p.len() <= 50));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(frame: &FrameView<'a>, mtu: usize) -> Result<Self, FragmentError> {
        Self::split(frame.envelope(), frame.kind(), frame.bytes(), mtu)
    }

    fn split(
        original: &Envelope,
        kind: MessageKind,
        bytes: &'a [u8],
        mtu: usize,
    ) -> Result<Self, FragmentError> {
        if kind == MessageKind::Fragment {
            return Err(FragmentError::AlreadyFragment);
        }
        let mut envelope =
            Envelope::new(original.source.short().into(), original.seq, original.time);
        envelope.precedence = original.precedence;
        envelope.classification = Classification::level(original.classification.level);
        envelope.expiry = original.expiry;
        let total_len = u32::try_from(bytes.len()).map_err(|_| FragmentError::TooLarge {
            len: bytes.len(),
            max: u32::MAX,
        })?;
        let whole = bytes.len() <= mtu;
        let it = Self {
            frame: bytes,
            envelope,
            mtu,
            next: 0,
            total_len,
            whole,
        };
        if !whole {
            let needed = it.header_len(total_len)?;
            if needed >= mtu {
                return Err(FragmentError::MtuTooSmall { mtu, needed });
            }
        }
        Ok(it)
    }

    /// Envelope plus the largest fragment header: a fragment at `offset` fits if this does.
    fn header_len(&self, offset: u32) -> Result<usize, EncodeError> {
        let mut c = Counter::default();
        self.envelope.encode(MessageKind::Fragment, &mut c)?;
        c.put_varint(u64::from(offset))?;
        c.put_varint(u64::from(self.total_len))?;
        Ok(c.0)
    }

    fn encode_next(&mut self) -> Result<Option<Vec<u8>>, EncodeError> {
        if self.whole {
            self.whole = false;
            self.next = self.frame.len();
            return Ok(Some(self.frame.to_vec()));
        }
        let Some(rest) = self.frame.get(self.next..).filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        let offset = u32::try_from(self.next).map_err(|_| EncodeError::OutOfRange {
            what: "fragment offset",
            value: u64::try_from(self.next).unwrap_or(u64::MAX),
            max: u64::from(u32::MAX),
        })?;
        let room = self.mtu.saturating_sub(self.header_len(offset)?);
        let payload = rest.get(..room.min(rest.len())).unwrap_or_default();
        let fragment = Fragment {
            offset,
            total_len: self.total_len,
            payload: payload.to_vec(),
        };
        let mut out = alloc::vec![0u8; self.mtu];
        let mut sink = SliceSink::new(&mut out);
        self.envelope.encode(MessageKind::Fragment, &mut sink)?;
        fragment.encode(&mut sink)?;
        let written = sink.written();
        out.truncate(written);
        self.next = self.next.saturating_add(payload.len());
        Ok(Some(out))
    }
}

impl Iterator for Fragments<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        // Sizes were checked in `new`; an encode failure here would be a bug, and ends the
        // iteration rather than panicking.
        self.encode_next().ok().flatten()
    }
}

impl Frame {
    /// Encodes the frame and splits it for links of `mtu` bytes.
    pub fn to_fragments(&self, mtu: usize) -> Result<Vec<Vec<u8>>, FragmentError> {
        let bytes = self.to_vec()?;
        Ok(Fragments::split(&self.envelope, self.kind(), &bytes, mtu)?.collect())
    }
}

/// Bounds on what a [`Reassembler`] holds. Each is enforced before memory is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Frames being reassembled at once.
    pub max_messages: usize,
    /// Bytes of reassembly buffers at once (each frame's full length counts from its first
    /// fragment).
    pub max_bytes: usize,
    /// Largest frame that will be reassembled.
    pub max_frame: usize,
    /// Disjoint received ranges per frame; bounds bookkeeping against tiny fragments.
    pub max_pieces: usize,
    /// How long a partial frame is kept after its first fragment.
    pub timeout: Duration,
    /// Completed frames remembered, so late duplicates of their fragments are ignored.
    pub remember_completed: usize,
}

impl ReassemblyLimits {
    /// 16 frames, 64 KiB of buffers, 16 KiB frames, 64 pieces, 30 s, 64 remembered.
    pub const DEFAULT: Self = Self {
        max_messages: 16,
        max_bytes: 64 * 1024,
        max_frame: 16 * 1024,
        max_pieces: 64,
        timeout: Duration::from_secs(30),
        remember_completed: 64,
    };
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a fragment was refused. The reassembler's state is unchanged by a refused fragment,
/// except for [`ReassemblyError::Mismatch`], which discards the frame it completed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// The input is not a valid frame.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The frame is valid but not a fragment.
    #[error("a frame of kind {kind:?} is not a fragment")]
    NotAFragment {
        /// The frame's kind.
        kind: MessageKind,
    },
    /// The fragment partly overlaps bytes already received.
    #[error("fragment of {len} bytes at offset {offset} partly overlaps bytes already received")]
    Overlap {
        /// The fragment's offset.
        offset: u32,
        /// The fragment's payload length.
        len: usize,
    },
    /// The fragment contradicts earlier fragments of the same frame.
    #[error("fragment's {what} differs from earlier fragments of the same frame")]
    Inconsistent {
        /// What differs.
        what: &'static str,
    },
    /// The frame is larger than [`ReassemblyLimits::max_frame`].
    #[error("frame of {total} bytes is beyond the reassembly limit of {max}")]
    TooLarge {
        /// The frame's declared length.
        total: u32,
        /// The limit.
        max: usize,
    },
    /// The frame would need more pieces than [`ReassemblyLimits::max_pieces`].
    #[error("frame would be held in more than {max} separate pieces")]
    TooManyPieces {
        /// The limit.
        max: usize,
    },
    /// No room: the frame alone is larger than [`ReassemblyLimits::max_bytes`], or every frame
    /// in progress is more urgent.
    #[error(
        "no room for a frame of {total} bytes: reassembly holds at most {max_frames} frames and \
         {max_bytes} bytes, and evicts only frames no more urgent than the newcomer"
    )]
    Full {
        /// The frame's declared length.
        total: usize,
        /// [`ReassemblyLimits::max_messages`].
        max_frames: usize,
        /// [`ReassemblyLimits::max_bytes`].
        max_bytes: usize,
    },
    /// The reassembled frame's own envelope does not match its fragments'.
    #[error("reassembled frame does not match its fragments")]
    Mismatch,
}

type Key = (ShortId, u32);

#[derive(Debug)]
struct Partial {
    key: Key,
    time: Timestamp,
    precedence: Precedence,
    level: Level,
    started: Instant,
    buf: Vec<u8>,
    /// Received byte ranges, sorted, disjoint and not adjacent.
    ranges: Vec<(usize, usize)>,
    received: usize,
}

/// Reassembles fragments into frames within fixed bounds.
///
/// Duplicate and reordered fragments are harmless; fragments that overlap or contradict
/// received data are refused with their own error. When full, the reassembler makes room by
/// evicting the frame of lowest precedence (the oldest among equals), but only for a frame at
/// least as urgent; otherwise the new frame is refused. Partial frames expire
/// [`ReassemblyLimits::timeout`] after their first fragment, at the `now` passed in.
///
/// ```
/// use iomt_schema::*;
/// let env = Envelope::new(ShortId::from_u64(1).into(), 9, Timestamp::from_millis(0).unwrap());
/// let frame = Frame::new(env, Chat { text: "x".repeat(200), to: None, channel: None, unknown: Default::default() });
/// let mut r = Reassembler::new(ReassemblyLimits::DEFAULT, Limits::DEFAULT);
/// let mut out = None;
/// for piece in frame.to_fragments(64)?.iter().rev() {
///     out = r.push(Instant::ZERO, piece)?;
/// }
/// assert_eq!(Frame::decode(&out.unwrap())?, frame);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    decode: Limits,
    partials: Vec<Partial>,
    completed: VecDeque<Key>,
    bytes: usize,
}

impl Reassembler {
    /// An empty reassembler. `decode` bounds the fragment frames themselves.
    pub fn new(limits: ReassemblyLimits, decode: Limits) -> Self {
        Self {
            limits,
            decode,
            partials: Vec::new(),
            completed: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Takes one fragment frame at `now`. Returns the reassembled frame when this fragment
    /// completes it, `None` when more are needed or the fragment was a duplicate.
    pub fn push(
        &mut self,
        now: Instant,
        fragment: &[u8],
    ) -> Result<Option<Vec<u8>>, ReassemblyError> {
        self.handle_timeout(now);
        let view = FrameView::decode_with(fragment, &self.decode)?;
        if view.kind() != MessageKind::Fragment {
            return Err(ReassemblyError::NotAFragment { kind: view.kind() });
        }
        let mut body = view.body_reader();
        let (offset, total, payload) = body.run(Fragment::parse)?;
        let env = view.envelope();
        let key = (env.source.short(), env.seq);
        if self.completed.contains(&key) {
            return Ok(None);
        }
        let total_len = usize::try_from(total).unwrap_or(usize::MAX);
        if total_len > self.limits.max_frame {
            return Err(ReassemblyError::TooLarge {
                total,
                max: self.limits.max_frame,
            });
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(payload.len());
        let index = match self.partials.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => self.start(now, key, env, total_len)?,
        };
        let Some(partial) = self.partials.get_mut(index) else {
            return Err(self.full(total_len));
        };
        if partial.buf.len() != total_len {
            return Err(ReassemblyError::Inconsistent {
                what: "total length",
            });
        }
        if (partial.time, partial.precedence, partial.level)
            != (env.time, env.precedence, env.classification.level)
        {
            return Err(ReassemblyError::Inconsistent { what: "envelope" });
        }
        let covered = partial.covered(start, end);
        if covered == end - start {
            return if partial.buf.get(start..end) == Some(payload) {
                Ok(None)
            } else {
                Err(ReassemblyError::Inconsistent { what: "payload" })
            };
        }
        if covered > 0 {
            return Err(ReassemblyError::Overlap {
                offset,
                len: payload.len(),
            });
        }
        if partial.ranges_after_insert(start, end) > self.limits.max_pieces {
            return Err(ReassemblyError::TooManyPieces {
                max: self.limits.max_pieces,
            });
        }
        let Some(dst) = partial.buf.get_mut(start..end) else {
            return Err(ReassemblyError::Inconsistent {
                what: "total length",
            });
        };
        dst.copy_from_slice(payload);
        partial.insert(start, end);
        if partial.received < total_len {
            return Ok(None);
        }
        let done = self.partials.swap_remove(index);
        self.bytes = self.bytes.saturating_sub(done.buf.len());
        self.remember(key);
        let whole = FrameView::decode_with(&done.buf, &self.decode)?;
        let e = whole.envelope();
        if (e.source.short(), e.seq) != key
            || (e.time, e.precedence, e.classification.level)
                != (done.time, done.precedence, done.level)
            || whole.kind() == MessageKind::Fragment
        {
            return Err(ReassemblyError::Mismatch);
        }
        Ok(Some(done.buf))
    }

    /// Drops partial frames whose time is up at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.limits.timeout;
        let mut freed = 0usize;
        self.partials.retain(|p| {
            let keep = now.saturating_duration_since(p.started) < timeout;
            if !keep {
                freed = freed.saturating_add(p.buf.len());
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
    }

    /// When the oldest partial frame expires, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.partials
            .iter()
            .map(|p| p.started.saturating_add(self.limits.timeout))
            .min()
    }

    /// Frames in progress.
    pub fn in_progress(&self) -> usize {
        self.partials.len()
    }

    /// Bytes held in reassembly buffers.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    fn full(&self, total: usize) -> ReassemblyError {
        ReassemblyError::Full {
            total,
            max_frames: self.limits.max_messages,
            max_bytes: self.limits.max_bytes,
        }
    }

    /// Makes room for and starts a new partial frame; returns its index.
    fn start(
        &mut self,
        now: Instant,
        key: Key,
        env: &Envelope,
        total: usize,
    ) -> Result<usize, ReassemblyError> {
        if total > self.limits.max_bytes {
            return Err(self.full(total));
        }
        while self.partials.len() >= self.limits.max_messages
            || self.bytes.saturating_add(total) > self.limits.max_bytes
        {
            let victim = self
                .partials
                .iter()
                .enumerate()
                .filter(|(_, p)| p.precedence <= env.precedence)
                .min_by_key(|(_, p)| (p.precedence, p.started))
                .map(|(i, _)| i);
            let Some(victim) = victim else {
                return Err(self.full(total));
            };
            let evicted = self.partials.swap_remove(victim);
            self.bytes = self.bytes.saturating_sub(evicted.buf.len());
        }
        self.partials.push(Partial {
            key,
            time: env.time,
            precedence: env.precedence,
            level: env.classification.level,
            started: now,
            buf: alloc::vec![0; total],
            ranges: Vec::new(),
            received: 0,
        });
        self.bytes = self.bytes.saturating_add(total);
        Ok(self.partials.len() - 1)
    }

    fn remember(&mut self, key: Key) {
        if self.limits.remember_completed == 0 {
            return;
        }
        if self.completed.len() >= self.limits.remember_completed {
            self.completed.pop_front();
        }
        self.completed.push_back(key);
    }
}

impl Partial {
    /// Bytes of `[start, end)` already received.
    fn covered(&self, start: usize, end: usize) -> usize {
        self.ranges
            .iter()
            .map(|&(a, b)| b.min(end).saturating_sub(a.max(start)))
            .sum()
    }

    /// How many ranges there would be after inserting `[start, end)` (known to be uncovered).
    fn ranges_after_insert(&self, start: usize, end: usize) -> usize {
        let touching = self
            .ranges
            .iter()
            .filter(|&&(a, b)| b == start || a == end)
            .count();
        (self.ranges.len() + 1).saturating_sub(touching)
    }

    fn insert(&mut self, start: usize, end: usize) {
        let at = self.ranges.partition_point(|&(a, _)| a < start);
        self.ranges.insert(at, (start, end));
        self.ranges.dedup_by(|next, prev| {
            if prev.1 == next.0 {
                prev.1 = next.1;
                true
            } else {
                false
            }
        });
        self.received = self.received.saturating_add(end - start);
    }
}
