//! Raw VRRP sockets (IP protocol 112): one per (interface, family), shared
//! by every instance on that interface, as keepalived does.
//!
//! The driver moves bytes only. It sends the VRRP message it is given and
//! hands up what arrives with the few IP fields the engine needs (source,
//! destination, TTL / hop limit); every VRRP check is the engine's.
//!
//! - IPv4 uses IP_HDRINCL: we write the IP header (keepalived-reference
//!   §2.1), so each instance picks its own source address, TTL and IP id,
//!   and the received datagram starts with the IP header, which is where the
//!   TTL is read from.
//! - IPv6 has no header access on raw sockets. The kernel fills in and
//!   verifies the VRRP checksum (IPV6_CHECKSUM), the source and hop limit
//!   travel as IPV6_PKTINFO / IPV6_HOPLIMIT ancillary data, and the receive
//!   side gets the hop limit and destination the same way. rustix can send
//!   neither cmsg and drops unknown ones on receive (platform-notes Q2), so
//!   both directions call libc's `sendmsg`/`recvmsg` directly.

use core::mem::size_of;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd};

use super::reactor::Async;
use rustix::net::sockopt as rsock;
use rustix::net::{AddressFamily, Protocol, RecvFlags, SendAncillaryBuffer, SendFlags, SocketFlags, SocketType};

mod batch;
pub use batch::{BATCH, Outgoing};

pub use crate::config::Family;
use crate::sys::sockopt;
use crate::wire::WireError;
use crate::wire::ipv4::{self, Ipv4Header, TOS_NETWORK_CONTROL, VRRP_TTL};
use crate::wire::vrrp::PROTOCOL;

/// Largest VRRP message plus the largest IPv4 header (IHL 15), so nothing
/// a valid advert can be is ever truncated.
pub const RX_LEN: usize = 4096 + 60;

/// A generous receive buffer: with many instances on one interface the
/// adverts of a burst must not be dropped before the loop drains them. The
/// kernel silently caps it at `net.core.rmem_max`.
const RCVBUF: usize = 256 * 1024;

/// Offset of the checksum in a VRRP header, for IPV6_CHECKSUM.
const VRRP_CHECKSUM_OFFSET: i32 = 6;

/// rustix has no constant for protocol 112 (platform-notes Q2).
const VRRP: Protocol = match rustix::net::RawProtocol::new(PROTOCOL as u32) {
    Some(raw) => Protocol::from_raw(raw),
    None => panic!("112 is not zero"),
};

/// Room for IPV6_PKTINFO (20 bytes of data) and IPV6_HOPLIMIT (4) with
/// their headers, on either word size, with space to spare for a cmsg we
/// did not ask for (the kernel then sets MSG_CTRUNC rather than failing).
const CONTROL_LEN: usize = 128;

/// A control buffer aligned for `cmsghdr`, which the kernel writes and
/// reads as native words.
#[repr(C, align(8))]
struct Control([u8; CONTROL_LEN]);

/// One received datagram, borrowed from the socket's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rx<'a> {
    /// `payload` is the VRRP message (IP header and options removed), `ttl`
    /// the IPv4 TTL or IPv6 hop limit it arrived with.
    Packet { src: IpAddr, dst: IpAddr, ttl: u8, payload: &'a [u8] },
    /// Something the IP fields could not be read from: `PacketLength` for a
    /// datagram larger than any advert (truncated), otherwise what
    /// [`ipv4::parse_rx`] said, or `Protocol` when the kernel left out an
    /// address or the hop limit. `src` when it could still be read.
    Bad { src: Option<IpAddr>, error: WireError },
}

/// A raw VRRP socket bound to one interface.
pub struct VrrpSocket {
    fd: Async<OwnedFd>,
    family: Family,
    ifindex: u32,
    groups: Box<[IpAddr]>,
    /// Reused for every datagram so receiving never allocates.
    rx: Box<[u8; RX_LEN]>,
}

impl core::fmt::Debug for VrrpSocket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VrrpSocket")
            .field("fd", &self.fd.get_ref().as_raw_fd())
            .field("family", &self.family)
            .field("ifindex", &self.ifindex)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

fn invalid_input() -> io::Error {
    io::Error::from(io::ErrorKind::InvalidInput)
}

impl VrrpSocket {
    /// Opens the raw socket for `family` on interface `ifname` (index
    /// `ifindex`) and joins each multicast group of `groups` there.
    ///
    /// `InvalidInput` if a group is not a multicast address of `family`;
    /// duplicates are joined once. Otherwise the first failing system call's
    /// error (ENODEV for an unknown name, EPERM without CAP_NET_RAW).
    pub fn open(ifname: &str, ifindex: u32, family: Family, groups: &[IpAddr]) -> io::Result<VrrpSocket> {
        let mut joined: Vec<IpAddr> = Vec::with_capacity(groups.len());
        for group in groups {
            if Family::of(group) != family || !group.is_multicast() {
                return Err(invalid_input());
            }
            if !joined.contains(group) {
                joined.push(*group);
            }
        }
        let af = match family {
            Family::V4 => AddressFamily::INET,
            Family::V6 => AddressFamily::INET6,
        };
        let fd =
            rustix::net::socket_with(af, SocketType::RAW, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK, Some(VRRP))?;
        sockopt::bind_to_device(&fd, ifname)?;
        rsock::set_socket_recv_buffer_size(&fd, RCVBUF)?;
        match family {
            Family::V4 => setup_v4(&fd, ifindex, &joined)?,
            Family::V6 => setup_v6(&fd, ifindex, &joined)?,
        }
        discard_queued(&fd)?;
        Ok(VrrpSocket {
            fd: Async::new_nonblocking(fd)?,
            family,
            ifindex,
            groups: joined.into_boxed_slice(),
            rx: Box::new([0; RX_LEN]),
        })
    }

