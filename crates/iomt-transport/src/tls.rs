//! TLS 1.3 backhaul (feature `rustls`): rustls 0.23 client and server configurations with
//! mutual authentication through `iomt-identity`, and the session binding for
//! [post-handshake attestation](crate::post_handshake).
//!
//! Both configurations run TLS 1.3 only, on the `ring` provider, and:
//!
//! - verify the peer's certificate with [`DeviceClientVerifier`] or [`DeviceServerVerifier`]
//!   (webpki path validation to the trust package's X.509 roots, the `iomt://` device URI,
//!   revocation, and an affirming attestation result from the certificate or `results`);
//! - present the certificate a [`RotatingCertResolver`] holds (short-lived, rotated by the
//!   application before it expires);
//! - never resume a session (no tickets, no session cache on either side): every backhaul
//!   session verifies the certificates, and their attestation results, afresh;
//! - read time only from the `time` they are given: this crate reads no clock.
//!
//! Clients connect to a device by the name [`server_name`] makes from its DeviceId; the
//! server verifier checks the certificate names that device.
//!
//! ```no_run
//! # use std::sync::{Arc, RwLock};
//! # fn demo(trust: Arc<RwLock<iomt_identity::TrustStore>>,
//! #         resolver: Arc<iomt_identity::tls::RotatingCertResolver>,
//! #         time: Arc<dyn rustls::time_provider::TimeProvider>,
//! #         server: iomt_schema::DeviceId) -> Result<(), rustls::Error> {
//! use iomt_transport::tls::{client_config, server_name};
//! let config = client_config(trust, None, resolver, time)?;
//! let connection = rustls::ClientConnection::new(config, server_name(server))?;
//! # Ok(()) }
//! ```

use alloc::sync::Arc;
use core::fmt;
use core::ops::Deref;

use iomt_identity::tls::{
    DeviceClientVerifier, DeviceServerVerifier, ResultSource, RotatingCertResolver, SharedTrust,
};
use iomt_identity::{CertificateIdentity, ChannelBinding, PublicKey};
use rustls::client::Resumption;
use rustls::server::NoServerSessionStorage;
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, ConnectionCommon, ServerConfig};

pub use iomt_identity::tls::server_name;

use crate::post_handshake::{BINDING_LEN, EXPORTER_LABEL};

/// The client configuration: TLS 1.3, our certificate from `certificate`, the server verified
/// through `trust` (and `results` for results its certificate does not carry).
pub fn client_config(
    trust: SharedTrust,
    results: Option<Arc<dyn ResultSource>>,
    certificate: Arc<RotatingCertResolver>,
    time: Arc<dyn TimeProvider>,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut config = ClientConfig::builder_with_details(provider(), time)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(DeviceServerVerifier::new(trust, results))
        .with_client_cert_resolver(certificate);
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

/// The server configuration: TLS 1.3, client certificates required and verified through
/// `trust` (and `results`), our certificate from `certificate`.
pub fn server_config(
    trust: SharedTrust,
    results: Option<Arc<dyn ResultSource>>,
    certificate: Arc<RotatingCertResolver>,
    time: Arc<dyn TimeProvider>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut config = ServerConfig::builder_with_details(provider(), time)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(DeviceClientVerifier::new(trust, results))
        .with_cert_resolver(certificate);
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    Ok(Arc::new(config))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// This side's binding of an established TLS session:
/// `TLS-Exporter("EXPORTER-iomt-attestation", "", 32)` (RFC 8446 section 7.5). Made only from
/// a live connection, so it is always this side's own view of the session.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsBinding([u8; BINDING_LEN]);

impl TlsBinding {
    /// The binding of `connection`, once its handshake is complete.
    pub fn from_connection<C, D>(connection: &C) -> Result<Self, rustls::Error>
    where
        C: Deref<Target = ConnectionCommon<D>>,
    {
        connection
            .export_keying_material([0; BINDING_LEN], EXPORTER_LABEL, None)
            .map(Self)
    }
}

impl ChannelBinding for TlsBinding {
    fn channel_binding(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TlsBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsBinding(..)")
    }
}

/// The key of the peer's certificate, once the verifiers accepted it.
pub fn peer_key<C, D>(connection: &C) -> Option<PublicKey>
where
    C: Deref<Target = ConnectionCommon<D>>,
{
    let leaf = connection.peer_certificates()?.first()?;
    CertificateIdentity::parse(leaf.as_ref())
        .ok()
        .map(|identity| identity.key)
}
