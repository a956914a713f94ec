//! Watching other hosts claim our addresses: per interface, an AF_PACKET
//! socket that hears ARP (IPv4 VIPs) or Neighbor Advertisements (IPv6
//! VIPs) and reports who says it owns which address. Evidence for
//! split-brain detection when only VRRP is partitioned (design issue 12);
//! whether a claim matters is the engine's decision, the formats are
//! [`crate::wire::claim`].
//!
//! - Both families use SOCK_DGRAM packet sockets bound to the interface,
//!   not an ICMPv6 raw socket for NAs: the packet socket gives the sender's
//!   MAC and the packet type (so our own outgoing frames are told apart)
//!   and lets one classic BPF program check hop limit 255, ICMPv6 and type
//!   136, all without ancillary data, which rustix cannot read
//!   (platform-notes Q2). The price is that the filter runs on every IPv6
//!   frame of the interface: a dozen instructions, before any copy.
//! - The socket is created with protocol 0, which receives nothing; the
//!   filter is attached, then `bind` with the ethertype starts delivery, so
//!   no unfiltered frame is ever queued.
//! - The filter keeps only frames whose claimed address is one of the
//!   watched VIPs (the ARP sender address; the last 32 bits of the NA
//!   target, the rest is checked in user space) as a chain of comparisons
//!   when there are at most [`MAX_FILTERED`]; beyond that, the jump offsets
//!   of classic BPF (8 bits) run out and only the shape is filtered.
//! - Nothing is allocated per packet: frames are read into a stack buffer.

use core::mem::size_of;
use core::net::IpAddr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::net::{AddressFamily, SocketFlags, SocketType};

use crate::sys::sockopt::{SOL_SOCKET, set_bytes};
use crate::wire::arp::ETHERTYPE_ARP;
use crate::wire::claim::{ARP_SENDER_IP_AT, NA_TARGET_AT, arp_sender, neighbor_advert};

const ETHERTYPE_IPV6: u16 = 0x86dd;
const SO_ATTACH_FILTER: i32 = 26;
/// `sll_pkttype` of a frame we sent (linux/if_packet.h).
const PACKET_OUTGOING: u8 = 4;
/// Most addresses compared in the kernel; see the module documentation.
pub const MAX_FILTERED: usize = 200;
/// An NA with a few options fits; a longer packet is not one we read.
const BUF: usize = 256;

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const JEQ_K: u16 = 0x15;
const RET_K: u16 = 0x06;
/// SKF_AD_OFF + SKF_AD_PKTTYPE: the packet type, as an absolute load.
const AD_PKTTYPE: u32 = (-0x1000i32 + 4) as u32;
/// What an accepting filter keeps: the whole frame.
const KEEP: u32 = 0xffff;

/// What one read gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recv {
    /// Nothing queued.
    Empty,
    /// A frame that claims nothing of interest (ours, malformed, truncated).
    Other,
    /// Another host says `addr` is at `hw`.
    Claim { addr: IpAddr, hw: [u8; 6] },
}

/// One watched interface and family.
#[derive(Debug)]
pub struct ClaimSocket {
    fd: OwnedFd,
    ifindex: u32,
    v6: bool,
}

/// `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const fn ld(code: u16, k: u32) -> Insn {
    Insn { code, jt: 0, jf: 0, k }
}

/// Equal: on, past the DROP that follows.
const fn eq(k: u32) -> Insn {
    Insn { code: JEQ_K, jt: 1, jf: 0, k }
}

/// Equal: into the DROP that follows.
const fn ne(k: u32) -> Insn {
    Insn { code: JEQ_K, jt: 0, jf: 1, k }
}

const DROP: Insn = ld(RET_K, 0);
const ACCEPT: Insn = ld(RET_K, KEEP);

/// ARP for IPv4 over Ethernet, request or reply, not sent by us; ends
/// loading the sender address. Offsets are into the ARP packet.
static ARP_HEAD: [Insn; 14] = [
    ld(LD_W_ABS, AD_PKTTYPE),
    ne(PACKET_OUTGOING as u32),
    DROP,
    ld(LD_H_ABS, 0),
    eq(1),
    DROP,
    ld(LD_H_ABS, 2),
    eq(0x0800),
    DROP,
    // hlen 6, plen 4, op request or reply.
    ld(LD_W_ABS, 4),
    Insn { code: JEQ_K, jt: 2, jf: 0, k: 0x0604_0001 },
    eq(0x0604_0002),
    DROP,
    ld(LD_W_ABS, ARP_SENDER_IP_AT as u32),
];

