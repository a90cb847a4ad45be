//! The EDHOC method 0 state machines (RFC 9528 section 5), without transport or timers.
//!
//! [`Initiator`] sends message_1, turns message_2 into message_3 and checks message_4;
//! [`Responder`] turns message_1 into message_2 and message_3 into message_4. Every step takes
//! `&self` and leaves the state as it was when it fails, so a forged or corrupted message
//! costs the genuine one nothing: the initiator's ephemeral key survives a bad message_2.
//!
//! The peer is checked in a fixed order: its credential is resolved (no decision, no state
//! change), the signature is verified with the resolved key, the key must name the expected
//! device (initiator, [`Initiator::expect_peer`]), and only then does the verifier decide and
//! remember ([`Credentials::admit_peer`]).

use alloc::vec::Vec;

use iomt_identity::cbor::{self, CborError, CborErrorKind, Reader};
use iomt_schema::rand::SecureRandom;
use iomt_schema::{DeviceId, Instant};

use crate::conn_id::ConnId;
use crate::credential::{
    CredentialForm, Credentials, EadRequest, EadSlot, HandshakeNonce, HandshakeRole, IdCred,
    PeerCandidate, PeerCredential, Refusal,
};
use crate::crypto::{Backend, CryptoError, Secret};
use crate::ead::{self, EadItem};
use crate::error::{HandshakeError, MessageKind, malformed};
use crate::message::{self, METHOD_SIGN_SIGN, Message1, Plaintext2, Plaintext3, Suites};
use crate::schedule::{self, KeyIv, SessionSecret, label};
use crate::suite::{CipherSuite, HASH_LEN, X25519_LEN};

/// What a completed handshake established about the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerInfo {
    /// The device the peer proved to be: the [`DeviceId`] of the key its signature verified
    /// with.
    pub device: DeviceId,
    /// The peer's ID_CRED_x.
    pub id_cred: IdCred,
    /// The peer's credential and key, as our verifier returned them.
    pub credential: PeerCredential,
    /// The EAD items the peer sent with its credential (EAD_2 or EAD_3).
    pub ead: Vec<EadItem>,
}

/// The outcome of a completed handshake.
#[derive(Debug)]
#[non_exhaustive]
pub struct Completed {
    /// The selected cipher suite.
    pub suite: CipherSuite,
    /// C_I.
    pub c_i: ConnId,
    /// C_R.
    pub c_r: ConnId,
    /// The authenticated peer.
    pub peer: PeerInfo,
    /// PRK_out, for the exporter.
    pub secret: SessionSecret,
    /// The handshake nonce (evidence bound to this handshake used it).
    pub nonce: HandshakeNonce,
}

/// Checks message_1 against our suites and EAD policy; returns the selected suite.
///
/// `supported` lists the suites we can run, in any order. Per RFC 9528 section 5.2.3 the
/// selected suite (the last of SUITES_I) must be supported and no suite the initiator listed
/// before it may be.
pub fn check_message_1(
    m1: &Message1<'_>,
    supported: &[CipherSuite],
    creds: &dyn Credentials,
) -> Result<CipherSuite, HandshakeError> {
    if m1.method != METHOD_SIGN_SIGN {
        return Err(HandshakeError::UnsupportedMethod(m1.method));
    }
    let is_supported = |id: i64| supported.iter().any(|s| s.id() == id);
    let ids = m1.suites.ids();
    let selected = m1.suites.selected();
    let earlier = ids.get(..ids.len().saturating_sub(1)).unwrap_or_default();
    let suite = CipherSuite::from_id(selected)
        .filter(|_| is_supported(selected) && !earlier.iter().any(|id| is_supported(*id)))
        .ok_or(HandshakeError::WrongSuite { selected })?;
    if m1.g_x.len() != X25519_LEN {
        return Err(HandshakeError::BadEphemeralKey);
    }
    if let Some(label) = ead::first_unknown_critical(&m1.ead, |l| creds.understands_ead(l)) {
        return Err(HandshakeError::CriticalEad { label });
    }
    Ok(suite)
}

