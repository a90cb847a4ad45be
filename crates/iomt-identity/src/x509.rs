//! The X.509 form of an identity, for TLS: issued through `rcgen`, read with a small DER walker.
//!
//! A device certificate is short-lived and carries:
//!
//! - the subject key (Ed25519 or P-256) and `CN=<device-id hex>`;
//! - the DeviceId as a URI SAN, `iomt://<mission>/<device-id hex>` ([`device_uri`]);
//! - key usage `digitalSignature`, extended key usage `serverAuth` and `clientAuth`;
//! - optionally, the device's attestation result in the RATS Conceptual Message Wrapper
//!   extension (`id-pe-cmw`, 1.3.6.1.5.5.7.1.35, non-critical), as the CBOR record
//!   `[media type, result, 8]` (8: the attestation-results indicator).
//!
//! Reading: path validation is webpki's (see the `tls` module); after it succeeds,
//! [`CertificateIdentity::parse`] walks the DER for the URI SAN, the CMW extension and the
//! subject key. The walker is about a hundred lines over `untrusted`, which `ring` and webpki
//! already depend on: webpki does not expose URI SANs or unknown extensions, and a general
//! X.509 parser would add a large dependency to read three fields of a certificate webpki has
//! already validated.

use core::fmt;

use iomt_schema::{DeviceId, Timestamp};
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, SanType, SerialNumber,
};

use crate::cbor::{self, Reader};
use crate::credential::{Credential, Mission};
use crate::error::{CredentialError, DecodeError, SignError};
use crate::key::{Algorithm, PublicKey, Signer};

/// `id-pe-cmw` (RFC 9999): the RATS Conceptual Message Wrapper certificate extension.
pub const CMW_EXTENSION_OID: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 35];
/// The CMW media type of the attestation result this crate embeds.
pub const RESULT_MEDIA_TYPE: &str = "application/vnd.iomt.attestation-result+cose";
const CMW_IND_ATTESTATION_RESULTS: u64 = 8;

/// The URI SAN naming a device: `iomt://<mission>/<device-id hex>`.
pub fn device_uri(mission: &Mission, device: DeviceId) -> String {
    format!("iomt://{mission}/{device}")
}

/// Parses [`device_uri`]'s output.
pub fn parse_device_uri(uri: &str) -> Option<(Mission, DeviceId)> {
    let rest = uri.strip_prefix("iomt://")?;
    let (mission, device) = rest.split_once('/')?;
    Some((Mission::new(mission).ok()?, device.parse().ok()?))
}

/// A certificate authority for the X.509 form: a self-signed root whose key is a
/// [`Signer`] (the same authority key signs the compact credentials).
pub struct CertificateAuthority<S> {
    signer: S,
    params: CertificateParams,
    der: Vec<u8>,
}

impl<S: Signer> CertificateAuthority<S> {
    /// A self-signed root named `name`, valid from `not_before` to `not_after`.
    pub fn new(
        signer: S,
        name: &str,
        not_before: Timestamp,
        not_after: Timestamp,
    ) -> Result<Self, SignError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = datetime(not_before)?;
        params.not_after = datetime(not_after)?;
        params.serial_number = Some(SerialNumber::from_slice(&[1]));
        let adapter = RcgenKey::new(&signer);
        let der = params
            .self_signed(&adapter)
            .map_err(|_| SignError::Failed)?
            .der()
            .to_vec();
        Ok(Self {
            signer,
            params,
            der,
        })
    }

    /// The root certificate (DER), for the trust package's X.509 anchors.
    pub fn certificate_der(&self) -> &[u8] {
        &self.der
    }

    /// The authority's signer.
    pub fn signer(&self) -> &S {
        &self.signer
    }

    /// Issues the compact form of `credential`.
    pub fn issue_compact(&self, credential: &Credential) -> Result<Vec<u8>, SignError> {
        credential.sign(&self.signer)
    }

    /// Issues the X.509 form of `credential` (DER), optionally carrying a signed attestation
    /// result in the CMW extension.
    pub fn issue_x509(
        &self,
        credential: &Credential,
        attestation_result: Option<&[u8]>,
    ) -> Result<Vec<u8>, SignError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, credential.device_id().to_string());
        let uri = device_uri(&credential.mission, credential.device_id());
        params.subject_alt_names = vec![SanType::URI(
            uri.try_into().map_err(|_| SignError::Invalid("URI SAN"))?,
        )];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_before = datetime(credential.not_before)?;
        params.not_after = datetime(credential.not_after)?;
        params.serial_number = Some(SerialNumber::from_slice(&credential.serial.to_be_bytes()));
        if let Some(result) = attestation_result {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    CMW_EXTENSION_OID,
                    cmw_extension_value(result),
                ));
        }
        let issuer = Issuer::from_params(&self.params, RcgenKey::new(&self.signer));
        let subject = SubjectKey(credential.subject);
        let cert = params
            .signed_by(&subject, &issuer)
            .map_err(|_| SignError::Failed)?;
        Ok(cert.der().to_vec())
    }
}

