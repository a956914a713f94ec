//! VRRP advertisements: VRRPv2 (RFC 3768) and VRRPv3 (RFC 9568), IPv4 and IPv6.
//!
//! ```text
//! VRRPv2                                  VRRPv3
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2: |   Auth Type   |   Adver Int   |          Checksum         |
//! v3: |(rsvd) |     Max Adver Int     |          Checksum         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 IPvX Address(es) (4 or 16 bytes each)         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2 only: |            Authentication Data (8 bytes)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::time::{Centis, Secs};

/// Protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

/// Advertisement interval as carried on the wire: whole seconds in v2,
/// centiseconds in v3. Converted to time only through `crate::time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Interval {
    V2(Secs),
    V3(Centis),
}

/// VRRPv2 authentication (RFC 3768 §5.3.6). v3 has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Type 0.
    None,
    /// Type 1: up to 8 bytes of password, zero padded.
    Simple([u8; 8]),
    /// Type 2 (IPsec AH). Recognised so it can be counted, never accepted.
    Ah,
}

/// The address list of an advert, borrowed from the packet or the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addrs<'a> {
    V4(&'a [[u8; 4]]),
    V6(&'a [[u8; 16]]),
}

impl Addrs<'_> {
    pub const fn len(&self) -> usize {
        match self {
            Addrs::V4(a) => a.len(),
            Addrs::V6(a) => a.len(),
        }
    }

    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A checked advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Advert<'a> {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    pub interval: Interval,
    /// Always `Auth::None` for v3.
    pub auth: Auth,
    pub addrs: Addrs<'a>,
}
