//! The exchange's codec (byte vectors, bad-input table, round trips) and both state machines
//! driven against each other byte by byte.

use alloc::collections::BTreeMap;
use alloc::vec;

use iomt_identity::{
    Algorithm, AppraisalConfig, AttestationResult, DebugState, Evidence, FirmwareVersion,
    Measurement, Mission, ReferenceValues, SoftwareKey, TrustPackage,
};
use proptest::prelude::*;
use ring::rand::SystemRandom;

use super::*;
use crate::credential::HandshakeNonce;

const T0: u64 = 1_800_000_000_000;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

#[test]
fn byte_vectors() {
    let cases: &[(BackhaulMessage<'_>, &[u8])] = &[
        (
            BackhaulMessage::Request {
                result: true,
                evidence: false,
                round: &[0x5a; ROUND_LEN],
            },
            &[
                0x01, 0x00, 0x11, 0x01, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
            ],
        ),
        (
            BackhaulMessage::Request {
                result: true,
                evidence: true,
                round: &[0; ROUND_LEN],
            },
            &[
                0x01, 0x00, 0x11, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        ),
        (
            BackhaulMessage::Attestation {
                result: &[0xaa, 0xbb],
                evidence: None,
            },
            &[0x02, 0x00, 0x06, 0x00, 0x02, 0xaa, 0xbb, 0x00, 0x00],
        ),
        (
            BackhaulMessage::Attestation {
                result: &[0xaa],
                evidence: Some(&[0xcc]),
            },
            &[0x02, 0x00, 0x06, 0x00, 0x01, 0xaa, 0x00, 0x01, 0xcc],
        ),
        (
            BackhaulMessage::Verdict(Verdict::Accepted),
            &[0x03, 0x00, 0x01, 0x00],
        ),
        (
            BackhaulMessage::Verdict(Verdict::Refused),
            &[0x03, 0x00, 0x01, 0x02],
        ),
    ];
    for (message, bytes) in cases {
        let mut out = Vec::new();
        message.encode(&mut out).unwrap();
        assert_eq!(out, *bytes, "{message:?}");
        assert_eq!(BackhaulMessage::decode(bytes), Ok((*message, bytes.len())));
        let mut longer = bytes.to_vec();
        longer.extend_from_slice(b"app data");
        assert_eq!(
            BackhaulMessage::decode(&longer),
            Ok((*message, bytes.len())),
            "what follows is not the message's"
        );
    }
}

#[test]
fn bad_messages_table() {
    let too_large = [0x02, 0x20, 0x01];
    let cases: &[(&str, &[u8], MessageError)] = &[
        ("empty", &[], MessageError::Truncated),
        ("header cut", &[0x01, 0x00], MessageError::Truncated),
        ("body cut", &[0x01, 0x00, 0x01], MessageError::Truncated),
        (
            "unknown type",
            &[0x07, 0x00, 0x00],
            MessageError::UnknownType(7),
        ),
        (
            "type zero",
            &[0x00, 0x00, 0x00],
            MessageError::UnknownType(0),
        ),
        ("over the limit", &too_large, MessageError::TooLarge),
        (
            "unknown flag",
            &[0x01, 0x00, 0x01, 0x04],
            MessageError::Malformed,
        ),
        (
            "request of two bytes",
            &[0x01, 0x00, 0x02, 0x01, 0x00],
            MessageError::Malformed,
        ),
        (
            "empty request",
            &[0x01, 0x00, 0x00],
            MessageError::Malformed,
        ),
        (
            "unknown verdict",
            &[0x03, 0x00, 0x01, 0x04],
            MessageError::Malformed,
        ),
        (
            "empty verdict",
            &[0x03, 0x00, 0x00],
            MessageError::Malformed,
        ),
        (
            "empty result",
            &[0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00],
            MessageError::Malformed,
        ),
        (
            "result longer than the body",
            &[0x02, 0x00, 0x04, 0x00, 0x09, 0xaa, 0xbb],
            MessageError::Malformed,
        ),
        (
            "evidence length short",
            &[0x02, 0x00, 0x06, 0x00, 0x01, 0xaa, 0x00, 0x00, 0xcc],
            MessageError::Malformed,
        ),
        (
            "evidence length long",
            &[0x02, 0x00, 0x06, 0x00, 0x01, 0xaa, 0x00, 0x02, 0xcc],
            MessageError::Malformed,
        ),
        (
            "no evidence length",
            &[0x02, 0x00, 0x03, 0x00, 0x01, 0xaa],
            MessageError::Truncated,
        ),
    ];
    for (name, bytes, expected) in cases {
        assert_eq!(BackhaulMessage::decode(bytes), Err(*expected), "{name}");
    }
    let mut out = vec![9];
    assert_eq!(
        BackhaulMessage::Attestation {
            result: &[],
            evidence: None
        }
        .encode(&mut out),
        Err(MessageError::Malformed)
    );
    let big = vec![0; MAX_BODY];
    assert_eq!(
        BackhaulMessage::Attestation {
            result: &big,
            evidence: None
        }
        .encode(&mut out),
        Err(MessageError::TooLarge)
    );
    assert_eq!(out, [9], "a failed encoding leaves the output as it was");
}

fn message() -> impl Strategy<Value = (u8, Vec<u8>, Option<Vec<u8>>)> {
    (
        0u8..6,
        proptest::collection::vec(any::<u8>(), 1..300),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 1..300)),
    )
}

