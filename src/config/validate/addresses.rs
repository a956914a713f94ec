//! Address lines: one line of `virtual_ipaddress`,
//! `virtual_ipaddress_excluded` or `static_ipaddress` (an address with its
//! `ip addr` options), and one `unicast_peer` line. It must not decide
//! which instance or family an address belongs to (`instance_rules` does).

use core::net::{IpAddr, Ipv4Addr};

use super::cx::Cx;
use crate::config::lexer::Token;
use crate::config::model::*;
use crate::config::parse::Node;

pub(super) fn unicast_peer(cx: &mut Cx<'_>, line: &Node) -> Option<UnicastPeer> {
    cx.no_block(line);
    cx.verbatim(line, false);
    let addr = cx.addr(&line.keyword)?;
    let mut peer = UnicastPeer::new(addr);
    let mut args = line.args.iter();
    while let Some(k) = args.next() {
        let slot = match k.text.as_str() {
            "min_ttl" => &mut peer.min_ttl,
            "max_ttl" => &mut peer.max_ttl,
            _ => {
                cx.error_hint(
                    k.span,
                    format!("unexpected `{}` after a unicast peer", k.text),
                    "min_ttl N or max_ttl N",
                );
                return Some(peer);
            }
        };
        match args.next() {
            Some(v) => {
                if let Some(v) = cx.int_for(&k.text, v, 0, 255) {
                    *slot = v as u8;
                }
            }
            None => cx.error(k.span, format!("`{}` needs a value", k.text)),
        }
    }
    if peer.min_ttl > peer.max_ttl {
        cx.error(line.span(), "min_ttl is above max_ttl");
    }
    Some(peer)
}

/// One address line (§1.4): `ADDR[/PREFIX] [dev IF] [brd A|+|-] [scope S]
/// [label L] [peer A] [home] [-nodad] [mngtmpaddr] [noprefixroute]
/// [autojoin] [no_track] [preferred_lft N|forever]`.
pub(super) fn vip_line(cx: &mut Cx<'_>, line: &Node) -> Option<VipConfig> {
    cx.no_block(line);
    cx.verbatim(line, false);
    let first = &line.keyword;
    let (a, p) = first.text.split_once('/').map_or((first.text.as_str(), None), |(a, p)| (a, Some(p)));
    let Ok(addr) = a.parse::<IpAddr>() else {
        cx.error(first.span, format!("`{}` is not an address (ADDR[/PREFIX])", first.text));
        return None;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p.map(str::parse::<u8>) {
        None => max,
        Some(Ok(p)) if p <= max => p,
        Some(_) => {
            cx.error(first.span, format!("bad prefix length in `{}` (0..{max})", first.text));
            return None;
        }
    };
    let mut v = VipConfig::new(addr, prefix);
    let mut brd: Option<&Token> = None;
    let mut args = line.args.iter();
    while let Some(k) = args.next() {
        let mut value = |cx: &mut Cx<'_>| {
            let v = args.next();
            if v.is_none() {
                cx.error(k.span, format!("`{}` needs a value", k.text));
            }
            v
        };
        match k.text.as_str() {
            "dev" => {
                if v.dev.is_some() {
                    cx.error(k.span, "`dev` is given twice");
                }
                v.dev = value(cx).map(|t| t.text.clone());
            }
            "brd" | "broadcast" => brd = value(cx),
            "scope" => {
                if let Some(t) = value(cx) {
                    if addr.is_ipv6() {
                        cx.error(t.span, "`scope` is not allowed on an IPv6 address");
                    }
                    v.scope = match t.text.as_str() {
                        "global" => 0,
                        "site" => 200,
                        "link" => 253,
                        "host" => 254,
                        "nowhere" => 255,
                        _ => cx.int_for("scope", t, 0, 255).unwrap_or(0) as u8,
                    };
                }
            }
            "label" => {
                if let Some(t) = value(cx) {
                    if addr.is_ipv6() {
                        cx.error(t.span, "`label` is not allowed on an IPv6 address");
                    } else if t.text.len() > 15 {
                        cx.error(t.span, format!("label `{}` is longer than 15 characters", t.text));
                    }
                    v.label = Some(t.text.clone());
                }
            }
            "peer" => {
                if let Some(t) = value(cx) {
                    v.peer = cx.addr(t);
                }
            }
            "preferred_lft" => {
                if let Some(t) = value(cx) {
                    v.preferred_lft = if t.text == "forever" {
                        None
                    } else {
                        cx.int_for("preferred_lft", t, 0, i64::from(u32::MAX)).map(|n| n as u32)
                    };
                }
            }
            "home" => v.home = true,
            "-nodad" => v.nodad = false,
            "mngtmpaddr" => v.mngtmpaddr = true,
            "noprefixroute" => v.noprefixroute = true,
            "autojoin" => v.autojoin = true,
            "no_track" => v.no_track = true,
            "use_vmac" => cx.error(k.span, "`use_vmac` is not implemented by vipd"),
            other => {
                cx.error_hint(
                    k.span,
                    format!("unexpected `{other}` in an address line"),
                    "dev, brd, scope, label, peer, preferred_lft, home, -nodad, mngtmpaddr, noprefixroute, autojoin, no_track",
                );
                break;
            }
        }
    }
    if let Some(b) = brd {
        match (addr, b.text.as_str()) {
            (IpAddr::V6(_), _) => cx.error(b.span, "`brd` is not allowed on an IPv6 address"),
            (IpAddr::V4(a), "+" | "-") => {
                if prefix > 30 {
                    cx.error(b.span, "`brd +`/`brd -` needs a prefix of /30 or shorter");
                } else {
                    let host_mask = u32::MAX >> prefix;
                    let base = u32::from(a);
                    v.broadcast =
                        Some(Ipv4Addr::from(if b.text == "+" { base | host_mask } else { base & !host_mask }));
                }
            }
            (IpAddr::V4(_), text) => match text.parse::<Ipv4Addr>() {
                Ok(x) => v.broadcast = Some(x),
                Err(_) => cx.error(b.span, format!("`{text}` is not an IPv4 broadcast address")),
            },
        }
    }
    Some(v)
}
