//! Router and interface configuration, with the limits that bound every peer-driven table.

use core::net::Ipv6Addr;
use core::time::Duration;

use iomt_schema::ShortId;

use crate::neighbour::LinkKind;

/// Bounds on everything a peer can make the router hold, each with its eviction rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Neighbours across all interfaces. When full, packets from new addresses are dropped
    /// (existing neighbours are never evicted by newcomers).
    pub neighbours: usize,
    /// Routed prefixes. When full, updates for new prefixes are ignored; existing prefixes
    /// leave the table when their last route is retracted or expires.
    pub prefixes: usize,
    /// Source-table entries (feasibility distances). When full, routes from new sources are
    /// neither selected nor advertised (forgetting a feasibility distance could allow a loop);
    /// entries expire 180 s after they were last advertised.
    pub sources: usize,
    /// Outstanding seqno requests. When full, new ones are not sent or forwarded.
    pub requests: usize,
    /// Datagrams queued per next hop. When full, the oldest datagram of the lowest precedence
    /// below the newcomer's is shed; if there is none, the newcomer is refused.
    pub queue_per_next_hop: usize,
    /// Flooded datagrams remembered for duplicate suppression, each by source, message id
    /// and a digest of its content. When full, the oldest is forgotten; entries also expire
    /// after [`RouterConfig::duplicate_ttl`].
    pub duplicate_cache: usize,
}

impl Limits {
    /// Sized for a few hundred devices.
    pub const DEFAULT: Self = Self {
        neighbours: 64,
        prefixes: 4096,
        sources: 8192,
        requests: 256,
        queue_per_next_hop: 64,
        duplicate_cache: 2048,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Router-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// The router-id: the device's 8-byte short id. The device announces
    /// [`Prefix::of(router_id)`](crate::Prefix::of).
    pub router_id: ShortId,
    /// Table bounds.
    pub limits: Limits,
    /// The sequence number to start from (one persisted across a reboot); `None` draws it
    /// from the jitter generator.
    pub initial_seqno: Option<u16>,
    /// Route selection hysteresis: a route replaces the selected one only if its metric is
    /// lower by more than this.
    pub switch_hysteresis: u16,
    /// Hop limit of datagrams this router originates.
    pub hop_limit: u8,
    /// Longest random delay before a flooded datagram is rebroadcast.
    pub flood_jitter: Duration,
    /// A flooded datagram heard this many times before its rebroadcast is due is not
    /// rebroadcast.
    pub flood_redundancy: u8,
    /// How long flooded datagrams stay in the duplicate cache.
    pub duplicate_ttl: Duration,
    /// Longest random delay before triggered updates go out (they are coalesced meanwhile).
    pub update_jitter: Duration,
}

impl RouterConfig {
    /// Defaults for a device with this router-id.
    pub fn new(router_id: ShortId) -> Self {
        Self {
            router_id,
            limits: Limits::DEFAULT,
            initial_seqno: None,
            switch_hysteresis: 48,
            hop_limit: 32,
            flood_jitter: Duration::from_millis(20),
            flood_redundancy: 3,
            duplicate_ttl: Duration::from_secs(60),
            update_jitter: Duration::from_millis(20),
        }
    }
}

/// Per-interface settings: Babel's interval fields allow slow timers on narrowband links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// Our link-local address on the link (the source of our packets and the MAC
    /// pseudo-header), or `::1` for a router on the loopback interface (see
    /// [the crate docs](crate#on-one-machine)).
    pub link_local: Ipv6Addr,
    /// How link cost is estimated.
    pub kind: LinkKind,
    /// Nominal cost of receiving on this link (96 wired, 256 wireless by default).
    pub rxcost: u16,
    /// Time between Hellos (at most 655 s). IHUs go out every third Hello.
    pub hello_interval: Duration,
    /// Time between full route dumps (at most 655 s; 4 Hello intervals by default).
    pub update_interval: Duration,
    /// Largest Babel packet (UDP payload) to send.
    pub max_packet: usize,
    /// Data pacing in bytes per second; `None` sends queued datagrams as fast as they are
    /// polled.
    pub data_rate: Option<u64>,
    /// Do not announce routes back onto the interface they were learned from (wired only).
    pub split_horizon: bool,
    /// Probe a neighbour with Ack Requests as soon as it misses one Hello, and take the link
    /// down if three go unanswered, instead of waiting for a second missed Hello.
    pub fast_failure_detection: bool,
}

impl InterfaceConfig {
    /// A wired (reliable) link with babeld's defaults: 4 s Hellos, 16 s updates, 2-out-of-3.
    pub fn wired(link_local: Ipv6Addr) -> Self {
        Self {
            link_local,
            kind: LinkKind::Wired,
            rxcost: 96,
            hello_interval: Duration::from_secs(4),
            update_interval: Duration::from_secs(16),
            max_packet: 1232,
            data_rate: None,
            split_horizon: true,
            fast_failure_detection: true,
        }
    }

    /// A lossy radio link with babeld's defaults: 4 s Hellos, 16 s updates, ETX.
    pub fn wireless(link_local: Ipv6Addr) -> Self {
        Self {
            kind: LinkKind::Wireless,
            rxcost: 256,
            split_horizon: false,
            fast_failure_detection: false,
            ..Self::wired(link_local)
        }
    }

    /// The same, with Hellos every `hello` and updates every four Hellos.
    pub fn with_hello_interval(mut self, hello: Duration) -> Self {
        self.hello_interval = hello;
        self.update_interval = hello * 4;
        self
    }
}