impl<S> fmt::Debug for CertificateAuthority<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

fn datetime(t: Timestamp) -> Result<time::OffsetDateTime, SignError> {
    let secs = i64::try_from(t.as_millis() / 1000).map_err(|_| SignError::Invalid("time"))?;
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| SignError::Invalid("time"))
}

/// `CMW ::= CHOICE { json UTF8String, cbor OCTET STRING }`, the cbor choice holding the record
/// `[media type, result, indicator]`.
fn cmw_extension_value(result: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(result.len() + RESULT_MEDIA_TYPE.len() + 8);
    cbor::write_array(&mut record, 3);
    cbor::write_tstr(&mut record, RESULT_MEDIA_TYPE);
    cbor::write_bstr(&mut record, result);
    cbor::write_uint(&mut record, CMW_IND_ATTESTATION_RESULTS);
    let mut out = vec![0x04];
    der_length(&mut out, record.len());
    out.extend_from_slice(&record);
    out
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let digits = bytes.get(skip..).unwrap_or(&[]);
            out.push(0x80 | u8::try_from(digits.len()).unwrap_or(0));
            out.extend_from_slice(digits);
        }
    }
}

fn cmw_result(value: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut r = untrusted::Reader::new(untrusted::Input::from(value));
    let (tag, record) = der::tlv(&mut r)?;
    if tag != der::OCTET_STRING || !r.at_end() {
        return Err(DecodeError::Der("the CMW extension as an OCTET STRING"));
    }
    let mut r = Reader::new(record.as_slice_less_safe());
    r.array_of(3, "CMW record [type, value, indicator]")?;
    let type_at = r.position();
    if r.tstr()? != RESULT_MEDIA_TYPE {
        return Err(DecodeError::invalid("CMW type", type_at, RESULT_MEDIA_TYPE));
    }
    let result = r.bstr()?.to_vec();
    let indicator_at = r.position();
    if r.uint()? & CMW_IND_ATTESTATION_RESULTS == 0 {
        let rule = "an indicator with the attestation-results bit (8)";
        return Err(DecodeError::invalid("CMW indicator", indicator_at, rule));
    }
    r.finish()?;
    Ok(result)
}

/// Adapts a [`Signer`] to `rcgen`'s signing interface (ES256 signatures become DER).
struct RcgenKey<'a> {
    signer: &'a dyn Signer,
    public: PublicKey,
}

impl<'a> RcgenKey<'a> {
    fn new(signer: &'a dyn Signer) -> Self {
        Self {
            public: signer.public_key(),
            signer,
        }
    }
}

impl rcgen::PublicKeyData for RcgenKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.public.as_bytes()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        rcgen_algorithm(self.public.algorithm())
    }
}

impl rcgen::SigningKey for RcgenKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let sig = self
            .signer
            .sign(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)?;
        Ok(sig.to_der_if_ecdsa(self.public.algorithm()))
    }
}

struct SubjectKey(PublicKey);

impl rcgen::PublicKeyData for SubjectKey {
    fn der_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        rcgen_algorithm(self.0.algorithm())
    }
}

fn rcgen_algorithm(alg: Algorithm) -> &'static rcgen::SignatureAlgorithm {
    match alg {
        Algorithm::Ed25519 => &rcgen::PKCS_ED25519,
        Algorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
    }
}

