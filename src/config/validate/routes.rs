//! Route and rule lines: one line of `virtual_routes` / `static_routes`
//! (`ip route` grammar) or `virtual_rules` / `static_rules` (`ip rule`
//! grammar), in the subset vipd installs (vipd.conf(5) ROUTES AND RULES).
//! An option outside it is an error naming it, never skipped: a route
//! installed without its `nexthop` or `realm` is another route.

use core::net::IpAddr;

use super::cx::Cx;
use crate::config::lexer::Token;
use crate::config::model::*;
use crate::config::parse::Node;
use crate::wire::netlink::{
    FR_ACT_BLACKHOLE, FR_ACT_PROHIBIT, FR_ACT_TO_TBL, FR_ACT_UNREACHABLE, RT_TABLE_MAIN, RTN_BLACKHOLE, RTN_PROHIBIT,
    RTN_THROW, RTN_UNICAST, RTN_UNREACHABLE, RTPROT_KEEPALIVED,
};

/// keepalived numbers rules given without a preference downwards from
/// here, in file order, one count per family, with a warning.
pub(super) const FIRST_AUTO_RULE_PREF: (u32, u32) = (16384, 16384);

/// `ADDR[/LEN]`, the length defaulting to the whole address.
fn prefix(cx: &mut Cx<'_>, t: &Token) -> Option<(IpAddr, u8)> {
    let (a, p) = t.text.split_once('/').map_or((t.text.as_str(), None), |(a, p)| (a, Some(p)));
    let Ok(addr) = a.parse::<IpAddr>() else {
        cx.error(t.span, format!("`{}` is not an address (ADDR[/PREFIX])", t.text));
        return None;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    match p.map(str::parse::<u8>) {
        None => Some((addr, max)),
        Some(Ok(p)) if p <= max => Some((addr, p)),
        Some(_) => {
            cx.error(t.span, format!("bad prefix length in `{}` (0..{max})", t.text));
            None
        }
    }
}

/// `table`: a number or `main`, `local`, `default`.
fn table(cx: &mut Cx<'_>, t: &Token) -> Option<u32> {
    match t.text.as_str() {
        "main" => Some(RT_TABLE_MAIN),
        "local" => Some(255),
        "default" => Some(253),
        _ => match t.text.parse::<u32>() {
            Ok(n) if n != 0 => Some(n),
            _ => {
                cx.error_hint(
                    t.span,
                    format!("`{}` is not a routing table vipd knows", t.text),
                    "a number 1..4294967295, main, local or default (rt_tables names are not read)",
                );
                None
            }
        },
    }
}

fn number(cx: &mut Cx<'_>, what: &str, t: &Token) -> Option<u32> {
    let parsed = match t.text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => t.text.parse::<u32>().ok(),
    };
    if parsed.is_none() {
        cx.error(t.span, format!("`{what}` needs a number 0..4294967295, not `{}`", t.text));
    }
    parsed
}

fn protocol(cx: &mut Cx<'_>, t: &Token) -> Option<u8> {
    match t.text.as_str() {
        "keepalived" => Some(RTPROT_KEEPALIVED),
        "kernel" => Some(2),
        "boot" => Some(3),
        "static" => Some(4),
        _ => cx.int_for("proto", t, 0, 255).map(|n| n as u8),
    }
}

fn scope(cx: &mut Cx<'_>, t: &Token) -> Option<u8> {
    match t.text.as_str() {
        "global" | "universe" => Some(0),
        "site" => Some(200),
        "link" => Some(253),
        "host" => Some(254),
        "nowhere" => Some(255),
        _ => cx.int_for("scope", t, 0, 255).map(|n| n as u8),
    }
}

/// keepalived marks what it tracks `proto keepalived` (18) and only an
/// untracked (`no_track`) route or rule keeps its own `protocol` (none
/// given: 0, no attribute). vipd tracks neither but marks them the same.
fn keepalived_protocol(cx: &mut Cx<'_>, line: &Node, given: Option<u8>, no_track: bool, what: &str) -> u8 {
    match (no_track, given) {
        (true, p) => p.unwrap_or(0),
        (false, Some(p)) if p != RTPROT_KEEPALIVED => {
            cx.warn(
                line.span(),
                format!("a tracked {what} is `protocol keepalived` ({RTPROT_KEEPALIVED}), as in keepalived: add no_track to keep {p}"),
            );
            RTPROT_KEEPALIVED
        }
        _ => RTPROT_KEEPALIVED,
    }
}

fn same_family(cx: &mut Cx<'_>, t: &Token, a: IpAddr, family: &mut Option<Family>) {
    let f = Family::of(&a);
    match family {
        Some(g) if *g != f => cx.error(t.span, format!("`{}` is not of the line's address family", t.text)),
        _ => *family = Some(f),
    }
}

