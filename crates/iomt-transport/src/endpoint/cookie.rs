//! Stateless return-routability cookies: an HMAC over the claimed address, C_I and a time
//! epoch, under a key only this endpoint holds.

use core::hash::{Hash, Hasher};
use core::time::Duration;

use iomt_schema::Instant;
use iomt_schema::rand::SecureRandom;
use ring::hmac;

use crate::conn_id::ConnId;
use crate::datagram::COOKIE_LEN;

/// The cookie key, drawn when the first cookie is needed, and how long a cookie lives.
pub(super) struct CookieJar {
    key: Option<hmac::Key>,
    lifetime: Duration,
}

impl CookieJar {
    pub(super) fn new(lifetime: Duration) -> Self {
        Self {
            key: None,
            lifetime,
        }
    }

    /// The cookie for `peer` and `c_i` in the epoch of `now`, or `back` epochs before it.
    /// `None` when no key could be drawn (then no cookie is ever valid).
    pub(super) fn cookie<A: Hash>(
        &mut self,
        rng: &dyn SecureRandom,
        now: Instant,
        peer: &A,
        c_i: ConnId,
        back: u64,
    ) -> Option<[u8; COOKIE_LEN]> {
        if self.key.is_none() {
            let mut secret = zeroize::Zeroizing::new([0u8; 32]);
            rng.fill(&mut *secret).ok()?;
            self.key = Some(hmac::Key::new(hmac::HMAC_SHA256, &*secret));
        }
        let key = self.key.as_ref()?;
        let lifetime = self.lifetime.as_millis().max(1);
        let elapsed = now.saturating_duration_since(Instant::ZERO).as_millis();
        let epoch = u64::try_from(elapsed / lifetime)
            .unwrap_or(u64::MAX)
            .checked_sub(back)?;
        let mut ctx = hmac::Context::with_key(key);
        ctx.update(&epoch.to_be_bytes());
        ctx.update(c_i.as_bytes());
        peer.hash(&mut MacHasher(&mut ctx));
        let tag = ctx.sign();
        let mut cookie = [0; COOKIE_LEN];
        cookie.copy_from_slice(tag.as_ref().get(..COOKIE_LEN)?);
        Some(cookie)
    }

    /// Whether `cookie` is the one for `peer` and `c_i` in this epoch or the one before.
    pub(super) fn is_valid<A: Hash>(
        &mut self,
        rng: &dyn SecureRandom,
        now: Instant,
        peer: &A,
        c_i: ConnId,
        cookie: &[u8; COOKIE_LEN],
    ) -> bool {
        (0..2).any(|back| {
            self.cookie(rng, now, peer, c_i, back)
                .is_some_and(|expected| {
                    // Compared without an early exit, so timing says nothing about the prefix.
                    expected
                        .iter()
                        .zip(cookie)
                        .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                        == 0
                })
        })
    }
}

/// Feeds an address's `Hash` into the cookie MAC: whatever the address type, the same
/// address gives the same bytes within this process, which is all a cookie needs.
struct MacHasher<'a>(&'a mut hmac::Context);

impl Hasher for MacHasher<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        0
    }
}
