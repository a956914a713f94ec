//! Attributes (`struct rtattr`): the header, iteration over a run of
//! attributes (nested ones by iterating the payload again) and the payload
//! readers shared by the link and address parsers (names, u32). Which
//! attribute means what is the message files' business, not this one's.

use bytemuck::{Pod, Zeroable};
use heapless::String;

use super::{NlError, nlmsg_align, read};

/// Attribute type bits that are flags, not part of the type.
pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

pub const RTA_HDRLEN: usize = 4;
/// IFNAMSIZ: names are at most 15 bytes plus the NUL.
pub const IFNAMSIZ: usize = 16;

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
pub(super) fn c_name(kind: u16, payload: &[u8]) -> Result<String<IFNAMSIZ>, NlError> {
    let bytes = payload.split(|&b| b == 0).next().unwrap_or(&[]);
    let s = core::str::from_utf8(bytes).map_err(|_| NlError::BadAttr(kind))?;
    let mut name = String::new();
    name.push_str(s).map_err(|_| NlError::BadAttr(kind))?;
    Ok(name)
}

pub(super) fn u32_attr(kind: u16, payload: &[u8]) -> Result<u32, NlError> {
    let b: [u8; 4] = payload.try_into().map_err(|_| NlError::BadAttr(kind))?;
    Ok(u32::from_ne_bytes(b))
}
