//! How handshake messages and records share one datagram channel.
//!
//! A record's first byte has its high bit set (see [`record`](crate::record)). A handshake
//! datagram starts with a type byte (high bit clear), then, as RFC 9528 appendix A.2 does over
//! CoAP, the CBOR-encoded connection identifier of its receiver so that the receiver finds the
//! session, then the EDHOC message:
//!
//! ```text
//! 0x01 message_1                      (the responder has no session yet)
//! 0x02 C_I message_2
//! 0x03 C_R message_3
//! 0x04 C_I message_4
//! 0x05 C_x error                      (C_x: the receiver's identifier)
//! 0x06 C_I cookie                     (retry: send message_1 again with this cookie)
//! 0x07 cookie message_1               (message_1 from a validated address)
//! ```
//!
//! The cookie is [`COOKIE_LEN`] bytes. A responder under load answers a message_1 without a
//! valid cookie with a retry instead of any work (see [`Endpoint`](crate::Endpoint)): the
//! retry is smaller than the message_1 it answers, so it cannot amplify a spoofed one.

use alloc::vec::Vec;

use iomt_identity::cbor::{CborError, Reader};

use crate::conn_id::ConnId;
use crate::record::{RecordError, RecordHeader};

/// A datagram, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Datagram<'a> {
    Message1 {
        cookie: Option<&'a [u8; COOKIE_LEN]>,
        message: &'a [u8],
    },
    Retry(ConnId, &'a [u8; COOKIE_LEN]),
    Message2(ConnId, &'a [u8]),
    Message3(ConnId, &'a [u8]),
    Message4(ConnId, &'a [u8]),
    Error(ConnId, &'a [u8]),
    Record(RecordHeader),
}

/// Why a datagram could not be classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatagramError {
    /// The datagram is empty.
    #[error("empty datagram")]
    Empty,
    /// The type byte is not one this crate sends.
    #[error("unknown datagram type {0:#04x}")]
    UnknownType(u8),
    /// The connection identifier prefix does not parse.
    #[error("bad connection identifier prefix: {0}")]
    BadPrefix(CborError),
    /// A cookie is not [`COOKIE_LEN`] bytes long.
    #[error("cookie of {0} bytes ({COOKIE_LEN} expected)")]
    BadCookie(usize),
    /// The record header does not parse.
    #[error("bad record header: {0}")]
    BadRecord(RecordError),
    /// Longer than the endpoint accepts.
    #[error("datagram too large")]
    TooLarge,
}

const MESSAGE_1: u8 = 0x01;
const MESSAGE_2: u8 = 0x02;
const MESSAGE_3: u8 = 0x03;
const MESSAGE_4: u8 = 0x04;
const ERROR: u8 = 0x05;
const RETRY: u8 = 0x06;
const MESSAGE_1_WITH_COOKIE: u8 = 0x07;

/// Length of a retry cookie, in bytes.
pub const COOKIE_LEN: usize = 16;

impl<'a> Datagram<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, DatagramError> {
        let Some((&kind, rest)) = bytes.split_first() else {
            return Err(DatagramError::Empty);
        };
        if kind & 0x80 != 0 {
            return RecordHeader::parse(bytes)
                .map(Self::Record)
                .map_err(DatagramError::BadRecord);
        }
        if kind == MESSAGE_1 {
            return Ok(Self::Message1 {
                cookie: None,
                message: rest,
            });
        }
        if kind == MESSAGE_1_WITH_COOKIE {
            let (cookie, message) = rest
                .split_first_chunk::<COOKIE_LEN>()
                .ok_or(DatagramError::BadCookie(rest.len()))?;
            return Ok(Self::Message1 {
                cookie: Some(cookie),
                message,
            });
        }
        let mut r = Reader::new(rest);
        let id = ConnId::decode(&mut r).map_err(DatagramError::BadPrefix)?;
        let message = r.rest();
        match kind {
            MESSAGE_2 => Ok(Self::Message2(id, message)),
            MESSAGE_3 => Ok(Self::Message3(id, message)),
            MESSAGE_4 => Ok(Self::Message4(id, message)),
            ERROR => Ok(Self::Error(id, message)),
            RETRY => <&[u8; COOKIE_LEN]>::try_from(message)
                .map(|cookie| Self::Retry(id, cookie))
                .map_err(|_| DatagramError::BadCookie(message.len())),
            other => Err(DatagramError::UnknownType(other)),
        }
    }
}

/// The handshake datagram kinds this endpoint sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Message1,
    Message2,
    Message3,
    Message4,
    Error,
    Retry,
}

