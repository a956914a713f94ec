//! rtnetlink over fixed buffers: the requests vipd sends (add/delete an
//! address, dump links and addresses) and the replies and events it reads
//! (links, addresses, acks).
//!
//! Netlink fields are in the host's byte order. The structs here keep them
//! as byte arrays read with `from_ne_bytes`, so they have alignment 1 and
//! can be viewed at any offset of a receive buffer; messages and
//! attributes are still laid out on 4-byte boundaries (`NLMSG_ALIGN`,
//! `RTA_ALIGN`) as the kernel expects.
//!
//! ```text
//! message:   nlmsghdr (16) | family header (ifinfomsg 16 / ifaddrmsg 8) | attributes | pad to 4
//! attribute: rta_len (2) | rta_type (2) | payload | pad to 4      (rta_len excludes the pad)
//! ```
//!
//! Errors are [`NlError`], not [`super::WireError`]: the latter feeds the
//! VRRP counters, and a malformed kernel message is not an advert.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytemuck::{Pod, Zeroable};
use heapless::String;

// Message types (linux/netlink.h, linux/rtnetlink.h).
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;

// nlmsg_flags.
pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_ECHO: u16 = 0x08;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_ATOMIC: u16 = 0x400;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_APPEND: u16 = 0x800;
/// In an NLMSG_ERROR: the request was not echoed back in full.
pub const NLM_F_CAPPED: u16 = 0x100;
/// In an NLMSG_ERROR: extended-ack attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

// Multicast groups for bind(2) (the legacy bitmask form).
pub const RTMGRP_LINK: u32 = 0x1;
pub const RTMGRP_IPV4_IFADDR: u32 = 0x10;
pub const RTMGRP_IPV6_IFADDR: u32 = 0x100;

pub const AF_UNSPEC: u8 = 0;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

// Link attributes (linux/if_link.h).
pub const IFLA_UNSPEC: u16 = 0;
pub const IFLA_ADDRESS: u16 = 1;
pub const IFLA_BROADCAST: u16 = 2;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MTU: u16 = 4;
pub const IFLA_LINK: u16 = 5;
pub const IFLA_MASTER: u16 = 10;
pub const IFLA_TXQLEN: u16 = 13;
pub const IFLA_OPERSTATE: u16 = 16;
pub const IFLA_LINKMODE: u16 = 17;
pub const IFLA_LINKINFO: u16 = 18;
pub const IFLA_AF_SPEC: u16 = 26;
pub const IFLA_CARRIER: u16 = 33;

// Operational states (IFLA_OPERSTATE, RFC 2863).
pub const IF_OPER_UNKNOWN: u8 = 0;
pub const IF_OPER_NOTPRESENT: u8 = 1;
pub const IF_OPER_DOWN: u8 = 2;
pub const IF_OPER_LOWERLAYERDOWN: u8 = 3;
pub const IF_OPER_TESTING: u8 = 4;
pub const IF_OPER_DORMANT: u8 = 5;
pub const IF_OPER_UP: u8 = 6;

// ifi_flags (linux/if.h).
pub const IFF_UP: u32 = 0x1;
pub const IFF_BROADCAST: u32 = 0x2;
pub const IFF_LOOPBACK: u32 = 0x8;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_NOARP: u32 = 0x80;
pub const IFF_MULTICAST: u32 = 0x1000;
pub const IFF_LOWER_UP: u32 = 0x10000;

// Address attributes (linux/if_addr.h).
pub const IFA_UNSPEC: u16 = 0;
pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_LABEL: u16 = 3;
pub const IFA_BROADCAST: u16 = 4;
pub const IFA_ANYCAST: u16 = 5;
pub const IFA_CACHEINFO: u16 = 6;
pub const IFA_MULTICAST: u16 = 7;
pub const IFA_FLAGS: u16 = 8;

// Address flags: the low 8 in ifa_flags, all of them in IFA_FLAGS.
pub const IFA_F_SECONDARY: u32 = 0x01;
pub const IFA_F_TEMPORARY: u32 = IFA_F_SECONDARY;
pub const IFA_F_NODAD: u32 = 0x02;
pub const IFA_F_OPTIMISTIC: u32 = 0x04;
pub const IFA_F_DADFAILED: u32 = 0x08;
pub const IFA_F_HOMEADDRESS: u32 = 0x10;
pub const IFA_F_DEPRECATED: u32 = 0x20;
pub const IFA_F_TENTATIVE: u32 = 0x40;
pub const IFA_F_PERMANENT: u32 = 0x80;
pub const IFA_F_MANAGETEMPADDR: u32 = 0x100;
pub const IFA_F_NOPREFIXROUTE: u32 = 0x200;
pub const IFA_F_MCAUTOJOIN: u32 = 0x400;
pub const IFA_F_STABLE_PRIVACY: u32 = 0x800;

// Address scopes (rtm_scope / ifa_scope).
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_SITE: u8 = 200;
pub const RT_SCOPE_LINK: u8 = 253;
pub const RT_SCOPE_HOST: u8 = 254;

/// Attribute type bits that are flags, not part of the type.
pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

pub const NLMSG_HDRLEN: usize = 16;
pub const RTA_HDRLEN: usize = 4;
/// IFNAMSIZ: names are at most 15 bytes plus the NUL.
pub const IFNAMSIZ: usize = 16;

/// Rounds up to the 4-byte boundary messages and attributes start on.
pub const fn nlmsg_align(len: usize) -> usize {
    len.saturating_add(3) & !3
}

/// Why a netlink message could not be read or built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NlError {
    /// A message, header or attribute runs past the end of the buffer.
    Truncated,
    /// A length field smaller than its own header.
    BadLength,
    /// The builder's buffer cannot hold the message.
    BufferTooSmall,
    /// The builder was used before `header`.
    NoHeader,
    /// Decoding a message as a type it is not.
    WrongType(u16),
    /// A required attribute is absent.
    MissingAttr(u16),
    /// An attribute has the wrong size or content.
    BadAttr(u16),
    /// An address family other than IPv4/IPv6.
    Unsupported,
    /// A request argument out of range (prefix length, label).
    Invalid,
}

impl fmt::Display for NlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NlError::Truncated => f.write_str("netlink message truncated"),
            NlError::BadLength => f.write_str("netlink length field too small"),
            NlError::BufferTooSmall => f.write_str("netlink buffer too small"),
            NlError::NoHeader => f.write_str("netlink builder used before header"),
            NlError::WrongType(t) => write!(f, "unexpected netlink message type {t}"),
            NlError::MissingAttr(t) => write!(f, "missing netlink attribute {t}"),
            NlError::BadAttr(t) => write!(f, "malformed netlink attribute {t}"),
            NlError::Unsupported => f.write_str("unsupported address family"),
            NlError::Invalid => f.write_str("invalid netlink request argument"),
        }
    }
}

