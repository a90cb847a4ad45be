//! rustls 0.23 integration (feature `rustls`): certificate verifiers for both sides and a
//! rotating certificate resolver.
//!
//! [`DeviceClientVerifier`] (for servers) and [`DeviceServerVerifier`] (for clients) run
//! webpki's path validation against the X.509 anchors of the shared [`TrustStore`], accepting
//! only a path on which no certificate is revoked by the store's revocations (the leaf by its
//! issuer's key id and serial; each intermediate by its key's DeviceId or by its issuer's key
//! id and serial, as [`TrustStore::verify_credential`] checks a compact credential and its
//! issuing authority), then require, on top:
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
//! provider's algorithms.
//!
//! # Errors
//!
//! A refusal is a [`Refusal`]; it reaches rustls as the [`CertificateError`] of
//! [`Refusal::certificate_error`], which also decides the alert the peer receives. Where rustls
//! has a variant for the cause, that variant is used (an expired certificate is
//! `ExpiredContext`, alert `certificate_expired`; a bad signature `BadSignature`, alert
//! `decrypt_error`; an unknown issuer `UnknownIssuer`, alert `unknown_ca`; a revoked device or
//! certificate `Revoked`, alert `certificate_revoked`); every other refusal is
//! `CertificateError::Other` carrying the [`Refusal`] (alert `certificate_unknown`), so the
//! application can tell why.
//!
//! A certificate is named by a [`RevocationTarget`] as its compact twin is: its issuer's key id
//! and its serial. That needs an Ed25519 or P-256 issuer key and a serial that fits 64 bits;
//! any other chain element can be revoked only by its subject's DeviceId.

use core::cell::Cell;
use core::fmt;
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use iomt_schema::{DeviceId, Timestamp};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{AlgorithmIdentifier, CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureAlgorithm,
    SignatureScheme,
};

use crate::error::{CredentialError, ResultError, Utc};
use crate::key::{Algorithm, PublicKey, Signer};
use crate::revocation::RevocationTarget;
use crate::trust::TrustStore;
use crate::x509::{self, CertificateIdentity};

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

/// Why a verifier refused a peer's certificate. See [Errors](self#errors) for how each one
/// reaches rustls and the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Path validation failed, or a certificate on the path is revoked.
    #[error("certificate path: {0}")]
    Path(#[from] PathError),
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

impl Refusal {
    /// The rustls error this refusal is reported as; it decides the alert the peer receives
    /// (rustls' `AlertDescription::from(CertificateError)`).
    pub fn certificate_error(self) -> CertificateError {
        match self {
            Self::Path(path) => path.certificate_error(),
            Self::Identity(CredentialError::DeviceRevoked(_))
            | Self::Attestation(ResultError::DeviceRevoked(_)) => CertificateError::Revoked,
            other => CertificateError::Other(OtherError(Arc::new(other))),
        }
    }
}

impl From<Refusal> for rustls::Error {
    fn from(refusal: Refusal) -> Self {
        Self::InvalidCertificate(refusal.certificate_error())
    }
}

/// Why a certificate path was refused: webpki's reason, classified, or a revocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// A certificate is not well-formed DER, or not a certificate profile webpki reads.
    #[error("malformed certificate")]
    BadEncoding,
    /// A certificate on the path expired before `now`.
    #[error("certificate expired at {}; now {}", utc(.not_after), utc(.now))]
    Expired {
        /// The verification time.
        now: UnixTime,
        /// End of the certificate's validity.
        not_after: UnixTime,
    },
    /// A certificate on the path is not valid until after `now`.
    #[error("certificate is valid from {}; now {}", utc(.not_before), utc(.now))]
    NotValidYet {
        /// The verification time.
        now: UnixTime,
        /// Start of the certificate's validity.
        not_before: UnixTime,
    },
    /// A certificate's validity period ends before it starts.
    #[error("certificate validity period is empty")]
    InvalidValidity,
    /// No path leads to an X.509 anchor of the trust package.
    #[error("no path to a trusted anchor")]
    UnknownIssuer,
    /// A signature on the path does not verify under its issuer's key.
    #[error("bad certificate signature")]
    BadSignature,
    /// A certificate is signed with an algorithm the verifier does not accept.
    #[error("unsupported signature algorithm")]
    UnsupportedSignatureAlgorithm {
        /// The certificate's signature algorithm (DER `AlgorithmIdentifier` content).
        signature_algorithm_id: Vec<u8>,
        /// The algorithms the verifier accepts.
        supported_algorithms: Vec<AlgorithmIdentifier>,
    },
    /// A certificate's signature algorithm does not fit its issuer's key.
    #[error("signature algorithm does not fit the issuer's key")]
    UnsupportedSignatureAlgorithmForPublicKey {
        /// The certificate's signature algorithm.
        signature_algorithm_id: Vec<u8>,
        /// The issuer's public key algorithm.
        public_key_algorithm_id: Vec<u8>,
    },
    /// The leaf's extended key usage does not allow this side of TLS.
    #[error("certificate not valid for this purpose")]
    InvalidPurpose,
    /// A critical extension webpki does not process.
    #[error("unsupported critical extension")]
    UnsupportedCriticalExtension,
    /// A CA certificate was presented as the leaf.
    #[error("CA certificate used as the leaf")]
    CaUsedAsEndEntity,
    /// A leaf certificate was used as an issuer.
    #[error("leaf certificate used as an issuer")]
    EndEntityUsedAsCa,
    /// A path length or name constraint of an issuer is violated.
    #[error("issuer constraint violated")]
    ConstraintViolated,
    /// Path building hit one of webpki's limits (depth, signature checks, build steps).
    #[error("path building limit exceeded")]
    LimitExceeded,
    /// A certificate on the path is revoked by the trust store's revocations. `position` is 0
    /// for the leaf, 1 for its issuer, and so on up the presented chain.
    #[error("certificate {position} of the path is revoked: {target}")]
    Revoked {
        /// Where on the path.
        position: usize,
        /// The revocation that matched.
        target: RevocationTarget,
    },
    /// Any other reason webpki refused the path.
    #[error("certificate path refused")]
    Other,
}

