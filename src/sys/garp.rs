//! Gratuitous ARP and unsolicited Neighbor Advertisements: the frames a new
//! master sends so neighbours and switches learn where each VIP now lives
//! (keepalived-reference §2.9). Formats are [`crate::wire::arp`] and
//! [`crate::wire::ndisc`]; which VIPs, when, and how often is the engine's
//! business.
//!
//! - GARP goes out of an AF_PACKET socket as a complete Ethernet frame, so
//!   the source MAC is whatever the caller passes (the interface's, or a
//!   VMAC's). Protocol 0 makes the socket send-only: it is never handed a
//!   received frame (platform-notes Q3).
//! - NA goes out of one raw ICMPv6 socket for every VIP and interface. The
//!   VIP is set as the source per packet with IPV6_PKTINFO, which also
//!   names the interface; binding to the VIP instead would need a socket
//!   per VIP. IPV6_FREEBIND lets the kernel accept a source that is not
//!   (yet) a usable local address, e.g. still tentative. The kernel fills
//!   in the ICMPv6 checksum (it always does on ICMPv6 raw sockets); the one
//!   [`NeighborAdvert::new`] computed for the same addresses is identical.
//!   rustix cannot send IPV6_PKTINFO (platform-notes Q2), so that one call
//!   goes through libc's `sendmsg`.

use core::mem::{offset_of, size_of};
use core::net::{Ipv4Addr, Ipv6Addr};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};

use bytemuck::{Pod, Zeroable};
use rustix::io::Errno;
use rustix::net::addr::{SocketAddrArg, SocketAddrLen, SocketAddrOpaque};
use rustix::net::sockopt as rsock;
use rustix::net::{AddressFamily, SendFlags, SocketFlags, SocketType, ipproto};

use crate::sys::sockopt;
use crate::wire::arp::{BROADCAST_MAC, ETHERTYPE_ARP, GarpFrame};
use crate::wire::ndisc::{ALL_NODES, HOP_LIMIT, NeighborAdvert};

/// ICMP6_FILTER (linux/icmpv6.h), at level IPPROTO_ICMPV6.
const IPPROTO_ICMPV6: i32 = 58;
const ICMP6_FILTER: i32 = 1;

/// `struct sockaddr_ll` (linux/if_packet.h), which rustix lacks.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
struct SockaddrLl {
    family: u16,
    /// Ethertype, big-endian.
    protocol: [u8; 2],
    ifindex: i32,
    hatype: u16,
    pkttype: u8,
    halen: u8,
    addr: [u8; 8],
}

impl SockaddrLl {
    /// The address of `mac` on interface `ifindex` for frames of `ethertype`.
    fn new(ifindex: u32, ethertype: u16, mac: [u8; 6]) -> io::Result<SockaddrLl> {
        let ifindex = i32::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mut addr = [0u8; 8];
        addr[..6].copy_from_slice(&mac);
        Ok(SockaddrLl {
            family: AddressFamily::PACKET.as_raw(),
            protocol: ethertype.to_be_bytes(),
            ifindex,
            hatype: 0,
            pkttype: 0,
            halen: 6,
            addr,
        })
    }
}

// SAFETY: `f` gets a pointer to `self`, which is borrowed for the whole
// call, and exactly its size; the struct has the kernel's sockaddr_ll
// layout (repr(C), no padding, as the Pod derive checks).
unsafe impl SocketAddrArg for SockaddrLl {
    unsafe fn with_sockaddr<R>(&self, f: impl FnOnce(*const SocketAddrOpaque, SocketAddrLen) -> R) -> R {
        f((self as *const SockaddrLl).cast(), size_of::<SockaddrLl>() as SocketAddrLen)
    }
}

