//! Gratuitous ARP: the frame a new master broadcasts for each IPv4 VIP so
//! that neighbours and switches learn where the VIP now lives.
//!
//! Built exactly as keepalived 2.2.7 sends it (checked byte for byte against
//! its captures): an ARP *request* to the Ethernet broadcast address whose
//! sender and target protocol addresses are both the VIP, target hardware
//! address ff:ff:ff:ff:ff:ff, no padding (42 bytes; the NIC pads to 60).
//!
//! ```text
//! Ethernet: dst ff:ff:ff:ff:ff:ff | src our MAC | type 0x0806
//! ARP:      htype 1 | ptype 0x0800 | hlen 6 | plen 4 | op 1 (request)
//!           sender MAC | sender IP = VIP | target MAC ff:..:ff | target IP = VIP
//! ```

use core::net::Ipv4Addr;

use bytemuck::{Pod, Zeroable};

pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const HTYPE_ETHERNET: u16 = 1;
pub const OP_REQUEST: u16 = 1;
pub const OP_REPLY: u16 = 2;
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];
pub const FRAME_LEN: usize = 42;
/// The ARP part alone, for an AF_PACKET SOCK_DGRAM socket where the kernel
/// writes the Ethernet header.
pub const ARP_LEN: usize = 28;

/// Ethernet header plus ARP packet for IPv4 over Ethernet.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct GarpFrame {
    eth_dst: [u8; 6],
    eth_src: [u8; 6],
    ethertype: [u8; 2],
    htype: [u8; 2],
    ptype: [u8; 2],
    hlen: u8,
    plen: u8,
    op: [u8; 2],
    sender_mac: [u8; 6],
    sender_ip: [u8; 4],
    target_mac: [u8; 6],
    target_ip: [u8; 4],
}

impl GarpFrame {
    /// The gratuitous ARP request announcing `vip` at `mac`.
    pub const fn new(mac: [u8; 6], vip: Ipv4Addr) -> GarpFrame {
        let ip = vip.octets();
        GarpFrame {
            eth_dst: BROADCAST_MAC,
            eth_src: mac,
            ethertype: ETHERTYPE_ARP.to_be_bytes(),
            htype: HTYPE_ETHERNET.to_be_bytes(),
            ptype: ETHERTYPE_IPV4.to_be_bytes(),
            hlen: 6,
            plen: 4,
            op: OP_REQUEST.to_be_bytes(),
            sender_mac: mac,
            sender_ip: ip,
            target_mac: BROADCAST_MAC,
            target_ip: ip,
        }
    }

    /// A received Ethernet frame, if it is an IPv4-over-Ethernet ARP packet
    /// (request or reply) announcing its own sender address: sender and
    /// target IP equal. Trailing link-layer padding is ignored.
    pub fn parse(bytes: &[u8]) -> Option<GarpFrame> {
        let f: GarpFrame = bytemuck::try_pod_read_unaligned(bytes.get(..FRAME_LEN)?).ok()?;
        let shape_ok = u16::from_be_bytes(f.ethertype) == ETHERTYPE_ARP
            && u16::from_be_bytes(f.htype) == HTYPE_ETHERNET
            && u16::from_be_bytes(f.ptype) == ETHERTYPE_IPV4
            && f.hlen == 6
            && f.plen == 4
            && matches!(u16::from_be_bytes(f.op), OP_REQUEST | OP_REPLY);
        (shape_ok && f.sender_ip == f.target_ip).then_some(f)
    }

    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::bytes_of(self)
    }

    /// Everything after the Ethernet header.
    pub fn arp_payload(&self) -> &[u8] {
        self.as_bytes().get(14..).unwrap_or(&[])
    }

    pub const fn eth_dst(&self) -> [u8; 6] {
        self.eth_dst
    }

    pub const fn eth_src(&self) -> [u8; 6] {
        self.eth_src
    }

    pub const fn op(&self) -> u16 {
        u16::from_be_bytes(self.op)
    }

    pub const fn sender_mac(&self) -> [u8; 6] {
        self.sender_mac
    }

    pub const fn target_mac(&self) -> [u8; 6] {
        self.target_mac
    }

    /// The announced address (sender IP, equal to target IP).
    pub const fn vip(&self) -> Ipv4Addr {
        let [a, b, c, d] = self.sender_ip;
        Ipv4Addr::new(a, b, c, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vrrp::pcap;

    const MAC: [u8; 6] = [0x1e, 0x41, 0xbf, 0xf1, 0x62, 0xac];
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 100);

    static FRAME_BYTES: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1e, 0x41, 0xbf, 0xf1, 0x62, 0xac, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00,
        0x06, 0x04, 0x00, 0x01, 0x1e, 0x41, 0xbf, 0xf1, 0x62, 0xac, 0x0a, 0xc8, 0x00, 0x64, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0x0a, 0xc8, 0x00, 0x64,
    ];

    #[test]
    fn test_deconstruct() {
        let f = GarpFrame::parse(&FRAME_BYTES).unwrap();
        assert_eq!(f.eth_dst(), BROADCAST_MAC);
        assert_eq!(f.eth_src(), MAC);
        assert_eq!(f.op(), OP_REQUEST);
        assert_eq!(f.sender_mac(), MAC);
        assert_eq!(f.target_mac(), BROADCAST_MAC);
        assert_eq!(f.vip(), VIP);
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 64];
        let f = GarpFrame::new(MAC, VIP);
        buf[..FRAME_LEN].copy_from_slice(f.as_bytes());
        assert_eq!(&buf[..FRAME_LEN], &FRAME_BYTES[..]);
        assert_eq!(f.arp_payload(), &FRAME_BYTES[14..]);
        assert_eq!(f.arp_payload().len(), ARP_LEN);
        assert_eq!(core::mem::size_of::<GarpFrame>(), FRAME_LEN);
    }

    /// Every GARP in the keepalived captures is byte-identical to ours.
    #[test]
    fn test_keepalived_garps() {
        let mut n = 0;
        for file in [pcap::KA_V2, pcap::KA_V3_V4] {
            for frame in pcap::frames(file) {
                if pcap::ethernet(frame).0 != pcap::ETHERTYPE_ARP {
                    continue;
                }
                let parsed = GarpFrame::parse(frame).unwrap();
                assert_eq!(GarpFrame::new(parsed.sender_mac(), parsed.vip()).as_bytes(), frame);
                assert_eq!(frame, &FRAME_BYTES[..]);
                n += 1;
            }
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn test_parse_rejects() {
        for n in 0..FRAME_LEN {
            assert_eq!(GarpFrame::parse(&FRAME_BYTES[..n]), None);
        }
        let mut padded = [0u8; 60];
        padded[..FRAME_LEN].copy_from_slice(&FRAME_BYTES);
        assert!(GarpFrame::parse(&padded).is_some());
        for (at, v) in [(13, 0x00), (15, 6), (17, 0xdd), (18, 16), (19, 16), (21, 3), (41, 0x65)] {
            let mut b = FRAME_BYTES;
            b[at] = v;
            assert_eq!(GarpFrame::parse(&b), None, "byte {at}");
        }
        let mut reply = FRAME_BYTES;
        reply[21] = 2;
        assert!(GarpFrame::parse(&reply).is_some());
    }
}
