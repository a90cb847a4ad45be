//! The RFCs' own test vectors, through this crate's API.
#![allow(missing_docs, clippy::unwrap_used)]

use iomt_identity::cose::Sign1;
use iomt_identity::*;
use iomt_testkit::{hex, hex_string};
use ring::rand::SystemRandom;

/// RFC 8032 section 7.1, TEST 1 to 3: (secret seed, public key, message, signature).
const RFC8032: [(&str, &str, &str, &str); 3] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
];

#[test]
fn rfc8032_ed25519_vectors_through_the_key_api() {
    for (seed, public, message, signature) in RFC8032 {
        let seed: [u8; 32] = hex(seed).try_into().unwrap();
        let key = SoftwareKey::from_ed25519_seed(&seed).unwrap();
        assert_eq!(key.public_key().as_bytes(), hex(public).as_slice());
        let sig = key.sign(&hex(message)).unwrap();
        assert_eq!(sig.as_bytes().as_slice(), hex(signature).as_slice());
        let public = PublicKey::from_bytes(Algorithm::Ed25519, &hex(public)).unwrap();
        assert_eq!(public.verify(&hex(message), &hex(signature)), Ok(()));
        assert_eq!(public.verify(b"other", &hex(signature)), Err(BadSignature));

        // Saved as PKCS#8 and loaded again, the key still produces the vector.
        let reloaded = SoftwareKey::from_pkcs8(&key.to_pkcs8()).unwrap();
        assert_eq!(reloaded.sign(&hex(message)).unwrap(), sig);
        assert!(!format!("{key:?}").contains(&hex_string(&seed)));
    }
}

#[test]
fn ecdsa_p256_keys_sign_and_round_trip_pkcs8() {
    let rng = SystemRandom::new();
    let key = SoftwareKey::generate(Algorithm::EcdsaP256, &rng).unwrap();
    let sig = key.sign(b"hello").unwrap();
    assert_eq!(key.public_key().verify(b"hello", sig.as_bytes()), Ok(()));
    let reloaded = SoftwareKey::from_pkcs8(&key.to_pkcs8()).unwrap();
    assert_eq!(reloaded.public_key(), key.public_key());
    assert_eq!(key.public_key().algorithm().cose(), -7);
    assert_eq!(Algorithm::Ed25519.cose(), -8);
    assert!(SoftwareKey::from_pkcs8(b"not a key").is_err());
}

#[test]
fn device_id_is_the_first_16_bytes_of_sha256_of_the_key() {
    let key = PublicKey::from_bytes(Algorithm::Ed25519, &hex(RFC8032[0].1)).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    assert_eq!(key.device_id().as_bytes(), &digest.as_ref()[..16]);
    assert_eq!(key.short_id().as_bytes(), &digest.as_ref()[..8]);
}

/// RFC 8392 appendix A.3: the example signed CWT (COSE_Sign1, ES256), with the key of A.2.3.
const RFC8392_A3: &str = "d28443a10126a104524173796d6d657472696345434453413235365850a70175636f61703a2f2f61732e6578616d706c652e636f6d02656572696b77037818636f61703a2f2f6c696768742e6578616d706c652e636f6d041a5612aeb0051a5610d9f0061a5610d9f007420b7158405427c1ff28d23fbad1f29c4c7c6a555e601d6fa29f9179bc3d7438bacaca5acd08c8d4d4f96131680c429a01f85951ecee743a52b9b63632c57209120e1c9e30";
const RFC8392_A2_3_X: &str = "143329cce7868e416927599cf65a34f3ce2ffda55a7eca69ed8919a394d42f0f";
const RFC8392_A2_3_Y: &str = "60f7f1a780d8a783bfb7a2dd6b2796e8128dbbcef9d3d168db9529971a36e7b9";
/// The claims set of A.1, as the payload of A.3.
const RFC8392_A1: &str = "a70175636f61703a2f2f61732e6578616d706c652e636f6d02656572696b77037818636f61703a2f2f6c696768742e6578616d706c652e636f6d041a5612aeb0051a5610d9f0061a5610d9f007420b71";

fn rfc8392_key() -> PublicKey {
    let mut point = vec![0x04];
    point.extend(hex(RFC8392_A2_3_X));
    point.extend(hex(RFC8392_A2_3_Y));
    PublicKey::from_bytes(Algorithm::EcdsaP256, &point).unwrap()
}

#[test]
fn rfc8392_signed_cwt_verifies_through_the_cose_layer() {
    let cwt = hex(RFC8392_A3);
    let sign1 = Sign1::parse(&cwt).unwrap();
    assert_eq!(sign1.algorithm(), Algorithm::EcdsaP256);
    assert_eq!(sign1.kid(), Some(&b"AsymmetricECDSA256"[..]));
    assert_eq!(sign1.payload(), hex(RFC8392_A1).as_slice());
    assert_eq!(sign1.verify(&rfc8392_key(), b""), Ok(()));
    // External AAD is part of what is signed.
    assert_eq!(
        sign1.verify(&rfc8392_key(), b"iomt-credential-v1"),
        Err(BadSignature)
    );
}

#[test]
fn rfc8392_signed_cwt_with_any_signed_byte_changed_fails() {
    let cwt = hex(RFC8392_A3);
    // Bytes 6..27 are the unprotected header `{4: "AsymmetricECDSA256"}`, which COSE does not
    // sign; this crate's own objects therefore require an empty unprotected header.
    let unprotected = 6..27;
    assert_eq!(&cwt[unprotected.clone()][..3], &[0xa1, 0x04, 0x52]);
    for i in 0..cwt.len() {
        let mut bad = cwt.clone();
        bad[i] ^= 0x01;
        let verified = Sign1::parse(&bad).map(|s| s.verify(&rfc8392_key(), b""));
        if !unprotected.contains(&i) {
            assert!(
                !matches!(verified, Ok(Ok(()))),
                "byte {i} flipped still verifies"
            );
        }
    }
}

#[test]
fn rfc8392_example_is_not_accepted_as_an_iomt_credential() {
    let cwt = hex(RFC8392_A3);
    assert!(Unverified::<Credential>::decode(&cwt).is_err());
}
