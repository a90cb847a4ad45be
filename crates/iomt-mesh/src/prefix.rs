//! Routed prefixes, and the documented mapping between device identities and mesh addresses.
//!
//! Every device announces one IPv6 /128 built from its 8-byte [`ShortId`] (its router-id):
//!
//! ```text
//! fd69:6f6d:7400:0000 : <ShortId, 8 bytes big-endian>
//! |-- ULA fd + global id 69:6f:6d:74:00 ("iomt\0") + subnet 0 --|-- interface id --|
//! ```
//!
//! The mapping is reversible: [`short_id_of`] recovers the ShortId from any address in
//! `fd69:6f6d:7400::/64`. A full 16-byte `DeviceId` maps through its short form
//! (`DeviceId::short`), so going back from an address to a full DeviceId needs the directory
//! of known devices; the first 8 bytes always match.

use core::fmt;
use core::net::Ipv6Addr;

use iomt_schema::{DeviceId, ShortId};

/// The mesh's /64: ULA `fd69:6f6d:7400:0000::/64` ("iomt" in the global id).
pub const MESH_PREFIX: [u8; 8] = [0xfd, 0x69, 0x6f, 0x6d, 0x74, 0x00, 0x00, 0x00];

/// The /128 address a device announces.
pub fn address_of(id: ShortId) -> Ipv6Addr {
    let mut a = [0u8; 16];
    let (hi, lo) = a.split_at_mut(8);
    hi.copy_from_slice(&MESH_PREFIX);
    lo.copy_from_slice(id.as_bytes());
    Ipv6Addr::from(a)
}

/// The /128 address of a full identity (through its short form).
pub fn address_of_device(id: &DeviceId) -> Ipv6Addr {
    address_of(id.short())
}

/// The ShortId inside a mesh address, or `None` outside `fd69:6f6d:7400::/64`.
pub fn short_id_of(addr: Ipv6Addr) -> Option<ShortId> {
    let o = addr.octets();
    let (hi, lo) = o.split_at(8);
    if hi != MESH_PREFIX {
        return None;
    }
    <[u8; 8]>::try_from(lo).ok().map(ShortId::from_bytes)
}

/// A routed prefix. IPv4 prefixes are held as IPv4-mapped IPv6 (`::ffff:0:0/96` plus the IPv4
/// length), as babeld does, so one table serves both families.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    addr: Ipv6Addr,
    plen: u8,
}

impl Prefix {
    /// An IPv6 prefix; bits beyond `plen` are cleared. `None` if `plen > 128`.
    pub fn new(addr: Ipv6Addr, plen: u8) -> Option<Self> {
        if plen > 128 {
            return None;
        }
        Some(Self {
            addr: mask(addr, plen),
            plen,
        })
    }

    /// An IPv4 prefix. `None` if `plen > 32`.
    pub fn v4(addr: core::net::Ipv4Addr, plen: u8) -> Option<Self> {
        if plen > 32 {
            return None;
        }
        Self::new(addr.to_ipv6_mapped(), 96 + plen)
    }

    /// The /128 of a device.
    pub fn of(id: ShortId) -> Self {
        Self {
            addr: address_of(id),
            plen: 128,
        }
    }

    /// The address, with bits beyond the length cleared.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// Length in bits (IPv4 prefixes: 96 + their length).
    pub fn plen(&self) -> u8 {
        self.plen
    }

    /// Whether this is an IPv4 prefix.
    pub fn is_v4(&self) -> bool {
        self.plen >= 96 && self.addr.to_ipv4_mapped().is_some()
    }

    /// The device whose /128 this is, if it is one.
    pub fn short_id(&self) -> Option<ShortId> {
        (self.plen == 128).then(|| short_id_of(self.addr)).flatten()
    }
}

fn mask(addr: Ipv6Addr, plen: u8) -> Ipv6Addr {
    let bits = u128::from(addr);
    let keep = match plen {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    };
    Ipv6Addr::from(bits & keep)
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr.to_ipv4_mapped() {
            Some(v4) if self.plen >= 96 => write!(f, "{v4}/{}", self.plen - 96),
            _ => write!(f, "{}/{}", self.addr, self.plen),
        }
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn mapping_round_trips() {
        let id = ShortId::from_u64(0x0011_2233_4455_6677);
        let a = address_of(id);
        assert_eq!(a.to_string(), "fd69:6f6d:7400:0:11:2233:4455:6677");
        assert_eq!(short_id_of(a), Some(id));
        assert_eq!(Prefix::of(id).short_id(), Some(id));
        assert_eq!(short_id_of("2001:db8::1".parse().unwrap()), None);
        let dev = DeviceId::from_bytes([0xab; 16]);
        assert_eq!(short_id_of(address_of_device(&dev)), Some(dev.short()));
    }

    #[test]
    fn prefixes_are_masked() {
        let p = Prefix::new("2001:db8::ffff".parse().unwrap(), 64).unwrap();
        assert_eq!(p.to_string(), "2001:db8::/64");
        let v4 = Prefix::v4("10.1.2.3".parse().unwrap(), 8).unwrap();
        assert!(v4.is_v4());
        assert_eq!(v4.to_string(), "10.0.0.0/8");
        assert!(Prefix::new(Ipv6Addr::UNSPECIFIED, 129).is_none());
        assert_eq!(Prefix::new(Ipv6Addr::UNSPECIFIED, 0).unwrap().plen(), 0);
    }
}