/// A webpki time as [`Utc`] shows timestamps.
fn utc(t: &UnixTime) -> Utc {
    let ms = t.as_secs().saturating_mul(1000);
    Utc(Timestamp::from_millis(ms).unwrap_or(Timestamp::MAX))
}

impl PathError {
    /// The rustls error for this cause (see [Errors](self#errors)).
    pub fn certificate_error(self) -> CertificateError {
        match self {
            Self::BadEncoding => CertificateError::BadEncoding,
            Self::Expired { now, not_after } => CertificateError::ExpiredContext {
                time: now,
                not_after,
            },
            Self::NotValidYet { now, not_before } => CertificateError::NotValidYetContext {
                time: now,
                not_before,
            },
            Self::InvalidValidity => CertificateError::Expired,
            Self::UnknownIssuer => CertificateError::UnknownIssuer,
            Self::BadSignature => CertificateError::BadSignature,
            Self::UnsupportedSignatureAlgorithm {
                signature_algorithm_id,
                supported_algorithms,
            } => CertificateError::UnsupportedSignatureAlgorithmContext {
                signature_algorithm_id,
                supported_algorithms,
            },
            Self::UnsupportedSignatureAlgorithmForPublicKey {
                signature_algorithm_id,
                public_key_algorithm_id,
            } => CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
                signature_algorithm_id,
                public_key_algorithm_id,
            },
            Self::InvalidPurpose => CertificateError::InvalidPurpose,
            Self::UnsupportedCriticalExtension => CertificateError::UnhandledCriticalExtension,
            Self::Revoked { .. } => CertificateError::Revoked,
            other => CertificateError::Other(OtherError(Arc::new(Refusal::Path(other)))),
        }
    }

    /// Classifies webpki's reason; `revoked` is what the path check recorded, if it refused
    /// a path for a revocation.
    fn from_webpki(error: webpki::Error, revoked: Option<(usize, RevocationTarget)>) -> Self {
        use webpki::Error as E;
        #[allow(deprecated, reason = "webpki still reports the context-free forms")]
        match error {
            E::BadDer
            | E::BadDerTime
            | E::TrailingData(_)
            | E::MalformedExtensions
            | E::ExtensionValueInvalid
            | E::InvalidSerialNumber
            | E::MalformedNameConstraint
            | E::MalformedDnsIdentifier
            | E::InvalidNetworkMaskConstraint
            | E::SignatureAlgorithmMismatch
            | E::UnsupportedCertVersion
            | E::UnsupportedNameType => Self::BadEncoding,
            E::CertExpired { time, not_after } => Self::Expired {
                now: time,
                not_after,
            },
            E::CertNotValidYet { time, not_before } => Self::NotValidYet {
                now: time,
                not_before,
            },
            E::InvalidCertValidity => Self::InvalidValidity,
            E::UnknownIssuer => Self::UnknownIssuer,
            E::InvalidSignatureForPublicKey => Self::BadSignature,
            E::UnsupportedSignatureAlgorithmContext(cx) => Self::UnsupportedSignatureAlgorithm {
                signature_algorithm_id: cx.signature_algorithm_id,
                supported_algorithms: cx.supported_algorithms,
            },
            E::UnsupportedSignatureAlgorithmForPublicKeyContext(cx) => {
                Self::UnsupportedSignatureAlgorithmForPublicKey {
                    signature_algorithm_id: cx.signature_algorithm_id,
                    public_key_algorithm_id: cx.public_key_algorithm_id,
                }
            }
            E::UnsupportedSignatureAlgorithm | E::UnsupportedSignatureAlgorithmForPublicKey => {
                Self::UnsupportedSignatureAlgorithm {
                    signature_algorithm_id: Vec::new(),
                    supported_algorithms: Vec::new(),
                }
            }
            E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
                Self::InvalidPurpose
            }
            E::UnsupportedCriticalExtension => Self::UnsupportedCriticalExtension,
            E::CaUsedAsEndEntity => Self::CaUsedAsEndEntity,
            E::EndEntityUsedAsCa => Self::EndEntityUsedAsCa,
            E::PathLenConstraintViolated | E::NameConstraintViolation => Self::ConstraintViolated,
            E::MaximumPathDepthExceeded
            | E::MaximumSignatureChecksExceeded
            | E::MaximumPathBuildCallsExceeded
            | E::MaximumNameConstraintComparisonsExceeded => Self::LimitExceeded,
            // No revocation lists are given to webpki: only the path check reports this.
            E::CertRevoked => match revoked {
                Some((position, target)) => Self::Revoked { position, target },
                None => Self::Other,
            },
            _ => Self::Other,
        }
    }
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
            .map_err(|e| PathError::from_webpki(e, None))?;
        // webpki calls this for every candidate path and tries the next one when it refuses:
        // a certificate re-issued after a revocation still gives a path.
        let revoked = Cell::new(None);
        let unrevoked = |path: &webpki::VerifiedPath<'_>| {
            check_path_revocations(&trust, path).map_err(|found| match found {
                Some(_) => {
                    revoked.set(found);
                    webpki::Error::CertRevoked
                }
                None => webpki::Error::BadDer,
            })
        };
        cert.verify_for_usage(
            self.algorithms.all,
            &anchors,
            intermediates,
            now,
            usage,
            None,
            Some(&unrevoked),
        )
        .map_err(|e| PathError::from_webpki(e, revoked.get()))?;
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

