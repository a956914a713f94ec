//! Addresses: the IFA_* attributes, address flags and scopes,
//! `struct ifaddrmsg`, [`AddrInfo`] parsed from RTM_NEWADDR/RTM_DELADDR,
//! and the two requests vipd sends about addresses: adding or deleting one
//! ([`addr_request`]) and dumping them all. Only IPv4 and IPv6; anything
//! else is refused, never guessed at.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytemuck::{Pod, Zeroable};
use heapless::String;

use super::{
    AF_INET, AF_INET6, IFNAMSIZ, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NlBuilder, NlError,
    NlMsg, RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR, c_name, read, u32_attr,
};

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

/// RTM_GETADDR dump of every address of `family` (AF_UNSPEC for both).
pub fn getaddr_dump(buf: &mut [u8], seq: u32, family: u8) -> Result<&[u8], NlError> {
    let mut b = NlBuilder::new(buf);
    b.header(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq)?;
    b.push(&IfAddrMsg::new(family, 0, 0, 0, 0))?;
    b.finish()
}
