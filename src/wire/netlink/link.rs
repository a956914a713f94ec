//! Links: the IFLA_* attributes, operational states and IFF_* flags,
//! `struct ifinfomsg`, [`LinkInfo`] parsed from RTM_NEWLINK/RTM_DELLINK,
//! and the RTM_GETLINK dump request. The only links vipd changes are the
//! macvlans of `use_vmac` instances ([`macvlan_request`], [`link_up_request`],
//! [`dellink_request`]); every other link is only watched.

use bytemuck::{Pod, Zeroable};
use heapless::String;

use super::{
    IFNAMSIZ, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NlBuilder, NlError, NlMsg, RTM_DELLINK,
    RTM_GETLINK, RTM_NEWLINK, c_name, read, u32_attr,
};

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

/// RTM_GETLINK dump of every interface.
pub fn getlink_dump(buf: &mut [u8], seq: u32) -> Result<&[u8], NlError> {
    let mut b = NlBuilder::new(buf);
    b.header(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq)?;
    b.push(&IfInfoMsg::zeroed())?;
    b.finish()
}

/// IFLA_LINKINFO's nested kind and data (linux/if_link.h).
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_MACVLAN_MODE: u16 = 1;
/// MACVLAN_MODE_BRIDGE. Not private: a private macvlan takes for itself
/// every multicast frame whose source MAC is its own, so a backup's base
/// interface would never see the adverts a master sends from the same
/// virtual MAC (Linux macvlan_handle_frame); in bridge mode they reach the
/// base interface too.
pub const MACVLAN_MODE_BRIDGE: u32 = 4;

/// RTM_NEWLINK creating macvlan `name` on interface `base` with address
/// `mac` in bridge mode, down (REQUEST|ACK|CREATE|EXCL: an existing name
/// is EEXIST). `BadAttr(IFLA_IFNAME)` for an empty name, one over 15 bytes or one
/// with a NUL.
pub fn macvlan_request<'b>(
    buf: &'b mut [u8],
    seq: u32,
    name: &str,
    base: u32,
    mac: [u8; 6],
) -> Result<&'b [u8], NlError> {
    if name.is_empty() || name.len() >= IFNAMSIZ || name.bytes().any(|c| c == 0) {
        return Err(NlError::BadAttr(IFLA_IFNAME));
    }
    let mut ifname = [0u8; IFNAMSIZ];
    for (d, s) in ifname.iter_mut().zip(name.bytes()) {
        *d = s;
    }
    // The nested IFLA_LINKINFO, written by hand: KIND "macvlan\0" (8 bytes,
    // aligned) then DATA { MACVLAN_MODE u32 }.
    let mut info = [0u8; 4 + 8 + 4 + 4 + 4];
    info[0..2].copy_from_slice(&12u16.to_ne_bytes());
    info[2..4].copy_from_slice(&IFLA_INFO_KIND.to_ne_bytes());
    info[4..12].copy_from_slice(b"macvlan\0");
    info[12..14].copy_from_slice(&12u16.to_ne_bytes());
    info[14..16].copy_from_slice(&IFLA_INFO_DATA.to_ne_bytes());
    info[16..18].copy_from_slice(&8u16.to_ne_bytes());
    info[18..20].copy_from_slice(&IFLA_MACVLAN_MODE.to_ne_bytes());
    info[20..24].copy_from_slice(&MACVLAN_MODE_BRIDGE.to_ne_bytes());
    let mut b = NlBuilder::new(buf);
    b.header(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq)?;
    b.push(&IfInfoMsg::zeroed())?;
    b.attr(IFLA_IFNAME, ifname.get(..=name.len()).ok_or(NlError::BadAttr(IFLA_IFNAME))?)?;
    b.attr(IFLA_LINK, &base.to_ne_bytes())?;
    b.attr(IFLA_ADDRESS, &mac)?;
    b.attr(IFLA_LINKINFO, &info)?;
    b.finish()
}

/// RTM_NEWLINK setting IFF_UP on link `index` (REQUEST|ACK).
pub fn link_up_request(buf: &mut [u8], seq: u32, index: u32) -> Result<&[u8], NlError> {
    let mut b = NlBuilder::new(buf);
    b.header(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq)?;
    b.push(&IfInfoMsg::new(0, 0, index, IFF_UP, IFF_UP))?;
    b.finish()
}

/// RTM_DELLINK of link `index` (REQUEST|ACK).
pub fn dellink_request(buf: &mut [u8], seq: u32, index: u32) -> Result<&[u8], NlError> {
    let mut b = NlBuilder::new(buf);
    b.header(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq)?;
    b.push(&IfInfoMsg::new(0, 0, index, 0, 0))?;
    b.finish()
}
