//! rtnetlink: installs and removes VIPs, and reports link and address
//! changes. The message formats are [`crate::wire::netlink`]'s; this file
//! only moves them through sockets (platform-notes Q4).
//!
//! Two sockets, so a request's ack never interleaves with events:
//! - `cmd`: requests and their replies. Blocking with a receive timeout,
//!   because rtnetlink answers address requests synchronously and a reply
//!   that does not come within the timeout never will.
//! - `events`: bound to the link and IPv4/IPv6 address groups, non-blocking,
//!   drained by the caller after [`Netlink::readable`].
//!
//! Both only accept datagrams whose sender is the kernel (port id 0): any
//! local process may unicast to a netlink port, but only the kernel can
//! have sent an answer or an event.

use core::net::IpAddr;
use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use super::reactor::Async;
use bytemuck::{Pod, Zeroable};
use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::sockopt::{self as rsock, Timeout};
use rustix::net::{AddressFamily, Protocol, RecvFlags, SendFlags, SocketFlags, SocketType};

use crate::config::VipConfig;
use crate::wire::netlink::{
    AF_INET, AF_INET6, AF_UNSPEC, Ack, AddrInfo, Decoded, IFA_ADDRESS, IFA_BROADCAST, IFA_CACHEINFO, IFA_F_HOMEADDRESS,
    IFA_F_MANAGETEMPADDR, IFA_F_MCAUTOJOIN, IFA_F_NODAD, IFA_F_NOPREFIXROUTE, IFA_FLAGS, IFA_LABEL, IFA_LOCAL,
    IFF_RUNNING, IFF_UP, IFNAMSIZ, IfAddrMsg, LinkInfo, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP_INTR, NLM_F_REQUEST,
    NLMSG_DONE, NLMSG_ERROR, NlBuilder, NlMsg, RTM_DELADDR, RTM_DELLINK, RTM_GETADDR, RTM_GETLINK, RTM_NEWADDR,
    RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK, dellink_request, getaddr_dump, getlink_dump, link_up_request,
    macvlan_request, messages, nlmsg_align,
};

mod requests;
pub use requests::{ADDR_BATCH, Failed};

/// The kernel's largest netlink datagram: dumps fill skbs up to the size of
/// the reader's last buffer, capped at 32 KiB, and events are far smaller.
pub const BUF_LEN: usize = 32 * 1024;

/// Longest wait for a request's reply (per datagram of a dump).
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// Events queue in the kernel while the daemon is busy; a link flap on a
/// host with many addresses produces hundreds at once. The kernel silently
/// caps this at `net.core.rmem_max`; an overflow is reported as
/// [`NetEvent::Overrun`] either way.
const EVENT_RCVBUF: usize = 1024 * 1024;

/// A dump that the kernel flags as interrupted (the tables changed while it
/// was being read) is repeated this many times before giving up.
const DUMP_ATTEMPTS: usize = 5;

/// After an overrun, the datagrams still queued are older than the state
/// the caller is about to re-dump; they are discarded, up to this many so
/// a flood cannot keep the call from returning.
const MAX_DISCARD: usize = 4096;

/// Datagrams from other processes skipped per [`Netlink::next_event`] call.
const MAX_FOREIGN: usize = 64;

/// rustix has no constant for NETLINK_ROUTE; it is protocol 0.
const NETLINK_ROUTE: Option<Protocol> = None;

/// The largest address request: header, ifaddrmsg, IFA_LOCAL, IFA_ADDRESS,
/// IFA_BROADCAST, IFA_LABEL, IFA_FLAGS and IFA_CACHEINFO, with room to spare.
const REQUEST_LEN: usize = 256;

/// IPv6 lifetimes meaning "forever" (INFINITY_LIFE_TIME).
const LIFETIME_FOREVER: u32 = u32::MAX;

/// `struct ifa_cacheinfo`; only the two lifetimes are read on a request.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct IfaCacheInfo {
    preferred: [u8; 4],
    valid: [u8; 4],
    created: [u8; 4],
    updated: [u8; 4],
}

