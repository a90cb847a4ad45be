//! Enrolment and the life of a device's trust, offline.
//!
//! The mission authority provisions the mission and enrols a device through
//! `iomt::identity::enrol`: the device answers a challenge with its key and evidence, the
//! authority appraises it and issues an attestation result and a credential (compact and
//! X.509), and the device checks them through its own trust store. A peer verifies credential
//! and result offline and trusts the device. Then the device's firmware digest
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

use iomt::identity::enrol::{MissionAuthority, MissionConfig, Platform};
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
    let now = at(t0)?;

    // What every device of the mission runs, as its boot chain measures it.
    let platform = Platform {
        secure_boot: true,
        debug: DebugState::DisabledPermanently,
        firmware: FirmwareVersion::new(4, 2, 0),
        measurements: vec![
            Measurement::of(0, "bootloader", b"bootloader v3"),
            Measurement::of(1, "kernel", b"kernel 6.1 hardened"),
            Measurement::of(2, "radio-fw", b"radio firmware 4.2"),
        ],
    };

    // Provisioning: the mission authority (with its attestation verifier) and the trust
    // package every device carries (anchors, verifier keys, reference values, policy digest).
    let mut reference = ReferenceValues {
        min_firmware: FirmwareVersion::new(4, 0, 0),
        require_secure_boot: true,
        require_debug_disabled: true,
        ..ReferenceValues::default()
    };
    for m in &platform.measurements {
        reference.allow(&m.component, m.digest);
    }
    let config = MissionConfig::new(Mission::new("op-nordic")?, reference);
    let mut authority = MissionAuthority::generate(config, now, &rng)?;
    let provisioning = authority.provisioning().clone();
    let policy = &provisioning.policy;
    let mut peers = [provisioning.trust_store()?, provisioning.trust_store()?];
    println!(
        "trust package #1: {} bytes, installed on 2 peers",
        provisioning.package.len()
    );

    // The device (an ES256 key, EDHOC suite 6) answers the authority's challenge with its key
    // and evidence; the authority appraises it and issues a result and a credential in both
    // forms (compact for the radio, X.509 for TLS).
    let device = SoftwareKey::generate(Algorithm::EcdsaP256, &rng)?;
    let device_id = device.public_key().device_id();
    let challenge = Challenge::new(&rng, now)?;
    let request = platform.request(&device, challenge.nonce(), now)?;
    let roles = Roles::EMPTY.with(Role::Operator).with(Role::Relay);
    let enrolment = authority.enrol(challenge, &request, roles, now)?;
    // The device checks what it received through its own trust store before installing it.
    let own = enrolment.verify(&provisioning.trust_store()?, &device.public_key(), now)?;
    println!(
        "device {device_id}: evidence {} bytes appraised {:?}; attestation result {} bytes",
        request.evidence.len(),
        own.result.tier(),
        enrolment.result.len()
    );
    println!(
        "compact credential: {} bytes (serial {}); X.509 certificate: {} bytes",
        enrolment.credential.len(),
        own.credential.serial(),
        enrolment.certificate.len()
    );
    let (credential, result) = (&enrolment.credential, &enrolment.result);

    // A peer verifies credential and result offline, and trusts the device.
    let later = at(t0 + MINUTE)?;
    let verified = peers[0].verify_credential(credential, later)?;
    let mut state = PeerTrust::new(&verified);
    let passport = peers[0].verify_result(result, verified.public_key(), later)?;
    state.on_result(&passport, later)?;
    println!(
        "peer 1: {:?}; may relay: {}",
        state.state(),
        state.may(policy, Action::Relay)
    );

    // The device's radio firmware digest changes. Re-attestation contraindicates it.
    let now = at(t0 + 5 * MINUTE)?;
    let mut implanted = platform.clone();
    implanted.measurements[2] = Measurement::of(2, "radio-fw", b"radio firmware 4.2 + implant");
    let challenge = Challenge::new(&rng, now)?;
    let evidence = implanted.evidence(&device, challenge.nonce(), now)?;
    let attested = authority.attest(challenge, &device.public_key(), &evidence, now)?;
    println!(
        "re-attestation: {:?}, findings {:?}",
        attested.appraisal.tier(),
        attested.appraisal.findings()
    );
    let bad_result = attested.result;
    let passport = peers[0].verify_result(&bad_result, verified.public_key(), now)?;
    state.on_result(&passport, now)?;
    println!(
        "peer 1: {:?}; may reach a command post: {}, may relay: {}",
        state.state(),
        state.may(policy, Action::ReachCommandPost),
        state.may(policy, Action::Relay)
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
    .sign(authority.authority())?;
    println!("revocation delta: {} bytes", delta.len());
    for (i, peer) in peers.iter_mut().enumerate() {
        let changed = peer.apply_revocation(&delta)?;
        let again = peer.apply_revocation(&delta)?;
        let refused = peer
            .verify_credential(credential, now)
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
        state.may(policy, Action::ReachCommandPost)
    );
    Ok(())
}