/// Frames an EDHOC message for the receiver `to` (none for message_1).
pub(crate) fn frame(kind: Kind, to: Option<ConnId>, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 4);
    out.push(match kind {
        Kind::Message1 => MESSAGE_1,
        Kind::Message2 => MESSAGE_2,
        Kind::Message3 => MESSAGE_3,
        Kind::Message4 => MESSAGE_4,
        Kind::Error => ERROR,
        Kind::Retry => RETRY,
    });
    if let Some(id) = to {
        id.encode(&mut out);
    }
    out.extend_from_slice(message);
    out
}

/// Frames message_1, with the cookie a retry gave us if there is one.
pub(crate) fn frame_message_1(cookie: Option<&[u8; COOKIE_LEN]>, message: &[u8]) -> Vec<u8> {
    let Some(cookie) = cookie else {
        return frame(Kind::Message1, None, message);
    };
    let mut out = Vec::with_capacity(1 + COOKIE_LEN + message.len());
    out.push(MESSAGE_1_WITH_COOKIE);
    out.extend_from_slice(cookie);
    out.extend_from_slice(message);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use iomt_identity::cbor::CborErrorKind;

    #[test]
    fn frames_parse_back() {
        let id = ConnId::new(&[0x18]).unwrap();
        let cases = [
            (Kind::Message2, Datagram::Message2(id, &[0x42, 1, 2][..])),
            (Kind::Message3, Datagram::Message3(id, &[0x42, 1, 2][..])),
            (Kind::Message4, Datagram::Message4(id, &[0x42, 1, 2][..])),
            (Kind::Error, Datagram::Error(id, &[0x42, 1, 2][..])),
        ];
        for (kind, expected) in cases {
            let bytes = frame(kind, Some(id), &[0x42, 1, 2]);
            assert_eq!(bytes[1..3], [0x41, 0x18]);
            assert_eq!(Datagram::parse(&bytes), Ok(expected));
        }
        let m1 = frame(Kind::Message1, None, &[0, 4]);
        assert_eq!(
            Datagram::parse(&m1),
            Ok(Datagram::Message1 {
                cookie: None,
                message: &[0, 4]
            })
        );
        let cookie = [7; COOKIE_LEN];
        let m1 = frame_message_1(Some(&cookie), &[0, 4]);
        assert_eq!(m1.len(), 1 + COOKIE_LEN + 2);
        assert_eq!(
            Datagram::parse(&m1),
            Ok(Datagram::Message1 {
                cookie: Some(&cookie),
                message: &[0, 4]
            })
        );
        let retry = frame(Kind::Retry, Some(id), &cookie);
        assert_eq!(Datagram::parse(&retry), Ok(Datagram::Retry(id, &cookie)));
    }

    #[test]
    fn rejects_bad_framing() {
        assert_eq!(Datagram::parse(&[]), Err(DatagramError::Empty));
        assert_eq!(
            Datagram::parse(&[0x09, 0x01]),
            Err(DatagramError::UnknownType(9))
        );
        assert!(matches!(
            Datagram::parse(&[0x02, 0x41, 0x01]),
            Err(DatagramError::BadPrefix(e)) if e.kind() == CborErrorKind::NonCanonical
        ));
        assert_eq!(
            Datagram::parse(&[0x80, 1, 2]),
            Err(DatagramError::BadRecord(RecordError::Truncated { len: 3 }))
        );
        assert_eq!(
            Datagram::parse(&[0x07, 1, 2]),
            Err(DatagramError::BadCookie(2))
        );
        assert_eq!(
            Datagram::parse(&[0x06, 0x0a, 1, 2, 3]),
            Err(DatagramError::BadCookie(3))
        );
    }
}