proptest! {
    #[test]
    fn round_trips((kind, a, b) in message()) {
        let m = match kind {
            0 => BackhaulMessage::Request {
                result: a[0] & 1 == 1,
                evidence: a[0] & 2 == 2,
                round: &[a[0]; ROUND_LEN],
            },
            1 => BackhaulMessage::Verdict(Verdict::from_code(a[0] % 4).unwrap()),
            _ => BackhaulMessage::Attestation { result: &a, evidence: b.as_deref() },
        };
        let mut out = Vec::new();
        m.encode(&mut out).unwrap();
        prop_assert_eq!(BackhaulMessage::decode(&out), Ok((m, out.len())));
    }

    #[test]
    fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok((m, n)) = BackhaulMessage::decode(&bytes) {
            let mut out = Vec::new();
            m.encode(&mut out).unwrap();
            prop_assert_eq!(&out[..], &bytes[..n]);
        }
    }
}

struct Mission1 {
    verifier_key: Arc<SoftwareKey>,
    trust: Arc<RwLock<TrustStore>>,
    device: SoftwareKey,
    result: Vec<u8>,
}

fn reference() -> ReferenceValues {
    let mut r = ReferenceValues {
        min_firmware: FirmwareVersion::new(2, 0, 0),
        require_secure_boot: true,
        ..ReferenceValues::default()
    };
    r.allow("app", Measurement::of(0, "app", b"app 2").digest);
    r
}

fn mission() -> Mission1 {
    let rng = SystemRandom::new();
    let authority = SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap();
    let verifier_key = Arc::new(SoftwareKey::generate(Algorithm::Ed25519, &rng).unwrap());
    let package = TrustPackage {
        sequence: 1,
        verifiers: vec![verifier_key.public_key()],
        reference: reference(),
        ..TrustPackage::default()
    }
    .sign(&authority)
    .unwrap();
    let mut trust = TrustStore::new(
        authority.public_key(),
        Mission::new("op-test").unwrap(),
        iomt_identity::TrustStart::FirstBoot,
    )
    .unwrap();
    trust.apply_package(&package).unwrap();
    let device = SoftwareKey::generate(Algorithm::EcdsaP256, &rng).unwrap();
    let result = AttestationResult {
        device: device.public_key().device_id(),
        key: device.public_key(),
        tier: Tier::Affirming,
        statuses: BTreeMap::new(),
        issued_at: at(T0),
        expires_at: at(T0 + 60_000),
    }
    .sign(&*verifier_key)
    .unwrap();
    Mission1 {
        verifier_key,
        trust: Arc::new(RwLock::new(trust)),
        device,
        result,
    }
}

fn evidence(key: &SoftwareKey, nonce: &Nonce, now: Timestamp, app: &[u8]) -> Vec<u8> {
    Evidence {
        device: key.public_key().device_id(),
        nonce: nonce.clone(),
        issued_at: now,
        secure_boot: true,
        debug: DebugState::DisabledPermanently,
        firmware: FirmwareVersion::new(2, 1, 0),
        measurements: vec![Measurement::of(0, "app", app)],
    }
    .sign(key)
    .unwrap()
}

/// What the server and the client made of the exchange, if it ended.
type Outcomes = (
    Option<Result<Attested, AttestError>>,
    Option<Result<(), AttestError>>,
);