/// `struct nlmsghdr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct NlMsgHdr {
    len: [u8; 4],
    kind: [u8; 2],
    flags: [u8; 2],
    seq: [u8; 4],
    pid: [u8; 4],
}

impl NlMsgHdr {
    pub const fn new(len: u32, kind: u16, flags: u16, seq: u32, pid: u32) -> NlMsgHdr {
        NlMsgHdr {
            len: len.to_ne_bytes(),
            kind: kind.to_ne_bytes(),
            flags: flags.to_ne_bytes(),
            seq: seq.to_ne_bytes(),
            pid: pid.to_ne_bytes(),
        }
    }

    /// Whole message, header included, padding excluded.
    pub const fn len(&self) -> u32 {
        u32::from_ne_bytes(self.len)
    }

    pub const fn is_empty(&self) -> bool {
        (self.len() as usize) <= NLMSG_HDRLEN
    }

    pub const fn kind(&self) -> u16 {
        u16::from_ne_bytes(self.kind)
    }

    pub const fn flags(&self) -> u16 {
        u16::from_ne_bytes(self.flags)
    }

    pub const fn seq(&self) -> u32 {
        u32::from_ne_bytes(self.seq)
    }

    pub const fn pid(&self) -> u32 {
        u32::from_ne_bytes(self.pid)
    }

    pub fn set_len(&mut self, len: u32) {
        self.len = len.to_ne_bytes();
    }
}

/// `struct ifaddrmsg`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct IfAddrMsg {
    family: u8,
    prefixlen: u8,
    flags: u8,
    scope: u8,
    index: [u8; 4],
}

impl IfAddrMsg {
    pub const fn new(family: u8, prefixlen: u8, flags: u8, scope: u8, index: u32) -> IfAddrMsg {
        IfAddrMsg { family, prefixlen, flags, scope, index: index.to_ne_bytes() }
    }

    pub const fn family(&self) -> u8 {
        self.family
    }

    pub const fn prefixlen(&self) -> u8 {
        self.prefixlen
    }

    /// The low 8 flag bits; IFA_FLAGS carries all of them.
    pub const fn flags(&self) -> u8 {
        self.flags
    }

    pub const fn scope(&self) -> u8 {
        self.scope
    }

    pub const fn index(&self) -> u32 {
        u32::from_ne_bytes(self.index)
    }
}

/// `struct ifinfomsg`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct IfInfoMsg {
    family: u8,
    pad: u8,
    kind: [u8; 2],
    index: [u8; 4],
    flags: [u8; 4],
    change: [u8; 4],
}

impl IfInfoMsg {
    pub const fn new(family: u8, kind: u16, index: u32, flags: u32, change: u32) -> IfInfoMsg {
        IfInfoMsg {
            family,
            pad: 0,
            kind: kind.to_ne_bytes(),
            index: index.to_ne_bytes(),
            flags: flags.to_ne_bytes(),
            change: change.to_ne_bytes(),
        }
    }

    pub const fn family(&self) -> u8 {
        self.family
    }

    /// ARPHRD_* hardware type.
    pub const fn kind(&self) -> u16 {
        u16::from_ne_bytes(self.kind)
    }

    /// The kernel's `int`, which is never negative for a real interface.
    pub const fn index(&self) -> u32 {
        u32::from_ne_bytes(self.index)
    }

    /// IFF_* flags.
    pub const fn flags(&self) -> u32 {
        u32::from_ne_bytes(self.flags)
    }

    pub const fn change(&self) -> u32 {
        u32::from_ne_bytes(self.change)
    }
}

/// `struct rtattr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct RtAttr {
    len: [u8; 2],
    kind: [u8; 2],
}

impl RtAttr {
    pub const fn new(len: u16, kind: u16) -> RtAttr {
        RtAttr { len: len.to_ne_bytes(), kind: kind.to_ne_bytes() }
    }

    /// Header plus payload, padding excluded.
    pub const fn len(&self) -> u16 {
        u16::from_ne_bytes(self.len)
    }

    pub const fn is_empty(&self) -> bool {
        (self.len() as usize) <= RTA_HDRLEN
    }

    /// Type including the NLA_F_* flag bits.
    pub const fn kind(&self) -> u16 {
        u16::from_ne_bytes(self.kind)
    }
}

/// `struct nlmsgerr`: a negative errno (0 for an ack) and the header of
/// the request it answers.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct NlMsgErr {
    error: [u8; 4],
    msg: NlMsgHdr,
}

impl NlMsgErr {
    pub const fn new(error: i32, msg: NlMsgHdr) -> NlMsgErr {
        NlMsgErr { error: error.to_ne_bytes(), msg }
    }

    pub const fn error(&self) -> i32 {
        i32::from_ne_bytes(self.error)
    }

    pub const fn msg(&self) -> NlMsgHdr {
        self.msg
    }
}

/// Reads a Pod value from the front of `bytes`, whatever its alignment.
fn read<T: Pod>(bytes: &[u8]) -> Result<T, NlError> {
    let b = bytes.get(..size_of::<T>()).ok_or(NlError::Truncated)?;
    bytemuck::try_pod_read_unaligned(b).map_err(|_| NlError::Truncated)
}

/// One message of a receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlMsg<'a> {
    pub header: NlMsgHdr,
    /// From after the header to `nlmsg_len`.
    pub payload: &'a [u8],
}

impl<'a> NlMsg<'a> {
    pub const fn kind(&self) -> u16 {
        self.header.kind()
    }

    pub const fn flags(&self) -> u16 {
        self.header.flags()
    }

    pub const fn seq(&self) -> u32 {
        self.header.seq()
    }

    /// Attributes after a family header of `header_len` bytes.
    fn attrs_after(&self, header_len: usize) -> Attrs<'a> {
        attrs(self.payload.get(nlmsg_align(header_len)..).unwrap_or(&[]))
    }

    /// The typed content of the messages vipd cares about.
    pub fn decode(&self) -> Result<Decoded, NlError> {
        Ok(match self.kind() {
            RTM_NEWLINK => Decoded::NewLink(LinkInfo::parse(self)?),
            RTM_DELLINK => Decoded::DelLink(LinkInfo::parse(self)?),
            RTM_NEWADDR => Decoded::NewAddr(AddrInfo::parse(self)?),
            RTM_DELADDR => Decoded::DelAddr(AddrInfo::parse(self)?),
            NLMSG_ERROR => Decoded::Ack(Ack::parse(self)?),
            NLMSG_DONE => Decoded::Done,
            NLMSG_OVERRUN => Decoded::Overrun,
            other => Decoded::Other(other),
        })
    }
}

