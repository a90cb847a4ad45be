//! rustls 0.23 integration (feature `rustls`): certificate verifiers for both sides and a
//! rotating certificate resolver.
//!
//! [`DeviceClientVerifier`] (for servers) and [`DeviceServerVerifier`] (for clients) run
//! webpki's path validation against the X.509 anchors of the shared [`TrustStore`], then
//! require, on top:
//!
//! 1. exactly one `iomt://<mission>/<device-id>` URI SAN whose DeviceId is the one the
//!    certificate's key names, in the local mission;
//! 2. the device is not revoked;
//! 3. a valid attestation result bound to the certificate's key, signed by a verifier key of
//!    the trust package, unexpired at the handshake's `now`, and *affirming*: taken from the
//!    certificate's CMW extension, or else from the application's [`ResultSource`];
//! 4. for servers, that the DeviceId is the one the client asked for ([`server_name`]).
//!
//! The handshake signatures themselves are checked by rustls' webpki helpers with the `ring`
//! provider's algorithms. Refusals surface as
//! `rustls::Error::InvalidCertificate(CertificateError::Other(..))` carrying a [`Refusal`] (or
//! `Revoked` for revoked devices), so the application can tell why.

use core::fmt;
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use iomt_schema::{DeviceId, Timestamp};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureAlgorithm,
    SignatureScheme,
};

use crate::error::{CredentialError, ResultError};
use crate::key::{Algorithm, PublicKey, Signer};
use crate::trust::TrustStore;
use crate::x509::CertificateIdentity;

/// A trust store shared between the application (which applies packages and revocations) and
/// the verifiers (which read it on every handshake).
pub type SharedTrust = Arc<RwLock<TrustStore>>;

/// Where the verifiers find attestation results the certificate does not carry.
pub trait ResultSource: Send + Sync + fmt::Debug {
    /// The signed attestation result for the device holding `key`, if the application has one.
    fn result_for(&self, key: &PublicKey) -> Option<Vec<u8>>;
}

/// A [`ResultSource`] the application fills, keyed by the device key's thumbprint.
#[derive(Debug, Default)]
pub struct ResultStore {
    results: RwLock<BTreeMap<[u8; 32], Vec<u8>>>,
}

impl ResultStore {
    /// Stores the latest `result` for the device holding `key`.
    pub fn insert(&self, key: &PublicKey, result: Vec<u8>) {
        self.results
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.thumbprint(), result);
    }

    /// Forgets the result for `key`.
    pub fn remove(&self, key: &PublicKey) {
        self.results
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key.thumbprint());
    }
}

impl ResultSource for ResultStore {
    fn result_for(&self, key: &PublicKey) -> Option<Vec<u8>> {
        self.results
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key.thumbprint())
            .cloned()
    }
}

/// Why a verifier refused a peer's certificate (beyond webpki's own errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Path validation failed.
    #[error("certificate path: {0}")]
    Path(String),
    /// The identity in the certificate is not acceptable.
    #[error(transparent)]
    Identity(#[from] CredentialError),
    /// The URI SAN's DeviceId is not the one the certificate's key names.
    #[error("URI SAN names {named}, the key names {derived}")]
    DeviceIdMismatch {
        /// From the SAN.
        named: DeviceId,
        /// From the key.
        derived: DeviceId,
    },
    /// No attestation result was found for the certificate's key.
    #[error("no attestation result for the peer")]
    Unattested,
    /// The attestation result is not acceptable.
    #[error(transparent)]
    Attestation(#[from] ResultError),
    /// The server is not the device the client asked for.
    #[error("server is {found}, not the device named by the server name")]
    WrongServer {
        /// The device the certificate names.
        found: DeviceId,
    },
}

/// The DNS-form server name for a device: `<device-id hex>.iomt`. Clients connect with it;
/// [`DeviceServerVerifier`] checks the certificate names that device.
pub fn server_name(device: DeviceId) -> ServerName<'static> {
    // 32 hex digits and a fixed suffix are always a valid DNS name.
    ServerName::try_from(format!("{device}.iomt")).unwrap_or(ServerName::IpAddress(
        rustls::pki_types::IpAddr::V4(rustls::pki_types::Ipv4Addr::from([0, 0, 0, 0])),
    ))
}