/// Runs the exchange, moving `chunk` bytes at a time each way. Returns both outcomes.
fn exchange(
    server: &mut PostHandshakeVerifier,
    client: &mut PostHandshakeAttester,
    chunk: usize,
) -> Outcomes {
    let now = at(T0 + 100);
    let (mut s_out, mut c_out) = (None, None);
    for _ in 0..100 {
        let mut bytes = Vec::new();
        let _ = server.poll_transmit(&mut bytes);
        for piece in bytes.chunks(chunk) {
            let mut offset = 0;
            while offset < piece.len() && c_out.is_none() {
                match client.handle_input(now, &piece[offset..]) {
                    Ok(p) => {
                        offset += p.consumed;
                        if p.done.is_some() {
                            c_out = Some(Ok(()));
                        }
                    }
                    Err(e) => c_out = Some(Err(e)),
                }
            }
        }
        let mut bytes = Vec::new();
        let _ = client.poll_transmit(&mut bytes);
        for piece in bytes.chunks(chunk) {
            let mut offset = 0;
            while offset < piece.len() && s_out.is_none() {
                match server.handle_input(now, &piece[offset..]) {
                    Ok(p) => {
                        offset += p.consumed;
                        if let Some(a) = p.done {
                            s_out = Some(Ok(a));
                        }
                    }
                    Err(e) => s_out = Some(Err(e)),
                }
            }
        }
        if s_out.is_some() && c_out.is_some() {
            break;
        }
    }
    (s_out, c_out)
}

#[test]
fn result_only_in_any_chunking() {
    let m = mission();
    let policy = Arc::new(BackhaulPolicy::new(m.trust.clone()));
    let binding = HandshakeNonce([3; 32]);
    for chunk in [1, 2, 3, 7, 1000] {
        let mut server = PostHandshakeVerifier::new(
            &binding,
            m.device.public_key(),
            policy.clone(),
            at(T0),
            &SystemRandom::new(),
        )
        .unwrap();
        let mut client = PostHandshakeAttester::new(&binding, m.result.clone(), None).unwrap();
        let (s, c) = exchange(&mut server, &mut client, chunk);
        let attested = s.unwrap().unwrap();
        assert!(!attested.fresh_evidence);
        assert_eq!(attested.result.key(), &m.device.public_key());
        assert_eq!(c, Some(Ok(())), "chunk {chunk}");
        assert!(server.outcome().is_some_and(Result::is_ok));
    }
}

fn with_evidence(
    m: &Mission1,
    server_binding: &HandshakeNonce,
    client_binding: &HandshakeNonce,
    attester: Option<Arc<dyn Attester>>,
) -> Outcomes {
    let verifier = AttestationVerifier::new(m.verifier_key.clone(), AppraisalConfig::default());
    let policy = Arc::new(BackhaulPolicy::new(m.trust.clone()).require_fresh_evidence(verifier));
    let mut server = PostHandshakeVerifier::new(
        server_binding,
        m.device.public_key(),
        policy,
        at(T0),
        &SystemRandom::new(),
    )
    .unwrap();
    let mut client =
        PostHandshakeAttester::new(client_binding, m.result.clone(), attester).unwrap();
    exchange(&mut server, &mut client, 5)
}

#[test]
fn fresh_evidence_must_be_over_the_servers_own_binding() {
    let m = mission();
    let device = Arc::new(SoftwareKey::from_pkcs8(&m.device.to_pkcs8()).unwrap());
    let honest = |app: &'static [u8]| -> Arc<dyn Attester> {
        let key = device.clone();
        Arc::new(move |nonce: &Nonce, now| Some(evidence(&key, nonce, now, app)))
    };
    let binding = HandshakeNonce([5; 32]);
    let (s, c) = with_evidence(&m, &binding, &binding, Some(honest(b"app 2")));
    assert!(s.unwrap().unwrap().fresh_evidence);
    assert_eq!(c, Some(Ok(())));

    // The client's view of the session differs (a relay in the middle): refused.
    let (s, c) = with_evidence(
        &m,
        &binding,
        &HandshakeNonce([6; 32]),
        Some(honest(b"app 2")),
    );
    assert_eq!(
        s,
        Some(Err(AttestError::Appraisal(AppraisalError::NonceMismatch)))
    );
    assert_eq!(c, Some(Err(AttestError::Refused(Verdict::Refused))));

    // No attester: unattested.
    let (s, c) = with_evidence(&m, &binding, &binding, None);
    assert_eq!(s, Some(Err(AttestError::Unattested)));
    assert_eq!(c, Some(Err(AttestError::Refused(Verdict::Unattested))));

    // Evidence of unknown software: not affirming.
    let (s, c) = with_evidence(&m, &binding, &binding, Some(honest(b"implant")));
    assert_eq!(
        s,
        Some(Err(AttestError::NotAffirming(Tier::Contraindicated)))
    );
    assert_eq!(c, Some(Err(AttestError::Refused(Verdict::Refused))));
}

