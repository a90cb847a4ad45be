//! RFC 9529 section 2, Trace 1 (method 0, cipher suite 0: AES-CCM-16-64-128, SHA-256, X25519,
//! EdDSA; X.509 credentials identified by `x5t`), reproduced value by value.
//!
//! `ring` cannot import an X25519 private key or do AES-CCM, so [`TraceBackend`] takes the
//! trace's fixed ephemeral keys through `x25519-dalek` and AES-CCM through `ccm` (both
//! test-only); hashing, HMAC, HKDF and Ed25519 stay on `ring`'s defaults.

mod values;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::RefCell;

use aes::Aes128;
use ccm::aead::AeadInPlace;
use ccm::aead::KeyInit;
use ccm::consts::{U8, U13};
use iomt_identity::cbor::Reader;
use iomt_identity::{PublicKey, SoftwareKey};
use iomt_schema::Instant;
use iomt_schema::rand::{SecureRandom, SystemRandom};

use self::values::*;
use crate::conn_id::ConnId;
use crate::credential::{
    Credentials, IdCred, LocalCredential, PeerCandidate, PeerCredential, Refusal,
};
use crate::crypto::{Backend, CryptoError, RingBackend, Secret};
use crate::handshake::{Initiator, Responder, check_message_1};
use crate::message::Suites;
use crate::schedule::{self, label};
use crate::suite::{AeadAlgorithm, CipherSuite, X25519_LEN};

type AesCcm = ccm::Ccm<Aes128, U8, U13>;

/// Fixed ephemeral keys (handed out in order) and AES-CCM; the rest on `ring`.
struct TraceBackend {
    ephemerals: RefCell<Vec<[u8; 32]>>,
}

impl TraceBackend {
    fn with(ephemeral: [u8; 32]) -> Self {
        Self {
            ephemerals: RefCell::new(alloc::vec![ephemeral]),
        }
    }
}

impl Backend for TraceBackend {
    type Ephemeral = x25519_dalek::StaticSecret;

    fn supports(&self, suite: CipherSuite) -> bool {
        suite == CipherSuite::Suite0 || RingBackend.supports(suite)
    }

    fn ephemeral(
        &self,
        _rng: &dyn SecureRandom,
    ) -> Result<(Self::Ephemeral, [u8; X25519_LEN]), CryptoError> {
        let mut queue = self.ephemerals.borrow_mut();
        if queue.is_empty() {
            return Err(CryptoError::Failed);
        }
        let private = x25519_dalek::StaticSecret::from(queue.remove(0));
        let public = x25519_dalek::PublicKey::from(&private).to_bytes();
        Ok((private, public))
    }

    fn agree(
        &self,
        private: &Self::Ephemeral,
        peer_public: &[u8],
    ) -> Result<Secret<X25519_LEN>, CryptoError> {
        crate::crypto::x25519_agree(private, peer_public)
    }

    fn seal(
        &self,
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        if alg != AeadAlgorithm::AesCcm16_64_128 {
            return RingBackend.seal(alg, key, nonce, aad, in_out);
        }
        let cipher = AesCcm::new_from_slice(key).map_err(|_| CryptoError::Failed)?;
        let tag = cipher
            .encrypt_in_place_detached(nonce.into(), aad, in_out)
            .map_err(|_| CryptoError::Failed)?;
        in_out.extend_from_slice(&tag);
        Ok(())
    }

    fn open(
        &self,
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        if alg != AeadAlgorithm::AesCcm16_64_128 {
            return RingBackend.open(alg, key, nonce, aad, in_out);
        }
        let cipher = AesCcm::new_from_slice(key).map_err(|_| CryptoError::Failed)?;
        let body = in_out.len().checked_sub(8).ok_or(CryptoError::Failed)?;
        let tag = in_out.split_off(body);
        cipher
            .decrypt_in_place_detached(nonce.into(), aad, in_out, tag.as_slice().into())
            .map_err(|_| CryptoError::Failed)
    }
}

/// One side of the trace: its own certificate and key, and the peer's certificate by x5t.
struct TraceCredentials {
    local: Arc<LocalCredential>,
    peer_id_cred: IdCred,
    peer_cred: Vec<u8>,
    peer_key: [u8; 32],
}

impl TraceCredentials {
    fn initiator() -> Self {
        Self::new((&ID_CRED_I, &CRED_I, &SK_I), (&ID_CRED_R, &CRED_R, PK_R))
    }