/// ICMPv6 Neighbor Advertisement, hop limit 255, not sent by us; ends
/// loading the last 32 bits of the target. Offsets are into the IPv6
/// packet, so an NA behind extension headers does not match.
static NA_HEAD: [Insn; 13] = [
    ld(LD_W_ABS, AD_PKTTYPE),
    ne(PACKET_OUTGOING as u32),
    DROP,
    ld(LD_B_ABS, 6),
    eq(58),
    DROP,
    ld(LD_B_ABS, 7),
    eq(255),
    DROP,
    ld(LD_B_ABS, 40),
    eq(136),
    DROP,
    ld(LD_W_ABS, (NA_TARGET_AT + 12) as u32),
];

/// The filter for ARP (`v6` false) or Neighbor Advertisements: the head,
/// then one comparison per key of `vips` (those of the other
/// family are ignored) jumping to the accept, drop, accept.
pub fn program(v6: bool, vips: &[IpAddr]) -> Vec<Insn> {
    let head: &[Insn] = if v6 { &NA_HEAD } else { &ARP_HEAD };
    let mut p = head.to_vec();
    for a in vips {
        let k = match (a, v6) {
            (IpAddr::V4(a), false) => a.to_bits(),
            (IpAddr::V6(a), true) => a.to_bits() as u32,
            _ => continue,
        };
        // A repeated key only lengthens the chain.
        p.push(ld(JEQ_K, k));
    }
    let n = p.len() - head.len();
    if n > MAX_FILTERED {
        p.truncate(head.len());
    } else {
        for (j, i) in p[head.len()..].iter_mut().enumerate() {
            // Past the comparisons left and the drop; n <= MAX_FILTERED.
            i.jt = (n - j) as u8;
        }
        p.push(DROP);
    }
    p.push(ACCEPT);
    p
}

fn attach(fd: BorrowedFd<'_>, prog: &[Insn]) -> io::Result<()> {
    let len = u16::try_from(prog.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // `struct sock_fprog`: the kernel copies the program during the call.
    let fprog = libc::sock_fprog { len, filter: prog.as_ptr().cast_mut().cast() };
    // SAFETY: a view of the initialised bytes of a live local, read by
    // the kernel (through set_bytes) while `prog` is alive.
    let bytes = unsafe { core::slice::from_raw_parts((&raw const fprog).cast::<u8>(), size_of::<libc::sock_fprog>()) };
    set_bytes(fd, SOL_SOCKET, SO_ATTACH_FILTER, bytes)
}

fn open(ifindex: u32, ethertype: u16, prog: &[Insn]) -> io::Result<OwnedFd> {
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let fd = rustix::net::socket_with(AddressFamily::PACKET, SocketType::DGRAM, flags, None)?;
    attach(fd.as_fd(), prog)?;
    // SAFETY: sockaddr_ll is integers only; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
    sll.sll_family = AddressFamily::PACKET.as_raw();
    sll.sll_protocol = ethertype.to_be();
    sll.sll_ifindex = i32::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the address is a live local of the length given; the fd is
    // owned here, so open.
    let rc = unsafe {
        libc::bind(fd.as_raw_fd(), (&raw const sll).cast(), size_of::<libc::sockaddr_ll>() as libc::socklen_t)
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

impl ClaimSocket {
    /// The watcher of `ifindex` for the IPv6 (`v6`) or IPv4 addresses in
    /// `vips`: Neighbor Advertisements or ARP. Needs CAP_NET_RAW.
    pub fn open(ifindex: u32, v6: bool, vips: &[IpAddr]) -> io::Result<ClaimSocket> {
        let ethertype = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_ARP };
        Ok(ClaimSocket { fd: open(ifindex, ethertype, &program(v6, vips))?, ifindex, v6 })
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Reads one frame without blocking. A frame whose link-layer address
    /// is `own` (the interface's) is ours, not a claim. ENETDOWN when the
    /// interface went down since the last read.
    pub fn recv(&self, own: [u8; 6]) -> io::Result<Recv> {
        let mut buf = [0u8; BUF];
        // SAFETY: sockaddr_ll is integers only; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
        let mut sll_len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: buffer and address are live locals of the lengths given;
        // the kernel writes at most that much. The fd is owned by `self`.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
                (&raw mut sll).cast(),
                &raw mut sll_len,
            )
        };
        let Ok(n) = usize::try_from(n) else {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(Recv::Empty),
                io::ErrorKind::Interrupted => Ok(Recv::Other),
                _ => Err(e),
            };
        };
        // MSG_TRUNC: `n` is the frame's length, which may exceed the buffer.
        let Some(bytes) = buf.get(..n) else { return Ok(Recv::Other) };
        let mut src = [0u8; 6];
        src.copy_from_slice(&sll.sll_addr[..6]);
        if sll.sll_pkttype == PACKET_OUTGOING || src == own {
            return Ok(Recv::Other);
        }
        let claim = if self.v6 {
            neighbor_advert(bytes).map(|(target, ll)| (IpAddr::V6(target), ll.unwrap_or(src)))
        } else {
            arp_sender(bytes).map(|(ip, mac)| (IpAddr::V4(ip), mac))
        };
        Ok(match claim {
            Some((addr, hw)) if hw != own => Recv::Claim { addr, hw },
            _ => Recv::Other,
        })
    }
}