/// The initiator, after sending message_1 and before message_2.
pub struct Initiator<B: Backend> {
    suite: CipherSuite,
    form: CredentialForm,
    c_i: ConnId,
    x: B::Ephemeral,
    message_1: Vec<u8>,
    started: Instant,
    expected: Option<DeviceId>,
}

/// Why the initiator's message_2 step failed (the initiator is unchanged and can take
/// another message_2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message2Failure {
    /// The error.
    pub error: HandshakeError,
    /// C_R, if message_2 decrypted far enough to reveal it (an error message can then be
    /// addressed to the responder).
    pub c_r: Option<ConnId>,
}

impl<B: Backend> Initiator<B> {
    /// Starts a handshake at `now`: `suites` is SUITES_I (the selected suite last), `ead_1`
    /// goes in message_1. Returns the state and message_1.
    pub fn start(
        b: &B,
        rng: &dyn SecureRandom,
        now: Instant,
        suites: Suites,
        c_i: ConnId,
        ead_1: Vec<EadItem>,
    ) -> Result<(Self, Vec<u8>), HandshakeError> {
        let suite = CipherSuite::from_id(suites.selected())
            .filter(|s| b.supports(*s))
            .ok_or(HandshakeError::Crypto(CryptoError::Unsupported))?;
        let (x, g_x) = b.ephemeral(rng)?;
        let m1 = Message1 {
            method: METHOD_SIGN_SIGN,
            suites,
            g_x: &g_x,
            c_i,
            ead: ead_1,
        };
        let mut message_1 = Vec::with_capacity(48);
        m1.encode(&mut message_1);
        Ok((
            Self {
                suite,
                form: CredentialForm::Reference,
                c_i,
                x,
                message_1: message_1.clone(),
                started: now,
                expected: None,
            },
            message_1,
        ))
    }

    /// Completes only with `device`: a message_2 signed by any other key, however valid its
    /// credential, is refused with [`HandshakeError::UnexpectedPeer`] before message_3 is
    /// made, and the initiator keeps waiting for the genuine one.
    #[must_use]
    pub fn expect_peer(mut self, device: DeviceId) -> Self {
        self.expected = Some(device);
        self
    }

    /// The selected suite.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// Sends our credential by value in message_3 (after the responder answered a `kid` with
    /// error code 3) instead of the reference of [`LocalCredential::id_cred`].
    ///
    /// [`LocalCredential::id_cred`]: crate::LocalCredential::id_cred
    pub fn send_credential_by_value(mut self) -> Self {
        self.form = CredentialForm::Value;
        self
    }

    /// message_1 as sent.
    pub fn message_1(&self) -> &[u8] {
        &self.message_1
    }

