//! The netlink message: `struct nlmsghdr`, the message types, flags,
//! multicast groups and address families, the 4-byte alignment, splitting
//! a receive buffer into messages, and [`NlMsg::decode`], which hands each
//! type vipd cares about to its parser. No per-type field parsing here:
//! links, addresses and acks are read in their own files.

use bytemuck::{Pod, Zeroable};

use super::{Ack, AddrInfo, Attrs, LinkInfo, NlError, attrs};

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

pub const NLMSG_HDRLEN: usize = 16;

/// Rounds up to the 4-byte boundary messages and attributes start on.
pub const fn nlmsg_align(len: usize) -> usize {
    len.saturating_add(3) & !3
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

/// Reads a Pod value from the front of `bytes`, whatever its alignment.
pub(super) fn read<T: Pod>(bytes: &[u8]) -> Result<T, NlError> {
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
    pub(super) fn attrs_after(&self, header_len: usize) -> Attrs<'a> {
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