fn device_from_server_name(name: &ServerName<'_>) -> Option<DeviceId> {
    let ServerName::DnsName(dns) = name else {
        return None;
    };
    dns.as_ref().split('.').next()?.parse().ok()
}

/// Whether `der` can serve as a webpki trust anchor.
pub(crate) fn is_usable_anchor(der: &[u8]) -> bool {
    webpki::anchor_from_trusted_cert(&CertificateDer::from(der)).is_ok()
}

/// The checks both verifiers share.
#[derive(Debug, Clone)]
struct DeviceCheck {
    trust: SharedTrust,
    results: Option<Arc<dyn ResultSource>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl DeviceCheck {
    fn new(trust: SharedTrust, results: Option<Arc<dyn ResultSource>>) -> Self {
        Self {
            trust,
            results,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }

    fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        usage: webpki::KeyUsage,
    ) -> Result<CertificateIdentity, Refusal> {
        let trust = self.trust.read().unwrap_or_else(PoisonError::into_inner);
        let anchors: Vec<_> = trust
            .x509_roots()
            .iter()
            .filter_map(|der| {
                webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice()))
                    .ok()
                    .map(|a| a.to_owned())
            })
            .collect();
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|e| Refusal::Path(e.to_string()))?;
        cert.verify_for_usage(
            self.algorithms.all,
            &anchors,
            intermediates,
            now,
            usage,
            None,
            None,
        )
        .map_err(|e| Refusal::Path(e.to_string()))?;
        let identity = CertificateIdentity::parse(end_entity.as_ref())?;
        let derived = identity.key.device_id();
        if identity.device != derived {
            return Err(Refusal::DeviceIdMismatch {
                named: identity.device,
                derived,
            });
        }
        if &identity.mission != trust.mission() {
            return Err(CredentialError::WrongMission {
                expected: trust.mission().to_string(),
                found: identity.mission.to_string(),
            }
            .into());
        }
        if trust.is_revoked(identity.device) {
            return Err(CredentialError::DeviceRevoked(identity.device).into());
        }
        let result = identity
            .attestation_result
            .clone()
            .or_else(|| {
                self.results
                    .as_ref()
                    .and_then(|s| s.result_for(&identity.key))
            })
            .ok_or(Refusal::Unattested)?;
        let now_ts =
            Timestamp::from_millis(now.as_secs().saturating_mul(1000)).unwrap_or(Timestamp::MAX);
        trust
            .verify_result(&result, &identity.key, now_ts)?
            .require_affirming()?;
        Ok(identity)
    }
}

fn to_rustls(refusal: Refusal) -> rustls::Error {
    let error = match refusal {
        Refusal::Identity(CredentialError::DeviceRevoked(_))
        | Refusal::Attestation(ResultError::DeviceRevoked(_)) => CertificateError::Revoked,
        other => CertificateError::Other(OtherError(Arc::new(other))),
    };
    rustls::Error::InvalidCertificate(error)
}

/// Verifies client certificates for a server: see the [module](self) documentation.
#[derive(Debug, Clone)]
pub struct DeviceClientVerifier {
    check: DeviceCheck,
}

impl DeviceClientVerifier {
    /// A verifier reading `trust`, and `results` for results certificates do not carry.
    pub fn new(trust: SharedTrust, results: Option<Arc<dyn ResultSource>>) -> Arc<Self> {
        Arc::new(Self {
            check: DeviceCheck::new(trust, results),
        })
    }
}

impl ClientCertVerifier for DeviceClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check
            .verify(
                end_entity,
                intermediates,
                now,
                webpki::KeyUsage::client_auth(),
            )
            .map_err(to_rustls)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.check.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.check.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.check.algorithms.supported_schemes()
    }
}