#[test]
fn refusals_and_protocol_errors_are_sticky() {
    let m = mission();
    let policy = Arc::new(BackhaulPolicy::new(m.trust.clone()));
    let binding = HandshakeNonce([9; 32]);
    let stranger = SoftwareKey::generate(Algorithm::Ed25519, &SystemRandom::new()).unwrap();
    // The result is not bound to the certificate's key.
    let mut server = PostHandshakeVerifier::new(
        &binding,
        stranger.public_key(),
        policy.clone(),
        at(T0),
        &SystemRandom::new(),
    )
    .unwrap();
    let mut client = PostHandshakeAttester::new(&binding, m.result.clone(), None).unwrap();
    let (s, c) = exchange(&mut server, &mut client, 64);
    let wrong_key = ResultError::WrongKey {
        bound: m.device.public_key().short_id(),
        peer: stranger.public_key().short_id(),
    };
    assert_eq!(s, Some(Err(AttestError::Result(wrong_key))));
    assert_eq!(c, Some(Err(AttestError::Refused(Verdict::Refused))));
    assert!(matches!(
        server.handle_input(at(T0), &[0x02]),
        Err(AttestError::Result(ResultError::WrongKey { .. }))
    ));

    // Expired by the time it arrives.
    let mut server = PostHandshakeVerifier::new(
        &binding,
        m.device.public_key(),
        policy.clone(),
        at(T0),
        &SystemRandom::new(),
    )
    .unwrap();
    let _ = server.poll_transmit(&mut Vec::new());
    let mut attestation = Vec::new();
    BackhaulMessage::Attestation {
        result: &m.result,
        evidence: None,
    }
    .encode(&mut attestation)
    .unwrap();
    assert!(matches!(
        server.handle_input(at(T0 + 60_000), &attestation),
        Err(AttestError::Result(ResultError::Expired { .. }))
    ));

    // A server that gets a request instead of an attestation answers "malformed".
    let mut server = PostHandshakeVerifier::new(
        &binding,
        m.device.public_key(),
        policy,
        at(T0),
        &SystemRandom::new(),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    assert_eq!(
        server.handle_input(at(T0), &out),
        Err(AttestError::Unexpected)
    );
    let mut verdict = Vec::new();
    let _ = server.poll_transmit(&mut verdict);
    assert_eq!(verdict, [0x03, 0x00, 0x01, 0x03]);

    // A client that gets a verdict before any request.
    let mut client = PostHandshakeAttester::new(&binding, m.result.clone(), None).unwrap();
    assert_eq!(
        client.handle_input(at(T0), &[0x03, 0x00, 0x01, 0x00]),
        Err(AttestError::Unexpected)
    );
    assert_eq!(
        client.handle_input(at(T0), &[0x01, 0x00, 0x01, 0x01]),
        Err(AttestError::Unexpected),
        "sticky"
    );
    // A frame longer than the limit is refused from its header alone.
    let mut client = PostHandshakeAttester::new(&binding, m.result.clone(), None).unwrap();
    assert_eq!(
        client.handle_input(at(T0), &[0x01, 0xff, 0xff]),
        Err(AttestError::Message(MessageError::TooLarge))
    );
    assert_eq!(
        PostHandshakeAttester::new(&Short, m.result.clone(), None).err(),
        Some(AttestError::BadBinding)
    );
}

struct Short;

impl ChannelBinding for Short {
    fn channel_binding(&self) -> &[u8] {
        &[1, 2, 3]
    }
}

#[test]
fn application_data_after_the_verdict_is_left_alone() {
    let m = mission();
    let policy = Arc::new(BackhaulPolicy::new(m.trust.clone()));
    let binding = HandshakeNonce([4; 32]);
    let mut server = PostHandshakeVerifier::new(
        &binding,
        m.device.public_key(),
        policy,
        at(T0),
        &SystemRandom::new(),
    )
    .unwrap();
    let mut client = PostHandshakeAttester::new(&binding, m.result.clone(), None).unwrap();
    let mut wire = Vec::new();
    let _ = server.poll_transmit(&mut wire);
    let p = client.handle_input(at(T0), &wire).unwrap();
    assert_eq!((p.consumed, p.done), (wire.len(), None));
    let mut wire = Vec::new();
    let _ = client.poll_transmit(&mut wire);
    wire.extend_from_slice(b"GET /picture");
    let p = server.handle_input(at(T0), &wire).unwrap();
    assert_eq!(p.consumed, wire.len() - b"GET /picture".len());
    assert!(p.done.is_some());
    let mut wire = Vec::new();
    let _ = server.poll_transmit(&mut wire);
    wire.extend_from_slice(b"picture follows");
    let p = client.handle_input(at(T0), &wire).unwrap();
    assert_eq!(p.consumed, 4);
    assert_eq!(p.done, Some(()));
    assert_eq!(client.handle_input(at(T0), b"more").unwrap().consumed, 0);
}
