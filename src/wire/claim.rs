//! Another host claiming an address: who an ARP packet or a Neighbor
//! Advertisement says owns an IP address. The receive side of
//! [`super::arp`] and [`super::ndisc`], read from what an AF_PACKET
//! SOCK_DGRAM socket hands over (the network-layer bytes, no Ethernet
//! header). Split-brain evidence when only VRRP is partitioned: a second
//! master does not hear our adverts, but it does announce the VIP.
//!
//! Zero-copy: the parsers only read the slice and return addresses by
//! value. What counts as "ours" (our MAC, our VIPs) is the caller's.

use core::net::{Ipv4Addr, Ipv6Addr};

use super::arp::{ETHERTYPE_IPV4, HTYPE_ETHERNET, OP_REPLY, OP_REQUEST};
use super::checksum::{internet_checksum, pseudo_header_v6};
use super::ndisc::{HOP_LIMIT, NEXT_HEADER_ICMPV6, OPT_TARGET_LL_ADDR, TYPE_NEIGHBOR_ADVERT};

/// ARP for IPv4 over Ethernet: the fixed 8-byte header, then sender MAC
/// (8..14), sender IP (14..18), target MAC, target IP.
pub const ARP_SENDER_IP_AT: usize = 14;
const ARP_MIN: usize = 28;

/// IPv6 header (40 bytes), then the ICMPv6 message.
pub const IPV6_HEADER: usize = 40;
/// Type, code, checksum, flags, target: the NA without options.
const NA_MIN: usize = 24;
/// Where the NA's target address starts, from the IPv6 header.
pub const NA_TARGET_AT: usize = IPV6_HEADER + 8;

/// Sender IP and sender MAC of an IPv4-over-Ethernet ARP request or reply.
/// Trailing link-layer padding is ignored. A probe (RFC 5227, sender IP
/// 0.0.0.0) claims nothing and is refused.
pub fn arp_sender(arp: &[u8]) -> Option<(Ipv4Addr, [u8; 6])> {
    let a = arp.get(..ARP_MIN)?;
    let be16 = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
    let shape = be16(0) == HTYPE_ETHERNET
        && be16(2) == ETHERTYPE_IPV4
        && a[4] == 6
        && a[5] == 4
        && matches!(be16(6), OP_REQUEST | OP_REPLY);
    if !shape {
        return None;
    }
    let ip = Ipv4Addr::new(a[14], a[15], a[16], a[17]);
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&a[8..14]);
    (!ip.is_unspecified()).then_some((ip, mac))
}

