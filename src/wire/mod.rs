//! Packet formats: everything vipd reads from or writes to the network.
//!
//! # Contract
//! - Nothing here allocates, performs I/O, or panics, whatever the input.
//!   Untrusted bytes go through a `parse` function that checks lengths first
//!   (with `bytemuck::try_from_bytes`, the size check *is* the conversion) and
//!   returns a checked value or a [`WireError`].
//! - Headers are `#[repr(C)]` Pod structs made only of `u8` / `[u8; N]`
//!   fields, so their alignment is 1 and any byte slice of the right length
//!   can be viewed as one.
//! - Emitting writes a value into a caller-owned buffer and returns the
//!   number of bytes written; every byte of that prefix is written (tests
//!   emit into `0xa5`-filled buffers to prove it).
//! - Checksums are verified in `parse` except when built with
//!   `--cfg fuzzing`, so a fuzzer can reach the code behind the checksum.
//!
//! The VRRP receive path is split in two: this module checks what a packet
//! says about itself (lengths, version, type, checksum, TTL); `core` checks
//! what depends on the instance's configuration (auth, interval, addresses)
//! and reports those with the same [`WireError`] variants, so every rejected
//! advert lands in exactly one counter.

pub mod arp;
pub mod checksum;
pub mod claim;
pub mod cnproc;
pub mod ipv4;
pub mod ndisc;
pub mod netlink;
pub mod vrrp;

use core::fmt;

/// Why an advert was rejected. Each variant is one counter of RFC 6527
/// (VRRPv3-MIB) / RFC 8347 (ietf-vrrp); [`WireError::counter`] names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireError {
    /// Checksum did not verify in any accepted form (`checksum-errors`).
    Checksum,
    /// Unknown version (`version-errors`). Another version than the
    /// instance's is a drifted peer (`peer_mismatch`), not an error.
    Version,
    /// VRID 0, or no instance with this VRID here (`vrid-errors`).
    VrId,
    /// Advert interval 0 (`interval-errors`). An interval that differs
    /// from ours is a drifted peer (`peer_mismatch`), not an error.
    Interval,
    /// TTL / hop limit not 255 on a multicast advert, or outside a unicast
    /// peer's `min_ttl`..`max_ttl` (`ip-ttl-errors`).
    IpTtl,
    /// Truncated packet, or lengths that disagree with the address count or
    /// the IP header (`packet-length-errors`).
    PacketLength,
    /// Type field not 1 = ADVERTISEMENT (`invalid-type-pkts`).
    InvalidType,
    /// None of our addresses: another virtual router on our VRID
    /// (`address-list-errors`, `vrid_collision`). A list that overlaps ours
    /// is a drifted peer (`peer_mismatch`), not an error.
    AddressList,
    /// v2 auth type outside 0..=2 (`vrrpStatsInvalidAuthType`, RFC 2787).
    InvalidAuthType,
    /// v2 auth type differs from ours (`vrrpStatsAuthTypeMismatch`, RFC 2787).
    AuthTypeMismatch,
    /// v2 simple password differs (`vrrpStatsAuthFailures`, RFC 2787).
    AuthFailure,
    /// IP header not IPv4/IPv6, not protocol 112, or malformed options
    /// (`vrrpv3StatisticsProtoErrReason`, RFC 6527).
    Protocol,
    /// Unicast advert from a source that is not a configured peer, or a
    /// multicast advert reaching a unicast instance or the reverse
    /// (`vipd-source-errors`; RFC 6527 has no counter for this check).
    Source,
}

impl WireError {
    /// The counter this error increments, spelled as in ietf-vrrp where it
    /// has one.
    pub const fn counter(self) -> &'static str {
        match self {
            WireError::Checksum => "checksum-errors",
            WireError::Version => "version-errors",
            WireError::VrId => "vrid-errors",
            WireError::Interval => "interval-errors",
            WireError::IpTtl => "ip-ttl-errors",
            WireError::PacketLength => "packet-length-errors",
            WireError::InvalidType => "invalid-type-pkts",
            WireError::AddressList => "address-list-errors",
            WireError::InvalidAuthType => "invalid-auth-type",
            WireError::AuthTypeMismatch => "auth-type-mismatch",
            WireError::AuthFailure => "auth-failures",
            WireError::Protocol => "protocol-errors",
            WireError::Source => "source-errors",
        }
    }

    /// Every variant, in counter order; used to size counter arrays.
    pub const ALL: [WireError; 13] = [
        WireError::Checksum,
        WireError::Version,
        WireError::VrId,
        WireError::Interval,
        WireError::IpTtl,
        WireError::PacketLength,
        WireError::InvalidType,
        WireError::AddressList,
        WireError::InvalidAuthType,
        WireError::AuthTypeMismatch,
        WireError::AuthFailure,
        WireError::Protocol,
        WireError::Source,
    ];

    /// Position in [`WireError::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            WireError::Checksum => "bad checksum",
            WireError::Version => "version mismatch",
            WireError::VrId => "bad or unknown VRID",
            WireError::Interval => "advert interval mismatch",
            WireError::IpTtl => "TTL/hop limit not 255",
            WireError::PacketLength => "bad packet length",
            WireError::InvalidType => "not an advertisement",
            WireError::AddressList => "none of our addresses (another virtual router on this VRID)",
            WireError::InvalidAuthType => "invalid auth type",
            WireError::AuthTypeMismatch => "auth type mismatch",
            WireError::AuthFailure => "authentication failure",
            WireError::Protocol => "not a VRRP/IP packet",
            WireError::Source => "unexpected source or destination",
        };
        f.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_one_to_one() {
        for (i, e) in WireError::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            for other in &WireError::ALL[i + 1..] {
                assert_ne!(e.counter(), other.counter());
            }
        }
    }
}
