//! Authorization: which [`Action`]s a peer may take, from its roles and its trust state.
//!
//! A [`Policy`] grants actions per [`Role`] and caps them per [`TrustState`]; a peer may take
//! an action when one of its roles grants it *and* its current state allows it. The trust
//! package pins the policy by digest ([`Policy::digest`], SHA-256 of the canonical encoding),
//! so every peer in a mission enforces the same rules.

use std::collections::BTreeMap;

use crate::cbor::{self, KeyOrder, Reader};
use crate::credential::{Role, Roles};
use crate::error::DecodeError;
use crate::state::TrustState;

/// Something a peer may ask to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Send reports (position, sensor readings, vitals).
    Report,
    /// Reach a command post (deliver to one, be reached by one).
    ReachCommandPost,
    /// Receive tasking.
    ReceiveTasking,
    /// Issue commands or tasking.
    IssueCommands,
    /// Forward other devices' traffic (be a mesh relay).
    Relay,
    /// Hold other devices' messages in custody (store-carry-forward).
    Custody,
    /// Request or provide resupply.
    Logistics,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 7] = [
        Action::Report,
        Action::ReachCommandPost,
        Action::ReceiveTasking,
        Action::IssueCommands,
        Action::Relay,
        Action::Custody,
        Action::Logistics,
    ];

    const fn bit(self) -> u16 {
        1 << match self {
            Action::Report => 0,
            Action::ReachCommandPost => 1,
            Action::ReceiveTasking => 2,
            Action::IssueCommands => 3,
            Action::Relay => 4,
            Action::Custody => 5,
            Action::Logistics => 6,
        }
    }
}

/// A set of actions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Actions(u16);

impl Actions {
    /// None.
    pub const NONE: Self = Self(0);

    /// Exactly these.
    pub fn of(actions: &[Action]) -> Self {
        Self(actions.iter().fold(0, |acc, a| acc | a.bit()))
    }

    /// Whether `action` is in the set.
    pub const fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }
}

impl core::fmt::Debug for Actions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set()
            .entries(Action::ALL.iter().filter(|a| self.contains(**a)))
            .finish()
    }
}

/// Role grants and trust-state caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// What each role may do.
    pub roles: BTreeMap<Role, Actions>,
    /// What a peer in each state may do at most.
    pub states: BTreeMap<TrustState, Actions>,
}

impl Default for Policy {
    /// The default rules: a stale peer may report and reach a command post but neither relay
    /// nor command; a quarantined one may only reach a command post (to be examined), never
    /// relay; a revoked one nothing.
    fn default() -> Self {
        use Action::*;
        let roles = BTreeMap::from([
            (Role::CommandPost, Actions::of(&Action::ALL)),
            (
                Role::Commander,
                Actions::of(&[
                    Report,
                    ReachCommandPost,
                    ReceiveTasking,
                    IssueCommands,
                    Relay,
                ]),
            ),
            (
                Role::Operator,
                Actions::of(&[Report, ReachCommandPost, ReceiveTasking, Relay]),
            ),
            (Role::Sensor, Actions::of(&[Report, ReachCommandPost])),
            (
                Role::Relay,
                Actions::of(&[Relay, Custody, ReachCommandPost]),
            ),
            (
                Role::Vehicle,
                Actions::of(&[Report, ReachCommandPost, ReceiveTasking, Relay, Custody]),
            ),
            (
                Role::Logistics,
                Actions::of(&[Report, ReachCommandPost, ReceiveTasking, Logistics]),
            ),
            (
                Role::Medic,
                Actions::of(&[Report, ReachCommandPost, ReceiveTasking, Logistics]),
            ),
        ]);
        let states = BTreeMap::from([
            (TrustState::Trusted, Actions::of(&Action::ALL)),
            (
                TrustState::Stale,
                Actions::of(&[Report, ReachCommandPost, ReceiveTasking]),
            ),
            (TrustState::Quarantined, Actions::of(&[ReachCommandPost])),
            (TrustState::Revoked, Actions::NONE),
        ]);
        Self { roles, states }
    }
}

impl Policy {
    /// Whether a peer with `roles` in `state` may take `action`.
    pub fn may(&self, roles: Roles, state: TrustState, action: Action) -> bool {
        let state_allows = self.states.get(&state).is_some_and(|a| a.contains(action));
        state_allows
            && roles
                .iter()
                .any(|r| self.roles.get(&r).is_some_and(|a| a.contains(action)))
    }

    /// The canonical encoding: `[{role code: action bits}, {state code: action bits}]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 4 * (self.roles.len() + self.states.len()));
        cbor::write_array(&mut out, 2);
        cbor::write_map(&mut out, self.roles.len());
        for (role, actions) in &self.roles {
            cbor::write_uint(&mut out, u64::from(role.code()));
            cbor::write_uint(&mut out, u64::from(actions.0));
        }
        cbor::write_map(&mut out, self.states.len());
        for (state, actions) in &self.states {
            cbor::write_uint(&mut out, u64::from(state.code()));
            cbor::write_uint(&mut out, u64::from(actions.0));
        }
        out
    }

    /// Decodes [`encode`](Self::encode)'s output, refusing any other form.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.array_of(2, "policy [roles, states]")?;
        let mut roles = BTreeMap::new();
        let mut codes = KeyOrder::new();
        for _ in 0..r.map_up_to(32, "role grants")? {
            let at = r.position();
            let role = Role::from_code(codes.next(&mut r, Reader::u8)?);
            if role.code() > 31 {
                return Err(DecodeError::invalid("role", at, "a code from 0 to 31"));
            }
            roles.insert(role, Actions(r.u16()?));
        }
        let mut states = BTreeMap::new();
        let mut codes = KeyOrder::new();
        for _ in 0..r.map_up_to(4, "state caps")? {
            let at = r.position();
            let state = TrustState::from_code(codes.next(&mut r, Reader::u8)?)
                .ok_or(DecodeError::invalid("state", at, "a code from 0 to 3"))?;
            states.insert(state, Actions(r.u16()?));
        }
        r.finish()?;
        Ok(Self { roles, states })
    }

    /// SHA-256 of [`encode`](Self::encode): what the trust package pins.
    pub fn digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, &self.encode()).as_ref());
        out
    }
}
