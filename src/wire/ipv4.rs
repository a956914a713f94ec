//! The IPv4 header around a VRRP message.
//!
//! An IPv4 raw socket hands over the IP header with each packet, so the
//! receive path reads the source, TTL and payload bounds here. The kernel
//! has already verified the header checksum and reassembled fragments
//! before raw-socket delivery, so [`parse_rx`] checks neither.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |      TOS      |         Total Length          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |Flags|     Fragment Offset     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      TTL      |   Protocol    |        Header Checksum        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Source Address                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Destination Address                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options (IHL > 5, skipped)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::net::{IpAddr, Ipv4Addr};

use bytemuck::{Pod, Zeroable};

use super::WireError;
use super::checksum::internet_checksum;
use super::vrrp::PROTOCOL;

pub const HEADER_LEN: usize = 20;
/// DSCP CS6 (network control), what keepalived sets.
pub const TOS_NETWORK_CONTROL: u8 = 0xc0;
/// RFC 9568 §5.1.1.3: multicast adverts are sent, and accepted, only with
/// this TTL, so they cannot have crossed a router.
pub const VRRP_TTL: u8 = 255;

/// The fixed 20-byte header, options excluded.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Ipv4Header {
    version_ihl: u8,
    tos: u8,
    total_len: [u8; 2],
    id: [u8; 2],
    flags_frag: [u8; 2],
    ttl: u8,
    protocol: u8,
    checksum: [u8; 2],
    src: [u8; 4],
    dst: [u8; 4],
}

impl Ipv4Header {
    /// The fixed header at the start of `bytes`; `None` if shorter.
    pub fn view(bytes: &[u8]) -> Option<&Ipv4Header> {
        bytemuck::try_from_bytes(bytes.get(..HEADER_LEN)?).ok()
    }

    /// A header for a VRRP message of `payload_len` bytes as keepalived
    /// builds it with IP_HDRINCL: TOS 0xc0, no options, DF clear, checksum
    /// filled in. `PacketLength` if the total does not fit 16 bits.
    pub fn vrrp(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, id: u16, payload_len: usize) -> Result<Ipv4Header, WireError> {
        let total =
            payload_len.checked_add(HEADER_LEN).and_then(|t| u16::try_from(t).ok()).ok_or(WireError::PacketLength)?;
        let mut h = Ipv4Header {
            version_ihl: 0x45,
            tos: TOS_NETWORK_CONTROL,
            total_len: total.to_be_bytes(),
            id: id.to_be_bytes(),
            flags_frag: [0; 2],
            ttl,
            protocol: PROTOCOL,
            checksum: [0; 2],
            src: src.octets(),
            dst: dst.octets(),
        };
        h.checksum = internet_checksum(&[bytemuck::bytes_of(&h)]).to_be_bytes();
        Ok(h)
    }

    pub const fn version(&self) -> u8 {
        self.version_ihl >> 4
    }

    /// Header length in bytes, options included.
    pub const fn header_len(&self) -> usize {
        (self.version_ihl & 0x0f) as usize * 4
    }

    pub const fn tos(&self) -> u8 {
        self.tos
    }

    pub const fn total_len(&self) -> u16 {
        u16::from_be_bytes(self.total_len)
    }

    pub const fn id(&self) -> u16 {
        u16::from_be_bytes(self.id)
    }

    /// Flags (top 3 bits) and fragment offset.
    pub const fn flags_frag(&self) -> u16 {
        u16::from_be_bytes(self.flags_frag)
    }

    pub const fn ttl(&self) -> u8 {
        self.ttl
    }

    pub const fn protocol(&self) -> u8 {
        self.protocol
    }

    pub const fn checksum(&self) -> u16 {
        u16::from_be_bytes(self.checksum)
    }

    pub const fn src(&self) -> Ipv4Addr {
        let [a, b, c, d] = self.src;
        Ipv4Addr::new(a, b, c, d)
    }