/// One IPV6_PKTINFO control message exactly as `CMSG_*` would lay it out.
/// Aligned for the kernel's `size_t cmsg_len`: musl declares the header as
/// two 32-bit halves, which alone would leave the struct 4-aligned and 4
/// bytes short of CMSG_SPACE.
#[repr(C, align(8))]
struct PktinfoCmsg {
    hdr: libc::cmsghdr,
    info: libc::in6_pktinfo,
}

// SAFETY: CMSG_LEN is arithmetic on its argument.
const PKTINFO_LEN: usize = unsafe { libc::CMSG_LEN(size_of::<libc::in6_pktinfo>() as u32) } as usize;
// SAFETY: CMSG_SPACE is arithmetic on its argument.
const PKTINFO_SPACE: usize = unsafe { libc::CMSG_SPACE(size_of::<libc::in6_pktinfo>() as u32) } as usize;
// The struct must be what the kernel walks: data right after the aligned
// header, total size a whole CMSG_SPACE.
const _: () = assert!(offset_of!(PktinfoCmsg, info) + size_of::<libc::in6_pktinfo>() == PKTINFO_LEN);
const _: () = assert!(size_of::<PktinfoCmsg>() == PKTINFO_SPACE);

/// The sockets GARPs and NAs are sent from; see the module documentation.
#[derive(Debug)]
pub struct Announcer {
    packet: OwnedFd,
    /// None on a kernel without IPv6, where there is nothing to announce.
    icmp6: Option<OwnedFd>,
}