/// What [`NlMsg::decode`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    NewLink(LinkInfo),
    DelLink(LinkInfo),
    NewAddr(AddrInfo),
    DelAddr(AddrInfo),
    /// NLMSG_ERROR, which is also how an ack (errno 0) arrives.
    Ack(Ack),
    /// End of a dump.
    Done,
    /// Messages were lost; state must be re-dumped.
    Overrun,
    Other(u16),
}

/// Iterator over the messages of a receive buffer; see [`messages`].
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

/// The messages in `buf`. A malformed or truncated message yields one
/// error and ends the iteration, since nothing after it can be located.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<NlMsg<'a>, NlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = core::mem::take(&mut self.rest);
        let header: NlMsgHdr = match read(rest) {
            Ok(h) => h,
            Err(e) => return Some(Err(e)),
        };
        let len = header.len() as usize;
        if len < NLMSG_HDRLEN {
            return Some(Err(NlError::BadLength));
        }
        let Some(payload) = rest.get(NLMSG_HDRLEN..len) else {
            return Some(Err(NlError::Truncated));
        };
        // The last message of a buffer need not carry its padding.
        self.rest = rest.get(nlmsg_align(len)..).unwrap_or(&[]);
        Some(Ok(NlMsg { header, payload }))
    }
}

/// Iterator over attributes; see [`attrs`].
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

/// The attributes in `buf` as (type without the NLA_F_* flag bits,
/// payload). A malformed or truncated attribute yields one error and ends
/// the iteration. Nested attributes are read by calling this again on the
/// payload.
pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { rest: buf }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), NlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = core::mem::take(&mut self.rest);
        let attr: RtAttr = match read(rest) {
            Ok(a) => a,
            Err(e) => return Some(Err(e)),
        };
        let len = usize::from(attr.len());
        if len < RTA_HDRLEN {
            return Some(Err(NlError::BadLength));
        }
        let Some(payload) = rest.get(RTA_HDRLEN..len) else {
            return Some(Err(NlError::Truncated));
        };
        self.rest = rest.get(nlmsg_align(len)..).unwrap_or(&[]);
        Some(Ok((attr.kind() & NLA_TYPE_MASK, payload)))
    }
}

/// NUL-terminated interface name or label, at most 15 bytes.
fn c_name(kind: u16, payload: &[u8]) -> Result<String<IFNAMSIZ>, NlError> {
    let bytes = payload.split(|&b| b == 0).next().unwrap_or(&[]);
    let s = core::str::from_utf8(bytes).map_err(|_| NlError::BadAttr(kind))?;
    let mut name = String::new();
    name.push_str(s).map_err(|_| NlError::BadAttr(kind))?;
    Ok(name)
}

fn u32_attr(kind: u16, payload: &[u8]) -> Result<u32, NlError> {
    let b: [u8; 4] = payload.try_into().map_err(|_| NlError::BadAttr(kind))?;
    Ok(u32::from_ne_bytes(b))
}

/// A link from RTM_NEWLINK / RTM_DELLINK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    /// IFF_* flags.
    pub flags: u32,
    /// Empty if the message had no IFLA_IFNAME.
    pub name: String<IFNAMSIZ>,
    /// IFLA_ADDRESS when it is 6 bytes long (Ethernet-like links).
    pub mac: Option<[u8; 6]>,
    /// IF_OPER_*.
    pub operstate: Option<u8>,
    pub mtu: Option<u32>,
}

impl LinkInfo {
    pub fn parse(msg: &NlMsg<'_>) -> Result<LinkInfo, NlError> {
        if !matches!(msg.kind(), RTM_NEWLINK | RTM_DELLINK) {
            return Err(NlError::WrongType(msg.kind()));
        }
        let ifi: IfInfoMsg = read(msg.payload)?;
        let mut link = LinkInfo {
            index: ifi.index(),
            flags: ifi.flags(),
            name: String::new(),
            mac: None,
            operstate: None,
            mtu: None,
        };
        for attr in msg.attrs_after(size_of::<IfInfoMsg>()) {
            let (kind, payload) = attr?;
            match kind {
                IFLA_IFNAME => link.name = c_name(kind, payload)?,
                IFLA_ADDRESS => link.mac = payload.try_into().ok(),
                IFLA_OPERSTATE => {
                    let &[state] = payload else {
                        return Err(NlError::BadAttr(kind));
                    };
                    link.operstate = Some(state);
                }
                IFLA_MTU => link.mtu = Some(u32_attr(kind, payload)?),
                _ => {}
            }
        }
        Ok(link)
    }
}

/// An address from RTM_NEWADDR / RTM_DELADDR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    pub index: u32,
    /// AF_INET or AF_INET6.
    pub family: u8,
    pub prefixlen: u8,
    /// IFA_F_*: IFA_FLAGS when present, else the 8 bits of the header.
    pub flags: u32,
    pub scope: u8,
    /// IFA_LOCAL, else IFA_ADDRESS: on a point-to-point link IFA_ADDRESS is
    /// the peer's, and IPv6 usually sends IFA_ADDRESS alone.
    pub addr: IpAddr,
    pub label: Option<String<IFNAMSIZ>>,
}

impl AddrInfo {
    pub fn parse(msg: &NlMsg<'_>) -> Result<AddrInfo, NlError> {
        if !matches!(msg.kind(), RTM_NEWADDR | RTM_DELADDR) {
            return Err(NlError::WrongType(msg.kind()));
        }
        let ifa: IfAddrMsg = read(msg.payload)?;
        if !matches!(ifa.family(), AF_INET | AF_INET6) {
            return Err(NlError::Unsupported);
        }
        let mut local = None;
        let mut address = None;
        let mut label = None;
        let mut flags = u32::from(ifa.flags());
        for attr in msg.attrs_after(size_of::<IfAddrMsg>()) {
            let (kind, payload) = attr?;
            match kind {
                IFA_LOCAL => local = Some(ip_attr(kind, ifa.family(), payload)?),
                IFA_ADDRESS => address = Some(ip_attr(kind, ifa.family(), payload)?),
                IFA_LABEL => label = Some(c_name(kind, payload)?),
                IFA_FLAGS => flags = u32_attr(kind, payload)?,
                _ => {}
            }
        }
        Ok(AddrInfo {
            index: ifa.index(),
            family: ifa.family(),
            prefixlen: ifa.prefixlen(),
            flags,
            scope: ifa.scope(),
            addr: local.or(address).ok_or(NlError::MissingAttr(IFA_ADDRESS))?,
            label,
        })
    }
}