/// What an `iomt` certificate says about its subject. [`parse`](Self::parse) only reads; it
/// trusts nothing, so run it on certificates webpki has validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// The subject key.
    pub key: PublicKey,
    /// The mission from the URI SAN.
    pub mission: Mission,
    /// The DeviceId from the URI SAN.
    pub device: DeviceId,
    /// The serial number's value, if it fits 64 bits.
    pub serial: Option<u64>,
    /// The signed attestation result from the CMW extension, if present.
    pub attestation_result: Option<Vec<u8>>,
}

impl CertificateIdentity {
    /// Reads the subject key, the single `iomt://` URI SAN and the CMW extension.
    pub fn parse(der: &[u8]) -> Result<Self, CredentialError> {
        let tbs = der::tbs(der)?;
        let key = tbs.key.ok_or(CredentialError::UnsupportedKey)?;
        let mut uris = tbs.uris.iter().filter_map(|u| parse_device_uri(u));
        let (Some((mission, device)), None) = (uris.next(), uris.next()) else {
            return Err(CredentialError::NoDeviceUri);
        };
        let attestation_result = match tbs.cmw {
            Some(value) => Some(cmw_result(&value).map_err(CredentialError::Decode)?),
            None => None,
        };
        Ok(Self {
            key,
            mission,
            device,
            serial: tbs.serial,
            attestation_result,
        })
    }
}

/// Just enough DER to walk a certificate's TBS part.
mod der {
    use untrusted::{Input, Reader};

    use crate::error::DecodeError;
    use crate::key::{Algorithm, PublicKey};

    pub(super) const SEQUENCE: u8 = 0x30;
    pub(super) const OCTET_STRING: u8 = 0x04;
    const INTEGER: u8 = 0x02;
    const BOOLEAN: u8 = 0x01;
    const OID: u8 = 0x06;
    const BIT_STRING: u8 = 0x03;
    const CONTEXT_0: u8 = 0xa0;
    const CONTEXT_3: u8 = 0xa3;
    const URI: u8 = 0x86;

