//! placeholder
#![forbid(unsafe_code)]
extern crate alloc;
pub mod cbor;
mod conn_id;
mod credential;
mod crypto;
mod ead;
mod error;
mod handshake;
mod message;
mod record;
mod replay;
mod schedule;
mod suite;
pub use conn_id::*;
pub use credential::*;
pub use crypto::*;
pub use ead::*;
pub use error::*;
pub use handshake::*;
pub use message::*;
pub use record::*;
pub use replay::*;
pub use schedule::*;
pub use suite::*;
#[cfg(test)]
mod rfc9529_trace1;
