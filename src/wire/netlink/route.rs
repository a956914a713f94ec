//! Routes and policy rules: `struct rtmsg`, `struct fib_rule_hdr`, the
//! RTA_*/FRA_* attributes vipd writes, and the two requests built from
//! them ([`route_request`], [`rule_request`]), as `ip route add|del` and
//! `ip rule add|del` would send them. vipd only writes routes and rules
//! (virtual_routes, static_rules, …); it never parses them.

use core::net::IpAddr;

use bytemuck::{Pod, Zeroable};

use super::{AF_INET, AF_INET6, IFNAMSIZ, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NlBuilder, NlError};

pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_NEWRULE: u16 = 32;
pub const RTM_DELRULE: u16 = 33;

// Route attributes (linux/rtnetlink.h).
pub const RTA_DST: u16 = 1;
pub const RTA_OIF: u16 = 4;
pub const RTA_GATEWAY: u16 = 5;
pub const RTA_PRIORITY: u16 = 6;
pub const RTA_PREFSRC: u16 = 7;
pub const RTA_TABLE: u16 = 15;

// Route types (rtm_type).
pub const RTN_UNICAST: u8 = 1;
pub const RTN_LOCAL: u8 = 2;
pub const RTN_BROADCAST: u8 = 3;
pub const RTN_ANYCAST: u8 = 4;
pub const RTN_MULTICAST: u8 = 5;
pub const RTN_BLACKHOLE: u8 = 6;
pub const RTN_UNREACHABLE: u8 = 7;
pub const RTN_PROHIBIT: u8 = 8;
pub const RTN_THROW: u8 = 9;

/// `proto keepalived`: what keepalived marks its routes and rules with,
/// and vipd too, so `ip route show proto keepalived` finds them either way.
pub const RTPROT_KEEPALIVED: u8 = 18;
pub const RT_TABLE_UNSPEC: u8 = 0;
pub const RT_TABLE_MAIN: u32 = 254;

// Rule attributes (linux/fib_rules.h).
pub const FRA_DST: u16 = 1;
pub const FRA_SRC: u16 = 2;
pub const FRA_IIFNAME: u16 = 3;
pub const FRA_PRIORITY: u16 = 6;
pub const FRA_FWMARK: u16 = 10;
pub const FRA_TABLE: u16 = 15;
pub const FRA_FWMASK: u16 = 16;
pub const FRA_OIFNAME: u16 = 17;
pub const FRA_PROTOCOL: u16 = 21;

// Rule actions and flags.
pub const FR_ACT_TO_TBL: u8 = 1;
pub const FR_ACT_BLACKHOLE: u8 = 6;
pub const FR_ACT_UNREACHABLE: u8 = 7;
pub const FR_ACT_PROHIBIT: u8 = 8;
pub const FIB_RULE_INVERT: u32 = 0x2;

/// `struct rtmsg`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct RtMsg {
    family: u8,
    dst_len: u8,
    src_len: u8,
    tos: u8,
    table: u8,
    protocol: u8,
    scope: u8,
    kind: u8,
    flags: [u8; 4],
}

/// `struct fib_rule_hdr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct FibRuleHdr {
    family: u8,
    dst_len: u8,
    src_len: u8,
    tos: u8,
    table: u8,
    res1: u8,
    res2: u8,
    action: u8,
    flags: [u8; 4],
}

/// One route, as the request carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    pub dst: IpAddr,
    pub dst_len: u8,
    /// RTA_PREFSRC (`src`).
    pub src: Option<IpAddr>,
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
    pub table: u32,
    pub metric: Option<u32>,
    pub scope: u8,
    pub protocol: u8,
    /// RTN_*.
    pub kind: u8,
}

/// One policy rule, as the request carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleSpec<'a> {
    /// AF_INET or AF_INET6.
    pub family: u8,
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    pub table: u32,
    /// FR_ACT_*.
    pub action: u8,
    pub priority: u32,
    pub invert: bool,
    pub iif: Option<&'a str>,
    pub oif: Option<&'a str>,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    /// 0: none (no FRA_PROTOCOL).
    pub protocol: u8,
}

fn family_of(a: IpAddr) -> (u8, u8) {
    match a {
        IpAddr::V4(_) => (AF_INET, 32),
        IpAddr::V6(_) => (AF_INET6, 128),
    }
}

fn put_ip(b: &mut NlBuilder<'_>, kind: u16, a: IpAddr) -> Result<(), NlError> {
    match a {
        IpAddr::V4(a) => b.attr(kind, &a.octets())?,
        IpAddr::V6(a) => b.attr(kind, &a.octets())?,
    };
    Ok(())
}

