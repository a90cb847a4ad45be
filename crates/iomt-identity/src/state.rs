//! Continuous trust: a per-peer state machine driven by `now` and events.
//!
//! ```text
//!             affirming result              result expires (handle_timeout)
//!   Stale ─────────────────────────▶ Trusted ───────────────────────────▶ Stale
//!     │  ▲ warning result               │
//!     │  └──────────────────────────────┤ contraindicated result / failed appraisal
//!     ▼                                 ▼
//! Quarantined ◀─────────────────────────┘    (an affirming result newer than the
//!     │                                        quarantine releases it to Trusted)
//!     ▼ revocation (from any state; absorbing)
//!  Revoked
//! ```
//!
//! A peer starts `Stale` (identity verified, no current attestation). Results older than the
//! newest one seen, or than the last failed appraisal, are ignored, so replaying an old
//! affirming result does not lift a quarantine. What each state may do is the
//! [`Policy`](crate::Policy)'s: by default a quarantined device may still reach a command post
//! but is never used as a relay.

use iomt_schema::{DeviceId, ShortId, Timestamp};

use crate::attest::{Tier, VerifiedResult};
use crate::credential::Roles;
use crate::policy::{Action, Policy};
use crate::revocation::{RevocationSet, RevocationTarget};
use crate::trust::VerifiedCredential;

/// Where a peer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrustState {
    /// Verified identity and a current affirming attestation result.
    Trusted,
    /// Verified identity, but no current affirming result (never had one, it expired, or the
    /// latest was a warning).
    Stale,
    /// A failed or contraindicated appraisal: isolated until an affirming re-attestation.
    Quarantined,
    /// Revoked: refused for good.
    Revoked,
}

impl TrustState {
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::Trusted => 0,
            Self::Stale => 1,
            Self::Quarantined => 2,
            Self::Revoked => 3,
        }
    }

    pub(crate) const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Trusted),
            1 => Some(Self::Stale),
            2 => Some(Self::Quarantined),
            3 => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// An event that was not about this peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("attestation result is for another device or key")]
pub struct WrongPeer;

/// One peer's trust state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTrust {
    device: DeviceId,
    key_thumbprint: [u8; 32],
    issuer: ShortId,
    serial: u64,
    roles: Roles,
    state: TrustState,
    expires_at: Option<Timestamp>,
    newest: Option<Timestamp>,
}

impl PeerTrust {
    /// A peer whose credential was verified; it starts [`TrustState::Stale`].
    pub fn new(credential: &VerifiedCredential) -> Self {
        Self {
            device: credential.device_id(),
            key_thumbprint: credential.public_key().thumbprint(),
            issuer: credential.issuer(),
            serial: credential.serial(),
            roles: credential.roles(),
            state: TrustState::Stale,
            expires_at: None,
            newest: None,
        }
    }

    /// The device.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The current state. Call [`handle_timeout`](Self::handle_timeout) first to apply expiry.
    pub fn state(&self) -> TrustState {
        self.state
    }

    /// The peer's roles, from its credential.
    pub fn roles(&self) -> Roles {
        self.roles
    }

    /// Applies a verified attestation result about this peer.
    pub fn on_result(
        &mut self,
        result: &VerifiedResult,
        now: Timestamp,
    ) -> Result<TrustState, WrongPeer> {
        if result.device() != self.device || result.key().thumbprint() != self.key_thumbprint {
            return Err(WrongPeer);
        }
        if self.state == TrustState::Revoked || self.newest.is_some_and(|n| result.issued_at() < n)
        {
            return Ok(self.state);
        }
        self.newest = Some(result.issued_at());
        match result.tier() {
            Tier::Affirming if now < result.expires_at() => {
                self.state = TrustState::Trusted;
                self.expires_at = Some(result.expires_at());
            }
            Tier::Affirming | Tier::Warning => {
                if self.state != TrustState::Quarantined {
                    self.state = TrustState::Stale;
                }
                self.expires_at = None;
            }
            Tier::Contraindicated => self.quarantine(),
        }
        Ok(self.state)
    }

    /// The peer's evidence failed appraisal (forged, replayed, stale) at `now`, or it did not
    /// answer a challenge: quarantine it.
    pub fn on_appraisal_failed(&mut self, now: Timestamp) -> TrustState {
        if self.state != TrustState::Revoked {
            self.newest = Some(self.newest.map_or(now, |n| n.max(now)));
            self.quarantine();
        }
        self.state
    }

    /// Checks the peer against `revocations`; revoked if its device or credential is listed.
    pub fn on_revocations(&mut self, revocations: &RevocationSet) -> TrustState {
        let credential = RevocationTarget::Credential {
            issuer: self.issuer,
            serial: self.serial,
        };
        if revocations.is_device_revoked(self.device) || revocations.get(&credential).is_some() {
            self.on_revoked();
        }
        self.state
    }

    /// The peer is revoked (absorbing).
    pub fn on_revoked(&mut self) {
        self.state = TrustState::Revoked;
        self.expires_at = None;
    }

    /// Applies expiry at `now`: a trusted peer whose result expired becomes stale.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.state == TrustState::Trusted && self.expires_at.is_some_and(|e| now >= e) {
            self.state = TrustState::Stale;
            self.expires_at = None;
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has something to do.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match self.state {
            TrustState::Trusted => self.expires_at,
            _ => None,
        }
    }

    /// Whether this peer may take `action` now under `policy` (roles from its credential,
    /// capped by its state).
    pub fn may(&self, policy: &Policy, action: Action) -> bool {
        policy.may(self.roles, self.state, action)
    }

    fn quarantine(&mut self) {
        self.state = TrustState::Quarantined;
        self.expires_at = None;
    }
}
