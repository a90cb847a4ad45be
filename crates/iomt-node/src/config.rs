//! What a node is configured with, and what it refuses.

use std::time::Duration;

use iomt_mesh::RouterConfig;
use iomt_schema::{Precedence, ShortId};
use iomt_transport::EndpointConfig;

/// A node's configuration: the router's and the endpoint's, and the node's own bounds.
///
/// ```
/// use iomt_node::NodeConfig;
/// use iomt_schema::ShortId;
///
/// let mut config = NodeConfig::new(ShortId::from_u64(7));
/// config.max_queued_frames = 0;
/// assert!(config.validate().is_err());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeConfig {
    /// The mesh router's configuration; its `router_id` is the device's short id.
    pub router: RouterConfig,
    /// The session endpoint's configuration.
    pub endpoint: EndpointConfig,
    /// The mesh precedence of what the endpoint sends on its own (handshake messages,
    /// retransmissions, error messages): below Immediate and Flash traffic, above Routine.
    pub control_precedence: Precedence,
    /// How long the mesh keeps a handshake message before dropping it.
    pub control_lifetime: Duration,
    /// Frames held for one peer while its session comes up; a send beyond it is refused.
    pub max_queued_frames: usize,
    /// Events held for the application; beyond it the oldest go and are counted.
    pub max_events: usize,
    /// How long [`Node::reattest`](crate::Node::reattest) waits for the peer's answer before
    /// asking again.
    pub reattest_timeout: Duration,
    /// How many times it asks before it quarantines a peer that never answers.
    pub reattest_tries: u32,
}

impl NodeConfig {
    /// The defaults of every layer for the device `device`.
    pub fn new(device: ShortId) -> Self {
        Self {
            router: RouterConfig::new(device),
            endpoint: EndpointConfig::default(),
            control_precedence: Precedence::Priority,
            control_lifetime: Duration::from_secs(30),
            max_queued_frames: 32,
            max_events: 4096,
            reattest_timeout: Duration::from_secs(10),
            reattest_tries: 3,
        }
    }

    /// Checks the node's own bounds (the router and the endpoint check theirs as they start).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_queued_frames == 0 {
            return Err(ConfigError::Zero("max_queued_frames"));
        }
        if self.max_events == 0 {
            return Err(ConfigError::Zero("max_events"));
        }
        if self.reattest_tries == 0 {
            return Err(ConfigError::Zero("reattest_tries"));
        }
        if self.reattest_timeout.is_zero() {
            return Err(ConfigError::Zero("reattest_timeout"));
        }
        if self.control_lifetime.is_zero() {
            return Err(ConfigError::Zero("control_lifetime"));
        }
        if self.endpoint.max_sessions == 0 {
            return Err(ConfigError::Zero("endpoint.max_sessions"));
        }
        Ok(())
    }
}

/// A configuration the node cannot run with (local misuse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A bound that must be at least one is zero.
    #[error("{0} is zero: it must be at least 1")]
    Zero(&'static str),
    /// The router id is not the short id of the device whose key the credentials hold.
    #[error("router id {configured} is not the device's short id {device}")]
    RouterId {
        /// What the configuration says.
        configured: ShortId,
        /// The short id of the device's key.
        device: ShortId,
    },
    /// The router refused the configuration.
    #[error(transparent)]
    Mesh(#[from] iomt_mesh::ConfigError),
    /// The random generator failed (local fault).
    #[error("random generator failed")]
    Random,
}
