//! The EDHOC key schedule (RFC 9528 section 4) for method 0, and the exporter and key update
//! of the completed handshake (sections 4.2.1 and Appendix H).
//!
//! With method 0 neither side contributes a static DH key, so PRK_3e2m = PRK_2e and
//! PRK_4e3m = PRK_3e2m, and both MACs are hash-length.

use alloc::vec::Vec;

use iomt_identity::{cbor, cose};
use zeroize::Zeroizing;

use crate::credential::HandshakeNonce;
use crate::crypto::{Backend, CryptoError, RingBackend, Secret};
use crate::suite::{AeadAlgorithm, HASH_LEN};

/// EDHOC_KDF info labels (RFC 9528 section 4.1.2).
pub(crate) mod label {
    pub const KEYSTREAM_2: u64 = 0;
    pub const MAC_2: u64 = 2;
    pub const K_3: u64 = 3;
    pub const IV_3: u64 = 4;
    pub const MAC_3: u64 = 6;
    pub const PRK_OUT: u64 = 7;
    pub const K_4: u64 = 8;
    pub const IV_4: u64 = 9;
    pub const PRK_EXPORTER: u64 = 10;
    pub const KEY_UPDATE: u64 = 11;
}

/// EDHOC_KDF(PRK, info_label, context, length) = HKDF-Expand(PRK, (label, context, length)).
pub(crate) fn edhoc_kdf<B: Backend + ?Sized>(
    b: &B,
    prk: &[u8; HASH_LEN],
    info_label: u64,
    context: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let mut info = Vec::with_capacity(context.len() + 12);
    cbor::write_head(&mut info, cbor::MAJOR_UINT, info_label);
    cbor::write_bstr(&mut info, context);
    cbor::write_head(
        &mut info,
        cbor::MAJOR_UINT,
        u64::try_from(out.len()).map_err(|_| CryptoError::Failed)?,
    );
    b.hkdf_expand(prk, &info, out)
}

/// EDHOC_KDF producing a PRK-sized secret.
pub(crate) fn kdf_secret<B: Backend + ?Sized>(
    b: &B,
    prk: &[u8; HASH_LEN],
    info_label: u64,
    context: &[u8],
) -> Result<Secret<HASH_LEN>, CryptoError> {
    let mut out = Secret([0; HASH_LEN]);
    edhoc_kdf(b, prk, info_label, context, &mut out.0)?;
    Ok(out)
}

/// TH_2 = H(G_Y, H(message_1)).
pub(crate) fn th_2<B: Backend + ?Sized>(b: &B, g_y: &[u8], message_1: &[u8]) -> [u8; HASH_LEN] {
    let h_m1 = b.sha256(&[message_1]);
    let mut input = Vec::with_capacity(g_y.len() + HASH_LEN + 4);
    cbor::write_bstr(&mut input, g_y);
    cbor::write_bstr(&mut input, &h_m1);
    b.sha256(&[&input])
}

/// TH_3 = H(TH_2, PLAINTEXT_2, CRED_R) and TH_4 = H(TH_3, PLAINTEXT_3, CRED_I).
pub(crate) fn th_next<B: Backend + ?Sized>(
    b: &B,
    th: &[u8; HASH_LEN],
    plaintext: &[u8],
    cred: &[u8],
) -> [u8; HASH_LEN] {
    let mut head = Vec::with_capacity(HASH_LEN + 2);
    cbor::write_bstr(&mut head, th);
    b.sha256(&[&head, plaintext, cred])
}

/// PRK_2e = EDHOC_Extract(TH_2, G_XY) = HMAC-SHA-256(TH_2, G_XY).
pub(crate) fn prk_2e<B: Backend + ?Sized>(
    b: &B,
    th_2: &[u8; HASH_LEN],
    g_xy: &Secret<32>,
) -> Secret<HASH_LEN> {
    b.hmac_sha256(th_2, g_xy.expose())
}

/// KEYSTREAM_2 = EDHOC_KDF(PRK_2e, 0, TH_2, plaintext_length), wiped on drop.
pub(crate) fn keystream_2<B: Backend + ?Sized>(
    b: &B,
    prk_2e: &Secret<HASH_LEN>,
    th_2: &[u8; HASH_LEN],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut out = Zeroizing::new(alloc::vec![0; len]);
    edhoc_kdf(b, prk_2e.expose(), label::KEYSTREAM_2, th_2, &mut out)?;
    Ok(out)
}

/// context_2 = << C_R, ID_CRED_R, TH_2, CRED_R, ? EAD_2 >> (C_R already CBOR-encoded), and
/// context_3 = << ID_CRED_I, TH_3, CRED_I, ? EAD_3 >> with `c_r` empty.
pub(crate) fn mac_context(
    c_r: &[u8],
    id_cred_map: &[u8],
    th: &[u8; HASH_LEN],
    cred: &[u8],
    ead: &[u8],
) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(c_r.len() + id_cred_map.len() + cred.len() + ead.len() + 40);
    ctx.extend_from_slice(c_r);
    ctx.extend_from_slice(id_cred_map);
    cbor::write_bstr(&mut ctx, th);
    ctx.extend_from_slice(cred);
    ctx.extend_from_slice(ead);
    ctx
}