    /// Processes message_2 at `now` and produces message_3. A failure leaves the initiator
    /// unchanged.
    pub fn process_message_2(
        &self,
        b: &B,
        now: Instant,
        message_2: &[u8],
        creds: &dyn Credentials,
    ) -> Result<(InitiatorAwaitingMessage4, Vec<u8>), Message2Failure> {
        let split = message::decode_single_bstr(message_2)
            .map_err(malformed(MessageKind::Message2))
            .and_then(|inner| {
                if inner.len() <= X25519_LEN {
                    let kind = CborErrorKind::Truncated;
                    return Err(HandshakeError::Malformed {
                        message: MessageKind::Message2,
                        error: CborError::new(message_2.len(), kind, "G_Y || CIPHERTEXT_2"),
                    });
                }
                Ok(inner.split_at(X25519_LEN))
            });
        let (g_y, ciphertext_2) = match split {
            Ok(parts) => parts,
            Err(error) => return Err(Message2Failure { error, c_r: None }),
        };
        let suite = self.suite;
        let form = self.form;
        let c_i = self.c_i;
        let started = self.started;
        let th_2 = schedule::th_2(b, g_y, &self.message_1);
        let fail = |error| Message2Failure { error, c_r: None };
        let g_xy = b
            .agree(&self.x, g_y)
            .map_err(|_| fail(HandshakeError::BadEphemeralKey))?;
        let prk_2e = schedule::prk_2e(b, &th_2, &g_xy);
        let mut plaintext_2 = schedule::keystream_2(b, &prk_2e, &th_2, ciphertext_2.len())
            .map_err(|e| fail(e.into()))?;
        plaintext_2
            .iter_mut()
            .zip(ciphertext_2)
            .for_each(|(p, c)| *p ^= c);
        let pt = Plaintext2::decode(&plaintext_2)
            .map_err(malformed(MessageKind::Message2))
            .map_err(fail)?;
        let c_r = pt.c_r;
        let steps = || -> Result<(InitiatorAwaitingMessage4, Vec<u8>), HandshakeError> {
            let nonce = schedule::handshake_nonce(b, &prk_2e, &th_2)?;
            let peer = verify_peer(
                b,
                creds,
                HandshakeRole::Responder,
                suite,
                Freshness {
                    nonce: &nonce,
                    since: started,
                    now,
                },
                Signed {
                    c_r: Some(pt.c_r),
                    id_cred: &pt.id_cred,
                    th: &th_2,
                    ead: &pt.ead,
                    ead_bytes: pt.ead_bytes,
                    signature: pt.signature,
                    prk: &prk_2e,
                    mac_label: label::MAC_2,
                },
                self.expected,
            )?;
            let th_3 = schedule::th_next(b, &th_2, &plaintext_2, &peer.credential.cred);

            let local = creds.local(suite).ok_or(HandshakeError::NoCredential)?;
            let id_cred_i = local.id_cred_in(form).ok_or(HandshakeError::NoCredential)?;
            let ead_3 = creds.ead(&EadRequest {
                slot: EadSlot::Message3,
                now,
                nonce: Some(&nonce),
                peer_ead: &pt.ead,
            });
            let mut ead_3_bytes = Vec::new();
            ead::encode(&ead_3, &mut ead_3_bytes);
            let context_3 = schedule::mac_context(
                &[],
                id_cred_i.map_bytes(),
                &th_3,
                local.cred(),
                &ead_3_bytes,
            );
            let mac_3 = schedule::mac(b, &prk_2e, label::MAC_3, &context_3)?;
            let to_sign = schedule::sig_structure(
                id_cred_i.map_bytes(),
                &th_3,
                local.cred(),
                &ead_3_bytes,
                &mac_3,
            );
            let signature = local.signer().sign(&to_sign)?;
            let mut plaintext_3 = Vec::with_capacity(ead_3_bytes.len() + 96);
            id_cred_i.encode_compact(&mut plaintext_3);
            cbor::write_bstr(&mut plaintext_3, signature.as_bytes());
            plaintext_3.extend_from_slice(&ead_3_bytes);
            let th_4 = schedule::th_next(b, &th_3, &plaintext_3, local.cred());

            let k3 = schedule::key_iv(b, &prk_2e, &th_3, suite.aead(), (label::K_3, label::IV_3))?;
            let mut ciphertext_3 = plaintext_3;
            b.seal(
                suite.aead(),
                &k3.key,
                &k3.iv,
                &schedule::enc_structure(&th_3),
                &mut ciphertext_3,
            )?;
            let mut message_3 = Vec::with_capacity(ciphertext_3.len() + 3);
            message::encode_single_bstr(&ciphertext_3, &mut message_3);

            let prk_out = schedule::kdf_secret(b, prk_2e.expose(), label::PRK_OUT, &th_4)?;
            let k4 = schedule::key_iv(b, &prk_2e, &th_4, suite.aead(), (label::K_4, label::IV_4))?;
            Ok((
                InitiatorAwaitingMessage4 {
                    completed: Completed {
                        suite,
                        c_i,
                        c_r: pt.c_r,
                        peer,
                        secret: SessionSecret::new(prk_out)?,
                        nonce,
                    },
                    th_4,
                    k4,
                },
                message_3,
            ))
        };
        steps().map_err(|error| Message2Failure {
            error,
            c_r: Some(c_r),
        })
    }
}

/// The initiator after sending message_3: the session keys exist; message_4 confirms them.
pub struct InitiatorAwaitingMessage4 {
    completed: Completed,
    th_4: [u8; HASH_LEN],
    k4: KeyIv,
}

