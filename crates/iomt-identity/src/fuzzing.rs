//! Entry points for the `cargo fuzz` targets in `fuzz/fuzz_targets/` (built with `--cfg fuzzing`).
//!
//! Each decoder must never panic; what it accepts must decode the same way twice, and the
//! claims it returns must re-sign into an object that decodes to the same claims (the
//! signature differs, the content may not).
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "fuzz hooks report failures by panicking"
)]

use crate::attest::{AttestationResult, Evidence};
use crate::credential::UnverifiedCredential;
use crate::key::{Signer, SoftwareKey};
use crate::package::TrustPackage;
use crate::revocation::{RevocationDelta, RevocationSet};
use crate::snapshot::{TrustSnapshot, TrustStart};
use crate::trust::{TrustConfig, TrustStore};

fn key() -> SoftwareKey {
    SoftwareKey::from_ed25519_seed(&[7; 32]).expect("fixed seed")
}

/// Compact credential decoder, and verification against a store that trusts nothing.
pub fn credential(data: &[u8]) {
    let Ok(decoded) = UnverifiedCredential::decode(data) else {
        return;
    };
    assert_eq!(UnverifiedCredential::decode(data).as_ref(), Ok(&decoded));
    let signer = key();
    let again = decoded
        .claims()
        .sign(&signer)
        .expect("decoded claims re-sign");
    let redecoded = UnverifiedCredential::decode(&again).expect("re-signed credential decodes");
    assert_eq!(redecoded.claims(), decoded.claims());
    let store = TrustStore::new(
        signer.public_key(),
        decoded.claims().mission.clone(),
        TrustStart::FirstBoot,
    )
    .expect("a first boot always succeeds");
    let now = decoded.claims().not_before;
    assert!(
        store.verify_credential(&again, now).is_ok(),
        "re-signed by the anchor verifies"
    );
}

/// Evidence decoder.
pub fn evidence(data: &[u8]) {
    let Ok((claims, _kid)) = Evidence::decode(data) else {
        return;
    };
    let signer = key();
    let mut claims = claims;
    claims.device = signer.public_key().device_id();
    let again = claims.sign(&signer).expect("decoded evidence re-signs");
    assert_eq!(Evidence::decode(&again).map(|(e, _)| e), Ok(claims));
}

/// Attestation result decoder.
pub fn result(data: &[u8]) {
    let Ok((claims, _kid)) = AttestationResult::decode(data) else {
        return;
    };
    let again = claims.sign(&key()).expect("decoded result re-signs");
    assert_eq!(
        AttestationResult::decode(&again).map(|(r, _)| r),
        Ok(claims)
    );
}

/// Trust package decoder, then installation by a store provisioned with the fuzz key.
pub fn trust_package(data: &[u8]) {
    let Ok((package, _kid)) = TrustPackage::decode(data) else {
        return;
    };
    let signer = key();
    let again = package.sign(&signer).expect("decoded package re-signs");
    assert_eq!(
        TrustPackage::decode(&again).map(|(p, _)| p).as_ref(),
        Ok(&package)
    );
    let mission = crate::credential::Mission::new("fuzz").expect("valid mission");
    let mut store = TrustStore::new(signer.public_key(), mission, TrustStart::FirstBoot)
        .expect("a first boot always succeeds");
    let _ = store.apply_package(&again);
}

/// Revocation delta decoder; merging what it accepts is idempotent and order-independent.
pub fn revocation(data: &[u8]) {
    let Ok((delta, _kid)) = RevocationDelta::decode(data) else {
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