    /// A socket [`VrrpSocket::open`] made in the image before an upgrade,
    /// with what it was opened for; its queued datagrams are kept (adverts
    /// that arrived during the `execve`).
    pub fn adopt(fd: OwnedFd, ifindex: u32, family: Family, groups: &[IpAddr]) -> io::Result<VrrpSocket> {
        Ok(VrrpSocket {
            fd: Async::new_nonblocking(fd)?,
            family,
            ifindex,
            groups: groups.into(),
            rx: Box::new([0; RX_LEN]),
        })
    }

    /// Waits until a datagram may be ready; [`VrrpSocket::recv`] then says
    /// whether one really is.
    pub async fn readable(&self) -> io::Result<()> {
        self.fd.readable().await
    }

    /// Receives one datagram without blocking; `Ok(None)` once the queue is
    /// drained. The returned packet borrows the socket's buffer until the
    /// next call.
    pub fn recv(&mut self) -> io::Result<Option<Rx<'_>>> {
        match self.family {
            Family::V4 => self.recv_v4(),
            Family::V6 => self.recv_v6(),
        }
    }

    fn recv_v4(&mut self) -> io::Result<Option<Rx<'_>>> {
        let fd = self.fd.get_ref();
        // TRUNC makes the kernel report the datagram's real length, so an
        // oversized one is told apart from a short one.
        let got = retry(|| rustix::net::recv(fd, &mut self.rx[..], RecvFlags::TRUNC).map_err(io::Error::from));
        let (copied, full) = match got {
            Ok(lens) => lens,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        let packet = self.rx.get(..copied).unwrap_or(&[]);
        Ok(Some(decode_v4(packet, full)))
    }

    fn recv_v6(&mut self) -> io::Result<Option<Rx<'_>>> {
        let mut name = libc::sockaddr_in6 {
            sin6_family: 0,
            sin6_port: 0,
            sin6_flowinfo: 0,
            sin6_addr: libc::in6_addr { s6_addr: [0; 16] },
            sin6_scope_id: 0,
        };
        let mut control = Control([0; CONTROL_LEN]);
        let mut iov = libc::iovec { iov_base: self.rx.as_mut_ptr().cast(), iov_len: RX_LEN };
        // SAFETY: msghdr is integers and raw pointers, for which all-zero
        // bytes are valid; zeroing also covers musl's private padding fields.
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_name = (&raw mut name).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = CONTROL_LEN as _;
        let fd = self.fd.get_ref().as_raw_fd();
        let got = retry(|| {
            // SAFETY: every pointer in `msg` points at a live local or at
            // `self.rx`, with the length the kernel may write to; all stay
            // borrowed for the whole call and are only read after it. The fd
            // is owned by `self`, so it stays open.
            let n = unsafe { libc::recvmsg(fd, &raw mut msg, libc::MSG_TRUNC) };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        });
        let full = match got {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        let src = (msg.msg_namelen as usize >= size_of::<libc::sockaddr_in6>()
            && name.sin6_family == libc::AF_INET6 as libc::sa_family_t)
            .then(|| Ipv6Addr::from(name.sin6_addr.s6_addr));
        let control_len = (msg.msg_controllen as usize).min(CONTROL_LEN);
        let ctrunc = msg.msg_flags & libc::MSG_CTRUNC != 0;
        let payload = self.rx.get(..full.min(RX_LEN)).unwrap_or(&[]);
        let cmsgs = control.0.get(..control_len).unwrap_or(&[]);
        Ok(Some(decode_v6(payload, full, src, cmsgs, ctrunc)))
    }

    /// Sends one VRRP message (`vrrp`, as emitted by the wire layer) from
    /// `src` to `dst` with TTL / hop limit `ttl`. `ip_id` is the IPv4
    /// identification (0 lets the kernel choose); IPv6 has none. An
    /// unspecified IPv6 `src` lets the kernel choose the source.
    ///
    /// `InvalidInput` if `src` or `dst` is not of the socket's family, or
    /// (IPv4) the message does not fit one IP packet; otherwise the send
    /// error as is: EAGAIN for a full queue (the caller drops the advert),
    /// EINVAL for an IPv6 `src` not assigned to the interface, EMSGSIZE
    /// beyond the MTU.
    pub fn send(&self, src: IpAddr, dst: IpAddr, ttl: u8, ip_id: u16, vrrp: &[u8]) -> io::Result<()> {
        match (self.family, src, dst) {
            (Family::V4, IpAddr::V4(src), IpAddr::V4(dst)) => self.send_v4(src, dst, ttl, ip_id, vrrp),
            (Family::V6, IpAddr::V6(src), IpAddr::V6(dst)) => self.send_v6(src, dst, ttl, vrrp),
            _ => Err(invalid_input()),
        }
    }

    fn send_v4(&self, src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, ip_id: u16, vrrp: &[u8]) -> io::Result<()> {
        let hdr = Ipv4Header::vrrp(src, dst, ttl, ip_id, vrrp.len()).map_err(|_| invalid_input())?;
        let iov = [IoSlice::new(bytemuck::bytes_of(&hdr)), IoSlice::new(vrrp)];
        // keepalived sends multicast with MSG_DONTROUTE: 224.0.0.18 is
        // link-local, so no route may take it anywhere but this link.
        let flags = if dst.is_multicast() { SendFlags::DONTROUTE } else { SendFlags::empty() };
        let sent = retry(|| {
            rustix::net::sendmsg_addr(
                self.fd.get_ref(),
                &SocketAddrV4::new(dst, 0),
                &iov,
                &mut SendAncillaryBuffer::default(),
                flags,
            )
            .map_err(io::Error::from)
        })?;
        check_sent(sent, ipv4::HEADER_LEN + vrrp.len())
    }

    fn send_v6(&self, src: Ipv6Addr, dst: Ipv6Addr, ttl: u8, vrrp: &[u8]) -> io::Result<()> {
        // Without a scope id the kernel cannot tell which link a link-local
        // or multicast destination is on (SO_BINDTODEVICE aside).
        let scope = if dst.is_multicast() || dst.is_unicast_link_local() { self.ifindex } else { 0 };
        let name = libc::sockaddr_in6 {
            sin6_family: libc::AF_INET6 as libc::sa_family_t,
            sin6_port: 0,
            sin6_flowinfo: 0,
            sin6_addr: libc::in6_addr { s6_addr: dst.octets() },
            sin6_scope_id: scope,
        };
        let mut control = Control([0; CONTROL_LEN]);
        let control_len = encode_tx_cmsgs(&mut control.0, src, self.ifindex, ttl).ok_or_else(invalid_input)?;
        let mut iov = libc::iovec { iov_base: vrrp.as_ptr().cast_mut().cast(), iov_len: vrrp.len() };
        // SAFETY: as in `recv_v6`, all-zero is a valid msghdr.
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_name = (&raw const name).cast_mut().cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control_len as _;
        let fd = self.fd.get_ref().as_raw_fd();
        let sent = retry(|| {
            // SAFETY: `msg` points at `name`, `iov` (which points at `vrrp`)
            // and the first `control_len` bytes of `control`, all live for
            // the call; sendmsg only reads through these pointers, so the
            // const-to-mut casts are never written through. The fd is owned
            // by `self`.
            let n = unsafe { libc::sendmsg(fd, &raw const msg, 0) };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        })?;
        check_sent(sent, vrrp.len())
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The socket's fd, so the event loop can wait for readiness on a
    /// duplicate without borrowing the socket across an await.
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The multicast groups joined on the interface, duplicates removed.
    pub fn groups(&self) -> &[IpAddr] {
        &self.groups
    }
}