/// Verifies server certificates for a client: see the [module](self) documentation.
#[derive(Debug, Clone)]
pub struct DeviceServerVerifier {
    check: DeviceCheck,
}

impl DeviceServerVerifier {
    /// A verifier reading `trust`, and `results` for results certificates do not carry.
    pub fn new(trust: SharedTrust, results: Option<Arc<dyn ResultSource>>) -> Arc<Self> {
        Arc::new(Self {
            check: DeviceCheck::new(trust, results),
        })
    }
}

impl ServerCertVerifier for DeviceServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let identity = self
            .check
            .verify(
                end_entity,
                intermediates,
                now,
                webpki::KeyUsage::server_auth(),
            )
            .map_err(to_rustls)?;
        if device_from_server_name(server_name) != Some(identity.device) {
            return Err(to_rustls(Refusal::WrongServer {
                found: identity.device,
            }));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.check.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.check.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.check.algorithms.supported_schemes()
    }
}

/// A [`Signer`] as a rustls signing key (ES256 signatures are converted to DER for TLS).
pub struct TlsSigningKey {
    signer: Arc<dyn Signer>,
    public: PublicKey,
}

impl TlsSigningKey {
    /// Wraps `signer`.
    pub fn new(signer: Arc<dyn Signer>) -> Arc<Self> {
        let public = signer.public_key();
        Arc::new(Self { signer, public })
    }

    fn scheme(&self) -> SignatureScheme {
        match self.public.algorithm() {
            Algorithm::Ed25519 => SignatureScheme::ED25519,
            Algorithm::EcdsaP256 => SignatureScheme::ECDSA_NISTP256_SHA256,
        }
    }
}

impl fmt::Debug for TlsSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSigningKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl rustls::sign::SigningKey for TlsSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        let scheme = self.scheme();
        if !offered.contains(&scheme) {
            return None;
        }
        let signer: Box<dyn rustls::sign::Signer> = Box::new(TlsSigner {
            signer: self.signer.clone(),
            alg: self.public.algorithm(),
            scheme,
        });
        Some(signer)
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self.public.algorithm() {
            Algorithm::Ed25519 => SignatureAlgorithm::ED25519,
            Algorithm::EcdsaP256 => SignatureAlgorithm::ECDSA,
        }
    }
}

struct TlsSigner {
    signer: Arc<dyn Signer>,
    alg: Algorithm,
    scheme: SignatureScheme,
}

impl fmt::Debug for TlsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSigner")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl rustls::sign::Signer for TlsSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let sig = self
            .signer
            .sign(message)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        Ok(sig.to_der_if_ecdsa(self.alg))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// Serves the newest installed certificate, for both sides. The application installs a fresh
/// short-lived certificate (and, typically, one carrying a fresh attestation result) before
/// the current one expires; handshakes in flight keep the certificate they started with.
#[derive(Debug, Default)]
pub struct RotatingCertResolver {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl RotatingCertResolver {
    /// An empty resolver: no certificate until [`install`](Self::install).
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Installs `chain` (leaf first, DER) signed for by `signer`; replaces the previous one.
    pub fn install(&self, chain: Vec<Vec<u8>>, signer: Arc<dyn Signer>) {
        let chain = chain.into_iter().map(CertificateDer::from).collect();
        let key = Arc::new(CertifiedKey::new(chain, TlsSigningKey::new(signer)));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(key);
    }

    /// Removes the certificate (for example when its key is retired).
    pub fn clear(&self) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn get(&self) -> Option<Arc<CertifiedKey>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl rustls::server::ResolvesServerCert for RotatingCertResolver {
    fn resolve(&self, _client_hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.get()
    }
}

impl rustls::client::ResolvesClientCert for RotatingCertResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.get()
    }

    fn has_certs(&self) -> bool {
        self.get().is_some()
    }
}
