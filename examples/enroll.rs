//! Enrolment and the life of a device's trust, offline.
//!
//! A device proves its state to a verifier and receives an attestation result and a
//! credential; a peer verifies both offline and trusts it. Then the device's firmware digest
//! changes: re-attestation contraindicates it and the peer quarantines it (it may still reach a
//! command post, never relay). Finally a revocation delta floods through the mission and every
//! peer refuses it.
//!
//! ```sh
//! cargo run --example enroll
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "example code keeps to the calls it shows: a failed step stops it where it happened"
)]

use std::error::Error;

use iomt::identity::*;
use iomt::rand::SystemRandom;
use iomt::schema::Timestamp;

const MINUTE: u64 = 60_000;

fn at(ms: u64) -> Result<Timestamp, Box<dyn Error>> {
    Timestamp::from_millis(ms).ok_or_else(|| "timestamp out of range".into())
}

fn main() -> Result<(), Box<dyn Error>> {
    let rng = SystemRandom::new();
    let t0 = 1_800_000_000_000;
    let mission = Mission::new("op-nordic")?;

    // Provisioning: the mission authority and the attestation verifier, and the trust package
    // every device carries (anchors, verifier keys, reference values, policy digest).
    let authority = SoftwareKey::generate(Algorithm::Ed25519, &rng)?;
    let verifier_key = SoftwareKey::generate(Algorithm::Ed25519, &rng)?;
    let verifier_public = verifier_key.public_key();
    let verifier = AttestationVerifier::new(verifier_key, AppraisalConfig::default());
    let firmware = [
        Measurement::of(0, "bootloader", b"bootloader v3"),
        Measurement::of(1, "kernel", b"kernel 6.1 hardened"),
        Measurement::of(2, "radio-fw", b"radio firmware 4.2"),
    ];
    let mut reference = ReferenceValues {
        min_firmware: FirmwareVersion::new(4, 0, 0),
        require_secure_boot: true,
        require_debug_disabled: true,
        ..ReferenceValues::default()
    };
    for m in &firmware {
        reference.allow(&m.component, m.digest);
    }
    let policy = Policy::default();
    let package = TrustPackage {
        sequence: 1,
        verifiers: vec![verifier_public],
        reference,
        policy_digest: policy.digest(),
        ..TrustPackage::default()
    }
    .sign(&authority)?;
    let provision = || -> Result<TrustStore, Box<dyn Error>> {
        let mut trust = TrustStore::new(
            authority.public_key(),
            mission.clone(),
            TrustStart::FirstBoot,
        )?;
        trust.apply_package(&package)?;
        trust.install_policy(Policy::default())?;
        Ok(trust)
    };
    let verifier_trust = provision()?;
    let mut peers = [provision()?, provision()?];
    println!(
        "trust package #1: {} bytes, installed on the verifier and 2 peers",
        package.len()
    );

    // The device (an ES256 key, EDHOC suite 6) proves its state to the verifier.
    let device = SoftwareKey::generate(Algorithm::EcdsaP256, &rng)?;
    let device_id = device.public_key().device_id();
    let now = at(t0)?;
    let challenge = Challenge::new(&rng, now)?;
    let evidence = Evidence {
        device: device_id,
        nonce: challenge.nonce().clone(),
        issued_at: now,
        secure_boot: true,
        debug: DebugState::DisabledPermanently,
        firmware: FirmwareVersion::new(4, 2, 0),
        measurements: firmware.to_vec(),
    };
    let signed_evidence = evidence.sign(&device)?;
    let appraisal = verifier.appraise(
        challenge,
        &device.public_key(),
        &signed_evidence,
        verifier_trust.reference_values(),
        now,
    )?;
    let result = verifier.sign_result(&appraisal)?;
    println!(
        "device {device_id}: evidence {} bytes appraised {:?}; attestation result {} bytes",
        signed_evidence.len(),
        appraisal.tier(),
        result.len()
    );

    // The authority issues its credential (compact form for the radio).
    let credential = Credential {
        subject: device.public_key(),
        mission: mission.clone(),
        roles: Roles::EMPTY.with(Role::Operator).with(Role::Relay),
        not_before: now,
        not_after: at(t0 + 24 * 60 * MINUTE)?,
        serial: 1,
    }
    .sign(&authority)?;
    println!("compact credential: {} bytes", credential.len());

    // A peer verifies credential and result offline, and trusts the device.
    let later = at(t0 + MINUTE)?;
    let verified = peers[0].verify_credential(&credential, later)?;
    let mut state = PeerTrust::new(&verified);
    let passport = peers[0].verify_result(&result, verified.public_key(), later)?;
    state.on_result(&passport, later)?;
    println!(
        "peer 1: {:?}; may relay: {}",
        state.state(),
        state.may(&policy, Action::Relay)
    );

    // The device's radio firmware digest changes. Re-attestation contraindicates it.
    let now = at(t0 + 5 * MINUTE)?;
    let challenge = Challenge::new(&rng, now)?;
    let mut tampered = evidence.clone();
    tampered.nonce = challenge.nonce().clone();
    tampered.issued_at = now;
    tampered.measurements[2] = Measurement::of(2, "radio-fw", b"radio firmware 4.2 + implant");
    let appraisal = verifier.appraise(
        challenge,
        &device.public_key(),
        &tampered.sign(&device)?,
        verifier_trust.reference_values(),
        now,
    )?;
    println!(
        "re-attestation: {:?}, findings {:?}",
        appraisal.tier(),
        appraisal.findings()
    );
    let bad_result = verifier.sign_result(&appraisal)?;
    let passport = peers[0].verify_result(&bad_result, verified.public_key(), now)?;
    state.on_result(&passport, now)?;
    println!(
        "peer 1: {:?}; may reach a command post: {}, may relay: {}",
        state.state(),
        state.may(&policy, Action::ReachCommandPost),
        state.may(&policy, Action::Relay)
    );

    // The authority revokes the device; the delta floods through the mesh.
    let delta = RevocationDelta {
        sequence: 1,
        entries: vec![Revocation {
            target: RevocationTarget::Device(device_id),
            reason: RevocationReason::Contraindicated,
            at: now,
        }],
    }
    .sign(&authority)?;
    println!("revocation delta: {} bytes", delta.len());
    for (i, peer) in peers.iter_mut().enumerate() {
        let changed = peer.apply_revocation(&delta)?;
        let again = peer.apply_revocation(&delta)?;
        let refused = peer
            .verify_credential(&credential, now)
            .map(|_| ())
            .unwrap_err();
        println!(
            "peer {}: merged {changed} (again: {again}); credential refused: {refused}",
            i + 1
        );
    }
    state.on_revocations(peers[0].revocations());
    println!(
        "peer 1: {:?}; may reach a command post: {}",
        state.state(),
        state.may(&policy, Action::ReachCommandPost)
    );
    Ok(())
}
