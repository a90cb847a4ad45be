//! Entry points for the `cargo fuzz` targets in `fuzz/fuzz_targets/` (built with `--cfg fuzzing`).
//!
//! Each decoder must never panic; what it accepts must decode the same way twice, its payload
//! must be the one encoding of its claims, and the claims must re-sign into an object that
//! verifies to the same claims (the signature differs, the content may not).
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "fuzz hooks report failures by panicking"
)]

use crate::attest::{AttestationResult, Evidence};
use crate::credential::{Credential, Mission};
use crate::key::SoftwareKey;
use crate::package::TrustPackage;
use crate::revocation::{RevocationDelta, RevocationSet};
use crate::signed::{SignedObject, Unverified};
use crate::snapshot::{TrustSnapshot, TrustStart};
use crate::trust::{TrustConfig, TrustStore};

fn key() -> SoftwareKey {
    SoftwareKey::from_ed25519_seed(&[7; 32]).expect("fixed seed")
}

/// The one parse of every signed object: what it accepts decodes the same way twice, and its
/// payload is exactly the encoding of the claims read from it (the reader refused every other
/// form). Returns the claims, not verified.
fn decode<T: SignedObject + Clone + PartialEq + core::fmt::Debug>(data: &[u8]) -> Option<T> {
    let decoded = Unverified::<T>::decode(data).ok()?;
    assert_eq!(Unverified::<T>::decode(data).as_ref(), Ok(&decoded));
    assert!(
        decoded.payload_is_canonical(),
        "accepted payloads are canonical"
    );
    Some(decoded.claims_unverified().clone())
}

/// `signed`, made by the fuzz key, verifies under it to `claims`.
fn verifies_to<T: SignedObject + PartialEq + core::fmt::Debug>(signed: &[u8], claims: &T) {
    let again = Unverified::<T>::decode(signed).expect("re-signed object decodes");
    assert_eq!(again.verify(&key().public_key()).as_ref(), Ok(claims));
}

/// Compact credential decoder, and verification against a store that trusts the re-signer.
pub fn credential(data: &[u8]) {
    let Some(claims) = decode::<Credential>(data) else {
        return;
    };
    let signer = key();
    let again = claims.sign(&signer).expect("decoded claims re-sign");
    verifies_to(&again, &claims);
    let store = TrustStore::new(
        signer.public_key(),
        claims.mission.clone(),
        TrustStart::FirstBoot,
    )
    .expect("a first boot always succeeds");
    assert!(
        store.verify_credential(&again, claims.not_before).is_ok(),
        "re-signed by the anchor verifies"
    );
}

/// Evidence decoder.
pub fn evidence(data: &[u8]) {
    let Some(mut claims) = decode::<Evidence>(data) else {
        return;
    };
    let signer = key();
    claims.device = signer.public_key().device_id();
    let again = claims.sign(&signer).expect("decoded evidence re-signs");
    verifies_to(&again, &claims);
}

/// Attestation result decoder.
pub fn result(data: &[u8]) {
    let Some(claims) = decode::<AttestationResult>(data) else {
        return;
    };
    let again = claims.sign(&key()).expect("decoded result re-signs");
    verifies_to(&again, &claims);
}

/// Trust package decoder, then installation by a store provisioned with the fuzz key.
pub fn trust_package(data: &[u8]) {
    let Some(package) = decode::<TrustPackage>(data) else {
        return;
    };
    let signer = key();
    let again = package.sign(&signer).expect("decoded package re-signs");
    verifies_to(&again, &package);
    let mission = Mission::new("fuzz").expect("valid mission");
    let mut store = TrustStore::new(signer.public_key(), mission, TrustStart::FirstBoot)
        .expect("a first boot always succeeds");
    let _ = store.apply_package(&again);
}

/// Revocation delta decoder; merging what it accepts is idempotent and order-independent.
pub fn revocation(data: &[u8]) {
    let Some(delta) = decode::<RevocationDelta>(data) else {
        return;
    };
    let mut forward = RevocationSet::new(RevocationSet::DEFAULT_CAPACITY);
    let mut backward = RevocationSet::new(RevocationSet::DEFAULT_CAPACITY);
    for r in &delta.entries {
        forward.insert(*r);
    }
    for r in delta.entries.iter().rev() {
        backward.insert(*r);
    }
    let before: Vec<_> = forward.entries().collect();
    for r in &delta.entries {
        assert!(!forward.insert(*r), "merging twice changes nothing");
    }
    assert_eq!(forward.entries().collect::<Vec<_>>(), before);
    assert_eq!(backward.entries().collect::<Vec<_>>(), before);
}

/// Trust snapshot decoder: what it accepts re-encodes to the same bytes, and restoring it into
/// a store of its own authority and mission never panics; a store it restores snapshots back
/// into something the decoder accepts.
pub fn trust_snapshot(data: &[u8]) {
    let config = TrustConfig::default();
    let Ok(snapshot) = TrustSnapshot::decode(data, &config) else {
        return;
    };
    assert_eq!(snapshot.encode(), data, "accepted snapshots are canonical");
    let restored = TrustStore::with_config(
        *snapshot.package_authority(),
        snapshot.mission().clone(),
        config,
        TrustStart::Restore(snapshot.clone()),
    );
    if let Ok(store) = restored {
        assert_eq!(store.revision(), snapshot.revision());
        let again = store.snapshot().encode();
        TrustSnapshot::decode(&again, &config).expect("a restored store's snapshot decodes");
    }
}