    pub const fn dst(&self) -> Ipv4Addr {
        let [a, b, c, d] = self.dst;
        Ipv4Addr::new(a, b, c, d)
    }

    /// Over the fixed header only, so only meaningful without options.
    pub fn checksum_ok(&self) -> bool {
        internet_checksum(&[bytemuck::bytes_of(self)]) == 0
    }
}

/// What the VRRP receive path needs from an IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Rx<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    /// The VRRP message: from the end of the header (options skipped) to
    /// the total length.
    pub payload: &'a [u8],
}

/// Checks a packet read from an IPv4 raw socket and finds its payload.
///
/// Errors: fewer than 20 bytes (`PacketLength`); version not 4, IHL below 5,
/// or protocol not 112 (`Protocol`); header longer than the packet, or total
/// length smaller than the header or larger than what was received
/// (`PacketLength`). Bytes after the total length are cut off rather than
/// rejected: link-layer padding is not part of the packet (keepalived
/// rejects them; a VRRP message too long for its count is still rejected by
/// [`super::vrrp::Advert::parse`], because its length comes from here).
pub fn parse_rx(packet: &[u8]) -> Result<Ipv4Rx<'_>, WireError> {
    let hdr = Ipv4Header::view(packet).ok_or(WireError::PacketLength)?;
    if hdr.version() != 4 || hdr.header_len() < HEADER_LEN {
        return Err(WireError::Protocol);
    }
    if hdr.protocol() != PROTOCOL {
        return Err(WireError::Protocol);
    }
    let total = usize::from(hdr.total_len());
    if total > packet.len() || total < hdr.header_len() {
        return Err(WireError::PacketLength);
    }
    let payload = packet.get(hdr.header_len()..total).ok_or(WireError::PacketLength)?;
    Ok(Ipv4Rx { src: hdr.src(), dst: hdr.dst(), ttl: hdr.ttl(), payload })
}

/// Whether a TTL / hop limit is acceptable on a multicast advert.
pub const fn ttl_ok_for_multicast(ttl: u8) -> bool {
    ttl == VRRP_TTL
}