    const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
    const OID_CMW: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x23];
    const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

    fn err() -> DecodeError {
        DecodeError::Der("well-formed DER")
    }

    /// One tag-length-value; lengths up to four bytes, definite only.
    pub(super) fn tlv<'a>(r: &mut Reader<'a>) -> Result<(u8, Input<'a>), DecodeError> {
        let tag = r.read_byte().map_err(|_| err())?;
        let first = r.read_byte().map_err(|_| err())?;
        let len = match first {
            n if n < 0x80 => usize::from(n),
            0x81..=0x84 => {
                let mut len = 0usize;
                for _ in 0..(first & 0x7f) {
                    let byte = r.read_byte().map_err(|_| err())?;
                    len = len
                        .checked_mul(256)
                        .and_then(|l| l.checked_add(usize::from(byte)))
                        .ok_or_else(err)?;
                }
                len
            }
            _ => return Err(err()),
        };
        let value = r.read_bytes(len).map_err(|_| err())?;
        Ok((tag, value))
    }

    fn expect<'a>(r: &mut Reader<'a>, tag: u8) -> Result<Input<'a>, DecodeError> {
        match tlv(r)? {
            (t, v) if t == tag => Ok(v),
            _ => Err(err()),
        }
    }

    pub(super) struct Tbs {
        pub(super) key: Option<PublicKey>,
        pub(super) serial: Option<u64>,
        pub(super) uris: Vec<String>,
        pub(super) cmw: Option<Vec<u8>>,
    }

    pub(super) fn tbs(der: &[u8]) -> Result<Tbs, DecodeError> {
        let cert = Input::from(der).read_all(err(), |r| expect(r, SEQUENCE))?;
        let tbs = cert.read_all(err(), |r| {
            let tbs = expect(r, SEQUENCE)?;
            tlv(r)?;
            tlv(r)?;
            Ok(tbs)
        })?;
        tbs.read_all(err(), |r| {
            if r.peek(CONTEXT_0) {
                expect(r, CONTEXT_0)?;
            }
            let serial = expect(r, INTEGER)?.as_slice_less_safe();
            let serial = serial_u64(serial);
            for _ in 0..4 {
                expect(r, SEQUENCE)?; // signature, issuer, validity, subject
            }
            let key = spki(expect(r, SEQUENCE)?)?;
            let mut uris = Vec::new();
            let mut cmw = None;
            while !r.at_end() {
                let (tag, value) = tlv(r)?;
                if tag != CONTEXT_3 {
                    continue;
                }
                let exts = value.read_all(err(), |r| expect(r, SEQUENCE))?;
                exts.read_all(err(), |r| {
                    while !r.at_end() {
                        let ext = expect(r, SEQUENCE)?;
                        let (oid, value) = ext.read_all(err(), |r| {
                            let oid = expect(r, OID)?;
                            if r.peek(BOOLEAN) {
                                expect(r, BOOLEAN)?;
                            }
                            let value = expect(r, OCTET_STRING)?;
                            Ok((oid, value))
                        })?;
                        match oid.as_slice_less_safe() {
                            OID_SAN => uris.extend(san_uris(value)?),
                            OID_CMW if cmw.is_none() => {
                                cmw = Some(value.as_slice_less_safe().to_vec())
                            }
                            OID_CMW => return Err(DecodeError::Der("one CMW extension")),
                            _ => {}
                        }
                    }
                    Ok(())
                })?;
            }
            Ok(Tbs {
                key,
                serial,
                uris,
                cmw,
            })
        })
    }

    fn serial_u64(bytes: &[u8]) -> Option<u64> {
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let digits = bytes.get(skip..)?;
        if digits.len() > 8 {
            return None;
        }
        Some(digits.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
    }

    fn san_uris(value: Input<'_>) -> Result<Vec<String>, DecodeError> {
        value.read_all(err(), |r| {
            let names = expect(r, SEQUENCE)?;
            names.read_all(err(), |r| {
                let mut out = Vec::new();
                while !r.at_end() {
                    let (tag, v) = tlv(r)?;
                    if tag == URI {
                        let s = core::str::from_utf8(v.as_slice_less_safe()).map_err(|_| err())?;
                        out.push(s.to_owned());
                    }
                }
                Ok(out)
            })
        })
    }

    /// The key from a SubjectPublicKeyInfo, if it is Ed25519 or P-256.
    pub(super) fn spki(spki: Input<'_>) -> Result<Option<PublicKey>, DecodeError> {
        spki.read_all(err(), |r| {
            let alg = expect(r, SEQUENCE)?;
            let bits = expect(r, BIT_STRING)?.as_slice_less_safe();
            let (oid, param) = alg.read_all(err(), |r| {
                let oid = expect(r, OID)?.as_slice_less_safe();
                let param = if r.at_end() {
                    None
                } else {
                    Some(expect(r, OID)?.as_slice_less_safe())
                };
                Ok((oid, param))
            })?;
            let [0, key @ ..] = bits else {
                return Err(err());
            };
            let alg = match (oid, param) {
                (OID_ED25519, None) => Algorithm::Ed25519,
                (OID_EC_PUBLIC_KEY, Some(OID_P256)) => Algorithm::EcdsaP256,
                _ => return Ok(None),
            };
            Ok(PublicKey::from_bytes(alg, key).ok())
        })
    }
}

/// The subject key of a DER SubjectPublicKeyInfo (Ed25519 or P-256).
pub fn public_key_from_spki(spki: &[u8]) -> Option<PublicKey> {
    der::spki(untrusted::Input::from(spki)).ok().flatten()
}

/// The subject key (if Ed25519 or P-256) and the serial (if it fits 64 bits) of a certificate,
/// for naming it in revocations: as a [`RevocationTarget`](crate::RevocationTarget), a
/// certificate is its issuer's key id and its serial.
#[cfg(feature = "rustls")]
pub(crate) fn key_and_serial(der: &[u8]) -> Result<(Option<PublicKey>, Option<u64>), DecodeError> {
    let tbs = der::tbs(der)?;
    Ok((tbs.key, tbs.serial))
}