/// A link or address change from the event socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetEvent {
    Link {
        index: u32,
        name: heapless::String<IFNAMSIZ>,
        /// [`link_is_up`]; false for a deleted link.
        up: bool,
        deleted: bool,
        mac: Option<[u8; 6]>,
    },
    Addr {
        index: u32,
        addr: IpAddr,
        prefix: u8,
        /// RTM_NEWADDR (added or changed) rather than RTM_DELADDR.
        present: bool,
    },
    /// Events were lost (ENOBUFS, or a datagram that could not be read in
    /// full or framed): the caller must re-dump. Whatever was still queued
    /// has been discarded, since it predates the dump that supersedes it.
    Overrun,
}

/// Whether a link can carry traffic: administratively up and running. The
/// kernel sets IFF_RUNNING exactly when the operational state is UP or
/// UNKNOWN, so this also covers drivers that report no operstate (lo,
/// dummy, tun). Used for dump results and events alike, so they agree.
/// Whether an address may be used: an IPv6 link-local address still in
/// duplicate address detection (or failed it) cannot be an advert source
/// yet (sends from it fail with EINVAL), so it counts as absent until the
/// kernel reports it again without the flag. Other addresses (VIPs among
/// them) are taken as they are.
pub fn source_ready(a: &AddrInfo) -> bool {
    let link_local = matches!(a.addr, IpAddr::V6(v) if v.segments()[0] & 0xffc0 == 0xfe80);
    !(link_local && a.flags & (crate::wire::netlink::IFA_F_TENTATIVE | crate::wire::netlink::IFA_F_DADFAILED) != 0)
}

pub fn link_is_up(l: &LinkInfo) -> bool {
    l.flags & IFF_UP != 0 && l.flags & IFF_RUNNING != 0
}

/// The rtnetlink driver; see the module documentation.
pub struct Netlink {
    cmd: OwnedFd,
    events: Async<OwnedFd>,
    seq: u32,
    /// Replies on `cmd`.
    cmd_buf: Box<[u8; BUF_LEN]>,
    /// The event datagram being handed out, `ev_buf[ev_pos..ev_len]` not yet
    /// returned; kept apart from `cmd_buf` so a request made between two
    /// `next_event` calls does not overwrite unread events.
    ev_buf: Box<[u8; BUF_LEN]>,
    ev_pos: usize,
    ev_len: usize,
    /// Address requests waiting for [`Netlink::flush_addrs`].
    batch: requests::AddrBatch,
}

impl core::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Netlink").field("seq", &self.seq).finish_non_exhaustive()
    }
}

fn invalid_input() -> io::Error {
    io::Error::from(io::ErrorKind::InvalidInput)
}

/// Errors built from a kind alone, since a message would allocate.
fn timed_out() -> io::Error {
    io::Error::from(io::ErrorKind::TimedOut)
}

fn invalid_data() -> io::Error {
    io::Error::from(io::ErrorKind::InvalidData)
}

/// A zeroed buffer allocated directly on the heap (a 32 KiB array built on
/// the stack first could overflow a small thread stack).
fn heap_buf() -> Box<[u8; BUF_LEN]> {
    let v: Box<[u8]> = vec![0u8; BUF_LEN].into_boxed_slice();
    match v.try_into() {
        Ok(b) => b,
        // Unreachable: the vector was created with exactly BUF_LEN bytes.
        Err(_) => Box::new([0u8; BUF_LEN]),
    }
}