/// TTL (IPv4) or hop limit (IPv6) check of RFC 9568 §7.1: multicast
/// adverts must arrive with 255. Unicast ones are left to the per-peer
/// `min_ttl`/`max_ttl` of the engine.
pub fn check_ttl(dst: IpAddr, ttl: u8) -> Result<(), WireError> {
    if dst.is_multicast() && !ttl_ok_for_multicast(ttl) {
        return Err(WireError::IpTtl);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vrrp::pcap;

    /// First frame of the keepalived v2 capture, without the Ethernet header.
    static PACKET_BYTES: [u8; 40] = [
        0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xcf, 0xc8, 0x0a, 0xc8, 0x00, 0x02, 0xe0, 0x00,
        0x00, 0x12, 0x21, 0x33, 0x64, 0x01, 0x00, 0x01, 0x6f, 0x9e, 0x0a, 0xc8, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn test_deconstruct() {
        let rx = parse_rx(&PACKET_BYTES).unwrap();
        assert_eq!(rx.src, Ipv4Addr::new(10, 200, 0, 2));
        assert_eq!(rx.dst, Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(rx.ttl, 255);
        assert_eq!(rx.payload, &PACKET_BYTES[20..]);
        let h = Ipv4Header::view(&PACKET_BYTES).unwrap();
        assert_eq!(h.tos(), 0xc0);
        assert_eq!(h.id(), 1);
        assert_eq!(h.flags_frag(), 0);
        assert_eq!(h.checksum(), 0xcfc8);
        assert!(h.checksum_ok());
    }

    #[test]
    fn test_construct() {
        let h = Ipv4Header::vrrp(Ipv4Addr::new(10, 200, 0, 2), Ipv4Addr::new(224, 0, 0, 18), 255, 1, 20).unwrap();
        assert_eq!(bytemuck::bytes_of(&h), &PACKET_BYTES[..20]);
        assert!(Ipv4Header::vrrp(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 255, 0, 65_516).is_err());
        assert!(Ipv4Header::vrrp(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 255, 0, 65_515).is_ok());
    }

    /// Every IPv4 header keepalived sent (ids 1..=16, v2 and v3) is what
    /// our emitter builds from the same fields.
    #[test]
    fn test_keepalived_headers_byte_identical() {
        let mut n = 0;
        for file in [pcap::KA_V2, pcap::KA_V3_V4] {
            for frame in pcap::frames(file) {
                let (ethertype, ip) = pcap::ethernet(frame);
                if ethertype != pcap::ETHERTYPE_IPV4 {
                    continue;
                }
                let got = Ipv4Header::view(ip).unwrap();
                if got.tos() != TOS_NETWORK_CONTROL {
                    continue; // the hand-written test sender, not keepalived
                }
                let rx = parse_rx(ip).unwrap();
                let ours = Ipv4Header::vrrp(rx.src, rx.dst, rx.ttl, got.id(), rx.payload.len());
                assert_eq!(ours.as_ref(), Ok(got));
                n += 1;
            }
        }
        assert_eq!(n, 9 + 16);
    }

    #[test]
    fn test_options_skipped_and_padding_cut() {
        let mut p = [0u8; 24 + 20 + 6];
        p[..20].copy_from_slice(&PACKET_BYTES[..20]);
        p[0] = 0x46;
        p[2..4].copy_from_slice(&44u16.to_be_bytes());
        p[20..24].copy_from_slice(&[1, 1, 1, 0]); // NOP NOP NOP EOL
        p[24..44].copy_from_slice(&PACKET_BYTES[20..]);
        p[44..].fill(0xee);
        let rx = parse_rx(&p).unwrap();
        assert_eq!(rx.payload, &PACKET_BYTES[20..]);
    }

    #[test]
    fn test_rejects() {
        for n in 0..HEADER_LEN {
            assert_eq!(parse_rx(&PACKET_BYTES[..n]), Err(WireError::PacketLength));
        }
        // Truncated after the header: total length says 40.
        for n in HEADER_LEN..PACKET_BYTES.len() {
            assert_eq!(parse_rx(&PACKET_BYTES[..n]), Err(WireError::PacketLength));
        }
        let with = |at: usize, v: u8| {
            let mut p = PACKET_BYTES;
            p[at] = v;
            p
        };
        assert_eq!(parse_rx(&with(0, 0x65)), Err(WireError::Protocol));
        assert_eq!(parse_rx(&with(0, 0x44)), Err(WireError::Protocol));
        assert_eq!(parse_rx(&with(9, 51)), Err(WireError::Protocol));
        // IHL 15 = 60 bytes > 40 received (and > total length).
        assert_eq!(parse_rx(&with(0, 0x4f)), Err(WireError::PacketLength));
        // Total length below the header length.
        assert_eq!(parse_rx(&with(3, 19)), Err(WireError::PacketLength));
        // Total length exactly the header: an empty payload is left to VRRP.
        assert_eq!(parse_rx(&with(3, 20)).map(|rx| rx.payload.len()), Ok(0));
    }

    #[test]
    fn test_ttl() {
        let mcast = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
        let ucast = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let mcast6: IpAddr = "ff02::12".parse().unwrap();
        assert_eq!(check_ttl(mcast, 255), Ok(()));
        assert_eq!(check_ttl(mcast, 254), Err(WireError::IpTtl));
        assert_eq!(check_ttl(mcast6, 1), Err(WireError::IpTtl));
        assert_eq!(check_ttl(mcast6, 255), Ok(()));
        assert_eq!(check_ttl(ucast, 1), Ok(()));
        assert!(ttl_ok_for_multicast(255));
        assert!(!ttl_ok_for_multicast(0));
    }
}