fn setup_v4(fd: &OwnedFd, ifindex: u32, groups: &[IpAddr]) -> io::Result<()> {
    sockopt::set_int(fd, sockopt::IPPROTO_IP, sockopt::IP_HDRINCL, 1)?;
    // With IP_HDRINCL the header is ours, so TOS and DF come from
    // `Ipv4Header::vrrp`; these two still matter for anything the kernel
    // builds itself (and match keepalived's socket).
    rsock::set_ip_tos(fd, TOS_NETWORK_CONTROL)?;
    rsock::set_ip_mtu_discover(fd, rsock::Ipv4PathMtuDiscovery::DONT)?;
    rsock::set_ip_multicast_ttl(fd, u32::from(VRRP_TTL))?;
    // Our own adverts must not come back as if from a peer.
    rsock::set_ip_multicast_loop(fd, false)?;
    rsock::set_ip_multicast_if_with_ifindex(fd, &Ipv4Addr::UNSPECIFIED, &Ipv4Addr::UNSPECIFIED, ifindex)?;
    for group in groups {
        if let IpAddr::V4(group) = group {
            rsock::set_ip_add_membership_with_ifindex(fd, group, &Ipv4Addr::UNSPECIFIED, ifindex)?;
        }
    }
    Ok(())
}

fn setup_v6(fd: &OwnedFd, ifindex: u32, groups: &[IpAddr]) -> io::Result<()> {
    // The kernel computes the checksum on send and drops bad ones on
    // receive, so the engine never sees an IPv6 checksum error.
    sockopt::set_int(fd, sockopt::IPPROTO_IPV6, sockopt::IPV6_CHECKSUM, VRRP_CHECKSUM_OFFSET)?;
    // The header is not delivered: hop limit and destination only arrive
    // as ancillary data.
    sockopt::set_int(fd, sockopt::IPPROTO_IPV6, sockopt::IPV6_RECVHOPLIMIT, 1)?;
    sockopt::set_int(fd, sockopt::IPPROTO_IPV6, sockopt::IPV6_RECVPKTINFO, 1)?;
    rsock::set_ipv6_tclass(fd, u32::from(TOS_NETWORK_CONTROL))?;
    rsock::set_ipv6_unicast_hops(fd, Some(VRRP_TTL))?;
    rsock::set_ipv6_multicast_hops(fd, u32::from(VRRP_TTL))?;
    rsock::set_ipv6_multicast_loop(fd, false)?;
    rsock::set_ipv6_multicast_if(fd, ifindex)?;
    for group in groups {
        if let IpAddr::V6(group) = group {
            rsock::set_ipv6_add_membership(fd, group, ifindex)?;
        }
    }
    Ok(())
}

/// Drops what was queued before SO_BINDTODEVICE took effect: a raw socket
/// receives from every interface from the moment it exists, and a packet
/// from another link must not be taken as one from ours. Packets of our
/// own link dropped with them are repeated by their senders anyway.
fn discard_queued(fd: &OwnedFd) -> io::Result<()> {
    let mut scratch = [0u8; 1];
    // Bounded so a flood cannot keep `open` spinning; the queue is capped
    // by SO_RCVBUF and held far fewer before the bind than this.
    for _ in 0..4096 {
        match rustix::net::recv(fd, &mut scratch[..], RecvFlags::empty()) {
            Ok(_) => {}
            Err(rustix::io::Errno::AGAIN) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Repeats a system call interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Raw datagrams go out whole or not at all; anything else is reported
/// rather than counted as sent.
fn check_sent(sent: usize, expected: usize) -> io::Result<()> {
    if sent == expected { Ok(()) } else { Err(io::Error::from(io::ErrorKind::WriteZero)) }
}

/// What an IPv4 raw socket returned: `packet` as copied, `full` its real
/// length.
fn decode_v4(packet: &[u8], full: usize) -> Rx<'_> {
    let src = Ipv4Header::view(packet).map(|h| IpAddr::V4(h.src()));
    if full > packet.len() {
        return Rx::Bad { src, error: WireError::PacketLength };
    }
    match ipv4::parse_rx(packet) {
        Ok(p) => Rx::Packet { src: IpAddr::V4(p.src), dst: IpAddr::V4(p.dst), ttl: p.ttl, payload: p.payload },
        Err(error) => Rx::Bad { src, error },
    }
}

/// What an IPv6 raw socket returned: the VRRP message as copied, its real
/// length, the sender from the sockaddr, and the control data.
fn decode_v6<'a>(payload: &'a [u8], full: usize, src: Option<Ipv6Addr>, cmsgs: &[u8], ctrunc: bool) -> Rx<'a> {
    let src_ip = src.map(IpAddr::V6);
    if full > payload.len() {
        return Rx::Bad { src: src_ip, error: WireError::PacketLength };
    }
    let anc = parse_rx_cmsgs(cmsgs);
    match (src, anc.dst, anc.hop_limit) {
        (Some(src), Some(dst), Some(ttl)) if !ctrunc => {
            Rx::Packet { src: IpAddr::V6(src), dst: IpAddr::V6(dst), ttl, payload }
        }
        _ => Rx::Bad { src: src_ip, error: WireError::Protocol },
    }
}