/// One route line: `[blackhole|unreachable|prohibit|throw] [src A] [to]
/// PREFIX [via|gw A] [dev|oif IF] [scope S] [table T]
/// [metric|priority|preference N] [protocol P] [no_track]`.
pub(super) fn route_line(cx: &mut Cx<'_>, line: &Node) -> Option<RouteConfig> {
    cx.no_block(line);
    cx.verbatim(line, false);
    let mut tokens = core::iter::once(&line.keyword).chain(line.args.iter());
    let mut r = RouteConfig {
        dst: IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED),
        dst_len: 0,
        src: None,
        via: None,
        dev: None,
        table: RT_TABLE_MAIN,
        metric: None,
        scope: 0,
        protocol: RTPROT_KEEPALIVED,
        kind: RTN_UNICAST,
    };
    let mut dst = false;
    let mut scope_set = None;
    let mut protocol_set = None;
    let mut no_track = false;
    let mut after_to = false;
    let mut type_seen = false;
    let mut family = None;
    let mut ok = true;
    while let Some(k) = tokens.next() {
        let mut value = |cx: &mut Cx<'_>| {
            let v = tokens.next();
            if v.is_none() {
                cx.error(k.span, format!("`{}` needs a value", k.text));
            }
            v
        };
        match k.text.as_str() {
            "inet" | "inet6" => {}
            // keepalived 2.2.7 reads a type before `to`, not after it.
            "blackhole" | "unreachable" | "prohibit" | "throw" | "unicast" if !dst && !after_to => {
                type_seen = true;
                r.kind = match k.text.as_str() {
                    "blackhole" => RTN_BLACKHOLE,
                    "unreachable" => RTN_UNREACHABLE,
                    "prohibit" => RTN_PROHIBIT,
                    "throw" => RTN_THROW,
                    _ => RTN_UNICAST,
                };
            }
            // keepalived 2.2.7 reads `to PREFIX` or `TYPE PREFIX`, never
            // both (it takes the second word for the destination).
            "to" if type_seen => {
                cx.error(k.span, "keepalived 2.2.7 does not read `to` after a route type: write `TYPE PREFIX`");
                return None;
            }
            "to" => after_to = true,
            "src" | "via" | "gw" => {
                let t = value(cx)?;
                let a = cx.addr(t)?;
                same_family(cx, t, a, &mut family);
                if k.text == "src" { r.src = Some(a) } else { r.via = Some(a) }
            }
            "dev" | "oif" => r.dev = value(cx).map(|t| t.text.clone()),
            "scope" => scope_set = value(cx).and_then(|t| scope(cx, t)),
            "table" => r.table = value(cx).and_then(|t| table(cx, t)).unwrap_or(RT_TABLE_MAIN),
            "metric" | "priority" | "preference" => r.metric = value(cx).and_then(|t| number(cx, "metric", t)),
            "protocol" => protocol_set = value(cx).and_then(|t| protocol(cx, t)),
            // vipd does not track routes (vipd.conf(5)); as in keepalived,
            // only an untracked route keeps a protocol of its own.
            "no_track" => no_track = true,
            text if !dst && (text.contains('.') || text.contains(':') || text == "default") => {
                let p = if text == "default" {
                    Some((IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED), 0))
                } else {
                    prefix(cx, k)
                };
                let (a, len) = p?;
                same_family(cx, k, a, &mut family);
                (r.dst, r.dst_len, dst) = (a, len, true);
            }
            "or" => {
                cx.error_hint(
                    k.span,
                    "`or` in a route is not implemented by vipd",
                    "keepalived makes it a route with two nexthops (multipath), which vipd does not install; give one `via`",
                );
                return None;
            }
            other => {
                cx.error_hint(
                    k.span,
                    format!("`{other}` in a route is not implemented by vipd"),
                    "[blackhole|unreachable|prohibit|throw] [src A] PREFIX [via A] [dev IF] [scope S] [table T] [metric N] [protocol P] [no_track]",
                );
                return None;
            }
        }
    }
    if !dst {
        cx.error(line.span(), "a route needs a destination (ADDR/PREFIX)");
        return None;
    }
    if r.kind != RTN_UNICAST && (r.via.is_some() || r.dev.is_some()) {
        cx.error(line.span(), "a blackhole, unreachable, prohibit or throw route takes no `via` or `dev`");
        ok = false;
    }
    if r.kind == RTN_UNICAST && r.via.is_none() && r.dev.is_none() {
        cx.error(line.span(), "a route needs `via` or `dev`");
        ok = false;
    }
    // keepalived's default scope is global, even for a route with no
    // gateway (where `ip route` would say link).
    r.scope = scope_set.unwrap_or(0);
    r.protocol = keepalived_protocol(cx, line, protocol_set, no_track, "route");
    ok.then_some(r)
}