    fn responder() -> Self {
        Self::new((&ID_CRED_R, &CRED_R, &SK_R), (&ID_CRED_I, &CRED_I, PK_I))
    }

    /// Our `(ID_CRED, CRED, signing seed)` and the peer's `(ID_CRED, CRED, public key)`.
    fn new(own: (&[u8], &[u8], &[u8; 32]), peer: (&[u8], &[u8], [u8; 32])) -> Self {
        let (id_cred, cred, seed) = own;
        let (peer_id_cred, peer_cred, peer_key) = peer;
        Self {
            local: Arc::new(
                LocalCredential::new(
                    IdCred::from_map(id_cred).unwrap(),
                    cred.to_vec(),
                    SoftwareKey::from_ed25519_seed(seed).unwrap(),
                )
                .unwrap(),
            ),
            peer_id_cred: IdCred::from_map(peer_id_cred).unwrap(),
            peer_cred: peer_cred.to_vec(),
            peer_key,
        }
    }
}

impl Credentials for TraceCredentials {
    fn local(&self, suite: CipherSuite) -> Option<Arc<LocalCredential>> {
        (suite == CipherSuite::Suite0).then(|| Arc::clone(&self.local))
    }

    fn resolve_peer(&self, peer: &PeerCandidate<'_>) -> Result<PeerCredential, Refusal> {
        assert!(peer.by_value.is_none(), "x5t is a reference");
        if *peer.id_cred != self.peer_id_cred {
            return Err(Refusal::UnknownCredential);
        }
        Ok(PeerCredential {
            cred: self.peer_cred.clone(),
            key: PublicKey::Ed25519(self.peer_key),
        })
    }

