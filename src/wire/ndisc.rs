//! Unsolicited Neighbor Advertisement (RFC 4861 §4.4, §7.2.6): the IPv6
//! counterpart of gratuitous ARP, sent by a new master for each IPv6 VIP.
//!
//! Built as keepalived 2.2.7 sends it (checked byte for byte, checksum
//! included, against its capture): from the VIP to ff02::1 with hop limit
//! 255, Override set, Solicited clear, Router set only when the interface
//! forwards, and a target link-layer address option carrying our MAC.
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type (136)   |   Code (0)    |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|S|O|                     Reserved                            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Target Address (16)                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type (2)     |  Length (1)   |    Link-Layer Address (6)  ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::net::{IpAddr, Ipv6Addr};

use bytemuck::{Pod, Zeroable};

use super::checksum::{internet_checksum, pseudo_header_v6};

pub const NEXT_HEADER_ICMPV6: u8 = 58;
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;
pub const FLAG_ROUTER: u8 = 0x80;
pub const FLAG_SOLICITED: u8 = 0x40;
pub const FLAG_OVERRIDE: u8 = 0x20;
pub const OPT_TARGET_LL_ADDR: u8 = 2;
/// All-nodes multicast, the destination of unsolicited advertisements.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// RFC 4861 §7.1.2: receivers drop ND messages with any other hop limit.
pub const HOP_LIMIT: u8 = 255;
pub const NA_LEN: usize = 32;

/// ICMPv6 Neighbor Advertisement with one target link-layer address option.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct NeighborAdvert {
    kind: u8,
    code: u8,
    checksum: [u8; 2],
    flags: [u8; 4],
    target: [u8; 16],
    opt_type: u8,
    /// In units of 8 bytes.
    opt_len: u8,
    mac: [u8; 6],
}

impl NeighborAdvert {
    /// The unsolicited advertisement for `vip` at `mac`, with its checksum
    /// for the usual addresses: from `vip` to ff02::1.
    pub fn new(mac: [u8; 6], vip: Ipv6Addr, router: bool) -> NeighborAdvert {
        NeighborAdvert::with_addrs(mac, vip, router, vip, ALL_NODES)
    }

    /// As [`NeighborAdvert::new`] for other IP source/destination, which
    /// the checksum covers.
    pub fn with_addrs(mac: [u8; 6], target: Ipv6Addr, router: bool, src: Ipv6Addr, dst: Ipv6Addr) -> NeighborAdvert {
        let flags = if router { FLAG_ROUTER | FLAG_OVERRIDE } else { FLAG_OVERRIDE };
        let mut na = NeighborAdvert {
            kind: TYPE_NEIGHBOR_ADVERT,
            code: 0,
            checksum: [0; 2],
            flags: [flags, 0, 0, 0],
            target: target.octets(),
            opt_type: OPT_TARGET_LL_ADDR,
            opt_len: 1,
            mac,
        };
        na.checksum = na.compute_checksum(src, dst).to_be_bytes();
        na
    }

    fn compute_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> u16 {
        let ph = pseudo_header_v6(src, dst, NEXT_HEADER_ICMPV6, NA_LEN as u32);
        internet_checksum(&[&ph, bytemuck::bytes_of(self)])
    }

