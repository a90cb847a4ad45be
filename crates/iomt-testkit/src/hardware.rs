//! A device's attester as a simulation holds it: a key and a platform whose firmware can be
//! replaced under it.

use std::sync::{Arc, Mutex, PoisonError};

use iomt_identity::enrol::{EnrolmentRequest, Platform};
use iomt_identity::{Measurement, Nonce, SignError, Signer};
use iomt_schema::Timestamp;

/// A simulated device's hardware: its key, and its [`Platform`] as the boot chain measures
/// it. [`flash`](Self::flash) replaces a component's image (a compromise, an update), and the
/// next evidence says so.
pub struct Hardware<K = iomt_identity::SoftwareKey> {
    /// The device key.
    pub key: Arc<K>,
    platform: Mutex<Platform>,
}

impl<K: Signer + 'static> Hardware<K> {
    /// Hardware holding `key` and running `platform`.
    pub fn new(key: Arc<K>, platform: Platform) -> Self {
        Self {
            key,
            platform: Mutex::new(platform),
        }
    }

    /// The platform as it is now.
    pub fn platform(&self) -> Platform {
        self.platform
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Signed evidence over `nonce`, made at `now`.
    pub fn evidence(&self, nonce: &Nonce, now: Timestamp) -> Result<Vec<u8>, SignError> {
        self.platform().evidence(&*self.key, nonce, now)
    }

    /// The answer to an enrolment challenge over `nonce`.
    pub fn request(&self, nonce: &Nonce, now: Timestamp) -> Result<EnrolmentRequest, SignError> {
        self.platform().request(&*self.key, nonce, now)
    }

    /// An attester for `iomt-transport` (`IdentityCredentials::with_attester`, the
    /// post-handshake attester): this hardware's evidence, as it is when asked.
    pub fn attester(
        self: &Arc<Self>,
    ) -> impl Fn(&Nonce, Timestamp) -> Option<Vec<u8>> + Send + Sync + 'static {
        let hw = Arc::clone(self);
        move |nonce: &Nonce, now| hw.evidence(nonce, now).ok()
    }

    /// The image of every measured component named `component` becomes `image`.
    pub fn flash(&self, component: &str, image: &[u8]) {
        let mut platform = self.platform.lock().unwrap_or_else(PoisonError::into_inner);
        for m in platform
            .measurements
            .iter_mut()
            .filter(|m| m.component == component)
        {
            *m = Measurement::of(m.layer, component, image);
        }
    }
}
