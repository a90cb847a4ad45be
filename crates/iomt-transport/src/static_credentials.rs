//! A fixed, in-memory [`Credentials`] table: our keys per suite and the peers we know by
//! ID_CRED_x, as raw public keys in CWT Claims Sets. For tests, benches and small closed
//! deployments; `iomt-identity` supplies the real policy.

use alloc::sync::Arc;
use alloc::vec::Vec;

use iomt_identity::{PublicKey, Signer, cbor, cose};
use iomt_schema::DeviceId;

use crate::credential::{
    Credentials, EadRequest, EadSlot, IdCred, LocalCredential, PeerCandidate, PeerCredential,
    Refusal,
};
use crate::ead::EadItem;
use crate::suite::CipherSuite;

/// The CWT claim that carries the key (RFC 8747).
const CLAIM_CNF: i64 = 8;

/// A CWT Claims Set `{ 8 : { 1 : COSE_Key } }` carrying `key` as a raw public key (the CCS
/// form of RFC 9528 section 3.5.2, its COSE_Key without `kid`), used as CRED_x.
pub fn raw_public_key_ccs(key: &PublicKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(84);
    cbor::write_map(&mut out, 1);
    cbor::write_int(&mut out, CLAIM_CNF);
    cose::write_confirmation(&mut out, key, None);
    out
}

/// Our credentials and the peers we accept, fixed at construction.
#[derive(Default)]
pub struct StaticCredentials {
    local: Vec<(CipherSuite, Arc<LocalCredential>)>,
    peers: Vec<(IdCred, PeerCredential)>,
    ead: Vec<(EadSlot, EadItem)>,
    understood: Vec<u64>,
}

impl core::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("local", &self.local.len())
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl StaticCredentials {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `signer` for `suite`, named by `kid`, with its raw-public-key CCS as CRED_x.
    /// Returns the ID_CRED_x and CRED_x a peer needs to know us by.
    pub fn add_local_kid(
        &mut self,
        suite: CipherSuite,
        kid: &[u8],
        signer: impl Signer + 'static,
    ) -> (IdCred, PeerCredential) {
        let key = signer.public_key();
        let cred = raw_public_key_ccs(&key);
        let id_cred = IdCred::kid(kid);
        // A CCS built above is always one well-formed CBOR item.
        if let Ok(local) = LocalCredential::new(id_cred.clone(), cred.clone(), signer) {
            self.local.push((suite, Arc::new(local)));
        }
        (id_cred, PeerCredential { cred, key })
    }

    /// Uses `credential` for `suite`.
    pub fn add_local(&mut self, suite: CipherSuite, credential: LocalCredential) {
        self.local.push((suite, Arc::new(credential)));
    }

    /// Accepts the peer that presents `id_cred`, with this credential and key.
    pub fn add_peer(&mut self, id_cred: IdCred, credential: PeerCredential) {
        self.peers.push((id_cred, credential));
    }

    /// Sends `item` in the EAD of `slot`.
    pub fn add_ead(&mut self, slot: EadSlot, item: EadItem) {
        self.ead.push((slot, item));
    }

    /// Declares EAD items with `label` understood.
    pub fn understand_ead(&mut self, label: u64) {
        self.understood.push(label);
    }
}

impl Credentials for StaticCredentials {
    fn local(&self, suite: CipherSuite) -> Option<Arc<LocalCredential>> {
        self.local
            .iter()
            .find(|(s, _)| *s == suite)
            .map(|(_, c)| Arc::clone(c))
    }

    /// A known ID_CRED_x, or a credential sent by value that equals a known peer's.
    fn resolve_peer(&self, peer: &PeerCandidate<'_>) -> Result<PeerCredential, Refusal> {
        self.peers
            .iter()
            .find(|(id, c)| id == peer.id_cred || peer.by_value == Some(c.cred.as_slice()))
            .map(|(_, c)| c.clone())
            .ok_or(Refusal::UnknownCredential)
    }

    fn knows_peer(&self, device: DeviceId) -> bool {
        self.peers.iter().any(|(_, c)| c.key.device_id() == device)
    }

    /// Every peer in the table is admitted once it proved its key.
    fn admit_peer(&self, _: &PeerCandidate<'_>, _: &PeerCredential) -> Result<(), Refusal> {
        Ok(())
    }

    fn ead(&self, request: &EadRequest<'_>) -> Vec<EadItem> {
        self.ead
            .iter()
            .filter(|(s, _)| *s == request.slot)
            .map(|(_, i)| i.clone())
            .collect()
    }

    fn understands_ead(&self, label: u64) -> bool {
        self.understood.contains(&label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iomt_identity::SoftwareKey;
    use iomt_identity::cbor::Reader;

    #[test]
    fn ccs_is_one_cbor_item() {
        let rng = ring::rand::SystemRandom::new();
        for suite in [CipherSuite::Suite4, CipherSuite::Suite6] {
            let key = SoftwareKey::generate(suite.signature(), &rng)
                .unwrap()
                .public_key();
            let ccs = raw_public_key_ccs(&key);
            let mut r = Reader::new(&ccs);
            assert_eq!(r.item().map(<[u8]>::len), Ok(ccs.len()));
        }
    }

    /// The RFC 9528 CCS form, byte for byte: no `kid`, `y` in full.
    #[test]
    fn ccs_bytes() {
        let ed = raw_public_key_ccs(&PublicKey::Ed25519([7; 32]));
        let head = [
            0xa1, 0x08, 0xa1, 0x01, 0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20,
        ];
        assert_eq!(ed[..12], head);
        assert_eq!(ed[12..], [7; 32]);
        let mut point = [0x04; 65];
        point[1..33].fill(1);
        point[33..].fill(2);
        let p256 = raw_public_key_ccs(&PublicKey::EcdsaP256(point));
        let head = [
            0xa1, 0x08, 0xa1, 0x01, 0xa4, 0x01, 0x02, 0x20, 0x01, 0x21, 0x58, 0x20,
        ];
        assert_eq!(p256[..12], head);
        assert_eq!(p256[12..44], [1; 32]);
        assert_eq!(p256[44..47], [0x22, 0x58, 0x20]);
        assert_eq!(p256[47..], [2; 32]);
    }
}