    /// A received ICMPv6 message, if it is a Neighbor Advertisement of
    /// exactly this shape (one target link-layer option, 6-byte address)
    /// whose checksum verifies for `src`/`dst`. For tests and the
    /// simulator, not the daemon.
    pub fn parse(bytes: &[u8], src: IpAddr, dst: IpAddr) -> Option<NeighborAdvert> {
        let (IpAddr::V6(src), IpAddr::V6(dst)) = (src, dst) else {
            return None;
        };
        let na: NeighborAdvert = bytemuck::try_pod_read_unaligned(bytes).ok()?;
        let ok = na.kind == TYPE_NEIGHBOR_ADVERT
            && na.code == 0
            && na.opt_type == OPT_TARGET_LL_ADDR
            && na.opt_len == 1
            && na.compute_checksum(src, dst) == 0;
        ok.then_some(na)
    }

    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::bytes_of(self)
    }

    pub const fn checksum(&self) -> u16 {
        u16::from_be_bytes(self.checksum)
    }

    pub const fn router(&self) -> bool {
        self.flags[0] & FLAG_ROUTER != 0
    }

    pub const fn solicited(&self) -> bool {
        self.flags[0] & FLAG_SOLICITED != 0
    }

    pub const fn override_flag(&self) -> bool {
        self.flags[0] & FLAG_OVERRIDE != 0
    }

    pub const fn target(&self) -> Ipv6Addr {
        Ipv6Addr::from_bits(u128::from_be_bytes(self.target))
    }

    pub const fn mac(&self) -> [u8; 6] {
        self.mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vrrp::pcap;

    const MAC: [u8; 6] = [0x1e, 0x41, 0xbf, 0xf1, 0x62, 0xac];
    const VIP: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);

    /// keepalived 2.2.7's NA for fd00::100 (pcap frame 2).
    static NA_BYTES: [u8; 32] = [
        0x88, 0x00, 0x19, 0xbf, 0x20, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x01, 0x1e, 0x41, 0xbf, 0xf1, 0x62, 0xac,
    ];

    #[test]
    fn test_deconstruct() {
        let na = NeighborAdvert::parse(&NA_BYTES, VIP.into(), ALL_NODES.into()).unwrap();
        assert_eq!(na.target(), VIP);
        assert_eq!(na.mac(), MAC);
        assert!(na.override_flag());
        assert!(!na.router());
        assert!(!na.solicited());
        assert_eq!(na.checksum(), 0x19bf);
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 40];
        buf[..NA_LEN].copy_from_slice(NeighborAdvert::new(MAC, VIP, false).as_bytes());
        assert_eq!(&buf[..NA_LEN], &NA_BYTES[..]);
        assert_eq!(core::mem::size_of::<NeighborAdvert>(), NA_LEN);
    }

    #[test]
    fn test_router_flag() {
        let na = NeighborAdvert::new(MAC, VIP, true);
        assert_eq!(na.as_bytes()[4], 0xa0);
        assert!(na.router() && na.override_flag() && !na.solicited());
        assert!(NeighborAdvert::parse(na.as_bytes(), VIP.into(), ALL_NODES.into()).is_some());
        let other = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
        let na = NeighborAdvert::with_addrs(MAC, VIP, true, other, ALL_NODES);
        assert!(NeighborAdvert::parse(na.as_bytes(), other.into(), ALL_NODES.into()).is_some());
        assert!(NeighborAdvert::parse(na.as_bytes(), VIP.into(), ALL_NODES.into()).is_none());
    }

    /// Both NAs of the keepalived v3 IPv6 capture, IPv6 header included.
    #[test]
    fn test_keepalived_nas() {
        let mut n = 0;
        for frame in pcap::frames(pcap::KA_V3_V6) {
            let (ethertype, ip) = pcap::ethernet(frame);
            assert_eq!(ethertype, pcap::ETHERTYPE_IPV6);
            let (src, dst, next, hlim, payload) = pcap::ipv6(ip);
            if next != NEXT_HEADER_ICMPV6 {
                continue;
            }
            assert_eq!((src, dst, hlim), (VIP.into(), ALL_NODES.into(), HOP_LIMIT));
            let na = NeighborAdvert::parse(payload, src, dst).unwrap();
            assert_eq!(NeighborAdvert::new(na.mac(), na.target(), na.router()).as_bytes(), payload);
            assert_eq!(payload, &NA_BYTES[..]);
            n += 1;
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn test_parse_rejects() {
        let (s, d) = (IpAddr::from(VIP), IpAddr::from(ALL_NODES));
        for n in 0..NA_LEN {
            assert_eq!(NeighborAdvert::parse(&NA_BYTES[..n], s, d), None);
        }
        let mut long = [0u8; 33];
        long[..32].copy_from_slice(&NA_BYTES);
        assert_eq!(NeighborAdvert::parse(&long, s, d), None);
        for at in 0..NA_LEN {
            let mut b = NA_BYTES;
            b[at] ^= 0x01;
            assert_eq!(NeighborAdvert::parse(&b, s, d), None, "byte {at}");
        }
        let v4 = IpAddr::from(core::net::Ipv4Addr::LOCALHOST);
        assert_eq!(NeighborAdvert::parse(&NA_BYTES, v4, d), None);
    }
}