/// One rule line: `[not] [from P|all] [to P|all] [table|lookup T]
/// [blackhole|unreachable|prohibit] [priority|preference|order N]
/// [iif|dev IF] [oif IF] [fwmark M[/MASK]] [inet|inet6]
/// [protocol P] [no_track]`.
pub(super) fn rule_line(cx: &mut Cx<'_>, line: &Node) -> Option<RuleConfig> {
    cx.no_block(line);
    cx.verbatim(line, false);
    let mut tokens = core::iter::once(&line.keyword).chain(line.args.iter());
    let mut r = RuleConfig {
        family: Family::V4,
        from: None,
        to: None,
        table: 0,
        action: FR_ACT_TO_TBL,
        priority: 0,
        invert: false,
        iif: None,
        oif: None,
        fwmark: None,
        fwmask: None,
        protocol: RTPROT_KEEPALIVED,
    };
    let mut family = None;
    let mut pref = None;
    let mut action = None;
    let mut protocol_set = None;
    let mut no_track = false;
    while let Some(k) = tokens.next() {
        let mut value = |cx: &mut Cx<'_>| {
            let v = tokens.next();
            if v.is_none() {
                cx.error(k.span, format!("`{}` needs a value", k.text));
            }
            v
        };
        match k.text.as_str() {
            "not" => r.invert = true,
            "inet" | "inet6" => {
                let f = if k.text == "inet" { Family::V4 } else { Family::V6 };
                if family.is_some_and(|g| g != f) {
                    cx.error(k.span, format!("`{}` in a rule of the other address family", k.text));
                }
                family = Some(f);
            }
            // `type blackhole` is `blackhole`.
            "type" => {}
            "protocol" => protocol_set = Some(value(cx).and_then(|t| cx.int_for("protocol", t, 0, 255))? as u8),
            "from" | "to" => {
                let t = value(cx)?;
                if t.text == "all" {
                    continue;
                }
                let (a, len) = prefix(cx, t)?;
                same_family(cx, t, a, &mut family);
                if k.text == "from" { r.from = Some((a, len)) } else { r.to = Some((a, len)) }
            }
            "table" | "lookup" | "blackhole" | "unreachable" | "prohibit" => {
                if action.is_some() {
                    cx.error(k.span, "a rule takes one of table, blackhole, unreachable, prohibit");
                    return None;
                }
                action = Some(match k.text.as_str() {
                    "blackhole" => FR_ACT_BLACKHOLE,
                    "unreachable" => FR_ACT_UNREACHABLE,
                    "prohibit" => FR_ACT_PROHIBIT,
                    _ => {
                        r.table = value(cx).and_then(|t| table(cx, t))?;
                        FR_ACT_TO_TBL
                    }
                });
            }
            "priority" | "preference" | "order" => pref = Some(value(cx).and_then(|t| number(cx, "preference", t))?),
            "iif" | "dev" => r.iif = value(cx).map(|t| t.text.clone()),
            "oif" => r.oif = value(cx).map(|t| t.text.clone()),
            "fwmark" => {
                let t = value(cx)?;
                let (m, mask) = t.text.split_once('/').map_or((t.text.as_str(), None), |(m, k)| (m, Some(k)));
                let tok = |text: &str| Token { text: text.to_owned(), ..t.clone() };
                r.fwmark = Some(number(cx, "fwmark", &tok(m))?);
                if let Some(mask) = mask {
                    r.fwmask = Some(number(cx, "fwmark mask", &tok(mask))?);
                }
            }
            "no_track" => no_track = true,
            other => {
                cx.error_hint(
                    k.span,
                    format!("`{other}` in a rule is not implemented by vipd"),
                    "[not] [from P] [to P] [table T|blackhole|unreachable|prohibit] [priority N] [iif IF] [oif IF] [fwmark M[/MASK]] [protocol P] [no_track]",
                );
                return None;
            }
        }
    }
    for name in r.iif.iter().chain(r.oif.iter()) {
        if name.len() > 15 {
            cx.error(line.span(), format!("interface name `{name}` is longer than 15 characters"));
            return None;
        }
    }
    let Some(action) = action else {
        cx.error_hint(line.span(), "a rule needs an action", "table T, blackhole, unreachable or prohibit");
        return None;
    };
    r.action = action;
    if action != FR_ACT_TO_TBL {
        r.table = 0;
    }
    // Without an address, `ip rule` means IPv4.
    r.family = family.unwrap_or(Family::V4);
    r.protocol = keepalived_protocol(cx, line, protocol_set, no_track, "rule");
    r.priority = match pref {
        Some(p) => p,
        None => {
            // One count per family, as keepalived keeps.
            let next = if r.family == Family::V4 { &mut cx.next_rule_pref.0 } else { &mut cx.next_rule_pref.1 };
            let p = *next;
            *next = p.saturating_sub(1);
            cx.warn(line.span(), format!("rule has no preference: it gets {p}, as keepalived gives it"));
            p
        }
    };
    Some(r)
}