fn ip_attr(kind: u16, family: u8, payload: &[u8]) -> Result<IpAddr, NlError> {
    let bad = NlError::BadAttr(kind);
    match family {
        AF_INET => Ok(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(payload).map_err(|_| bad)?))),
        AF_INET6 => Ok(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(payload).map_err(|_| bad)?))),
        _ => Err(NlError::Unsupported),
    }
}

/// An NLMSG_ERROR: errno 0 acknowledges a request, a negative errno
/// (e.g. -17 EEXIST) rejects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    pub errno: i32,
    /// Sequence number of the request answered.
    pub seq: u32,
}

impl Ack {
    pub fn parse(msg: &NlMsg<'_>) -> Result<Ack, NlError> {
        if msg.kind() != NLMSG_ERROR {
            return Err(NlError::WrongType(msg.kind()));
        }
        let errno = i32::from_ne_bytes(read(msg.payload)?);
        // The kernel echoes the request's header after errno, with the
        // same seq as the outer header; prefer the echo when present.
        let seq = msg.payload.get(4..).and_then(|echo| read::<NlMsgHdr>(echo).ok()).map_or(msg.seq(), |h| h.seq());
        Ok(Ack { errno, seq })
    }

    pub const fn is_ok(&self) -> bool {
        self.errno == 0
    }
}

/// Writes one netlink message into a caller buffer.
///
/// Start with [`NlBuilder::header`], append the family header with
/// [`NlBuilder::push`] and attributes with [`NlBuilder::attr`], then
/// [`NlBuilder::finish`] writes `nlmsg_len` and returns the message. Every
/// piece is padded to 4 bytes with zeros. Running out of buffer is
/// `BufferTooSmall`, never a panic.
#[derive(Debug)]
pub struct NlBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
    started: bool,
}

impl<'b> NlBuilder<'b> {
    pub fn new(buf: &'b mut [u8]) -> NlBuilder<'b> {
        NlBuilder { buf, len: 0, started: false }
    }

    /// Starts (or restarts) the message. The port id is 0: the kernel.
    pub fn header(&mut self, kind: u16, flags: u16, seq: u32) -> Result<&mut Self, NlError> {
        self.len = 0;
        self.started = false;
        self.put(bytemuck::bytes_of(&NlMsgHdr::new(0, kind, flags, seq, 0)))?;
        self.started = true;
        Ok(self)
    }

    /// Appends a fixed struct such as [`IfAddrMsg`].
    pub fn push<T: Pod>(&mut self, value: &T) -> Result<&mut Self, NlError> {
        self.check_started()?;
        self.put(bytemuck::bytes_of(value))?;
        self.pad()?;
        Ok(self)
    }

    /// Appends an attribute.
    pub fn attr(&mut self, kind: u16, payload: &[u8]) -> Result<&mut Self, NlError> {
        self.check_started()?;
        let len =
            payload.len().checked_add(RTA_HDRLEN).and_then(|l| u16::try_from(l).ok()).ok_or(NlError::BufferTooSmall)?;
        self.put(bytemuck::bytes_of(&RtAttr::new(len, kind)))?;
        self.put(payload)?;
        self.pad()?;
        Ok(self)
    }

    /// Fixes up `nlmsg_len` and returns the message.
    pub fn finish(self) -> Result<&'b [u8], NlError> {
        if !self.started {
            return Err(NlError::NoHeader);
        }
        let len = u32::try_from(self.len).map_err(|_| NlError::BufferTooSmall)?;
        let NlBuilder { buf, len: used, .. } = self;
        buf.get_mut(..4).ok_or(NlError::BufferTooSmall)?.copy_from_slice(&len.to_ne_bytes());
        let buf: &'b [u8] = buf;
        buf.get(..used).ok_or(NlError::BufferTooSmall)
    }

    fn check_started(&self) -> Result<(), NlError> {
        if self.started { Ok(()) } else { Err(NlError::NoHeader) }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), NlError> {
        let end = self.len.checked_add(bytes.len()).ok_or(NlError::BufferTooSmall)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(NlError::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn pad(&mut self) -> Result<(), NlError> {
        let end = nlmsg_align(self.len);
        let dst = self.buf.get_mut(self.len..end).ok_or(NlError::BufferTooSmall)?;
        dst.fill(0);
        self.len = end;
        Ok(())
    }
}

/// RTM_NEWADDR or RTM_DELADDR (`kind`) for one address, as `ip addr
/// add|del` would send it.
///
/// IFA_LOCAL and IFA_ADDRESS both carry `addr` (no peer). `broadcast` and
/// `label` are IPv4-only and ignored for IPv6, as the kernel would ignore
/// them. `ipv6_nodad` sets IFA_F_NODAD, so a VIP is usable at once instead
/// of after duplicate address detection (keepalived's default). New
/// addresses use CREATE|EXCL: re-adding an existing address fails with
/// EEXIST, which the caller treats as success, as keepalived does.
///
/// `Invalid` if `kind` is neither, `prefix` exceeds the address length, or
/// `label` is longer than 15 bytes or contains a NUL.
#[allow(clippy::too_many_arguments)] // one argument per request field; a struct would only rename them
pub fn addr_request<'b>(
    buf: &'b mut [u8],
    kind: u16,
    seq: u32,
    ifindex: u32,
    addr: IpAddr,
    prefix: u8,
    broadcast: Option<Ipv4Addr>,
    scope: u8,
    label: Option<&str>,
    ipv6_nodad: bool,
) -> Result<&'b [u8], NlError> {
    let flags = match kind {
        RTM_NEWADDR => NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        RTM_DELADDR => NLM_F_REQUEST | NLM_F_ACK,
        _ => return Err(NlError::Invalid),
    };
    let (family, max_prefix, addr_flags) = match addr {
        IpAddr::V4(_) => (AF_INET, 32, 0),
        IpAddr::V6(_) => (AF_INET6, 128, if ipv6_nodad { IFA_F_NODAD } else { 0 }),
    };
    if prefix > max_prefix {
        return Err(NlError::Invalid);
    }
    let octets4;
    let octets6;
    let addr_bytes: &[u8] = match addr {
        IpAddr::V4(a) => {
            octets4 = a.octets();
            &octets4
        }
        IpAddr::V6(a) => {
            octets6 = a.octets();
            &octets6
        }
    };
    let mut b = NlBuilder::new(buf);
    b.header(kind, flags, seq)?;
    // addr_flags holds IFA_F_NODAD at most, which fits the 8-bit field.
    b.push(&IfAddrMsg::new(family, prefix, addr_flags as u8, scope, ifindex))?;
    b.attr(IFA_LOCAL, addr_bytes)?;
    b.attr(IFA_ADDRESS, addr_bytes)?;
    if family == AF_INET {
        if let Some(bcast) = broadcast {
            b.attr(IFA_BROADCAST, &bcast.octets())?;
        }
        if let Some(label) = label {
            if label.len() >= IFNAMSIZ || label.bytes().any(|c| c == 0) {
                return Err(NlError::Invalid);
            }
            let mut name = [0u8; IFNAMSIZ];
            for (d, s) in name.iter_mut().zip(label.bytes()) {
                *d = s;
            }
            // With its terminating NUL, as the kernel copies it.
            b.attr(IFA_LABEL, name.get(..=label.len()).ok_or(NlError::Invalid)?)?;
        }
    }
    if addr_flags != 0 {
        b.attr(IFA_FLAGS, &addr_flags.to_ne_bytes())?;
    }
    b.finish()
}