    fn admit_peer(&self, _: &PeerCandidate<'_>, _: &PeerCredential) -> Result<(), Refusal> {
        Ok(())
    }
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

#[test]
fn key_schedule_value_by_value() {
    let b = RingBackend;
    assert_eq!(b.sha256(&[&MESSAGE_1]), H_MESSAGE_1, "H(message_1)");
    let th_2 = schedule::th_2(&b, &G_Y, &MESSAGE_1);
    assert_eq!(th_2, TH_2, "TH_2");

    let (x, g_x) = TraceBackend::with(X)
        .ephemeral(&SystemRandom::new())
        .unwrap();
    assert_eq!(g_x, G_X, "G_X");
    let (y, g_y) = TraceBackend::with(Y)
        .ephemeral(&SystemRandom::new())
        .unwrap();
    assert_eq!(g_y, G_Y, "G_Y");
    let g_xy = TraceBackend::with(X).agree(&x, &G_Y).unwrap();
    assert_eq!(*g_xy.expose(), G_XY, "G_XY from X and G_Y");
    assert_eq!(
        TraceBackend::with(Y).agree(&y, &G_X).unwrap(),
        g_xy,
        "G_XY from Y and G_X"
    );

    let prk_2e = schedule::prk_2e(&b, &th_2, &g_xy);
    assert_eq!(*prk_2e.expose(), PRK_2E, "PRK_2e");
    assert_eq!(PRK_3E2M, PRK_2E, "method 0: PRK_3e2m = PRK_2e");
    assert_eq!(PRK_4E3M, PRK_3E2M, "method 0: PRK_4e3m = PRK_3e2m");

    // MAC_2 and Signature_or_MAC_2.
    let context_2 = schedule::mac_context(&[0x41, 0x18], &ID_CRED_R, &th_2, &CRED_R, &[]);
    assert_eq!(context_2, CONTEXT_2, "context_2");
    let mac_2 = schedule::mac(&b, &prk_2e, label::MAC_2, &context_2).unwrap();
    assert_eq!(mac_2, MAC_2, "MAC_2");
    let sig_structure_2 = schedule::sig_structure(&ID_CRED_R, &th_2, &CRED_R, &[], &mac_2);
    assert_eq!(
        sig_structure_2, SIG_STRUCTURE_2,
        "Sig_structure of message_2"
    );
    let signature_2 = SoftwareKey::from_ed25519_seed(&SK_R)
        .unwrap()
        .sign(&sig_structure_2)
        .unwrap();
    assert_eq!(
        *signature_2.as_bytes(),
        SIGNATURE_OR_MAC_2,
        "Signature_or_MAC_2"
    );
    assert_eq!(
        SoftwareKey::from_ed25519_seed(&SK_R).unwrap().public_key(),
        PublicKey::Ed25519(PK_R),
        "PK_R"
    );

    let keystream_2 = schedule::keystream_2(&b, &prk_2e, &th_2, PLAINTEXT_2.len()).unwrap();
    assert_eq!(*keystream_2, KEYSTREAM_2, "KEYSTREAM_2");
    assert_eq!(
        xor(&PLAINTEXT_2, &keystream_2),
        CIPHERTEXT_2,
        "CIPHERTEXT_2"
    );

    // message_3.
    let th_3 = schedule::th_next(&b, &th_2, &PLAINTEXT_2, &CRED_R);
    assert_eq!(th_3, TH_3, "TH_3");
    let k3 = schedule::key_iv(
        &b,
        &prk_2e,
        &th_3,
        AeadAlgorithm::AesCcm16_64_128,
        (label::K_3, label::IV_3),
    )
    .unwrap();
    assert_eq!(*k3.key, K_3, "K_3");
    assert_eq!(*k3.iv, IV_3, "IV_3");
    let context_3 = schedule::mac_context(&[], &ID_CRED_I, &th_3, &CRED_I, &[]);
    assert_eq!(context_3, CONTEXT_3, "context_3");
    let mac_3 = schedule::mac(&b, &prk_2e, label::MAC_3, &context_3).unwrap();
    assert_eq!(mac_3, MAC_3, "MAC_3");
    let sig_structure_3 = schedule::sig_structure(&ID_CRED_I, &th_3, &CRED_I, &[], &mac_3);
    assert_eq!(
        sig_structure_3, SIG_STRUCTURE_3,
        "Sig_structure of message_3"
    );
    let signature_3 = SoftwareKey::from_ed25519_seed(&SK_I)
        .unwrap()
        .sign(&sig_structure_3)
        .unwrap();
    assert_eq!(
        *signature_3.as_bytes(),
        SIGNATURE_OR_MAC_3,
        "Signature_or_MAC_3"
    );
    assert_eq!(schedule::enc_structure(&th_3), A_3, "A_3");
    let mut ciphertext_3 = PLAINTEXT_3.to_vec();
    TraceBackend::with(X)
        .seal(
            AeadAlgorithm::AesCcm16_64_128,
            &k3.key,
            &k3.iv,
            &A_3,
            &mut ciphertext_3,
        )
        .unwrap();
    assert_eq!(ciphertext_3, CIPHERTEXT_3, "CIPHERTEXT_3");

    // message_4, PRK_out and the exporter.
    let th_4 = schedule::th_next(&b, &th_3, &PLAINTEXT_3, &CRED_I);
    assert_eq!(th_4, TH_4, "TH_4");
    let k4 = schedule::key_iv(
        &b,
        &prk_2e,
        &th_4,
        AeadAlgorithm::AesCcm16_64_128,
        (label::K_4, label::IV_4),
    )
    .unwrap();
    assert_eq!(*k4.key, K_4, "K_4");
    assert_eq!(*k4.iv, IV_4, "IV_4");
    assert_eq!(schedule::enc_structure(&th_4), A_4, "A_4");
    let mut ciphertext_4 = Vec::new();
    TraceBackend::with(X)
        .seal(
            AeadAlgorithm::AesCcm16_64_128,
            &k4.key,
            &k4.iv,
            &A_4,
            &mut ciphertext_4,
        )
        .unwrap();
    assert_eq!(ciphertext_4, CIPHERTEXT_4, "CIPHERTEXT_4");
    let prk_out = schedule::kdf_secret(&b, prk_2e.expose(), label::PRK_OUT, &th_4).unwrap();
    assert_eq!(*prk_out.expose(), PRK_OUT, "PRK_out");
}

#[test]
fn full_handshake_reproduces_messages() {
    let rng = SystemRandom::new();
    let initiator_creds = TraceCredentials::initiator();
    let responder_creds = TraceCredentials::responder();

    let ib = TraceBackend::with(X);
    let c_i = ConnId::new(&[0x2d]).unwrap();
    let now = Instant::ZERO;
    let (initiator, message_1) = Initiator::start(
        &ib,
        &rng,
        now,
        Suites::new(alloc::vec![0]).unwrap(),
        c_i,
        Vec::new(),
    )
    .unwrap();
    assert_eq!(message_1, MESSAGE_1, "message_1");

    let rb = TraceBackend::with(Y);
    let m1 = crate::message::Message1::decode(&message_1).unwrap();
    let suite = check_message_1(&m1, &[CipherSuite::Suite0], &responder_creds).unwrap();
    assert_eq!(suite, CipherSuite::Suite0);
    let c_r = ConnId::new(&[0x18]).unwrap();
    let (responder, message_2) =
        Responder::respond(&rb, &rng, now, &message_1, suite, c_r, &responder_creds).unwrap();
    assert_eq!(message_2, MESSAGE_2, "message_2");
    assert_eq!(responder.c_i(), c_i);

    let (awaiting_4, message_3) = initiator
        .process_message_2(&ib, now, &message_2, &initiator_creds)
        .unwrap();
    assert_eq!(message_3, MESSAGE_3, "message_3");
    let i_done = awaiting_4.completed();
    assert_eq!(i_done.c_r, c_r);
    assert_eq!(i_done.peer.id_cred, IdCred::from_map(&ID_CRED_R).unwrap());
    assert_eq!(i_done.secret.prk_out(), &PRK_OUT, "initiator PRK_out");

    let (r_done, message_4) = responder
        .process_message_3(&rb, now, &message_3, &responder_creds)
        .unwrap();
    assert_eq!(message_4, MESSAGE_4, "message_4");
    assert_eq!(r_done.secret.prk_out(), &PRK_OUT, "responder PRK_out");
    assert_eq!(r_done.peer.credential.cred, CRED_I);
    assert_eq!(
        awaiting_4.process_message_4(&ib, &message_4, &initiator_creds),
        Ok(Vec::new())
    );
    assert_eq!(
        r_done.nonce, i_done.nonce,
        "both sides derive the same nonce"
    );

    // Exporter: the OSCORE master secret and salt (RFC 9528 Appendix A.1).
    let mut secret = r_done.secret;
    assert_eq!(secret.prk_exporter(), &PRK_EXPORTER, "PRK_exporter");
    let mut master_secret = [0; 16];
    let mut master_salt = [0; 8];
    secret.export(0, &[], &mut master_secret).unwrap();
    secret.export(1, &[], &mut master_salt).unwrap();
    assert_eq!(master_secret, OSCORE_MASTER_SECRET, "OSCORE Master Secret");
    assert_eq!(master_salt, OSCORE_MASTER_SALT, "OSCORE Master Salt");

    // EDHOC_KeyUpdate with the trace's context.
    secret.key_update(&KEY_UPDATE_CONTEXT).unwrap();
    assert_eq!(
        secret.prk_out(),
        &KEY_UPDATE_PRK_OUT,
        "PRK_out after key update"
    );
    assert_eq!(
        secret.prk_exporter(),
        &KEY_UPDATE_PRK_EXPORTER,
        "PRK_exporter after key update"
    );
    secret.export(0, &[], &mut master_secret).unwrap();
    secret.export(1, &[], &mut master_salt).unwrap();
    assert_eq!(master_secret, KEY_UPDATE_OSCORE_MASTER_SECRET);
    assert_eq!(master_salt, KEY_UPDATE_OSCORE_MASTER_SALT);
}

#[test]
fn trace_messages_parse_to_their_parts() {
    let m1 = crate::message::Message1::decode(&MESSAGE_1).unwrap();
    assert_eq!(m1.g_x, G_X);
    assert_eq!(m1.c_i.as_bytes(), [0x2d]);
    let inner = crate::message::decode_single_bstr(&MESSAGE_2).unwrap();
    assert_eq!(inner[..32], G_Y);
    assert_eq!(inner[32..], CIPHERTEXT_2);
    let pt2 = crate::message::Plaintext2::decode(&PLAINTEXT_2).unwrap();
    assert_eq!(pt2.c_r.as_bytes(), [0x18]);
    assert_eq!(pt2.signature, SIGNATURE_OR_MAC_2);
    let mut re = Vec::new();
    pt2.encode(&mut re);
    assert_eq!(re, PLAINTEXT_2);
    let pt3 = crate::message::Plaintext3::decode(&PLAINTEXT_3).unwrap();
    assert_eq!(pt3.id_cred.map_bytes(), ID_CRED_I);
    assert_eq!(
        crate::message::decode_single_bstr(&MESSAGE_3).unwrap(),
        CIPHERTEXT_3
    );
    assert_eq!(
        crate::message::decode_single_bstr(&MESSAGE_4).unwrap(),
        CIPHERTEXT_4
    );
    assert!(Reader::new(&CRED_R).item().is_ok());
}