impl InitiatorAwaitingMessage4 {
    /// The completed handshake (usable before message_4 arrives).
    pub fn completed(&self) -> &Completed {
        &self.completed
    }

    /// Consumes the state, returning the completed handshake.
    pub fn into_completed(self) -> Completed {
        self.completed
    }

    /// Checks message_4 and returns EAD_4. A failure leaves the state unchanged.
    pub fn process_message_4<B: Backend>(
        &self,
        b: &B,
        message_4: &[u8],
        creds: &dyn Credentials,
    ) -> Result<Vec<EadItem>, HandshakeError> {
        let inner =
            message::decode_single_bstr(message_4).map_err(malformed(MessageKind::Message4))?;
        let mut plaintext = inner.to_vec();
        b.open(
            self.completed.suite.aead(),
            &self.k4.key,
            &self.k4.iv,
            &schedule::enc_structure(&self.th_4),
            &mut plaintext,
        )
        .map_err(|_| HandshakeError::DecryptFailed {
            message: MessageKind::Message4,
        })?;
        let items =
            ead::decode(&mut Reader::new(&plaintext)).map_err(malformed(MessageKind::Message4))?;
        if let Some(label) = ead::first_unknown_critical(&items, |l| creds.understands_ead(l)) {
            return Err(HandshakeError::CriticalEad { label });
        }
        Ok(items)
    }
}

/// The responder, after sending message_2 and before message_3.
pub struct Responder {
    suite: CipherSuite,
    c_i: ConnId,
    c_r: ConnId,
    prk_3e2m: Secret<HASH_LEN>,
    th_3: [u8; HASH_LEN],
    k3: KeyIv,
    nonce: HandshakeNonce,
    since: Instant,
}

/// The responder's choices for message_2.
struct Answer {
    suite: CipherSuite,
    c_r: ConnId,
    form: CredentialForm,
}

impl Responder {
    /// Answers message_1 at `now` (already checked with [`check_message_1`], which chose
    /// `suite`) with message_2, choosing `c_r` and naming our credential by reference.
    pub fn respond<B: Backend>(
        b: &B,
        rng: &dyn SecureRandom,
        now: Instant,
        message_1: &[u8],
        suite: CipherSuite,
        c_r: ConnId,
        creds: &dyn Credentials,
    ) -> Result<(Self, Vec<u8>), HandshakeError> {
        let answer = Answer {
            suite,
            c_r,
            form: CredentialForm::Reference,
        };
        Self::answer(b, rng, now, message_1, answer, creds)
    }

    /// As [`respond`](Self::respond), sending our credential by value (the initiator could
    /// not resolve our reference before: it answered with error code 3).
    pub fn respond_by_value<B: Backend>(
        b: &B,
        rng: &dyn SecureRandom,
        now: Instant,
        message_1: &[u8],
        suite: CipherSuite,
        c_r: ConnId,
        creds: &dyn Credentials,
    ) -> Result<(Self, Vec<u8>), HandshakeError> {
        let answer = Answer {
            suite,
            c_r,
            form: CredentialForm::Value,
        };
        Self::answer(b, rng, now, message_1, answer, creds)
    }