fn put_name(b: &mut NlBuilder<'_>, kind: u16, name: &str) -> Result<(), NlError> {
    if name.len() >= IFNAMSIZ || name.bytes().any(|c| c == 0) {
        return Err(NlError::Invalid);
    }
    let mut buf = [0u8; IFNAMSIZ];
    for (d, s) in buf.iter_mut().zip(name.bytes()) {
        *d = s;
    }
    b.attr(kind, buf.get(..=name.len()).ok_or(NlError::Invalid)?)?;
    Ok(())
}

fn nl_flags(add: bool) -> u16 {
    // CREATE|EXCL as `ip route add`: an existing route is EEXIST, which the
    // caller counts as added, as keepalived does.
    if add { NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL } else { NLM_F_REQUEST | NLM_F_ACK }
}

/// RTM_NEWROUTE (`add`) or RTM_DELROUTE for `r`. A table above 255 goes in
/// RTA_TABLE alone (rtm_table 0), as iproute2 does; `Invalid` for a prefix
/// longer than the address or addresses of mixed families.
pub fn route_request<'b>(buf: &'b mut [u8], add: bool, seq: u32, r: &RouteSpec) -> Result<&'b [u8], NlError> {
    let (family, max) = family_of(r.dst);
    let same = |a: Option<IpAddr>| a.is_none_or(|a| family_of(a).0 == family);
    if r.dst_len > max || !same(r.src) || !same(r.gateway) {
        return Err(NlError::Invalid);
    }
    let table = u8::try_from(r.table).ok().unwrap_or(RT_TABLE_UNSPEC);
    let mut b = NlBuilder::new(buf);
    b.header(if add { RTM_NEWROUTE } else { RTM_DELROUTE }, nl_flags(add), seq)?;
    b.push(&RtMsg {
        family,
        dst_len: r.dst_len,
        src_len: 0,
        tos: 0,
        table,
        protocol: r.protocol,
        scope: r.scope,
        kind: r.kind,
        flags: [0; 4],
    })?;
    put_ip(&mut b, RTA_DST, r.dst)?;
    if let Some(src) = r.src {
        put_ip(&mut b, RTA_PREFSRC, src)?;
    }
    if let Some(gw) = r.gateway {
        put_ip(&mut b, RTA_GATEWAY, gw)?;
    }
    if let Some(oif) = r.oif {
        b.attr(RTA_OIF, &oif.to_ne_bytes())?;
    }
    if let Some(m) = r.metric {
        b.attr(RTA_PRIORITY, &m.to_ne_bytes())?;
    }
    b.attr(RTA_TABLE, &r.table.to_ne_bytes())?;
    b.finish()
}

/// RTM_NEWRULE (`add`) or RTM_DELRULE for `r`. `Invalid` for an address of
/// the other family, a prefix too long or an interface name over 15 bytes.
pub fn rule_request<'b>(buf: &'b mut [u8], add: bool, seq: u32, r: &RuleSpec<'_>) -> Result<&'b [u8], NlError> {
    let max = if r.family == AF_INET6 { 128 } else { 32 };
    for (a, len) in r.from.iter().chain(r.to.iter()) {
        if family_of(*a).0 != r.family || *len > max {
            return Err(NlError::Invalid);
        }
    }
    let table = u8::try_from(r.table).ok().unwrap_or(RT_TABLE_UNSPEC);
    let mut b = NlBuilder::new(buf);
    b.header(if add { RTM_NEWRULE } else { RTM_DELRULE }, nl_flags(add), seq)?;
    b.push(&FibRuleHdr {
        family: r.family,
        dst_len: r.to.map_or(0, |t| t.1),
        src_len: r.from.map_or(0, |f| f.1),
        tos: 0,
        table,
        res1: 0,
        res2: 0,
        action: r.action,
        flags: (if r.invert { FIB_RULE_INVERT } else { 0 }).to_ne_bytes(),
    })?;
    if let Some((a, _)) = r.from {
        put_ip(&mut b, FRA_SRC, a)?;
    }
    if let Some((a, _)) = r.to {
        put_ip(&mut b, FRA_DST, a)?;
    }
    b.attr(FRA_PRIORITY, &r.priority.to_ne_bytes())?;
    if r.action == FR_ACT_TO_TBL {
        b.attr(FRA_TABLE, &r.table.to_ne_bytes())?;
    }
    if let Some(name) = r.iif {
        put_name(&mut b, FRA_IIFNAME, name)?;
    }
    if let Some(name) = r.oif {
        put_name(&mut b, FRA_OIFNAME, name)?;
    }
    if let Some(m) = r.fwmark {
        b.attr(FRA_FWMARK, &m.to_ne_bytes())?;
    }
    if let Some(m) = r.fwmask {
        b.attr(FRA_FWMASK, &m.to_ne_bytes())?;
    }
    if r.protocol != 0 {
        b.attr(FRA_PROTOCOL, &[r.protocol])?;
    }
    b.finish()
}