/// Target address and target link-layer address (None when the option is
/// absent) of a Neighbor Advertisement, given the whole IPv6 packet. As
/// RFC 4861 §7.1.2 has receivers do: hop limit 255, code 0, ICMPv6
/// checksum valid, length at least 24, options well-formed (none of length
/// 0). A packet with extension headers is refused: NAs carry none in
/// practice, and reading past them is not worth the code.
pub fn neighbor_advert(ip: &[u8]) -> Option<(Ipv6Addr, Option<[u8; 6]>)> {
    let h = ip.get(..IPV6_HEADER)?;
    if h[0] >> 4 != 6 || h[6] != NEXT_HEADER_ICMPV6 || h[7] != HOP_LIMIT {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    // Link-layer padding may follow; a short packet is truncated.
    let icmp = ip.get(IPV6_HEADER..IPV6_HEADER + len)?;
    if len < NA_MIN || icmp[0] != TYPE_NEIGHBOR_ADVERT || icmp[1] != 0 {
        return None;
    }
    let addr_at = |at: usize| {
        let mut o = [0u8; 16];
        o.copy_from_slice(&h[at..at + 16]);
        Ipv6Addr::from(o)
    };
    let ph = pseudo_header_v6(addr_at(8), addr_at(24), NEXT_HEADER_ICMPV6, len as u32);
    if internet_checksum(&[&ph, icmp]) != 0 && !cfg!(fuzzing) {
        return None;
    }
    let mut target = [0u8; 16];
    target.copy_from_slice(&icmp[8..24]);
    let mut opts = &icmp[NA_MIN..];
    let mut lladdr = None;
    while !opts.is_empty() {
        let olen = usize::from(*opts.get(1)?) * 8;
        let opt = opts.get(..olen).filter(|o| !o.is_empty())?;
        if opt[0] == OPT_TARGET_LL_ADDR && olen == 8 {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&opt[2..8]);
            lladdr = Some(mac);
        }
        opts = &opts[olen..];
    }
    Some((Ipv6Addr::from(target), lladdr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::arp::GarpFrame;
    use crate::wire::ndisc::{ALL_NODES, NeighborAdvert};
    use crate::wire::vrrp::pcap;

    const MAC: [u8; 6] = [0x1e, 0x41, 0xbf, 0xf1, 0x62, 0xac];
    const V4: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 100);
    const V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);

    fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, hlim: u8, icmp: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend((icmp.len() as u16).to_be_bytes());
        p.extend([NEXT_HEADER_ICMPV6, hlim]);
        p.extend(src.octets());
        p.extend(dst.octets());
        p.extend(icmp);
        p
    }

    #[test]
    fn arp_request_and_reply() {
        let garp = GarpFrame::new(MAC, V4);
        assert_eq!(arp_sender(garp.arp_payload()), Some((V4, MAC)));
        // A reply from someone else for another target: still its sender.
        let mut reply = [0u8; 46];
        reply[..28].copy_from_slice(garp.arp_payload());
        reply[7] = 2;
        reply[18..24].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        reply[24..28].copy_from_slice(&[10, 200, 0, 1]);
        assert_eq!(arp_sender(&reply), Some((V4, MAC)));
    }

    #[test]
    fn arp_rejects() {
        let good: [u8; 28] = GarpFrame::new(MAC, V4).arp_payload().try_into().unwrap();
        for n in 0..28 {
            assert_eq!(arp_sender(&good[..n]), None, "length {n}");
        }
        for (at, v) in [(1, 6), (2, 0x86), (3, 0xdd), (4, 8), (5, 16), (7, 3), (7, 0)] {
            let mut b = good;
            b[at] = v;
            assert_eq!(arp_sender(&b), None, "byte {at}");
        }
        // An RFC 5227 probe.
        let mut probe = good;
        probe[14..18].fill(0);
        assert_eq!(arp_sender(&probe), None);
    }

    /// Every GARP keepalived sent in the captures names its VIP and MAC.
    #[test]
    fn keepalived_garps() {
        let mut n = 0;
        for file in [pcap::KA_V2, pcap::KA_V3_V4] {
            for frame in pcap::frames(file) {
                let (ethertype, payload) = pcap::ethernet(frame);
                if ethertype != pcap::ETHERTYPE_ARP {
                    continue;
                }
                assert_eq!(arp_sender(payload), Some((V4, MAC)));
                n += 1;
            }
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn keepalived_nas() {
        let mut n = 0;
        for frame in pcap::frames(pcap::KA_V3_V6) {
            let (ethertype, ip) = pcap::ethernet(frame);
            assert_eq!(ethertype, pcap::ETHERTYPE_IPV6);
            if ip.get(6) != Some(&NEXT_HEADER_ICMPV6) {
                assert_eq!(neighbor_advert(ip), None);
                continue;
            }
            assert_eq!(neighbor_advert(ip), Some((V6, Some(MAC))));
            n += 1;
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn na_options() {
        let na = NeighborAdvert::new(MAC, V6, false);
        let good = ipv6(V6, ALL_NODES, 255, na.as_bytes());
        assert_eq!(neighbor_advert(&good), Some((V6, Some(MAC))));
        // Padding after the packet is not part of it.
        let mut padded = good.clone();
        padded.extend([0xee; 6]);
        assert_eq!(neighbor_advert(&padded), Some((V6, Some(MAC))));
        // Without options (solicited NA, RFC 4861 allows it): no address.
        let mut bare = na.as_bytes()[..24].to_vec();
        bare[2..4].fill(0);
        let ph = pseudo_header_v6(V6, ALL_NODES, NEXT_HEADER_ICMPV6, 24);
        let c = internet_checksum(&[&ph, &bare]);
        bare[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(neighbor_advert(&ipv6(V6, ALL_NODES, 255, &bare)), Some((V6, None)));
        // An unknown option before the address is skipped.
        let mut two = bare.clone();
        two[2..4].fill(0);
        two.extend([99, 1, 0, 0, 0, 0, 0, 0, OPT_TARGET_LL_ADDR, 1]);
        two.extend(MAC);
        let ph = pseudo_header_v6(V6, ALL_NODES, NEXT_HEADER_ICMPV6, two.len() as u32);
        let c = internet_checksum(&[&ph, &two]);
        two[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(neighbor_advert(&ipv6(V6, ALL_NODES, 255, &two)), Some((V6, Some(MAC))));
    }

    #[test]
    fn na_rejects() {
        let na = NeighborAdvert::new(MAC, V6, false);
        let good = ipv6(V6, ALL_NODES, 255, na.as_bytes());
        for n in 0..good.len() {
            assert_eq!(neighbor_advert(&good[..n]), None, "length {n}");
        }
        // Version, next header, hop limit (off-link), type, code, checksum.
        for (at, v) in [(0, 0x40), (6, 17), (7, 254), (40, 135), (41, 1), (42, 0), (70, 0)] {
            let mut b = good.clone();
            b[at] = v;
            assert_eq!(neighbor_advert(&b), None, "byte {at}");
        }
        // A zero-length option would loop forever; refused.
        let mut zero = na.as_bytes().to_vec();
        zero[25] = 0;
        zero[2..4].fill(0);
        let ph = pseudo_header_v6(V6, ALL_NODES, NEXT_HEADER_ICMPV6, 32);
        let c = internet_checksum(&[&ph, &zero]);
        zero[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(neighbor_advert(&ipv6(V6, ALL_NODES, 255, &zero)), None);
        // The target sits where the socket filter looks for it.
        assert_eq!(&good[NA_TARGET_AT..NA_TARGET_AT + 16], &V6.octets());
    }
}
