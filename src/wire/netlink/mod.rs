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

//! The files, by concern: `message.rs` (message header, types and flags,
//! splitting a receive buffer, dispatch to a typed decode), `attr.rs`
//! (attribute header and iteration), `link.rs` (links), `addr.rs`
//! (addresses, and the add/delete request), `route.rs` (route and rule
//! requests), `ack.rs` (NLMSG_ERROR and
//! acks) and `builder.rs` (writing a request). This file holds only the
//! error type they share and the `crate::wire::netlink::…` paths; it must
//! not grow parsers of its own.

mod ack;
mod addr;
mod attr;
mod builder;
mod link;
mod message;
mod route;

use core::fmt;

pub use ack::*;
pub use addr::*;
pub use attr::*;
pub use builder::*;
pub use link::*;
pub use message::*;
pub use route::*;

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

#[cfg(test)]
mod tests;
