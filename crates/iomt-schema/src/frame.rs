//! Frames: an envelope and a body, encoded and decoded as a unit; [`FrameView`] for readers that
//! only need the envelope; length-delimited framing for byte streams.

use alloc::vec::Vec;

use bytes::BufMut;

use crate::envelope::Envelope;
use crate::error::{DecodeError, EncodeError};
use crate::limits::Limits;
use crate::message::{Message, MessageKind};
use crate::wire::{BufSink, Counter, Reader, Sink, SliceSink};

/// A whole frame: envelope and message. Its extent is given by the carrier (a datagram, a
/// fragment set, a length prefix on a stream): the body runs to the end of the input.
///
/// ```
/// use iomt_schema::*;
/// let env = Envelope::new(ShortId::from_u64(42).into(), 7, Timestamp::from_millis(1_795_000_000_000).unwrap());
/// let frame = Frame::new(env, Chat { text: "hello".into(), to: None, channel: None, unknown: Default::default() });
/// let mut buf = [0u8; 64];
/// let n = frame.encode(&mut buf)?;
/// assert_eq!(Frame::decode(&buf[..n])?, frame);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Frame {
    /// The header.
    pub envelope: Envelope,
    /// The body.
    pub message: Message,
}

impl Frame {
    /// A frame of `message` under `envelope`.
    pub fn new(envelope: Envelope, message: impl Into<Message>) -> Self {
        Self {
            envelope,
            message: message.into(),
        }
    }

    /// The message kind.
    pub fn kind(&self) -> MessageKind {
        self.message.kind()
    }

    fn write<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        self.envelope.encode(self.kind(), s)?;
        self.message.encode_body(s)
    }

    /// Length of the encoding, in bytes.
    pub fn encoded_len(&self) -> usize {
        let mut c = Counter::default();
        // The counter cannot run out of room; a value the wire cannot carry fails again, with
        // its error, when actually encoded.
        let _ = self.write(&mut c);
        c.0
    }

    /// Encodes into `out`, returning the number of bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut sink = SliceSink::new(out);
        self.write(&mut sink)?;
        Ok(sink.written())
    }

    /// Appends the encoding to `out`. A fixed-size `out` that runs out of room is an error, not
    /// a panic; what was written before the error stays written.
    pub fn encode_to<B: BufMut>(&self, out: &mut B) -> Result<(), EncodeError> {
        self.write(&mut BufSink(out))
    }

    /// The encoding as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_to(&mut out)?;
        Ok(out)
    }

    /// Decodes a frame under [`Limits::DEFAULT`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_with(bytes, &Limits::DEFAULT)
    }

    /// Decodes a frame under `limits`.
    pub fn decode_with(bytes: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        check_len(bytes, limits)?;
        let mut r = Reader::new(bytes, limits);
        let Ok((kind, envelope)) = Envelope::decode(&mut r) else {
            return Err(r.error());
        };
        let Ok(message) = Message::decode_body(kind, &mut r) else {
            return Err(r.error());
        };
        Ok(Self { envelope, message })
    }
}

fn check_len(bytes: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    if bytes.len() > limits.max_frame {
        return Err(DecodeError::FrameTooLong {
            len: bytes.len(),
            max: limits.max_frame,
        });
    }
    Ok(())
}

/// A frame whose envelope is decoded and whose body is borrowed, undecoded: what a relay needs
/// to prioritise, shed, deduplicate and forward. Decoded like a [`Frame`]: [`FrameView::decode`]
/// under [`Limits::DEFAULT`], [`FrameView::decode_with`] under the caller's limits, which then
/// apply to the body too.
///
/// ```
/// use iomt_schema::*;
/// let env = Envelope::new(ShortId::from_u64(42).into(), 7, Timestamp::from_millis(0).unwrap());
/// let bytes = Frame::new(env, Vitals { heart_rate: Some(72), ..Vitals::default() }).to_vec()?;
/// let view = FrameView::decode(&bytes)?;
/// assert_eq!(view.kind(), MessageKind::Vitals);
/// assert_eq!(view.envelope().seq, 7);
/// assert!(matches!(view.decode_message()?, Message::Vitals(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameView<'a> {
    envelope: Envelope,
    kind: MessageKind,
    bytes: &'a [u8],
    body_at: usize,
    limits: Limits,
}

impl<'a> FrameView<'a> {
    /// Decodes the envelope of `bytes` under [`Limits::DEFAULT`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        Self::decode_with(bytes, &Limits::DEFAULT)
    }

    /// Decodes the envelope of `bytes` under `limits`; the body is decoded under them too.
    pub fn decode_with(bytes: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        check_len(bytes, limits)?;
        Reader::new(bytes, limits).run(|r| {
            let (kind, envelope) = Envelope::decode(r)?;
            Ok(Self {
                envelope,
                kind,
                bytes,
                body_at: r.offset(),
                limits: *limits,
            })
        })
    }

    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The message kind.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The whole frame.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The undecoded body.
    pub fn body(&self) -> &'a [u8] {
        self.bytes.get(self.body_at..).unwrap_or_default()
    }

    pub(crate) fn body_reader(&self) -> Reader<'a> {
        let mut r = Reader::new(self.bytes, &self.limits);
        let _ = r.take(self.body_at, "envelope");
        r
    }

    /// Decodes the body, under the limits the envelope was decoded with.
    pub fn decode_message(&self) -> Result<Message, DecodeError> {
        self.body_reader()
            .run(|r| Message::decode_body(self.kind, r))
    }

    /// Decodes the body into a whole frame.
    pub fn to_frame(&self) -> Result<Frame, DecodeError> {
        Ok(Frame {
            envelope: self.envelope.clone(),
            message: self.decode_message()?,
        })
    }
}

/// Appends `frame` to a byte stream: its length as a varint, then the frame.
///
/// ```
/// use iomt_schema::*;
/// let env = Envelope::new(ShortId::from_u64(1).into(), 1, Timestamp::from_millis(0).unwrap());
/// let frame = Frame::new(env, Vitals { heart_rate: Some(80), ..Vitals::default() });
/// let mut stream = Vec::new();
/// write_delimited(&frame, &mut stream)?;
/// write_delimited(&frame, &mut stream)?;
/// let (first, used) = next_delimited(&stream, &Limits::DEFAULT)?.unwrap();
/// assert_eq!(Frame::decode(first)?, frame);
/// assert!(next_delimited(&stream[used..], &Limits::DEFAULT)?.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_delimited<B: BufMut>(frame: &Frame, out: &mut B) -> Result<(), EncodeError> {
    let mut sink = BufSink(out);
    sink.put_len(frame.encoded_len())?;
    frame.write(&mut sink)
}

/// The next frame of a length-delimited stream: the frame's bytes and how many stream bytes
/// they used (prefix included), or `None` if `input` does not yet hold the whole frame. A
/// length above `limits.max_frame` or a non-canonical prefix is an error: the stream is
/// unrecoverable and should be closed.
pub fn next_delimited<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(&'a [u8], usize)>, DecodeError> {
    let mut r = Reader::new(input, limits);
    let len = match r.run(|r| r.length("frame length", limits.max_frame)) {
        Ok(len) => len,
        Err(DecodeError::Truncated { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let prefix = r.offset();
    match r.take(len, "frame") {
        Ok(frame) => Ok(Some((frame, prefix.saturating_add(len)))),
        Err(_) => Ok(None),
    }
}