// Control messages, kernel ABI: `cmsg_len` is a native `size_t` covering
// header and data, then `int level` and `int type`; the data and each next
// header start at a multiple of the word size. Encoded by hand (no unsafe)
// rather than through the CMSG_* pointer macros.

const WORD: usize = size_of::<usize>();

const fn cmsg_align(len: usize) -> usize {
    (len + WORD - 1) & !(WORD - 1)
}

const CMSG_HDR: usize = cmsg_align(WORD + 8);

/// What the receive path needs from the control data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RxAncillary {
    hop_limit: Option<u8>,
    dst: Option<Ipv6Addr>,
}

fn parse_rx_cmsgs(mut buf: &[u8]) -> RxAncillary {
    let mut out = RxAncillary::default();
    while buf.len() >= CMSG_HDR {
        let Some(len) = read_usize(buf, 0) else { break };
        if len < CMSG_HDR {
            break;
        }
        let (Some(level), Some(kind)) = (read_i32(buf, WORD), read_i32(buf, WORD + 4)) else { break };
        let Some(data) = buf.get(CMSG_HDR..len) else { break };
        match (level, kind) {
            (sockopt::IPPROTO_IPV6, sockopt::IPV6_HOPLIMIT) => {
                out.hop_limit = read_i32(data, 0).and_then(|h| u8::try_from(h).ok());
            }
            (sockopt::IPPROTO_IPV6, sockopt::IPV6_PKTINFO) => {
                // in6_pktinfo: the destination address, then the ifindex.
                out.dst = data.get(..16).and_then(|a| <[u8; 16]>::try_from(a).ok()).map(Ipv6Addr::from);
            }
            _ => {}
        }
        buf = buf.get(cmsg_align(len)..).unwrap_or(&[]);
    }
    out
}

fn read_usize(buf: &[u8], at: usize) -> Option<usize> {
    let bytes = buf.get(at..at.checked_add(WORD)?)?;
    Some(usize::from_ne_bytes(bytes.try_into().ok()?))
}

fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(i32::from_ne_bytes(bytes.try_into().ok()?))
}

/// Appends one control message at `at`; returns the end of its aligned
/// space, or `None` if `buf` is too small.
fn push_cmsg(buf: &mut [u8], at: usize, level: i32, kind: i32, data: &[u8]) -> Option<usize> {
    let len = CMSG_HDR.checked_add(data.len())?;
    let end = at.checked_add(cmsg_align(len))?;
    let out = buf.get_mut(at..end)?;
    out.fill(0);
    out.get_mut(..WORD)?.copy_from_slice(&len.to_ne_bytes());
    out.get_mut(WORD..WORD + 4)?.copy_from_slice(&level.to_ne_bytes());
    out.get_mut(WORD + 4..WORD + 8)?.copy_from_slice(&kind.to_ne_bytes());
    out.get_mut(CMSG_HDR..len)?.copy_from_slice(data);
    Some(end)
}

