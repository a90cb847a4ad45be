//! placeholder
#![forbid(unsafe_code)]
extern crate alloc;
pub mod cbor;
mod conn_id;
mod credential;
mod crypto;
mod datagram;
mod ead;
mod endpoint;
mod error;
mod handshake;
mod message;
mod record;
mod replay;
mod schedule;
mod static_credentials;
mod suite;
pub use conn_id::*;
pub use credential::*;
pub use crypto::*;
pub use datagram::DatagramError;
pub use ead::*;
pub use endpoint::*;
pub use error::*;
pub use handshake::*;
pub use message::*;
pub use record::*;
pub use replay::*;
pub use schedule::*;
pub use static_credentials::*;
pub use suite::*;
#[cfg(test)]
mod rfc9529_trace1;