fn retry_intr(mut f: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The NA socket, or None when the kernel has no IPv6.
fn open_icmp6(flags: SocketFlags) -> io::Result<Option<OwnedFd>> {
    let fd = match rustix::net::socket_with(AddressFamily::INET6, SocketType::RAW, flags, Some(ipproto::ICMPV6)) {
        Ok(fd) => fd,
        Err(Errno::AFNOSUPPORT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // RFC 4861 §7.1.2: receivers drop ND with any other hop limit.
    rsock::set_ipv6_multicast_hops(&fd, u32::from(HOP_LIMIT))?;
    // Our own NA looped back would only be processed and dropped.
    rsock::set_ipv6_multicast_loop(&fd, false)?;
    rsock::set_ipv6_freebind(&fd, true)?;
    // The socket only sends; without a filter the kernel would queue a copy
    // of every ICMPv6 message arriving on the host.
    sockopt::set_bytes(&fd, IPPROTO_ICMPV6, ICMP6_FILTER, &[0xff; 32])?;
    Ok(Some(fd))
}

/// A datagram socket sends all or nothing; anything else is reported.
fn whole(sent: usize, len: usize) -> io::Result<()> {
    if sent == len { Ok(()) } else { Err(io::Error::from(io::ErrorKind::WriteZero)) }
}

impl Announcer {
    /// Opens both sockets (CAP_NET_RAW needed).
    pub fn open() -> io::Result<Announcer> {
        let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
        let packet = rustix::net::socket_with(AddressFamily::PACKET, SocketType::RAW, flags, None)?;
        Ok(Announcer { packet, icmp6: open_icmp6(flags)? })
    }

    /// The packet socket's and the ICMPv6 socket's fds: an upgrade keeps
    /// them open across `execve` (closing a packet socket waits for an RCU
    /// grace period, 10-20 ms) and the next image closes them off the loop.
    pub fn fds(&self) -> (std::os::fd::BorrowedFd<'_>, Option<std::os::fd::BorrowedFd<'_>>) {
        use std::os::fd::AsFd;
        (self.packet.as_fd(), self.icmp6.as_ref().map(|f| f.as_fd()))
    }

    /// Sends one gratuitous ARP for `vip` out of `ifindex`, from `mac`.
    /// EAGAIN when the interface's queue is full; ENXIO / ENETDOWN when the
    /// interface is gone or down.
    pub fn garp(&self, ifindex: u32, mac: [u8; 6], vip: Ipv4Addr) -> io::Result<()> {
        let frame = GarpFrame::new(mac, vip);
        let dst = SockaddrLl::new(ifindex, ETHERTYPE_ARP, BROADCAST_MAC)?;
        let bytes = frame.as_bytes();
        let sent = retry_intr(|| Ok(rustix::net::sendto(&self.packet, bytes, SendFlags::empty(), &dst)?))?;
        whole(sent, bytes.len())
    }

    /// Sends one unsolicited NA for `vip` (Override set, Router when
    /// `router`) with `mac` as target link-layer address, from the VIP to
    /// ff02::1 on `ifindex`, hop limit 255. EAFNOSUPPORT without IPv6.
    pub fn na(&self, ifindex: u32, mac: [u8; 6], vip: Ipv6Addr, router: bool) -> io::Result<()> {
        let fd = self.icmp6.as_ref().ok_or_else(|| io::Error::from_raw_os_error(Errno::AFNOSUPPORT.raw_os_error()))?;
        let na = NeighborAdvert::new(mac, vip, router);
        let bytes = na.as_bytes();
        let mut dst = libc::sockaddr_in6 {
            sin6_family: AddressFamily::INET6.as_raw(),
            sin6_port: 0,
            sin6_flowinfo: 0,
            sin6_addr: libc::in6_addr { s6_addr: ALL_NODES.octets() },
            // ff02::1 is link-scoped: the scope id picks the interface.
            sin6_scope_id: ifindex,
        };
        // SAFETY: cmsghdr is integers only, so all-zero bytes are valid;
        // zeroing also covers musl's private padding field.
        let mut hdr: libc::cmsghdr = unsafe { core::mem::zeroed() };
        hdr.cmsg_len = PKTINFO_LEN as _;
        hdr.cmsg_level = libc::IPPROTO_IPV6;
        hdr.cmsg_type = libc::IPV6_PKTINFO;
        let mut control = PktinfoCmsg {
            hdr,
            info: libc::in6_pktinfo { ipi6_addr: libc::in6_addr { s6_addr: vip.octets() }, ipi6_ifindex: ifindex },
        };
        let mut iov = libc::iovec { iov_base: bytes.as_ptr().cast_mut().cast(), iov_len: bytes.len() };
        // SAFETY: msghdr is integers and raw pointers, for which all-zero
        // bytes are valid; zeroing also covers musl's private padding.
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_name = (&raw mut dst).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = (&raw mut control).cast();
        msg.msg_controllen = size_of::<PktinfoCmsg>() as _;
        let raw = fd.as_raw_fd();
        let sent = retry_intr(|| {
            // SAFETY: every pointer in `msg` points at a local above (or at
            // `na`) with the length given, all alive for the whole call; the
            // kernel only reads them. The fd is owned by `self`, so open.
            let n = unsafe { libc::sendmsg(raw, &raw const msg, 0) };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        })?;
        whole(sent, bytes.len())
    }

    /// Whether IPv6 forwarding is on for `ifname`
    /// (`/proc/sys/net/ipv6/conf/IF/forwarding`), for the NA Router flag.
    /// False when it cannot be read (no such interface, no IPv6, a name
    /// that is not an interface name). Reads the namespace of the calling
    /// thread; does not allocate.
    pub fn forwarding(ifname: &str) -> bool {
        const PREFIX: &[u8] = b"/proc/sys/net/ipv6/conf/";
        const SUFFIX: &[u8] = b"/forwarding";
        // Anything else could walk out of the directory.
        let valid = !ifname.is_empty()
            && ifname.len() < crate::wire::netlink::IFNAMSIZ
            && ifname != "."
            && ifname != ".."
            && !ifname.bytes().any(|b| b == b'/' || b == 0);
        if !valid {
            return false;
        }
        let mut path = [0u8; 64];
        let mut len = 0;
        for part in [PREFIX, ifname.as_bytes(), SUFFIX] {
            let Some(dst) = path.get_mut(len..len + part.len()) else { return false };
            dst.copy_from_slice(part);
            len += part.len();
        }
        let Ok(path) = core::str::from_utf8(path.get(..len).unwrap_or(&[])) else { return false };
        let Ok(mut file) = std::fs::File::open(path) else { return false };
        let mut value = [0u8; 8];
        match file.read(&mut value) {
            Ok(n) => matches!(value.get(..n).and_then(|v| v.first()), Some(b'1'..=b'9')),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::netlink::testns::setup;
    use crate::sys::netlink::{Netlink, link_is_up};
    use crate::wire::arp::FRAME_LEN;
    use crate::wire::ndisc::{NA_LEN, TYPE_NEIGHBOR_ADVERT};
    use crate::wire::netlink::LinkInfo;
    use core::net::IpAddr;
    use std::time::{Duration, Instant};

    const ETHERTYPE_IPV6: u16 = 0x86dd;

    #[test]
    fn test_sockaddr_ll_layout() {
        assert_eq!(size_of::<SockaddrLl>(), 20);
        let sll = SockaddrLl::new(7, ETHERTYPE_ARP, [1, 2, 3, 4, 5, 6]).unwrap();
        let mut want = Vec::new();
        want.extend(17u16.to_ne_bytes());
        want.extend([0x08, 0x06]);
        want.extend(7i32.to_ne_bytes());
        want.extend([0, 0, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
        assert_eq!(bytemuck::bytes_of(&sll), &want[..]);
        assert_eq!(SockaddrLl::new(u32::MAX, 0, [0; 6]).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(PKTINFO_LEN, size_of::<libc::cmsghdr>() + 20);
    }

    /// va's and vb's links once both are up.
    fn veth(nl: &mut Netlink) -> (LinkInfo, LinkInfo) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let (links, _) = nl.dump().unwrap();
            let find = |n: &str| links.iter().find(|l| l.name == n).cloned();
            if let (Some(va), Some(vb)) = (find("va"), find("vb")) {
                if link_is_up(&va) && link_is_up(&vb) {
                    return (va, vb);
                }
            }
            assert!(Instant::now() < deadline, "veth not up: {links:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A socket receiving every `ethertype` frame on `ifindex`, with a
    /// receive timeout so a missing frame fails the test instead of hanging.
    fn capture(ifindex: u32, ethertype: u16) -> OwnedFd {
        let proto =
            rustix::net::Protocol::from_raw(rustix::net::RawProtocol::new(u32::from(ethertype.to_be())).unwrap());
        let fd = rustix::net::socket_with(AddressFamily::PACKET, SocketType::RAW, SocketFlags::CLOEXEC, Some(proto))
            .unwrap();
        rustix::net::bind(&fd, &SockaddrLl::new(ifindex, ethertype, [0; 6]).unwrap()).unwrap();
        rsock::set_socket_timeout(&fd, rsock::Timeout::Recv, Some(Duration::from_secs(2))).unwrap();
        fd
    }

    /// The first captured frame `want` accepts.
    fn wait_frame(fd: &OwnedFd, want: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let mut buf = [0u8; 2048];
        loop {
            let (n, _) = rustix::net::recv(fd, &mut buf[..], rustix::net::RecvFlags::empty()).expect("no frame");
            if want(&buf[..n]) {
                return buf[..n].to_vec();
            }
        }
    }

    #[test]
    fn test_garp() {
        let Some(ns) = setup("garp") else { return };
        ns.run(|| {
            let mut nl = Netlink::open().unwrap();
            let (va, vb) = veth(&mut nl);
            let mac = va.mac.unwrap();
            let cap = capture(vb.index, ETHERTYPE_ARP);
            let ann = Announcer::open().unwrap();
            let vip = Ipv4Addr::new(10, 77, 0, 100);
            ann.garp(va.index, mac, vip).unwrap();
            let got = wait_frame(&cap, |f| GarpFrame::parse(f).is_some_and(|g| g.vip() == vip));
            assert_eq!(got, GarpFrame::new(mac, vip).as_bytes());
            assert_eq!(got.len(), FRAME_LEN);
            // Any source MAC goes out as given (a VMAC, say).
            let vmac = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x33];
            ann.garp(va.index, vmac, vip).unwrap();
            let got = wait_frame(&cap, |f| GarpFrame::parse(f).is_some_and(|g| g.sender_mac() == vmac));
            assert_eq!(got, GarpFrame::new(vmac, vip).as_bytes());
            assert!(ann.garp(9999, mac, vip).is_err());
        });
    }

    fn ipv6_at(f: &[u8], at: usize) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&f[at..at + 16]).unwrap())
    }

    /// The ICMPv6 part of a captured NA for `target`, after checking the
    /// Ethernet and IPv6 headers.
    fn captured_na(cap: &OwnedFd, mac: [u8; 6], target: Ipv6Addr) -> Vec<u8> {
        let f = wait_frame(cap, |f| {
            f.len() >= 14 + 40 + NA_LEN && f[20] == 58 && f[54] == TYPE_NEIGHBOR_ADVERT && ipv6_at(f, 62) == target
        });
        assert_eq!(&f[..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(&f[6..12], &mac);
        assert_eq!(u16::from_be_bytes([f[12], f[13]]), ETHERTYPE_IPV6);
        assert_eq!(u16::from_be_bytes([f[18], f[19]]) as usize, NA_LEN);
        assert_eq!(f[21], HOP_LIMIT);
        assert_eq!((ipv6_at(&f, 22), ipv6_at(&f, 38)), (target, ALL_NODES));
        assert_eq!(f.len(), 14 + 40 + NA_LEN);
        f[54..].to_vec()
    }

    #[test]
    fn test_na() {
        let Some(ns) = setup("na") else { return };
        ns.run(|| {
            let mut nl = Netlink::open().unwrap();
            let (va, vb) = veth(&mut nl);
            let mac = va.mac.unwrap();
            let cap = capture(vb.index, ETHERTYPE_IPV6);
            let ann = Announcer::open().unwrap();
            // Not installed anywhere: FREEBIND lets it be the source.
            let vip: Ipv6Addr = "fd00:77::100".parse().unwrap();
            ann.na(va.index, mac, vip, false).unwrap();
            let icmp = captured_na(&cap, mac, vip);
            assert_eq!(icmp, NeighborAdvert::new(mac, vip, false).as_bytes());
            let na = NeighborAdvert::parse(&icmp, IpAddr::V6(vip), IpAddr::V6(ALL_NODES)).unwrap();
            assert!(na.override_flag() && !na.router() && !na.solicited());
            assert_eq!((na.target(), na.mac()), (vip, mac));

            // Router flag, and a link-local VIP that is installed on va.
            let ll: Ipv6Addr = "fe80::77".parse().unwrap();
            ns.ip(&["addr", "add", "fe80::77/64", "dev", "va", "nodad"]);
            ann.na(va.index, mac, ll, true).unwrap();
            let icmp = captured_na(&cap, mac, ll);
            assert_eq!(icmp, NeighborAdvert::new(mac, ll, true).as_bytes());
            assert!(NeighborAdvert::parse(&icmp, IpAddr::V6(ll), IpAddr::V6(ALL_NODES)).unwrap().router());
            assert!(ann.na(9999, mac, vip, false).is_err());
        });
    }

    #[test]
    fn test_forwarding() {
        let Some(ns) = setup("fwd") else { return };
        ns.exec(&["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/va/forwarding"]);
        ns.run(|| {
            assert!(Announcer::forwarding("va"));
            assert!(!Announcer::forwarding("vb"));
            for bad in ["", ".", "..", "../all", "nosuchif", "0123456789abcdef", "va\0"] {
                assert!(!Announcer::forwarding(bad), "{bad:?}");
            }
        });
    }
}