impl AsFd for ClaimSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::netlink::Netlink;
    use crate::sys::netlink::testns::setup;
    use crate::wire::arp::GarpFrame;
    use crate::wire::ndisc::NeighborAdvert;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use std::time::{Duration, Instant};

    /// Where a jump from instruction `at` goes.
    fn to(at: usize, off: u8) -> usize {
        at + 1 + usize::from(off)
    }

    #[test]
    fn jumps_reach_drop_and_accept() {
        let vips: Vec<IpAddr> = (0..3).map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))).collect();
        // IPv6 addresses are not compared in an ARP filter.
        let mut mixed = vips.clone();
        mixed.push("fd00::1".parse().unwrap());
        let p = program(false, &mixed);
        let h = ARP_HEAD.len();
        assert_eq!(p.len(), h + 3 + 2);
        let (drop_at, accept_at) = (h + 3, h + 4);
        assert_eq!((p[drop_at], p[accept_at]), (DROP, ACCEPT));
        // Every check in the head falls to a drop or to the next check.
        for (i, insn) in ARP_HEAD.iter().enumerate().filter(|(_, x)| x.code == JEQ_K) {
            for t in [to(i, insn.jt), to(i, insn.jf)] {
                assert!(p[t] == DROP || matches!(p[t].code, LD_W_ABS | LD_H_ABS | JEQ_K), "{i}");
            }
        }
        // Outgoing frames: to a drop; both ARP opcodes: on to the sender load.
        assert_eq!(p[to(1, p[1].jt)], DROP);
        assert_eq!(to(10, p[10].jt), h - 1);
        assert_eq!(to(11, p[11].jt), h - 1);
        // Every comparison's true branch lands on the accept.
        for j in h..h + 3 {
            assert_eq!(to(j, p[j].jt), accept_at);
            assert_eq!(p[j].jf, 0);
            assert_eq!(IpAddr::V4(Ipv4Addr::from_bits(p[j].k)), vips[j - h]);
        }
        // At the limit the chain still fits; above it only the shape is
        // filtered.
        let many: Vec<IpAddr> = (0..=MAX_FILTERED as u32).map(|k| IpAddr::V4(Ipv4Addr::from_bits(k))).collect();
        let p = program(false, &many[..MAX_FILTERED]);
        assert_eq!((p.len(), to(h, p[h].jt)), (h + MAX_FILTERED + 2, h + MAX_FILTERED + 1));
        assert_eq!(program(false, &many)[h..], [ACCEPT]);
        assert_eq!(size_of::<Insn>(), size_of::<libc::sock_filter>());
        // NA: the last 32 bits of the target are compared.
        let v6: Vec<IpAddr> = ["fd00::1", "fd01::2"].iter().map(|a| a.parse().unwrap()).collect();
        let p = program(true, &v6);
        let h = NA_HEAD.len();
        assert_eq!(p.len(), h + 2 + 2);
        assert_eq!((p[h].k, p[h + 1].k), (1, 2));
    }

    fn send_frame(ifindex: u32, ethertype: u16, dst: [u8; 6], payload: &[u8]) {
        let fd =
            rustix::net::socket_with(AddressFamily::PACKET, SocketType::DGRAM, SocketFlags::CLOEXEC, None).unwrap();
        // SAFETY: as in `open`.
        let mut sll: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
        sll.sll_family = AddressFamily::PACKET.as_raw();
        sll.sll_protocol = ethertype.to_be();
        sll.sll_ifindex = ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&dst);
        // SAFETY: live locals of the lengths given.
        let n = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                payload.as_ptr().cast(),
                payload.len(),
                0,
                (&raw const sll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        assert_eq!(n, payload.len() as isize, "{}", io::Error::last_os_error());
    }

    /// Claims until nothing arrives for 300 ms.
    fn claims(s: &ClaimSocket, own: [u8; 6]) -> Vec<(IpAddr, [u8; 6])> {
        let mut got = Vec::new();
        let mut last = Instant::now();
        while last.elapsed() < Duration::from_millis(300) {
            match s.recv(own).unwrap() {
                Recv::Empty => std::thread::sleep(Duration::from_millis(5)),
                Recv::Other => last = Instant::now(),
                Recv::Claim { addr, hw } => {
                    got.push((addr, hw));
                    last = Instant::now();
                }
            }
        }
        got
    }

    /// Over a veth pair: what vb's watcher reports of frames va sends.
    #[test]
    fn reports_claims_of_watched_addresses_only() {
        let Some(ns) = setup("claims") else { return };
        ns.run(|| {
            let mut nl = Netlink::open().unwrap();
            let deadline = Instant::now() + Duration::from_secs(3);
            let (va, vb) = loop {
                let (links, _) = nl.dump().unwrap();
                let find = |n: &str| links.iter().find(|l| l.name == n).cloned();
                if let (Some(a), Some(b)) = (find("va"), find("vb")) {
                    if crate::sys::netlink::link_is_up(&a) && crate::sys::netlink::link_is_up(&b) {
                        break (a, b);
                    }
                }
                assert!(Instant::now() < deadline, "veth not up");
                std::thread::sleep(Duration::from_millis(20));
            };
            let (mac_a, mac_b) = (va.mac.unwrap(), vb.mac.unwrap());
            let vip4 = Ipv4Addr::new(10, 77, 0, 100);
            let vip6: Ipv6Addr = "fd00:77::100".parse().unwrap();
            let arp = ClaimSocket::open(vb.index, false, &[vip4.into(), vip6.into()]).unwrap();
            let na = ClaimSocket::open(vb.index, true, &[vip4.into(), vip6.into()]).unwrap();

            let other = [0x02, 0, 0, 0, 0, 0x99];
            for (mac, ip) in [(mac_a, vip4), (other, vip4), (mac_a, Ipv4Addr::new(10, 77, 0, 101)), (mac_b, vip4)] {
                send_frame(va.index, ETHERTYPE_ARP, [0xff; 6], GarpFrame::new(mac, ip).arp_payload());
            }
            // Frames vb itself sends are outgoing there, whatever they say.
            send_frame(vb.index, ETHERTYPE_ARP, [0xff; 6], GarpFrame::new(other, vip4).arp_payload());
            // The unwatched address never reaches user space; vb's own MAC
            // as sender is not a claim.
            assert_eq!(claims(&arp, mac_b), vec![(IpAddr::V4(vip4), mac_a), (IpAddr::V4(vip4), other)]);

            let ip6 = |na: &NeighborAdvert, target: Ipv6Addr, hlim: u8| {
                let mut p = vec![0x60, 0, 0, 0, 0, 32, 58, hlim];
                p.extend(target.octets());
                p.extend(crate::wire::ndisc::ALL_NODES.octets());
                p.extend(na.as_bytes());
                p
            };
            let mcast = [0x33, 0x33, 0, 0, 0, 1];
            let other6: Ipv6Addr = "fd00:77::101".parse().unwrap();
            for (mac, target, hlim) in [(mac_a, vip6, 255), (other, vip6, 255), (mac_a, other6, 255), (mac_a, vip6, 64)]
            {
                let frame = ip6(&NeighborAdvert::new(mac, target, false), target, hlim);
                send_frame(va.index, ETHERTYPE_IPV6, mcast, &frame);
            }
            assert_eq!(claims(&na, mac_b), vec![(IpAddr::V6(vip6), mac_a), (IpAddr::V6(vip6), other)]);
        });
    }
}