/// IPV6_PKTINFO (source and interface of this one packet) and IPV6_HOPLIMIT
/// into `buf`; returns the control length.
fn encode_tx_cmsgs(buf: &mut [u8], src: Ipv6Addr, ifindex: u32, hop_limit: u8) -> Option<usize> {
    let mut pktinfo = [0u8; 20];
    pktinfo.get_mut(..16)?.copy_from_slice(&src.octets());
    pktinfo.get_mut(16..)?.copy_from_slice(&ifindex.to_ne_bytes());
    let end = push_cmsg(buf, 0, sockopt::IPPROTO_IPV6, sockopt::IPV6_PKTINFO, &pktinfo)?;
    push_cmsg(buf, end, sockopt::IPPROTO_IPV6, sockopt::IPV6_HOPLIMIT, &i32::from(hop_limit).to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::testkit::NetNs;
    use crate::time::{Centis, Secs};
    use crate::wire::vrrp::{
        Addrs, Advert, AdvertBuf, Auth, ChecksumForm, Interval, MULTICAST_V4, MULTICAST_V6, Version,
    };
    use std::time::{Duration, Instant};

    // ---- pure decoding, no privileges needed ----

    fn v2_advert(vip: &[[u8; 4]]) -> Advert<'_> {
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            interval: Interval::V2(Secs::new(1)),
            auth: Auth::None,
            addrs: Addrs::V4(vip),
        }
    }

    fn v3_advert(vip: &[[u8; 16]]) -> Advert<'_> {
        Advert {
            version: Version::V3,
            vrid: 52,
            priority: 200,
            interval: Interval::V3(Centis::new(100).unwrap()),
            auth: Auth::None,
            addrs: Addrs::V6(vip),
        }
    }

    fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, payload: &[u8]) -> Vec<u8> {
        let hdr = Ipv4Header::vrrp(src, dst, ttl, 1, payload.len()).unwrap();
        [bytemuck::bytes_of(&hdr), payload].concat()
    }

    #[test]
    fn decode_v4_packet_and_errors() {
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), MULTICAST_V4);
        let vip = [[10, 0, 0, 100]];
        let mut buf = AdvertBuf::new();
        let msg = buf.emit(&v2_advert(&vip), src.into(), dst.into(), Default::default()).unwrap().to_vec();
        let p = ipv4_packet(src, dst, 255, &msg);
        let want = Rx::Packet { src: src.into(), dst: dst.into(), ttl: 255, payload: &msg };
        assert_eq!(decode_v4(&p, p.len()), want);
        // Larger than the buffer: the kernel said so through MSG_TRUNC.
        assert_eq!(decode_v4(&p, p.len() + 1), Rx::Bad { src: Some(src.into()), error: WireError::PacketLength });
        let mut other = p.clone();
        other[9] = 17;
        assert_eq!(decode_v4(&other, other.len()), Rx::Bad { src: Some(src.into()), error: WireError::Protocol });
        assert_eq!(decode_v4(&p[..19], 19), Rx::Bad { src: None, error: WireError::PacketLength });
        assert_eq!(decode_v4(&[], 0), Rx::Bad { src: None, error: WireError::PacketLength });
    }

    #[test]
    fn cmsg_encoding_matches_libc() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let mut control = Control([0xa5; CONTROL_LEN]);
        let len = encode_tx_cmsgs(&mut control.0, src, 7, 255).unwrap();
        // SAFETY: CMSG_SPACE is arithmetic only.
        let expect = unsafe { libc::CMSG_SPACE(20) + libc::CMSG_SPACE(4) } as usize;
        assert_eq!(len, expect);

        // Walk what we wrote with libc's own macros.
        // SAFETY: all-zero is a valid msghdr; the macros only read within
        // msg_control..msg_control+msg_controllen, which is `control`.
        unsafe {
            let mut msg: libc::msghdr = core::mem::zeroed();
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = len as _;
            let first = libc::CMSG_FIRSTHDR(&msg);
            assert!(!first.is_null());
            assert_eq!(((*first).cmsg_level, (*first).cmsg_type), (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO));
            assert_eq!((*first).cmsg_len as usize, libc::CMSG_LEN(20) as usize);
            let info = core::ptr::read_unaligned(libc::CMSG_DATA(first).cast::<libc::in6_pktinfo>());
            assert_eq!(info.ipi6_addr.s6_addr, src.octets());
            assert_eq!(info.ipi6_ifindex, 7);
            let second = libc::CMSG_NXTHDR(&msg, first);
            assert!(!second.is_null());
            assert_eq!(((*second).cmsg_level, (*second).cmsg_type), (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT));
            assert_eq!(core::ptr::read_unaligned(libc::CMSG_DATA(second).cast::<i32>()), 255);
            assert!(libc::CMSG_NXTHDR(&msg, second).is_null());
        }
        // The constants of sockopt.rs are libc's.
        assert_eq!(sockopt::IPV6_PKTINFO, libc::IPV6_PKTINFO);
        assert_eq!(sockopt::IPV6_HOPLIMIT, libc::IPV6_HOPLIMIT);
        assert_eq!(sockopt::IPV6_RECVPKTINFO, libc::IPV6_RECVPKTINFO);
        assert_eq!(sockopt::IPV6_RECVHOPLIMIT, libc::IPV6_RECVHOPLIMIT);
        assert_eq!(sockopt::IPV6_CHECKSUM, libc::IPV6_CHECKSUM);
        assert_eq!(sockopt::IP_HDRINCL, libc::IP_HDRINCL);

        // Our parser reads the same layout back (PKTINFO's address is
        // where the receive side finds the destination).
        let anc = parse_rx_cmsgs(control.0.get(..len).unwrap());
        assert_eq!(anc, RxAncillary { hop_limit: Some(255), dst: Some(src) });
    }

    #[test]
    fn cmsg_parse_is_total() {
        let dst: Ipv6Addr = "ff02::12".parse().unwrap();
        let mut buf = [0u8; CONTROL_LEN];
        // An unknown cmsg first is skipped.
        let mut end = push_cmsg(&mut buf, 0, libc::SOL_SOCKET, 99, &[1, 2, 3]).unwrap();
        end = push_cmsg(&mut buf, end, sockopt::IPPROTO_IPV6, sockopt::IPV6_HOPLIMIT, &64i32.to_ne_bytes()).unwrap();
        let mut info = [0u8; 20];
        info[..16].copy_from_slice(&dst.octets());
        end = push_cmsg(&mut buf, end, sockopt::IPPROTO_IPV6, sockopt::IPV6_PKTINFO, &info).unwrap();
        assert_eq!(parse_rx_cmsgs(&buf[..end]), RxAncillary { hop_limit: Some(64), dst: Some(dst) });
        // Every truncation parses to something, never panics.
        for n in 0..=end {
            let _ = parse_rx_cmsgs(&buf[..n]);
        }
        // A hop limit outside a byte, a pktinfo too short, a zero length,
        // a length past the end.
        let mut bad = [0u8; CONTROL_LEN];
        let e = push_cmsg(&mut bad, 0, sockopt::IPPROTO_IPV6, sockopt::IPV6_HOPLIMIT, &256i32.to_ne_bytes()).unwrap();
        let e = push_cmsg(&mut bad, e, sockopt::IPPROTO_IPV6, sockopt::IPV6_PKTINFO, &[0; 8]).unwrap();
        assert_eq!(parse_rx_cmsgs(&bad[..e]), RxAncillary::default());
        assert_eq!(parse_rx_cmsgs(&[0u8; 64]), RxAncillary::default());
        let mut long = [0u8; 32];
        long[..WORD].copy_from_slice(&1000usize.to_ne_bytes());
        assert_eq!(parse_rx_cmsgs(&long), RxAncillary::default());
        // Too small a buffer to encode into.
        assert_eq!(encode_tx_cmsgs(&mut [0u8; 40], dst, 1, 255), None);
    }

    #[test]
    fn decode_v6_needs_every_field() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst = MULTICAST_V6;
        let mut buf = [0u8; CONTROL_LEN];
        let end = encode_tx_cmsgs(&mut buf, dst, 1, 255).unwrap();
        let cmsgs = &buf[..end];
        let payload = [0x31u8, 1, 2, 3];
        let ok = Rx::Packet { src: src.into(), dst: dst.into(), ttl: 255, payload: &payload };
        assert_eq!(decode_v6(&payload, 4, Some(src), cmsgs, false), ok);
        let bad = |error| Rx::Bad { src: Some(src.into()), error };
        assert_eq!(decode_v6(&payload, 5, Some(src), cmsgs, false), bad(WireError::PacketLength));
        assert_eq!(decode_v6(&payload, 4, Some(src), cmsgs, true), bad(WireError::Protocol));
        assert_eq!(decode_v6(&payload, 4, Some(src), &cmsgs[..40], false), bad(WireError::Protocol));
        assert_eq!(decode_v6(&payload, 4, None, cmsgs, false), Rx::Bad { src: None, error: WireError::Protocol });
    }

    #[test]
    fn open_rejects_groups_of_the_wrong_kind() {
        let v6 = IpAddr::V6(MULTICAST_V6);
        let unicast = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        for (family, group) in [(Family::V4, v6), (Family::V4, unicast), (Family::V6, IpAddr::V4(MULTICAST_V4))] {
            let e = VrrpSocket::open("lo", 1, family, &[group]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
    }

    // ---- on the wire, in network namespaces ----

    const NOTHING: Duration = Duration::from_millis(150);
    const SOMETHING: Duration = Duration::from_secs(2);

    /// Namespaces A and B joined by veth pairs va–vb and vc–vd, deleted on
    /// drop. Every interface has a fixed link-local (addrgenmode none,
    /// nodad), so nothing waits for DAD.
    struct NsPair {
        a: NetNs,
        b: NetNs,
    }

    impl NsPair {
        fn create(tag: &str) -> Option<NsPair> {
            let a = NetNs::new(&format!("vr-{tag}a"))?;
            let b = NetNs::add(&format!("vr-{tag}b")).unwrap_or_else(|e| panic!("ip netns add: {e}"));
            a.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b.name()]);
            a.ip(&["link", "add", "vc", "type", "veth", "peer", "name", "vd", "netns", b.name()]);
            let plan = [
                (&a, "va", "10.77.0.1/24", "fe80::a/64"),
                (&b, "vb", "10.77.0.2/24", "fe80::b/64"),
                (&a, "vc", "10.78.0.1/24", "fe80::c/64"),
                (&b, "vd", "10.78.0.2/24", "fe80::d/64"),
            ];
            for (n, dev, v4, ll) in plan {
                n.ip(&["link", "set", dev, "addrgenmode", "none"]);
                n.ip(&["addr", "add", v4, "dev", dev]);
                n.ip(&["addr", "add", ll, "dev", dev, "nodad"]);
            }
            // A second source on va, to show IPV6_PKTINFO picks it.
            a.ip(&["addr", "add", "fd77::1/64", "dev", "va", "nodad"]);
            for (n, dev, _, _) in plan {
                n.ip(&["link", "set", dev, "up"]);
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            for (n, dev, _, _) in plan {
                while !n.ip(&["-o", "link", "show", "dev", dev]).contains("state UP")
                    || n.ip(&["-6", "addr", "show", "dev", dev]).contains("tentative")
                {
                    assert!(Instant::now() < deadline, "{dev} in {} not up after 3 s", n.name());
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            Some(NsPair { a, b })
        }
    }

    fn open(dev: &str, family: Family, groups: &[IpAddr]) -> VrrpSocket {
        let probe = rustix::net::socket(AddressFamily::INET, SocketType::DGRAM, None).unwrap();
        let ifindex = rustix::net::netdevice::name_to_index(&probe, dev).unwrap();
        VrrpSocket::open(dev, ifindex, family, groups).unwrap()
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Got {
        Packet { src: IpAddr, dst: IpAddr, ttl: u8, payload: Vec<u8> },
        Bad { src: Option<IpAddr>, error: WireError },
    }

    fn recv_within(sock: &mut VrrpSocket, limit: Duration) -> Option<Got> {
        crate::sys::reactor::block_on(smol::future::or(
            async {
                loop {
                    sock.readable().await.unwrap();
                    match sock.recv().unwrap() {
                        Some(Rx::Packet { src, dst, ttl, payload }) => {
                            return Some(Got::Packet { src, dst, ttl, payload: payload.to_vec() });
                        }
                        Some(Rx::Bad { src, error }) => return Some(Got::Bad { src, error }),
                        None => {}
                    }
                }
            },
            async {
                crate::sys::reactor::Timer::after(limit).await;
                None
            },
        ))
        .expect("reactor")
    }

    #[test]
    fn netns_ipv4() {
        let Some(ns) = NsPair::create("4") else { return };
        // On a thread that starts in A and then moves to B.
        ns.a.run(|| {
            let group = IpAddr::V4(MULTICAST_V4);
            let mut va = open("va", Family::V4, &[group]);
            let vc = open("vc", Family::V4, &[group]);
            ns.b.enter();
            let mut vb = open("vb", Family::V4, &[group, group]);
            let mut vd = open("vd", Family::V4, &[group]);
            assert_eq!(vb.groups(), &[group]);
            assert_eq!((vb.family(), vb.ifindex() > 0), (Family::V4, true));

            let vip = [[10, 77, 0, 100]];
            let advert = v2_advert(&vip);
            let src = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1));
            let mut buf = AdvertBuf::new();
            let msg = buf.emit(&advert, src, group, Default::default()).unwrap().to_vec();

            // Multicast, as every advert goes out by default.
            va.send(src, group, 255, 0x1234, &msg).unwrap();
            let got = recv_within(&mut vb, SOMETHING).expect("multicast advert on vb");
            assert_eq!(got, Got::Packet { src, dst: group, ttl: 255, payload: msg.clone() });
            assert_eq!(Advert::parse(&msg, src, group), Ok((advert, ChecksumForm::V2)));
            // The IP header as it arrived is the one we wrote.
            let hdr = Ipv4Header::view(&vb.rx[..]).unwrap();
            assert_eq!((hdr.tos(), hdr.id(), hdr.flags_frag(), hdr.ttl()), (0xc0, 0x1234, 0, 255));
            assert_eq!(usize::from(hdr.total_len()), 20 + msg.len());
            assert!(hdr.checksum_ok());
            // Not looped back to the sender, not seen on the other link.
            assert_eq!(recv_within(&mut va, NOTHING), None);
            assert_eq!(recv_within(&mut vd, NOTHING), None);

            // The other pair: only vd sees it, although vb's socket joined
            // the same group (SO_BINDTODEVICE at work).
            let src_c = IpAddr::V4(Ipv4Addr::new(10, 78, 0, 1));
            let msg_c = buf.emit(&advert, src_c, group, Default::default()).unwrap().to_vec();
            vc.send(src_c, group, 255, 2, &msg_c).unwrap();
            let got = recv_within(&mut vd, SOMETHING).expect("multicast advert on vd");
            assert_eq!(got, Got::Packet { src: src_c, dst: group, ttl: 255, payload: msg_c });
            assert_eq!(recv_within(&mut vb, NOTHING), None);

            // Unicast to vb's address; the TTL is ours too.
            let peer = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2));
            let msg_u = buf.emit(&advert, src, peer, Default::default()).unwrap().to_vec();
            va.send(src, peer, 7, 3, &msg_u).unwrap();
            let got = recv_within(&mut vb, SOMETHING).expect("unicast advert on vb");
            assert_eq!(got, Got::Packet { src, dst: peer, ttl: 7, payload: msg_u });
            assert_eq!(Ipv4Header::view(&vb.rx[..]).map(|h| h.id()), Some(3));

            // Caller mistakes are refused before any syscall.
            let v6 = IpAddr::V6(MULTICAST_V6);
            assert_eq!(va.send(v6, v6, 255, 1, &msg).unwrap_err().kind(), io::ErrorKind::InvalidInput);
            assert_eq!(va.send(src, v6, 255, 1, &msg).unwrap_err().kind(), io::ErrorKind::InvalidInput);
            let huge = vec![0u8; 65_516];
            assert_eq!(va.send(src, group, 255, 1, &huge).unwrap_err().kind(), io::ErrorKind::InvalidInput);
            assert!(VrrpSocket::open("nosuchdev0", 999, Family::V4, &[group]).is_err());
        });
    }

    #[test]
    fn netns_ipv6() {
        let Some(ns) = NsPair::create("6") else { return };
        // On a thread that starts in A and then moves to B.
        ns.a.run(|| {
            let group = IpAddr::V6(MULTICAST_V6);
            let mut va = open("va", Family::V6, &[group]);
            // A raw socket without IPV6_CHECKSUM, to put a bad checksum on
            // the wire.
            let plain =
                rustix::net::socket_with(AddressFamily::INET6, SocketType::RAW, SocketFlags::CLOEXEC, Some(VRRP))
                    .unwrap();
            sockopt::bind_to_device(&plain, "va").unwrap();
            ns.b.enter();
            let mut vb = open("vb", Family::V6, &[group]);
            let mut vd = open("vd", Family::V6, &[group]);

            let vip = [Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 0x100).octets()];
            let advert = v3_advert(&vip);
            let src: IpAddr = "fe80::a".parse().unwrap();
            let mut buf = AdvertBuf::new();
            let msg = buf.emit(&advert, src, group, Default::default()).unwrap().to_vec();

            // The checksum we hand over is garbage: the kernel must write
            // the right one (IPV6_CHECKSUM), which is what emit computed.
            let mut wire = msg.clone();
            wire[6..8].copy_from_slice(&[0xbe, 0xef]);
            va.send(src, group, 255, 0, &wire).unwrap();
            let got = recv_within(&mut vb, SOMETHING).expect("multicast advert on vb");
            assert_eq!(got, Got::Packet { src, dst: group, ttl: 255, payload: msg.clone() });
            assert_eq!(Advert::parse(&msg, src, group), Ok((advert, ChecksumForm::PseudoHeader)));
            assert_eq!(recv_within(&mut va, NOTHING), None);
            assert_eq!(recv_within(&mut vd, NOTHING), None);

            // IPV6_PKTINFO: each packet can carry its own source.
            let other: IpAddr = "fd77::1".parse().unwrap();
            let msg_o = buf.emit(&advert, other, group, Default::default()).unwrap().to_vec();
            va.send(other, group, 255, 0, &msg_o).unwrap();
            let got = recv_within(&mut vb, SOMETHING).expect("advert from fd77::1");
            assert_eq!(got, Got::Packet { src: other, dst: group, ttl: 255, payload: msg_o });
            // Unspecified: the kernel picks the link-local for ff02::12.
            va.send(IpAddr::V6(Ipv6Addr::UNSPECIFIED), group, 255, 0, &msg).unwrap();
            let got = recv_within(&mut vb, SOMETHING).expect("advert from ::");
            assert_eq!(got, Got::Packet { src, dst: group, ttl: 255, payload: msg.clone() });
            // Not an address of va: the kernel refuses (EINVAL).
            let foreign: IpAddr = "fe80::b".parse().unwrap();
            assert!(va.send(foreign, group, 255, 0, &msg).is_err());

            // Unicast to vb's link-local, with the hop limit as a cmsg.
            let peer: IpAddr = "fe80::b".parse().unwrap();
            let msg_u = buf.emit(&advert, src, peer, Default::default()).unwrap().to_vec();
            va.send(src, peer, 64, 0, &msg_u).unwrap();
            let got = recv_within(&mut vb, SOMETHING).expect("unicast advert on vb");
            assert_eq!(got, Got::Packet { src, dst: peer, ttl: 64, payload: msg_u });

            // A bad checksum never reaches us; the same bytes with the right
            // one do (with the default multicast hop limit of 1, handed up
            // as is: judging it is the engine's job).
            let to = core::net::SocketAddrV6::new(MULTICAST_V6, 0, 0, va.ifindex());
            rustix::net::sendto(&plain, &wire, SendFlags::empty(), &to).unwrap();
            assert_eq!(recv_within(&mut vb, NOTHING), None);
            rustix::net::sendto(&plain, &msg, SendFlags::empty(), &to).unwrap();
            let got = recv_within(&mut vb, SOMETHING).expect("plain advert on vb");
            assert_eq!(got, Got::Packet { src, dst: group, ttl: 1, payload: msg.clone() });

            let v4 = IpAddr::V4(MULTICAST_V4);
            assert_eq!(va.send(v4, v4, 255, 0, &msg).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        });
    }

    /// A batch sends what `send` sends, in order: multicast and unicast
    /// (a flag change splits the `sendmmsg`), one bad message reported and
    /// skipped, more than one `sendmmsg` worth.
    #[test]
    fn netns_ipv4_batch() {
        let Some(ns) = NsPair::create("4b") else { return };
        ns.a.run(|| {
            let group = IpAddr::V4(MULTICAST_V4);
            let va = open("va", Family::V4, &[group]);
            ns.b.enter();
            let mut vb = open("vb", Family::V4, &[group]);
            let vip = [[10, 77, 0, 100]];
            let advert = v2_advert(&vip);
            let src = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1));
            let peer = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2));
            let mut buf = AdvertBuf::new();
            let msg = buf.emit(&advert, src, group, Default::default()).unwrap().to_vec();
            let msg_u = buf.emit(&advert, src, peer, Default::default()).unwrap().to_vec();
            let v6 = IpAddr::V6(MULTICAST_V6);
            let mut msgs = vec![
                Outgoing { src, dst: group, ttl: 255, ip_id: 1, vrrp: &msg },
                Outgoing { src, dst: peer, ttl: 7, ip_id: 2, vrrp: &msg_u },
                Outgoing { src, dst: v6, ttl: 255, ip_id: 3, vrrp: &msg },
                Outgoing { src, dst: group, ttl: 255, ip_id: 4, vrrp: &msg },
            ];
            for k in 0..BATCH {
                msgs.push(Outgoing { src, dst: group, ttl: 255, ip_id: 100 + k as u16, vrrp: &msg });
            }
            let mut results = Vec::new();
            va.send_batch(&msgs, &mut |k, r| results.push((k, r.map_err(|e| e.kind()))));
            // Refused before the syscall, so reported first.
            results.sort_by_key(|r| r.0);
            let want: Vec<_> =
                (0..msgs.len()).map(|k| (k, if k == 2 { Err(io::ErrorKind::InvalidInput) } else { Ok(()) })).collect();
            assert_eq!(results, want);
            for (k, m) in msgs.iter().enumerate().filter(|(k, _)| *k != 2) {
                let got = recv_within(&mut vb, SOMETHING).unwrap_or_else(|| panic!("message {k} on vb"));
                assert_eq!(got, Got::Packet { src, dst: m.dst, ttl: m.ttl, payload: m.vrrp.to_vec() }, "message {k}");
                assert_eq!(Ipv4Header::view(&vb.rx[..]).map(|h| h.id()), Some(m.ip_id), "message {k}");
            }
            assert_eq!(recv_within(&mut vb, NOTHING), None);
        });
    }

    /// The kernel refuses one message of a batch (a source not on the
    /// link): it is reported, and those after it still go.
    #[test]
    fn netns_ipv6_batch() {
        let Some(ns) = NsPair::create("6b") else { return };
        ns.a.run(|| {
            let group = IpAddr::V6(MULTICAST_V6);
            let va = open("va", Family::V6, &[group]);
            ns.b.enter();
            let mut vb = open("vb", Family::V6, &[group]);
            let vip = [Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 0x100).octets()];
            let advert = v3_advert(&vip);
            let src: IpAddr = "fe80::a".parse().unwrap();
            let peer: IpAddr = "fe80::b".parse().unwrap();
            let mut buf = AdvertBuf::new();
            let msg = buf.emit(&advert, src, group, Default::default()).unwrap().to_vec();
            let msg_u = buf.emit(&advert, src, peer, Default::default()).unwrap().to_vec();
            let msgs = [
                Outgoing { src, dst: group, ttl: 255, ip_id: 0, vrrp: &msg },
                Outgoing { src: peer, dst: group, ttl: 255, ip_id: 0, vrrp: &msg },
                Outgoing { src, dst: peer, ttl: 64, ip_id: 0, vrrp: &msg_u },
                Outgoing { src: IpAddr::V4(Ipv4Addr::LOCALHOST), dst: group, ttl: 255, ip_id: 0, vrrp: &msg },
            ];
            let mut results = Vec::new();
            va.send_batch(&msgs, &mut |k, r| results.push((k, r.is_ok())));
            results.sort_by_key(|r| r.0);
            assert_eq!(results, [(0, true), (1, false), (2, true), (3, false)]);
            let got = recv_within(&mut vb, SOMETHING).expect("multicast advert on vb");
            assert_eq!(got, Got::Packet { src, dst: group, ttl: 255, payload: msg.clone() });
            let got = recv_within(&mut vb, SOMETHING).expect("unicast advert on vb");
            assert_eq!(got, Got::Packet { src, dst: peer, ttl: 64, payload: msg_u.clone() });
            assert_eq!(recv_within(&mut vb, NOTHING), None);
        });
    }
}