/// One datagram from the kernel on `fd`: `Ok(Some(len))` with `len` the
/// datagram's full length (larger than the buffer if it was truncated),
/// `Ok(None)` for a datagram some other process sent (dropped).
fn recv_from_kernel(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match rustix::net::recvfrom(fd, &mut *buf, RecvFlags::TRUNC) {
            Ok((_, full, from)) => {
                let kernel = from.and_then(|a| SocketAddrNetlink::try_from(a).ok()).is_some_and(|a| a.pid() == 0);
                return Ok(kernel.then_some(full));
            }
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The link messages vipd tracks: the kernel also sends RTM_NEWLINK and
/// RTM_DELLINK with family AF_BRIDGE for bridge-port changes, which
/// describe the port's bridge membership, not the interface.
fn is_interface_link(msg: &NlMsg<'_>) -> bool {
    msg.payload.first() == Some(&AF_UNSPEC)
}

fn to_event(msg: &NlMsg<'_>) -> Option<NetEvent> {
    // A message that does not decode is skipped, as in a dump: it cannot
    // be a change vipd could act on.
    match msg.decode().ok()? {
        Decoded::NewLink(l) | Decoded::DelLink(l) if is_interface_link(msg) => {
            let deleted = msg.kind() == RTM_DELLINK;
            Some(NetEvent::Link { index: l.index, up: !deleted && link_is_up(&l), deleted, mac: l.mac, name: l.name })
        }
        Decoded::NewAddr(a) => {
            Some(NetEvent::Addr { index: a.index, addr: a.addr, prefix: a.prefixlen, present: source_ready(&a) })
        }
        Decoded::DelAddr(a) => {
            Some(NetEvent::Addr { index: a.index, addr: a.addr, prefix: a.prefixlen, present: false })
        }
        Decoded::Overrun => Some(NetEvent::Overrun),
        _ => None,
    }
}

/// The error an NLMSG_ERROR carries (`errno` is negative).
fn errno_error(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno.saturating_neg())
}

fn is_errno(e: &io::Error, errno: Errno) -> bool {
    e.raw_os_error() == Some(errno.raw_os_error())
}

impl Netlink {
    /// Opens both sockets and joins the link and address groups.
    pub fn open() -> io::Result<Netlink> {
        let cmd =
            rustix::net::socket_with(AddressFamily::NETLINK, SocketType::RAW, SocketFlags::CLOEXEC, NETLINK_ROUTE)?;
        rsock::set_socket_timeout(&cmd, Timeout::Recv, Some(REPLY_TIMEOUT))?;
        let events = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            NETLINK_ROUTE,
        )?;
        rsock::set_socket_recv_buffer_size(&events, EVENT_RCVBUF)?;
        let groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
        rustix::net::bind(&events, &SocketAddrNetlink::new(0, groups))?;
        Ok(Netlink {
            cmd,
            events: Async::new_nonblocking(events)?,
            seq: 0,
            cmd_buf: heap_buf(),
            ev_buf: heap_buf(),
            ev_pos: 0,
            ev_len: 0,
            batch: requests::AddrBatch::new(),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&self, request: &[u8]) -> io::Result<()> {
        loop {
            match rustix::net::sendto(&self.cmd, request, SendFlags::empty(), &SocketAddrNetlink::new(0, 0)) {
                Ok(_) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives one reply datagram into `cmd_buf`; its length, 0 for a
    /// datagram from another process (dropped; the callers' deadlines keep
    /// a flood of them from stalling a request).
    fn recv_reply(&mut self) -> io::Result<usize> {
        match recv_from_kernel(&self.cmd, &mut self.cmd_buf[..]) {
            Ok(Some(len)) if len > BUF_LEN => Err(invalid_data()),
            Ok(Some(len)) => Ok(len),
            Ok(None) => Ok(0),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(timed_out()),
            Err(e) => Err(e),
        }
    }

    /// Dumps all links and all addresses (IPv4 and IPv6). For start-up and
    /// after [`NetEvent::Overrun`]; allocates. Links are the interfaces
    /// themselves (bridge-port entries are left out, as in events);
    /// messages that do not decode are skipped.
    pub fn dump(&mut self) -> io::Result<(Vec<LinkInfo>, Vec<AddrInfo>)> {
        let mut links = Vec::new();
        let mut addrs = Vec::new();
        for _ in 0..DUMP_ATTEMPTS {
            links.clear();
            addrs.clear();
            let links_whole = self.dump_one(RTM_GETLINK, &mut links, &mut addrs)?;
            let addrs_whole = self.dump_one(RTM_GETADDR, &mut links, &mut addrs)?;
            if links_whole && addrs_whole {
                return Ok((links, addrs));
            }
        }
        Err(io::Error::new(io::ErrorKind::Interrupted, "netlink dump interrupted by changes on every attempt"))
    }

    /// One dump request, its replies appended to `links` / `addrs`. False
    /// if the kernel flagged it as inconsistent (NLM_F_DUMP_INTR).
    fn dump_one(&mut self, kind: u16, links: &mut Vec<LinkInfo>, addrs: &mut Vec<AddrInfo>) -> io::Result<bool> {
        let seq = self.next_seq();
        let mut req = [0u8; 64];
        let built =
            if kind == RTM_GETLINK { getlink_dump(&mut req, seq) } else { getaddr_dump(&mut req, seq, AF_UNSPEC) };
        self.send(built.map_err(|_| invalid_input())?)?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut whole = true;
        loop {
            let len = self.recv_reply()?;
            let mut seen_ours = false;
            for msg in messages(self.cmd_buf.get(..len).unwrap_or(&[])) {
                let msg = msg.map_err(|_| invalid_data())?;
                // Replies to earlier requests that timed out.
                if msg.seq() != seq {
                    continue;
                }
                seen_ours = true;
                if msg.flags() & NLM_F_DUMP_INTR != 0 {
                    whole = false;
                }
                match msg.kind() {
                    // A dump that fails part-way ends with its negative
                    // errno in NLMSG_DONE's payload (0 otherwise).
                    NLMSG_DONE => {
                        let err = msg.payload.get(..4).and_then(|b| b.try_into().ok()).map_or(0, i32::from_ne_bytes);
                        return if err < 0 { Err(errno_error(err)) } else { Ok(whole) };
                    }
                    NLMSG_ERROR => {
                        let ack = Ack::parse(&msg).map_err(|_| invalid_data())?;
                        if !ack.is_ok() {
                            return Err(errno_error(ack.errno));
                        }
                    }
                    _ => match msg.decode() {
                        Ok(Decoded::NewLink(l)) if is_interface_link(&msg) => links.push(l),
                        Ok(Decoded::NewAddr(a)) => addrs.push(a),
                        _ => {}
                    },
                }
            }
            // Our dump keeps the kernel sending; only stale datagrams are
            // bounded by the deadline.
            if !seen_ours && Instant::now() > deadline {
                return Err(timed_out());
            }
        }
    }

    /// Waits for the NLMSG_ERROR answering `seq`: `Ok` for errno 0, else
    /// that errno. Bounded by [`REPLY_TIMEOUT`] (plus at most one more
    /// receive timeout when stale replies keep arriving).
    fn await_ack(&mut self, seq: u32) -> io::Result<()> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let len = self.recv_reply()?;
            for msg in messages(self.cmd_buf.get(..len).unwrap_or(&[])).flatten() {
                if msg.seq() != seq || msg.kind() != NLMSG_ERROR {
                    continue;
                }
                let ack = Ack::parse(&msg).map_err(|_| invalid_data())?;
                return if ack.is_ok() { Ok(()) } else { Err(errno_error(ack.errno)) };
            }
            if Instant::now() > deadline {
                return Err(timed_out());
            }
        }
    }

    /// Resolves once the event socket may have something to read; drain it
    /// with [`Netlink::next_event`] until `None`.
    pub async fn readable(&self) -> io::Result<()> {
        self.events.readable().await
    }

    /// The event socket's fd, so the event loop can wait for readiness on a
    /// duplicate without borrowing the driver across an await.
    pub fn event_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.events.as_fd()
    }

    /// The next link or address event, without blocking; `None` once the
    /// socket is drained. Messages vipd does not track are skipped.
    pub fn next_event(&mut self) -> Option<NetEvent> {
        loop {
            if self.ev_pos >= self.ev_len {
                match self.fill_events() {
                    Fill::Data => {}
                    Fill::Empty => return None,
                    Fill::Lost => return Some(NetEvent::Overrun),
                }
            }
            let rest = self.ev_buf.get(self.ev_pos..self.ev_len).unwrap_or(&[]);
            let (advance, event) = match messages(rest).next() {
                Some(Ok(msg)) => (nlmsg_align(msg.header.len() as usize), to_event(&msg)),
                // A message that cannot be framed hides the rest of its
                // datagram, so events are lost, as with ENOBUFS.
                Some(Err(_)) => {
                    self.discard_events();
                    return Some(NetEvent::Overrun);
                }
                None => (rest.len(), None),
            };
            self.ev_pos = self.ev_pos.saturating_add(advance.max(1)).min(self.ev_len);
            if event.is_some() {
                return event;
            }
        }
    }

    fn fill_events(&mut self) -> Fill {
        self.ev_pos = 0;
        self.ev_len = 0;
        // Bounded so datagrams from other processes cannot keep the caller
        // here; the socket stays readable and the caller comes back.
        for _ in 0..MAX_FOREIGN {
            match recv_from_kernel(self.events.get_ref(), &mut self.ev_buf[..]) {
                Ok(Some(len)) if len > BUF_LEN => {
                    self.discard_events();
                    return Fill::Lost;
                }
                Ok(Some(len)) => {
                    self.ev_len = len;
                    return Fill::Data;
                }
                Ok(None) => continue,
                Err(e) if is_errno(&e, Errno::NOBUFS) => {
                    self.discard_events();
                    return Fill::Lost;
                }
                // EAGAIN, or an error a netlink socket does not produce.
                Err(_) => return Fill::Empty,
            }
        }
        Fill::Empty
    }

    fn discard_events(&mut self) {
        for _ in 0..MAX_DISCARD {
            match rustix::net::recv(self.events.get_ref(), &mut self.ev_buf[..], RecvFlags::TRUNC) {
                Ok(_) | Err(Errno::INTR) | Err(Errno::NOBUFS) => {}
                Err(_) => break,
            }
        }
        self.ev_pos = 0;
        self.ev_len = 0;
    }
}

enum Fill {
    Data,
    Empty,
    Lost,
}

#[cfg(test)]
pub(crate) mod testns {
    //! The driver tests' namespace: a [`NetNs`] with a veth pair `va`/`vb`,
    //! everything up. Creating, entering and deleting it is the shared
    //! test kit's job; this only lays out the links.

    pub(crate) use crate::sys::testkit::NetNs;

    /// None, with the reason printed, when the tests cannot run here.
    pub(crate) fn setup(tag: &str) -> Option<NetNs> {
        let ns = NetNs::new(tag)?;
        ns.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"]);
        ns.ip(&["link", "set", "lo", "up"]);
        ns.ip(&["link", "set", "va", "up"]);
        ns.ip(&["link", "set", "vb", "up"]);
        Some(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::requests::build_addr_request;
    use super::testns::{NetNs, setup};
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use crate::wire::netlink::{IFA_F_DEPRECATED, RT_SCOPE_LINK};

    fn link<'a>(links: &'a [LinkInfo], name: &str) -> &'a LinkInfo {
        links.iter().find(|l| l.name == name).unwrap_or_else(|| panic!("no link {name} in {links:?}"))
    }

    /// Dumps until va and vb are both up: veth carrier follows the peer's
    /// state with a short delay.
    fn dump_when_up(nl: &mut Netlink) -> (Vec<LinkInfo>, Vec<AddrInfo>) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let (links, addrs) = nl.dump().unwrap();
            if link_is_up(link(&links, "va")) && link_is_up(link(&links, "vb")) {
                return (links, addrs);
            }
            assert!(Instant::now() < deadline, "veth not up: {links:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `link/ether` MAC of `dev` as `ip` prints it.
    fn ip_mac(ns: &NetNs, dev: &str) -> [u8; 6] {
        let out = ns.ip(&["-o", "link", "show", "dev", dev]);
        let hex = out.split_whitespace().skip_while(|w| *w != "link/ether").nth(1).unwrap();
        let mut mac = [0u8; 6];
        for (m, part) in mac.iter_mut().zip(hex.split(':')) {
            *m = u8::from_str_radix(part, 16).unwrap();
        }
        mac
    }

    fn ip_addrs(ns: &NetNs, dev: &str) -> String {
        ns.ip(&["-o", "addr", "show", "dev", dev])
    }

    fn v4(a: [u8; 4], prefix: u8) -> VipConfig {
        VipConfig::new(IpAddr::V4(Ipv4Addr::from(a)), prefix)
    }

    fn v6(s: &str, prefix: u8) -> VipConfig {
        VipConfig::new(IpAddr::V6(s.parse::<Ipv6Addr>().unwrap()), prefix)
    }

    #[test]
    fn test_request_layout() {
        let mut buf = [0xa5u8; REQUEST_LEN];
        let mut vip = v4([10, 0, 0, 1], 24);
        vip.label = Some("eth0:vip".into());
        vip.broadcast = Some(Ipv4Addr::new(10, 0, 0, 255));
        vip.peer = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
        let len = build_addr_request(&mut buf, RTM_NEWADDR, 9, 3, &vip).unwrap();
        let msg = messages(&buf[..len]).next().unwrap().unwrap();
        assert_eq!((msg.kind(), msg.flags(), msg.seq()), (RTM_NEWADDR, 0x405, 9));
        let Ok(Decoded::NewAddr(info)) = msg.decode() else { panic!() };
        assert_eq!((info.index, info.prefixlen, info.addr), (3, 24, vip.addr));
        assert_eq!(info.label.as_deref(), Some("eth0:vip"));
        let attrs: Vec<_> = crate::wire::netlink::attrs(&msg.payload[8..]).map(|a| a.unwrap()).collect();
        let get = |k| attrs.iter().find(|a| a.0 == k).map(|a| a.1);
        assert_eq!(get(IFA_ADDRESS), Some(&[10, 0, 0, 2][..]));
        assert_eq!(get(IFA_BROADCAST), Some(&[10, 0, 0, 255][..]));
        assert_eq!(get(IFA_FLAGS), None);
        // Delete: address and peer only.
        let len = build_addr_request(&mut buf, RTM_DELADDR, 10, 3, &vip).unwrap();
        let msg = messages(&buf[..len]).next().unwrap().unwrap();
        assert_eq!(msg.flags(), NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(msg.payload.len(), 8 + 8 + 8);

        let mut vip = v6("fd00::1", 128);
        vip.noprefixroute = true;
        let len = build_addr_request(&mut buf, RTM_NEWADDR, 11, 3, &vip).unwrap();
        let msg = messages(&buf[..len]).next().unwrap().unwrap();
        let Ok(Decoded::NewAddr(info)) = msg.decode() else { panic!() };
        assert_eq!(info.flags, IFA_F_NODAD | IFA_F_NOPREFIXROUTE);
        assert_eq!(msg.payload[2], IFA_F_NODAD as u8);
        let attrs: Vec<_> = crate::wire::netlink::attrs(&msg.payload[8..]).map(|a| a.unwrap()).collect();
        let ci = attrs.iter().find(|a| a.0 == IFA_CACHEINFO).unwrap().1;
        assert_eq!(ci[..8], [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);

        let bad = |vip: &VipConfig| {
            let e = build_addr_request(&mut [0u8; REQUEST_LEN], RTM_NEWADDR, 1, 1, vip).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        };
        bad(&v4([1, 2, 3, 4], 33));
        bad(&v6("fd00::1", 129));
        let mut vip = v4([1, 2, 3, 4], 32);
        vip.peer = Some("fd00::2".parse().unwrap());
        bad(&vip);
        vip.peer = None;
        vip.label = Some("0123456789abcdef".into());
        bad(&vip);
        vip.label = Some("a\0b".into());
        bad(&vip);
        // A request too large for the buffer is an error, not a panic.
        let e = build_addr_request(&mut [0u8; 40], RTM_NEWADDR, 1, 1, &v6("fd00::1", 128)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn test_dump_and_addresses() {
        let Some(ns) = setup("nl") else { return };
        let (mac_va, mac_vb) = (ip_mac(&ns, "va"), ip_mac(&ns, "vb"));
        ns.run(|| {
            let mut nl = Netlink::open().unwrap();
            let (links, _) = dump_when_up(&mut nl);
            let (va, vb) = (link(&links, "va").clone(), link(&links, "vb").clone());
            assert_eq!(va.mac, Some(mac_va));
            assert_eq!(vb.mac, Some(mac_vb));
            assert!(link_is_up(link(&links, "lo")));
            assert_ne!(va.index, vb.index);

            // IPv4 with a label: shown, re-adding is fine, deleting twice too.
            let mut vip = v4([10, 77, 0, 100], 32);
            vip.label = Some("va:vip".into());
            nl.add_addr(va.index, &vip).unwrap();
            let out = ip_addrs(&ns, "va");
            assert!(out.contains("inet 10.77.0.100/32") && out.contains("va:vip"), "{out}");
            nl.add_addr(va.index, &vip).unwrap();
            let (_, addrs) = nl.dump().unwrap();
            let got = addrs.iter().find(|a| a.addr == vip.addr).unwrap();
            assert_eq!((got.index, got.prefixlen, got.label.as_deref()), (va.index, 32, Some("va:vip")));
            nl.del_addr(va.index, &vip).unwrap();
            assert!(!ip_addrs(&ns, "va").contains("10.77.0.100"));
            nl.del_addr(va.index, &vip).unwrap();
            nl.del_addr(9999, &vip).unwrap();

            // Broadcast, scope and peer.
            let mut vip = v4([10, 77, 1, 1], 24);
            vip.broadcast = Some(Ipv4Addr::new(10, 77, 1, 255));
            vip.scope = RT_SCOPE_LINK;
            nl.add_addr(va.index, &vip).unwrap();
            let out = ip_addrs(&ns, "va");
            assert!(out.contains("inet 10.77.1.1/24 brd 10.77.1.255 scope link"), "{out}");
            let mut peer = v4([10, 77, 2, 1], 32);
            peer.peer = Some(IpAddr::V4(Ipv4Addr::new(10, 77, 2, 2)));
            nl.add_addr(va.index, &peer).unwrap();
            let out = ip_addrs(&ns, "va");
            assert!(out.contains("inet 10.77.2.1 peer 10.77.2.2/32"), "{out}");
            nl.del_addr(va.index, &peer).unwrap();
            nl.del_addr(va.index, &vip).unwrap();
            assert!(!ip_addrs(&ns, "va").contains("inet 10.77."));

            // IPv6: keepalived's /128 defaults (nodad, deprecated), then a
            // /64 with DAD and lifetimes left alone.
            let vip6 = v6("fd00:77::100", 128);
            nl.add_addr(va.index, &vip6).unwrap();
            nl.add_addr(va.index, &vip6).unwrap();
            let out = ip_addrs(&ns, "va");
            let line = out.lines().find(|l| l.contains("fd00:77::100/128")).unwrap_or_else(|| panic!("{out}"));
            assert!(line.contains("deprecated") && line.contains("nodad"), "{line}");
            assert!(line.contains("valid_lft forever preferred_lft 0sec"), "{line}");
            let (_, addrs) = nl.dump().unwrap();
            let got = addrs.iter().find(|a| a.addr == vip6.addr).unwrap();
            assert_eq!(got.flags & (IFA_F_NODAD | IFA_F_DEPRECATED), IFA_F_NODAD | IFA_F_DEPRECATED);
            let mut plain = v6("fd00:77::200", 64);
            plain.nodad = false;
            plain.preferred_lft = None;
            nl.add_addr(va.index, &plain).unwrap();
            let out = ip_addrs(&ns, "va");
            let line = out.lines().find(|l| l.contains("fd00:77::200/64")).unwrap_or_else(|| panic!("{out}"));
            assert!(!line.contains("nodad") && !line.contains("deprecated"), "{line}");
            assert!(line.contains("preferred_lft forever"), "{line}");
            nl.del_addr(va.index, &vip6).unwrap();
            nl.del_addr(va.index, &plain).unwrap();
            nl.del_addr(va.index, &plain).unwrap();
            assert!(!ip_addrs(&ns, "va").contains("fd00:77::"));

            // Errors come back as the kernel's errno.
            let e = nl.add_addr(9999, &v4([10, 77, 0, 1], 32)).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(Errno::NODEV.raw_os_error()), "{e}");
            let e = nl.add_addr(va.index, &v4([10, 77, 0, 1], 33)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        });
    }

    /// Waits for an event matching `want`, skipping others.
    fn wait_event(nl: &mut Netlink, what: &str, want: impl Fn(&NetEvent) -> bool) -> NetEvent {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            while let Some(ev) = nl.next_event() {
                if want(&ev) {
                    return ev;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no event: {what}");
            let timeout = async {
                super::super::reactor::Timer::after(left).await;
                Ok(())
            };
            crate::sys::reactor::block_on(smol::future::or(nl.readable(), timeout)).unwrap().unwrap();
        }
    }

    fn drain(nl: &mut Netlink) {
        while nl.next_event().is_some() {}
    }

    #[test]
    fn test_events() {
        let Some(ns) = setup("ev") else { return };
        ns.run(|| {
            let mut nl = Netlink::open().unwrap();
            let (links, _) = dump_when_up(&mut nl);
            let (va, vb) = (link(&links, "va").clone(), link(&links, "vb").clone());
            drain(&mut nl);

            ns.ip(&["link", "set", "vb", "down"]);
            let ev =
                wait_event(&mut nl, "vb down", |e| matches!(e, NetEvent::Link { index, .. } if *index == vb.index));
            let want =
                NetEvent::Link { index: vb.index, name: vb.name.clone(), up: false, deleted: false, mac: vb.mac };
            assert_eq!(ev, want);
            ns.ip(&["link", "set", "vb", "up"]);
            wait_event(&mut nl, "vb up", |e| matches!(e, NetEvent::Link { index, up: true, .. } if *index == vb.index));

            ns.ip(&["addr", "add", "10.77.3.1/24", "dev", "va"]);
            let addr = IpAddr::V4(Ipv4Addr::new(10, 77, 3, 1));
            let want = NetEvent::Addr { index: va.index, addr, prefix: 24, present: true };
            wait_event(&mut nl, "addr added", |e| *e == want);
            ns.ip(&["addr", "del", "10.77.3.1/24", "dev", "va"]);
            let want = NetEvent::Addr { index: va.index, addr, prefix: 24, present: false };
            wait_event(&mut nl, "addr deleted", |e| *e == want);

            // Our own requests are reported too, IPv6 included.
            let vip6 = v6("fd00:77::1", 128);
            nl.add_addr(va.index, &vip6).unwrap();
            let want = NetEvent::Addr { index: va.index, addr: vip6.addr, prefix: 128, present: true };
            wait_event(&mut nl, "v6 added", |e| *e == want);
            nl.del_addr(va.index, &vip6).unwrap();
            let want = NetEvent::Addr { index: va.index, addr: vip6.addr, prefix: 128, present: false };
            wait_event(&mut nl, "v6 deleted", |e| *e == want);

            // No dummy driver everywhere: a second veth pair stands in.
            ns.ip(&["link", "add", "vc", "type", "veth", "peer", "name", "vd"]);
            let ev = wait_event(&mut nl, "vc added", |e| matches!(e, NetEvent::Link { name, .. } if name == "vc"));
            let NetEvent::Link { index: vc, deleted: false, up: false, mac: Some(_), .. } = ev else {
                panic!("{ev:?}")
            };
            ns.ip(&["link", "del", "vc"]);
            let ev = wait_event(
                &mut nl,
                "vc deleted",
                |e| matches!(e, NetEvent::Link { index, deleted: true, .. } if *index == vc),
            );
            assert!(matches!(&ev, NetEvent::Link { name, up: false, .. } if name == "vc"), "{ev:?}");

            // A look-alike event unicast by another process is ignored.
            drain(&mut nl);
            let port = SocketAddrNetlink::try_from(rustix::net::getsockname(nl.events.get_ref()).unwrap()).unwrap();
            let fake = rustix::net::socket(AddressFamily::NETLINK, SocketType::RAW, None).unwrap();
            let mut buf = [0u8; 128];
            let mut vip = v4([10, 77, 9, 9], 32);
            vip.label = None;
            let len = build_addr_request(&mut buf, RTM_NEWADDR, 1, va.index, &vip).unwrap();
            rustix::net::sendto(&fake, &buf[..len], SendFlags::empty(), &port).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(nl.next_event(), None);
        });
    }

    #[test]
    fn test_overrun() {
        let Some(ns) = setup("ov") else { return };
        ns.run(|| {
            let mut nl = Netlink::open().unwrap();
            // The smallest queue the kernel allows, then far more events.
            rsock::set_socket_recv_buffer_size(nl.events.get_ref(), 0).unwrap();
            drain(&mut nl);
            let batch: String = (1..=100).map(|i| format!("addr add 10.77.4.{i}/32 dev va\n")).collect();
            let file = std::env::temp_dir().join(format!("vipd-ov-{}.batch", std::process::id()));
            std::fs::write(&file, batch).unwrap();
            let out = ns.ip(&["-batch", file.to_str().unwrap()]);
            let _ = std::fs::remove_file(&file);
            assert!(out.is_empty(), "{out}");
            let mut seen = Vec::new();
            while let Some(ev) = nl.next_event() {
                seen.push(ev);
            }
            assert!(seen.contains(&NetEvent::Overrun), "{seen:?}");
            // Everything queued before the overrun was discarded with it.
            assert_eq!(seen.last(), Some(&NetEvent::Overrun));
            let (_, addrs) = nl.dump().unwrap();
            assert_eq!(addrs.iter().filter(|a| a.prefixlen == 32 && a.addr.is_ipv4() && a.index != 1).count(), 100);
        });
    }
}