    fn answer<B: Backend>(
        b: &B,
        rng: &dyn SecureRandom,
        now: Instant,
        message_1: &[u8],
        answer: Answer,
        creds: &dyn Credentials,
    ) -> Result<(Self, Vec<u8>), HandshakeError> {
        let Answer { suite, c_r, form } = answer;
        let m1 = Message1::decode(message_1).map_err(malformed(MessageKind::Message1))?;
        let local = creds.local(suite).ok_or(HandshakeError::NoCredential)?;
        if local.signer().public_key().algorithm() != suite.signature() {
            return Err(HandshakeError::NoCredential);
        }
        let id_cred_r = local.id_cred_in(form).ok_or(HandshakeError::NoCredential)?;
        let (y, g_y) = b.ephemeral(rng)?;
        let th_2 = schedule::th_2(b, &g_y, message_1);
        let g_xy = b
            .agree(&y, m1.g_x)
            .map_err(|_| HandshakeError::BadEphemeralKey)?;
        let prk_2e = schedule::prk_2e(b, &th_2, &g_xy);
        let nonce = schedule::handshake_nonce(b, &prk_2e, &th_2)?;

        let ead_2 = creds.ead(&EadRequest {
            slot: EadSlot::Message2,
            now,
            nonce: Some(&nonce),
            peer_ead: &m1.ead,
        });
        let mut ead_2_bytes = Vec::new();
        ead::encode(&ead_2, &mut ead_2_bytes);
        let mut c_r_bytes = Vec::with_capacity(10);
        c_r.encode(&mut c_r_bytes);
        let context_2 = schedule::mac_context(
            &c_r_bytes,
            id_cred_r.map_bytes(),
            &th_2,
            local.cred(),
            &ead_2_bytes,
        );
        let mac_2 = schedule::mac(b, &prk_2e, label::MAC_2, &context_2)?;
        let to_sign = schedule::sig_structure(
            id_cred_r.map_bytes(),
            &th_2,
            local.cred(),
            &ead_2_bytes,
            &mac_2,
        );
        let signature = local.signer().sign(&to_sign)?;
        let mut plaintext_2 = c_r_bytes;
        id_cred_r.encode_compact(&mut plaintext_2);
        cbor::write_bstr(&mut plaintext_2, signature.as_bytes());
        plaintext_2.extend_from_slice(&ead_2_bytes);

        let keystream = schedule::keystream_2(b, &prk_2e, &th_2, plaintext_2.len())?;
        let mut g_y_ciphertext_2 = Vec::with_capacity(X25519_LEN + plaintext_2.len());
        g_y_ciphertext_2.extend_from_slice(&g_y);
        g_y_ciphertext_2.extend(plaintext_2.iter().zip(keystream.iter()).map(|(p, k)| p ^ k));
        let mut message_2 = Vec::with_capacity(g_y_ciphertext_2.len() + 3);
        message::encode_single_bstr(&g_y_ciphertext_2, &mut message_2);

        let th_3 = schedule::th_next(b, &th_2, &plaintext_2, local.cred());
        let k3 = schedule::key_iv(b, &prk_2e, &th_3, suite.aead(), (label::K_3, label::IV_3))?;
        Ok((
            Self {
                suite,
                c_i: m1.c_i,
                c_r,
                prk_3e2m: prk_2e,
                th_3,
                k3,
                nonce,
                since: now,
            },
            message_2,
        ))
    }

    /// The selected suite.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// C_I, the initiator's connection identifier.
    pub fn c_i(&self) -> ConnId {
        self.c_i
    }

    /// The handshake nonce.
    pub fn nonce(&self) -> &HandshakeNonce {
        &self.nonce
    }

    /// Processes message_3 at `now`; returns the completed handshake and message_4. A failure
    /// leaves the state unchanged.
    pub fn process_message_3<B: Backend>(
        &self,
        b: &B,
        now: Instant,
        message_3: &[u8],
        creds: &dyn Credentials,
    ) -> Result<(Completed, Vec<u8>), HandshakeError> {
        let inner =
            message::decode_single_bstr(message_3).map_err(malformed(MessageKind::Message3))?;
        let mut plaintext_3 = inner.to_vec();
        b.open(
            self.suite.aead(),
            &self.k3.key,
            &self.k3.iv,
            &schedule::enc_structure(&self.th_3),
            &mut plaintext_3,
        )
        .map_err(|_| HandshakeError::DecryptFailed {
            message: MessageKind::Message3,
        })?;
        let pt = Plaintext3::decode(&plaintext_3).map_err(malformed(MessageKind::Message3))?;
        let peer = verify_peer(
            b,
            creds,
            HandshakeRole::Initiator,
            self.suite,
            Freshness {
                nonce: &self.nonce,
                since: self.since,
                now,
            },
            Signed {
                c_r: None,
                id_cred: &pt.id_cred,
                th: &self.th_3,
                ead: &pt.ead,
                ead_bytes: pt.ead_bytes,
                signature: pt.signature,
                prk: &self.prk_3e2m,
                mac_label: label::MAC_3,
            },
            None,
        )?;
        let th_4 = schedule::th_next(b, &self.th_3, &plaintext_3, &peer.credential.cred);
        let prk_out = schedule::kdf_secret(b, self.prk_3e2m.expose(), label::PRK_OUT, &th_4)?;
        let k4 = schedule::key_iv(
            b,
            &self.prk_3e2m,
            &th_4,
            self.suite.aead(),
            (label::K_4, label::IV_4),
        )?;
        // PLAINTEXT_4 is empty: this crate sends no EAD_4.
        let mut ciphertext_4 = Vec::with_capacity(self.suite.aead().tag_len());
        b.seal(
            self.suite.aead(),
            &k4.key,
            &k4.iv,
            &schedule::enc_structure(&th_4),
            &mut ciphertext_4,
        )?;
        let mut message_4 = Vec::with_capacity(ciphertext_4.len() + 1);
        message::encode_single_bstr(&ciphertext_4, &mut message_4);
        Ok((
            Completed {
                suite: self.suite,
                c_i: self.c_i,
                c_r: self.c_r,
                peer,
                secret: SessionSecret::new(prk_out)?,
                nonce: self.nonce,
            },
            message_4,
        ))
    }
}