/// Checks every certificate of a candidate path against the store's revocations, as
/// [`TrustStore::verify_credential`] checks a compact credential and its issuing authority:
/// the leaf by (issuer key id, serial), each intermediate by its key's DeviceId and by
/// (issuer key id, serial). The leaf's DeviceId is checked with its identity, after the path.
///
/// `Err(Some(..))` names the first revoked certificate; `Err(None)` means a certificate webpki
/// accepted could not be read here, which refuses the path rather than skip the check.
fn check_path_revocations(
    trust: &TrustStore,
    path: &webpki::VerifiedPath<'_>,
) -> Result<(), Option<(usize, RevocationTarget)>> {
    let revocations = trust.revocations();
    let mut certs = vec![path.end_entity().der()];
    certs.extend(path.intermediate_certificates().map(|c| c.der()));
    let mut subjects = Vec::with_capacity(certs.len());
    for der in &certs {
        subjects.push(x509::key_and_serial(der.as_ref()).map_err(|_| None)?);
    }
    let anchor_key = x509::public_key_from_spki(path.anchor().subject_public_key_info.as_ref());
    let issuer_keys = subjects
        .iter()
        .skip(1)
        .map(|(key, _)| *key)
        .chain(core::iter::once(anchor_key));
    for (position, ((key, serial), issuer_key)) in subjects.iter().zip(issuer_keys).enumerate() {
        if position > 0
            && let Some(key) = key
        {
            let target = RevocationTarget::Device(key.device_id());
            if revocations.get(&target).is_some() {
                return Err(Some((position, target)));
            }
        }
        if let (Some(issuer), Some(serial)) = (issuer_key, serial) {
            let target = RevocationTarget::Credential {
                issuer: issuer.short_id(),
                serial: *serial,
            };
            if revocations.get(&target).is_some() {
                return Err(Some((position, target)));
            }
        }
    }
    Ok(())
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
        self.check.verify(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
        )?;
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
        let identity = self.check.verify(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
        )?;
        if device_from_server_name(server_name) != Some(identity.device) {
            return Err(Refusal::WrongServer {
                found: identity.device,
            }
            .into());
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