/// RTM_GETLINK dump of every interface.
pub fn getlink_dump(buf: &mut [u8], seq: u32) -> Result<&[u8], NlError> {
    let mut b = NlBuilder::new(buf);
    b.header(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq)?;
    b.push(&IfInfoMsg::zeroed())?;
    b.finish()
}

/// RTM_GETADDR dump of every address of `family` (AF_UNSPEC for both).
pub fn getaddr_dump(buf: &mut [u8], seq: u32, family: u8) -> Result<&[u8], NlError> {
    let mut b = NlBuilder::new(buf);
    b.header(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq)?;
    b.push(&IfAddrMsg::new(family, 0, 0, 0, 0))?;
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends native-endian fields, to write kernel messages by hand.
    #[derive(Default)]
    struct Raw(Vec<u8>);

    impl Raw {
        fn u8(mut self, v: u8) -> Self {
            self.0.push(v);
            self
        }
        fn u16(mut self, v: u16) -> Self {
            self.0.extend_from_slice(&v.to_ne_bytes());
            self
        }
        fn u32(mut self, v: u32) -> Self {
            self.0.extend_from_slice(&v.to_ne_bytes());
            self
        }
        fn bytes(mut self, v: &[u8]) -> Self {
            self.0.extend_from_slice(v);
            self
        }
        fn pad(mut self) -> Self {
            while !self.0.len().is_multiple_of(4) {
                self.0.push(0);
            }
            self
        }
        /// An attribute: rta_len (header + payload), type, payload, pad.
        fn attr(self, kind: u16, payload: &[u8]) -> Self {
            self.u16(4 + payload.len() as u16).u16(kind).bytes(payload).pad()
        }
        /// nlmsghdr in front of `body`.
        fn msg(kind: u16, flags: u16, seq: u32, pid: u32, body: Raw) -> Raw {
            Raw::default().u32(16 + body.0.len() as u32).u16(kind).u16(flags).u32(seq).u32(pid).bytes(&body.0)
        }
    }

    fn only_msg(bytes: &[u8]) -> NlMsg<'_> {
        let all: Vec<_> = messages(bytes).collect();
        assert_eq!(all.len(), 1);
        all[0].unwrap()
    }

    #[test]
    fn test_struct_sizes() {
        assert_eq!(size_of::<NlMsgHdr>(), 16);
        assert_eq!(size_of::<IfAddrMsg>(), 8);
        assert_eq!(size_of::<IfInfoMsg>(), 16);
        assert_eq!(size_of::<RtAttr>(), 4);
        assert_eq!(size_of::<NlMsgErr>(), 20);
        assert_eq!(align_of::<NlMsgErr>(), 1);
        assert_eq!(align_of::<IfInfoMsg>(), 1);
    }

    /// RTM_NEWADDR 10.200.0.50/32: exactly the 40-byte request that added
    /// the address in the platform test, then parsed back.
    #[test]
    fn test_construct_addr_request_v4() {
        let addr = IpAddr::V4(Ipv4Addr::new(10, 200, 0, 50));
        let mut buf = [0xa5u8; 64];
        let got = addr_request(&mut buf, RTM_NEWADDR, 7, 2, addr, 32, None, 0, None, true).unwrap().to_vec();
        let body = Raw::default()
            .bytes(&[AF_INET, 32, 0, 0])
            .u32(2)
            .attr(IFA_LOCAL, &[10, 200, 0, 50])
            .attr(IFA_ADDRESS, &[10, 200, 0, 50]);
        let want = Raw::msg(RTM_NEWADDR, 0x605, 7, 0, body);
        assert_eq!(got, want.0);
        assert_eq!(got.len(), 40);
        assert!(buf[40..].iter().all(|&b| b == 0xa5));

        let msg = only_msg(&got);
        assert_eq!(msg.flags(), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        let info = AddrInfo::parse(&msg).unwrap();
        let want = AddrInfo { index: 2, family: AF_INET, prefixlen: 32, flags: 0, scope: 0, addr, label: None };
        assert_eq!(info, want);
    }

    #[test]
    fn test_construct_addr_request_v4_full() {
        let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100));
        let bcast = Some(Ipv4Addr::new(10, 0, 0, 255));
        let mut buf = [0xa5u8; 128];
        let got =
            addr_request(&mut buf, RTM_DELADDR, 9, 3, addr, 24, bcast, RT_SCOPE_UNIVERSE, Some("eth0:vip"), false)
                .unwrap()
                .to_vec();
        let body = Raw::default()
            .bytes(&[AF_INET, 24, 0, 0])
            .u32(3)
            .attr(IFA_LOCAL, &[10, 0, 0, 100])
            .attr(IFA_ADDRESS, &[10, 0, 0, 100])
            .attr(IFA_BROADCAST, &[10, 0, 0, 255])
            .attr(IFA_LABEL, b"eth0:vip\0");
        assert_eq!(got, Raw::msg(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, 9, 0, body).0);
        let msg = only_msg(&got);
        assert_eq!(
            msg.decode().unwrap(),
            Decoded::DelAddr(AddrInfo {
                index: 3,
                family: AF_INET,
                prefixlen: 24,
                flags: 0,
                scope: 0,
                addr,
                label: Some("eth0:vip".try_into().unwrap()),
            })
        );
        // Every buffer shorter than the message is refused.
        for n in 0..got.len() {
            let r = addr_request(&mut buf[..n], RTM_DELADDR, 9, 3, addr, 24, bcast, 0, Some("eth0:vip"), false);
            assert_eq!(r, Err(NlError::BufferTooSmall), "{n}");
        }
    }

    #[test]
    fn test_construct_addr_request_v6() {
        let addr: IpAddr = "fd00::100".parse().unwrap();
        let mut buf = [0xa5u8; 128];
        let bcast = Some(Ipv4Addr::BROADCAST); // ignored for IPv6
        let got = addr_request(&mut buf, RTM_NEWADDR, 1, 2, addr, 128, bcast, 0, Some("x"), true).unwrap().to_vec();
        let a = addr_octets(addr);
        let body = Raw::default()
            .bytes(&[AF_INET6, 128, IFA_F_NODAD as u8, 0])
            .u32(2)
            .attr(IFA_LOCAL, &a)
            .attr(IFA_ADDRESS, &a)
            .attr(IFA_FLAGS, &IFA_F_NODAD.to_ne_bytes());
        assert_eq!(got, Raw::msg(RTM_NEWADDR, 0x605, 1, 0, body).0);
        let info = AddrInfo::parse(&only_msg(&got)).unwrap();
        assert_eq!((info.addr, info.flags, info.prefixlen), (addr, IFA_F_NODAD, 128));

        let without = addr_request(&mut buf, RTM_NEWADDR, 1, 2, addr, 64, None, 0, None, false).unwrap();
        assert_eq!(without.len(), 16 + 8 + 20 + 20);
    }

    fn addr_octets(a: IpAddr) -> Vec<u8> {
        match a {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        }
    }

    #[test]
    fn test_addr_request_invalid() {
        let mut buf = [0u8; 128];
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let v6: IpAddr = "fd00::1".parse().unwrap();
        let inv = Err(NlError::Invalid);
        assert_eq!(addr_request(&mut buf, RTM_GETADDR, 1, 1, v4, 32, None, 0, None, false), inv);
        assert_eq!(addr_request(&mut buf, RTM_NEWADDR, 1, 1, v4, 33, None, 0, None, false), inv);
        assert_eq!(addr_request(&mut buf, RTM_NEWADDR, 1, 1, v6, 129, None, 0, None, false), inv);
        let long = Some("0123456789abcdef");
        assert_eq!(addr_request(&mut buf, RTM_NEWADDR, 1, 1, v4, 32, None, 0, long, false), inv);
        let nul = Some("a\0b");
        assert_eq!(addr_request(&mut buf, RTM_NEWADDR, 1, 1, v4, 32, None, 0, nul, false), inv);
        let ok15 = Some("0123456789abcde");
        assert!(addr_request(&mut buf, RTM_NEWADDR, 1, 1, v4, 32, None, 0, ok15, false).is_ok());
    }

    #[test]
    fn test_construct_dumps() {
        let mut buf = [0xa5u8; 64];
        let got = getlink_dump(&mut buf, 5).unwrap().to_vec();
        let want = Raw::msg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 5, 0, Raw::default().bytes(&[0; 16]));
        assert_eq!(got, want.0);
        assert_eq!(got.len(), 32);
        let got = getaddr_dump(&mut buf, 6, AF_INET6).unwrap().to_vec();
        let body = Raw::default().bytes(&[AF_INET6, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(got, Raw::msg(RTM_GETADDR, 0x301, 6, 0, body).0);
        assert_eq!(getlink_dump(&mut buf[..31], 5), Err(NlError::BufferTooSmall));
        assert_eq!(getaddr_dump(&mut buf[..23], 5, 0), Err(NlError::BufferTooSmall));
        let msg = only_msg(&got);
        assert_eq!(msg.decode(), Ok(Decoded::Other(RTM_GETADDR)));
    }

    #[test]
    fn test_builder() {
        let mut buf = [0xa5u8; 64];
        let mut b = NlBuilder::new(&mut buf);
        assert_eq!(b.attr(1, &[1]).err(), Some(NlError::NoHeader));
        assert_eq!(b.push(&0u32).err(), Some(NlError::NoHeader));
        b.header(100, 1, 2).unwrap().attr(1, &[9]).unwrap().attr(2, &[]).unwrap().push(&[7u8; 3]).unwrap();
        let got = b.finish().unwrap().to_vec();
        let want = Raw::default().attr(1, &[9]).attr(2, &[]).bytes(&[7, 7, 7]).pad();
        assert_eq!(got, Raw::msg(100, 1, 2, 0, want).0);
        assert_eq!(NlBuilder::new(&mut buf).finish(), Err(NlError::NoHeader));
        let mut big = [0u8; 70_000];
        let mut b = NlBuilder::new(&mut big);
        b.header(1, 0, 0).unwrap();
        assert_eq!(b.attr(1, &[0; 65_532]).err(), Some(NlError::BufferTooSmall));
        assert!(b.attr(1, &[0; 65_531]).is_ok());
    }

    /// RTM_NEWLINK as the kernel sends it for a veth in a dump reply,
    /// written field by field from linux/rtnetlink.h and if_link.h, with a
    /// nested IFLA_AF_SPEC, followed by NLMSG_DONE.
    fn kernel_newlink() -> Vec<u8> {
        let af_inet = Raw::default().attr(1 | NLA_F_NESTED, &Raw::default().attr(1, &[0; 8]).0);
        let body = Raw::default()
            .u8(AF_UNSPEC)
            .u8(0)
            .u16(1) // ARPHRD_ETHER
            .u32(7)
            .u32(IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP)
            .u32(0)
            .attr(IFLA_IFNAME, b"vb\0")
            .attr(IFLA_TXQLEN, &1000u32.to_ne_bytes())
            .attr(IFLA_OPERSTATE, &[IF_OPER_UP])
            .attr(IFLA_LINKMODE, &[0])
            .attr(IFLA_MTU, &1500u32.to_ne_bytes())
            .attr(IFLA_ADDRESS, &[0x1e, 0x41, 0xbf, 0xf1, 0x62, 0xac])
            .attr(IFLA_BROADCAST, &[0xff; 6])
            .attr(IFLA_AF_SPEC | NLA_F_NESTED, &af_inet.0);
        let mut out = Raw::msg(RTM_NEWLINK, NLM_F_MULTI, 1, 4242, body).0;
        out.extend(Raw::msg(NLMSG_DONE, NLM_F_MULTI, 1, 4242, Raw::default().u32(0)).0);
        out
    }

    #[test]
    fn test_deconstruct_newlink() {
        let bytes = kernel_newlink();
        let msgs: Vec<_> = messages(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].header.pid(), 4242);
        let want = LinkInfo {
            index: 7,
            flags: 0x11043,
            name: "vb".try_into().unwrap(),
            mac: Some([0x1e, 0x41, 0xbf, 0xf1, 0x62, 0xac]),
            operstate: Some(IF_OPER_UP),
            mtu: Some(1500),
        };
        assert_eq!(msgs[0].decode(), Ok(Decoded::NewLink(want)));
        assert_eq!(msgs[1].decode(), Ok(Decoded::Done));
        // The nested attribute is reachable, with its flag bit stripped.
        let spec = msgs[0].attrs_after(16).find_map(|a| a.ok().filter(|a| a.0 == IFLA_AF_SPEC));
        let inner: Vec<_> = attrs(spec.unwrap().1).collect();
        assert_eq!(inner.len(), 1);
        assert_eq!(inner[0].map(|a| a.0), Ok(1));
        assert_eq!(AddrInfo::parse(&msgs[0]), Err(NlError::WrongType(RTM_NEWLINK)));
    }

    /// A DELLINK of a tunnel: no name, a 4-byte hardware address.
    #[test]
    fn test_deconstruct_dellink() {
        let body = Raw::default().bytes(&[0; 4]).u32(9).u32(0).u32(0).attr(IFLA_ADDRESS, &[1, 2, 3, 4]);
        let bytes = Raw::msg(RTM_DELLINK, 0, 0, 0, body).0;
        let Ok(Decoded::DelLink(link)) = only_msg(&bytes).decode() else { panic!() };
        assert_eq!((link.index, link.name.as_str(), link.mac), (9, "", None));
        let body = Raw::default().bytes(&[0; 16]).attr(IFLA_OPERSTATE, &[1, 2]);
        let bytes = Raw::msg(RTM_NEWLINK, 0, 0, 0, body).0;
        assert_eq!(only_msg(&bytes).decode(), Err(NlError::BadAttr(IFLA_OPERSTATE)));
        let body = Raw::default().bytes(&[0; 16]).attr(IFLA_IFNAME, b"0123456789abcdefg\0");
        let bytes = Raw::msg(RTM_NEWLINK, 0, 0, 0, body).0;
        assert_eq!(only_msg(&bytes).decode(), Err(NlError::BadAttr(IFLA_IFNAME)));
        let body = Raw::default().bytes(&[0; 16]).attr(IFLA_IFNAME, &[0xff, 0]);
        let bytes = Raw::msg(RTM_NEWLINK, 0, 0, 0, body).0;
        assert_eq!(only_msg(&bytes).decode(), Err(NlError::BadAttr(IFLA_IFNAME)));
    }

    /// RTM_NEWADDR events as the kernel sends them: IPv4 with IFA_ADDRESS,
    /// IFA_LOCAL, IFA_BROADCAST, IFA_LABEL, IFA_FLAGS and IFA_CACHEINFO, and
    /// an IPv6 link-local with IFA_ADDRESS only, in one buffer.
    fn kernel_newaddrs() -> Vec<u8> {
        let cacheinfo = [0xffu8; 16];
        let v4 = Raw::default()
            .bytes(&[AF_INET, 24, IFA_F_PERMANENT as u8, RT_SCOPE_UNIVERSE])
            .u32(2)
            .attr(IFA_ADDRESS, &[10, 200, 0, 2])
            .attr(IFA_LOCAL, &[10, 200, 0, 2])
            .attr(IFA_BROADCAST, &[10, 200, 0, 255])
            .attr(IFA_LABEL, b"vb\0")
            .attr(IFA_FLAGS, &IFA_F_PERMANENT.to_ne_bytes())
            .attr(IFA_CACHEINFO, &cacheinfo);
        let ll: Ipv6Addr = "fe80::1c41:bfff:fef1:62ac".parse().unwrap();
        let v6 = Raw::default()
            .bytes(&[AF_INET6, 64, IFA_F_PERMANENT as u8, RT_SCOPE_LINK])
            .u32(2)
            .attr(IFA_ADDRESS, &ll.octets())
            .attr(IFA_CACHEINFO, &cacheinfo)
            .attr(IFA_FLAGS, &(IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE).to_ne_bytes());
        let mut out = Raw::msg(RTM_NEWADDR, 0, 0, 0, v4).0;
        out.extend(Raw::msg(RTM_NEWADDR, 0, 0, 0, v6).0);
        out
    }

    #[test]
    fn test_deconstruct_newaddr() {
        let bytes = kernel_newaddrs();
        let got: Vec<_> = messages(&bytes).map(|m| m.and_then(|m| m.decode())).collect();
        let v4 = AddrInfo {
            index: 2,
            family: AF_INET,
            prefixlen: 24,
            flags: IFA_F_PERMANENT,
            scope: RT_SCOPE_UNIVERSE,
            addr: IpAddr::V4(Ipv4Addr::new(10, 200, 0, 2)),
            label: Some("vb".try_into().unwrap()),
        };
        let v6 = AddrInfo {
            index: 2,
            family: AF_INET6,
            prefixlen: 64,
            flags: IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE,
            scope: RT_SCOPE_LINK,
            addr: "fe80::1c41:bfff:fef1:62ac".parse().unwrap(),
            label: None,
        };
        assert_eq!(got, [Ok(Decoded::NewAddr(v4)), Ok(Decoded::NewAddr(v6))]);
    }

    #[test]
    fn test_addr_decode_errors() {
        let hdr = |family: u8| Raw::default().bytes(&[family, 32, 0, 0]).u32(1);
        let one = |body: Raw| Raw::msg(RTM_NEWADDR, 0, 0, 0, body).0;
        let b = one(hdr(AF_INET));
        assert_eq!(only_msg(&b).decode(), Err(NlError::MissingAttr(IFA_ADDRESS)));
        let b = one(hdr(AF_INET).attr(IFA_LOCAL, &[1, 2, 3]));
        assert_eq!(only_msg(&b).decode(), Err(NlError::BadAttr(IFA_LOCAL)));
        let b = one(hdr(AF_INET6).attr(IFA_ADDRESS, &[1, 2, 3, 4]));
        assert_eq!(only_msg(&b).decode(), Err(NlError::BadAttr(IFA_ADDRESS)));
        let b = one(hdr(17).attr(IFA_ADDRESS, &[1, 2, 3, 4]));
        assert_eq!(only_msg(&b).decode(), Err(NlError::Unsupported));
        let b = one(hdr(AF_INET).attr(IFA_ADDRESS, &[1, 2, 3, 4]).attr(IFA_FLAGS, &[1]));
        assert_eq!(only_msg(&b).decode(), Err(NlError::BadAttr(IFA_FLAGS)));
        let b = one(Raw::default().bytes(&[AF_INET, 32, 0]));
        assert_eq!(only_msg(&b).decode(), Err(NlError::Truncated));
        // IFA_LOCAL wins over IFA_ADDRESS (the peer on point-to-point).
        let b = one(hdr(AF_INET).attr(IFA_ADDRESS, &[1, 1, 1, 1]).attr(IFA_LOCAL, &[2, 2, 2, 2]));
        let Ok(Decoded::NewAddr(info)) = only_msg(&b).decode() else { panic!() };
        assert_eq!(info.addr, IpAddr::V4(Ipv4Addr::new(2, 2, 2, 2)));
    }

    /// The EEXIST answer to a repeated RTM_NEWADDR, and a plain ack.
    #[test]
    fn test_deconstruct_ack() {
        let request = NlMsgHdr::new(40, RTM_NEWADDR, 0x605, 77, 0);
        let body = Raw::default().bytes(bytemuck::bytes_of(&NlMsgErr::new(-17, request)));
        let bytes = Raw::msg(NLMSG_ERROR, NLM_F_CAPPED, 77, 0, body).0;
        assert_eq!(bytes.len(), 36);
        let ack = Ack { errno: -17, seq: 77 };
        assert_eq!(only_msg(&bytes).decode(), Ok(Decoded::Ack(ack)));
        assert!(!ack.is_ok());
        let bytes = Raw::msg(NLMSG_ERROR, 0, 78, 0, Raw::default().u32(0)).0;
        let ack = Ack::parse(&only_msg(&bytes)).unwrap();
        assert_eq!(ack, Ack { errno: 0, seq: 78 });
        assert!(ack.is_ok());
        let bytes = Raw::msg(NLMSG_ERROR, 0, 78, 0, Raw::default().u16(0)).0;
        assert_eq!(Ack::parse(&only_msg(&bytes)), Err(NlError::Truncated));
        let bytes = Raw::msg(NLMSG_OVERRUN, 0, 0, 0, Raw::default()).0;
        assert_eq!(only_msg(&bytes).decode(), Ok(Decoded::Overrun));
        assert_eq!(Ack::parse(&only_msg(&bytes)), Err(NlError::WrongType(NLMSG_OVERRUN)));
    }

    #[test]
    fn test_message_iterator_errors() {
        assert_eq!(messages(&[]).count(), 0);
        let bytes = kernel_newlink();
        // Every prefix: the complete messages, then at most one error.
        for n in 0..bytes.len() {
            let got: Vec<_> = messages(&bytes[..n]).collect();
            let errs = got.iter().filter(|r| r.is_err()).count();
            assert!(errs <= 1);
            if let Some(pos) = got.iter().position(|r| r.is_err()) {
                assert_eq!(pos, got.len() - 1);
                assert_eq!(got[pos], Err(NlError::Truncated));
            }
            for m in got.into_iter().flatten() {
                let _ = m.decode();
            }
        }
        // nlmsg_len below the header size cannot advance: one error.
        let mut bad = bytes.clone();
        bad[..4].copy_from_slice(&15u32.to_ne_bytes());
        assert_eq!(messages(&bad).collect::<Vec<_>>(), [Err(NlError::BadLength)]);
        // The final message may omit its padding.
        let m = Raw::msg(NLMSG_NOOP, 0, 0, 0, Raw::default().u8(1)).0;
        assert_eq!(m.len(), 17);
        assert_eq!(messages(&m).count(), 1);
        assert_eq!(only_msg(&m).payload, &[1]);
    }

    #[test]
    fn test_attr_iterator_errors() {
        assert_eq!(attrs(&[]).count(), 0);
        let good = Raw::default().attr(1, &[1, 2, 3]).attr(2, &[4]).0;
        let got: Vec<_> = attrs(&good).collect();
        assert_eq!(got, [Ok((1, &[1u8, 2, 3][..])), Ok((2, &[4u8][..]))]);
        let got: Vec<_> = attrs(&good[..10]).collect();
        assert_eq!(got, [Ok((1, &[1u8, 2, 3][..])), Err(NlError::Truncated)]);
        let got: Vec<_> = attrs(&good[..2]).collect();
        assert_eq!(got, [Err(NlError::Truncated)]);
        let short = Raw::default().u16(3).u16(1).u16(0).0;
        let got: Vec<_> = attrs(&short).collect();
        assert_eq!(got, [Err(NlError::BadLength)]);
        let long = Raw::default().u16(9).u16(1).u32(0).0;
        assert_eq!(attrs(&long).collect::<Vec<_>>(), [Err(NlError::Truncated)]);
        let net = Raw::default().attr(5 | NLA_F_NET_BYTEORDER, &[]).0;
        assert_eq!(attrs(&net).collect::<Vec<_>>(), [Ok((5, &[][..]))]);
    }

    /// Pseudo-random garbage, and the real messages with bytes overwritten,
    /// go through every decoder without panicking.
    #[test]
    fn test_garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let walk = |buf: &[u8]| {
            for m in messages(buf).flatten() {
                let _ = m.decode();
                for h in [0, 8, 16] {
                    for a in m.attrs_after(h).flatten() {
                        let _ = attrs(a.1).count();
                    }
                }
            }
        };
        let mut samples = vec![kernel_newlink(), kernel_newaddrs()];
        samples.push(Raw::msg(NLMSG_ERROR, 0, 1, 0, Raw::default().u32(0)).0);
        for _ in 0..2000 {
            let len = (next() % 200) as usize;
            let v: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            walk(&v);
            for s in &samples {
                let mut s = s.clone();
                for _ in 0..3 {
                    let i = (next() as usize) % s.len();
                    s[i] = next() as u8;
                }
                walk(&s);
            }
        }
    }
}