/// The signed part of message_2 or message_3, as received.
struct Signed<'a> {
    c_r: Option<ConnId>,
    id_cred: &'a IdCred,
    th: &'a [u8; HASH_LEN],
    ead: &'a [EadItem],
    ead_bytes: &'a [u8],
    signature: &'a [u8],
    prk: &'a Secret<HASH_LEN>,
    mac_label: u64,
}

/// The handshake nonce, since when it exists on this side, and the current time.
struct Freshness<'a> {
    nonce: &'a HandshakeNonce,
    since: Instant,
    now: Instant,
}

/// Checks the peer in the order the [module](self) documentation gives: resolve, signature,
/// expected device, critical EAD, then the verifier's decision.
fn verify_peer<B: Backend>(
    b: &B,
    creds: &dyn Credentials,
    role: HandshakeRole,
    suite: CipherSuite,
    freshness: Freshness<'_>,
    signed: Signed<'_>,
    expected: Option<DeviceId>,
) -> Result<PeerInfo, HandshakeError> {
    let candidate = PeerCandidate {
        role,
        suite,
        id_cred: signed.id_cred,
        by_value: signed.id_cred.by_value(),
        ead: signed.ead,
        nonce: freshness.nonce,
        nonce_since: freshness.since,
        now: freshness.now,
    };
    let credential = creds.resolve_peer(&candidate).map_err(|r| match r {
        Refusal::UnknownCredential => HandshakeError::Refused(r),
        other => HandshakeError::Unresolved(other),
    })?;
    if credential.key.algorithm() != suite.signature() {
        return Err(HandshakeError::KeyAlgorithmMismatch);
    }
    let mut c_r_bytes = Vec::new();
    if let Some(c_r) = signed.c_r {
        c_r.encode(&mut c_r_bytes);
    }
    let context = schedule::mac_context(
        &c_r_bytes,
        signed.id_cred.map_bytes(),
        signed.th,
        &credential.cred,
        signed.ead_bytes,
    );
    let mac = schedule::mac(b, signed.prk, signed.mac_label, &context)?;
    let to_verify = schedule::sig_structure(
        signed.id_cred.map_bytes(),
        signed.th,
        &credential.cred,
        signed.ead_bytes,
        &mac,
    );
    b.verify(&credential.key, &to_verify, signed.signature)
        .map_err(|_| HandshakeError::BadSignature)?;
    let device = credential.key.device_id();
    if let Some(expected) = expected
        && expected != device
    {
        return Err(HandshakeError::UnexpectedPeer {
            expected,
            found: device,
        });
    }
    if let Some(label) = ead::first_unknown_critical(signed.ead, |l| creds.understands_ead(l)) {
        return Err(HandshakeError::CriticalEad { label });
    }
    creds
        .admit_peer(&candidate, &credential)
        .map_err(HandshakeError::Refused)?;
    Ok(PeerInfo {
        device,
        id_cred: signed.id_cred.clone(),
        credential,
        ead: signed.ead.to_vec(),
    })
}