/// MAC_2 = EDHOC_KDF(PRK_3e2m, 2, context_2, hash_length) or
/// MAC_3 = EDHOC_KDF(PRK_4e3m, 6, context_3, hash_length).
pub(crate) fn mac<B: Backend + ?Sized>(
    b: &B,
    prk: &Secret<HASH_LEN>,
    info_label: u64,
    context: &[u8],
) -> Result<[u8; HASH_LEN], CryptoError> {
    let mut out = [0; HASH_LEN];
    edhoc_kdf(b, prk.expose(), info_label, context, &mut out)?;
    Ok(out)
}

/// The COSE Sig_structure signed as Signature_or_MAC_2/3:
/// `["Signature1", << ID_CRED_x >>, << TH_x, CRED_x, ? EAD_x >>, MAC_x]`.
pub(crate) fn sig_structure(
    id_cred_map: &[u8],
    th: &[u8; HASH_LEN],
    cred: &[u8],
    ead: &[u8],
    mac: &[u8; HASH_LEN],
) -> Vec<u8> {
    let mut external_aad = Vec::with_capacity(HASH_LEN + 2 + cred.len() + ead.len());
    cbor::write_bstr(&mut external_aad, th);
    external_aad.extend_from_slice(cred);
    external_aad.extend_from_slice(ead);
    cose::sig_structure(id_cred_map, &external_aad, mac)
}

/// The COSE Enc_structure used as AAD of message_3/4: `["Encrypt0", h'', TH_x]`.
pub(crate) fn enc_structure(th: &[u8; HASH_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HASH_LEN + 14);
    cbor::write_array(&mut out, 3);
    cbor::write_tstr(&mut out, "Encrypt0");
    cbor::write_bstr(&mut out, &[]);
    cbor::write_bstr(&mut out, th);
    out
}

/// An AEAD key and IV derived with EDHOC_KDF (K_3/IV_3 or K_4/IV_4), both wiped on drop.
pub(crate) struct KeyIv {
    pub(crate) key: Zeroizing<Vec<u8>>,
    pub(crate) iv: Zeroizing<Vec<u8>>,
}

/// K_x = EDHOC_KDF(PRK, key_label, TH_x, key_length), IV_x likewise with the IV label.
pub(crate) fn key_iv<B: Backend + ?Sized>(
    b: &B,
    prk: &Secret<HASH_LEN>,
    th: &[u8; HASH_LEN],
    alg: AeadAlgorithm,
    labels: (u64, u64),
) -> Result<KeyIv, CryptoError> {
    let mut key = Zeroizing::new(alloc::vec![0; alg.key_len()]);
    let mut iv = Zeroizing::new(alloc::vec![0; alg.nonce_len()]);
    edhoc_kdf(b, prk.expose(), labels.0, th, &mut key)?;
    edhoc_kdf(b, prk.expose(), labels.1, th, &mut iv)?;
    Ok(KeyIv { key, iv })
}

/// The handshake nonce, `EDHOC_KDF(PRK_2e, 32768, TH_2, 32)`.
pub(crate) fn handshake_nonce<B: Backend + ?Sized>(
    b: &B,
    prk_2e: &Secret<HASH_LEN>,
    th_2: &[u8; HASH_LEN],
) -> Result<HandshakeNonce, CryptoError> {
    let mut out = [0; 32];
    edhoc_kdf(
        b,
        prk_2e.expose(),
        HandshakeNonce::INFO_LABEL,
        th_2,
        &mut out,
    )?;
    Ok(HandshakeNonce(out))
}

/// The result of a completed handshake: PRK_out, from which application keys are exported.
///
/// The exporter and key update run on `ring`'s HKDF-SHA-256, the EDHOC hash of every suite
/// this crate knows.
#[derive(Debug, Clone)]
pub struct SessionSecret {
    prk_out: Secret<HASH_LEN>,
    prk_exporter: Secret<HASH_LEN>,
}

impl SessionSecret {
    pub(crate) fn new(prk_out: Secret<HASH_LEN>) -> Result<Self, CryptoError> {
        let prk_exporter = kdf_secret(&RingBackend, prk_out.expose(), label::PRK_EXPORTER, &[])?;
        Ok(Self {
            prk_out,
            prk_exporter,
        })
    }

    /// EDHOC_Exporter(label, context, length) = EDHOC_KDF(PRK_exporter, label, context,
    /// length), filling `out`. Labels 0 and 1 are OSCORE's; 32768 and up are private use.
    pub fn export(&self, label: u64, context: &[u8], out: &mut [u8]) -> Result<(), CryptoError> {
        edhoc_kdf(
            &RingBackend,
            self.prk_exporter.expose(),
            label,
            context,
            out,
        )
    }

    /// EDHOC_KeyUpdate(context): PRK_out = EDHOC_KDF(PRK_out, 11, context, hash_length), and
    /// PRK_exporter derived anew. The old secrets are wiped.
    pub fn key_update(&mut self, context: &[u8]) -> Result<(), CryptoError> {
        let next = kdf_secret(
            &RingBackend,
            self.prk_out.expose(),
            label::KEY_UPDATE,
            context,
        )?;
        *self = Self::new(next)?;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn prk_out(&self) -> &[u8; HASH_LEN] {
        self.prk_out.expose()
    }

    #[cfg(test)]
    pub(crate) fn prk_exporter(&self) -> &[u8; HASH_LEN] {
        self.prk_exporter.expose()
    }
}
