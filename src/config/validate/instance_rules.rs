//! The rules checked once the whole file is read, for each instance: the
//! required keywords, interfaces that must exist, the address family, the
//! version and advert interval, priority against state and preemption,
//! unicast, authentication, strict mode, and weights on an address owner;
//! then duplicate VRIDs across instances. It must not read keywords: every
//! value here was read by the block's own file.

use core::net::IpAddr;

use super::Host;
use super::cx::Cx;
use super::instance::RawInstance;
use super::trackers::resolve_tracks;
use crate::config::diag::Span;
use crate::config::model::*;
use crate::time::Duration;
use crate::wire::vrrp::{Auth, Version};

/// The rules for one instance once every block is read; fills in what
/// depends on them (family, version, priority, initial state, multicast
/// group, tracks).
pub(super) fn finish_instance(
    cx: &mut Cx<'_>,
    mut r: RawInstance,
    config: &Config,
    tracker_pos: &[usize],
    broken: &[String],
    host: &Host<'_>,
) -> Option<InstanceConfig> {
    let span = r.span;
    let name = r.cfg.name.clone();
    if !r.has_vrid {
        cx.error_hint(span, format!("vrrp_instance `{name}` has no `virtual_router_id`"), "virtual_router_id 1..255");
    }
    if !r.has_interface {
        cx.error_hint(
            span,
            format!("vrrp_instance `{name}` has no `interface`"),
            "vipd needs the interface adverts use, also in unicast mode",
        );
    } else if !(host.iface_exists)(&r.cfg.interface) {
        host_fact(
            cx,
            host,
            r.interface_span,
            format!("vrrp_instance `{name}`: interface `{}` does not exist", r.cfg.interface),
        );
    }

    // The family comes from the first VIP; all must share it (§1.4).
    let family = r.cfg.vips.first().map(|v| Family::of(&v.addr)).unwrap_or(Family::V4);
    r.cfg.family = family;
    for (v, s) in r.cfg.vips.iter().zip(&r.vip_spans) {
        if Family::of(&v.addr) != family {
            cx.error_hint(
                *s,
                format!("`{}` is not the family of the first virtual address", v.addr),
                "put addresses of the other family in virtual_ipaddress_excluded, or in a second instance",
            );
        }
    }
    // keepalived moves addresses that do not fit one advert at MTU 1500 to
    // the excluded list, changing what is announced; vipd refuses instead.
    let fit = match family {
        Family::V4 => 255,
        Family::V6 => 89,
    };
    if r.cfg.vips.len() > fit && r.cfg.vips.len() <= 255 {
        cx.error_hint(
            span,
            format!(
                "vrrp_instance `{name}` has {} IPv6 addresses; at most {fit} fit an advert at MTU 1500",
                r.cfg.vips.len()
            ),
            "move the rest to virtual_ipaddress_excluded",
        );
    }
    if r.cfg.vips.len() > 255 {
        cx.error(
            span,
            format!("vrrp_instance `{name}` has {} addresses; an advert carries at most 255", r.cfg.vips.len()),
        );
    }

    // Version: instance > global; IPv6 is always v3.
    let version = r.version.unwrap_or(r.cfg.version);
    r.cfg.version = match (family, version) {
        (Family::V6, Version::V2) if r.version == Some(Version::V2) => {
            cx.error(span, format!("vrrp_instance `{name}`: VRRPv2 has no IPv6; use version 3"));
            Version::V3
        }
        (Family::V6, _) => Version::V3,
        (_, v) => v,
    };
    if r.cfg.vips.is_empty() {
        if r.cfg.version == Version::V3 || r.cfg.strict {
            cx.error(
                span,
                format!("vrrp_instance `{name}` has no virtual_ipaddress (required with VRRPv3 or strict mode)"),
            );
        } else {
            cx.warn(span, format!("vrrp_instance `{name}` has no virtual_ipaddress"));
        }
    }

    // Interval: v2 whole seconds, v3 10 ms steps up to 40.95 s.
    if let Some((d, s)) = r.advert_int {
        let us = d.as_micros();
        match r.cfg.version {
            Version::V2 if us % 1_000_000 != 0 => cx.error_hint(
                s,
                format!("VRRPv2 advertises whole seconds; `advert_int {d}` cannot be sent"),
                "use a whole number, or version 3 for sub-second adverts",
            ),
            Version::V3 if us % 10_000 != 0 => {
                cx.error(s, format!("VRRPv3 advertises in 10 ms steps; `advert_int {d}` cannot be sent"))
            }
            Version::V3 if us > 40_950_000 => cx.error(s, format!("VRRPv3 advert_int is at most 40.95 s, not {d}")),
            _ => {}
        }
        r.cfg.advert_int = d;
    }

    // Priority and state (§1.3): an unset priority with `state MASTER` is 255.
    let state = r.state.map(|(s, _)| s);
    r.cfg.priority = match (r.priority, state) {
        (Some((p, _)), _) => p,
        (None, Some(InitialState::Master)) => 255,
        (None, _) => 100,
    };
    r.cfg.initial_state =
        state.unwrap_or(if r.cfg.priority == 255 { InitialState::Master } else { InitialState::Backup });
    // keepalived 2.2.7 warns ("nopreempt will not work with initial state
    // MASTER - clearing") and preempts; vipd reads the file the same way.
    if let (Some((InitialState::Master, s)), Some(_)) = (r.state, r.nopreempt) {
        cx.diags.push(
            crate::config::diag::Diagnostic::warning(
                s,
                format!(
                    "vrrp_instance `{name}` has both `state MASTER` and `nopreempt`: like keepalived, vipd ignores `nopreempt` and this router takes over from a lower-priority master"
                ),
            )
            .with_hint("use `state BACKUP` on every router that has nopreempt"),
        );
        r.cfg.preempt = true;
        r.nopreempt = None;
    }
    if let (Some(s), Some(_)) = (r.preempt_delay, r.nopreempt) {
        cx.error(s, format!("vrrp_instance `{name}`: `preempt_delay` has no meaning with `nopreempt`"));
    }
    if let (Some((InitialState::Master, s)), Some(_)) = (r.state, r.preempt_delay) {
        cx.error(s, format!("vrrp_instance `{name}`: `preempt_delay` cannot be used with `state MASTER`"));
    }
    // An owner without a `state` starts as MASTER too, and keepalived resets
    // both settings for it.
    if r.cfg.priority == 255 && r.state.is_none() {
        for (set, what) in [(r.nopreempt, "nopreempt"), (r.preempt_delay, "preempt_delay")] {
            if let Some(s) = set {
                cx.error_hint(
                    s,
                    format!(
                        "vrrp_instance `{name}` is the address owner (priority 255); keepalived ignores `{what}` for it"
                    ),
                    "use a priority below 255 with `state BACKUP`",
                );
            }
        }
    }

    // Unicast (keepalived-reference §2.8).
    if let Some(s) = r.unicast_block.filter(|_| r.cfg.unicast_peers.is_empty()) {
        if r.fault_no_peer {
            cx.error(
                s,
                format!(
                    "vrrp_instance `{name}` has no unicast peers and `unicast_fault_no_peer`: it would stay in FAULT"
                ),
            );
        } else {
            cx.warn(
                s,
                format!("vrrp_instance `{name}`: empty `unicast_peer` block; adverts go to the multicast group"),
            );
        }
    }
    vmac(cx, &mut r, config.globals.vmac_prefix.as_deref());
    if let (Some(s), true) = (r.ttl_span, r.cfg.unicast_peers.is_empty()) {
        cx.warn(s, format!("vrrp_instance `{name}`: `unicast_ttl` has no effect without unicast peers"));
    }
    if r.cfg.is_unicast() && r.cfg.src_addr.is_none() {
        cx.warn(
            span,
            format!("vrrp_instance `{name}` is unicast without `unicast_src_ip`: adverts leave from the interface's first address"),
        );
    }
    for (v, s) in r.cfg.vips.iter().chain(&r.cfg.excluded_vips).zip(r.vip_spans.iter().chain(&r.evip_spans)) {
        if let Some(dev) = v.dev.as_deref().filter(|d| !(host.iface_exists)(d)) {
            host_fact(cx, host, *s, format!("interface `{dev}` of `{}` does not exist", v.addr));
        }
    }

    for (dev, s) in r.route_ifaces.iter().filter(|(d, _)| !(host.iface_exists)(d)) {
        host_fact(cx, host, *s, format!("interface `{dev}` of a virtual route or rule does not exist"));
    }

    own_addresses(cx, host, &r, &name);

    // Authentication is VRRPv2 over IPv4 only.
    if let Some(s) = r.auth {
        if r.cfg.version == Version::V3 {
            cx.error_hint(s, "VRRPv3 has no authentication", "remove the authentication block");
            r.cfg.auth = Auth::None;
        }
    }

    // Addresses must be of the instance's family.
    if let Some(a) = r.cfg.src_addr {
        if Family::of(&a) != family {
            cx.error(span, format!("vrrp_instance `{name}`: source `{a}` is not of the instance's family"));
        }
    }
    for p in &r.cfg.unicast_peers {
        if Family::of(&p.addr) != family {
            cx.error(
                span,
                format!("vrrp_instance `{name}`: unicast peer `{}` is not of the instance's family", p.addr),
            );
        }
    }
    if r.cfg.accept_any_unicast_src && r.cfg.check_unicast_src {
        cx.error(span, format!("vrrp_instance `{name}`: `accept_any_unicast_src` contradicts `check_unicast_src`"));
    }
    if let Some(g) = r.cfg.mcast_group {
        if Family::of(&g) != family {
            cx.error(span, format!("vrrp_instance `{name}`: mcast_dst_ip `{g}` is not of the instance's family"));
        }
    }
    if r.cfg.mcast_group.is_none() {
        r.cfg.mcast_group = Some(match family {
            Family::V4 => IpAddr::V4(config.globals.mcast_group4),
            Family::V6 => IpAddr::V6(config.globals.mcast_group6),
        });
    }
    if r.cfg.track_src_ip && r.cfg.src_addr.is_none() {
        cx.error(span, format!("vrrp_instance `{name}`: `track_src_ip` needs `unicast_src_ip` or `mcast_src_ip`"));
    }

    // Strict mode (§1.6).
    if r.cfg.strict {
        strict(cx, &mut r, &name);
    }

    // Trackers: resolved by name anywhere in the file.
    resolve_tracks(cx, &mut r, config, tracker_pos, broken);
    for t in &r.cfg.track_interfaces {
        if !(host.iface_exists)(&t.interface) {
            host_fact(
                cx,
                host,
                span,
                format!("vrrp_instance `{name}`: tracked interface `{}` does not exist", t.interface),
            );
        }
    }
    if r.cfg.priority == 255 {
        let weighted =
            r.cfg.track.iter().any(|t| t.weight != 0) || r.cfg.track_interfaces.iter().any(|t| t.weight != 0);
        if weighted {
            cx.error_hint(
                span,
                format!("vrrp_instance `{name}` has priority 255, which weights never change"),
                "use weight 0 trackers on an address owner, or a priority below 255",
            );
        }
    }
    Some(r.cfg)
}

/// A fact of the machine that does not hold: an error, or a warning when the
/// file is checked offline (away from the machine it is for).
/// `use_vmac` / `vmac_xmit_base`: the macvlan's name, and what vipd does
/// not do with one (IPv6, unicast adverts from it).
fn vmac(cx: &mut Cx<'_>, r: &mut RawInstance, prefix: Option<&str>) {
    let Some((vmac_name, span)) = r.use_vmac.take() else {
        if let Some(s) = r.vmac_xmit_base {
            cx.warn(s, format!("vrrp_instance `{}`: `vmac_xmit_base` has no effect without `use_vmac`", r.cfg.name));
        }
        return;
    };
    let ifname = vmac_name.unwrap_or_else(|| format!("{}.{}", prefix.unwrap_or("vrrp"), r.cfg.vrid));
    let xmit_base = r.vmac_xmit_base.is_some();
    // IFNAMSIZ is 16 with the NUL; the kernel's dev_valid_name refuses
    // '/', ':', whitespace, "." and "..".
    let bad_name = ifname.is_empty()
        || ifname.len() > 15
        || ifname == "."
        || ifname == ".."
        || ifname.bytes().any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0);
    let problem = if bad_name {
        Some(("the `use_vmac` name is not a valid interface name", "1 to 15 bytes, without '/', ':' or spaces"))
    } else if ifname == r.cfg.interface {
        Some(("the `use_vmac` interface cannot be `interface` itself", "use_vmac OTHER_NAME"))
    } else if r.cfg.is_unicast() && !xmit_base {
        // keepalived-reference §2.8: unicast adverts leave from the base
        // interface, which holds the source address.
        Some(("`use_vmac` with unicast peers needs `vmac_xmit_base`", "add vmac_xmit_base"))
    } else {
        None
    };
    match problem {
        Some((msg, hint)) => cx.error_hint(span, format!("vrrp_instance `{}`: {msg}", r.cfg.name), hint),
        None => r.cfg.vmac = Some(VmacConfig { name: ifname, xmit_base }),
    }
}

pub(super) fn host_fact(cx: &mut Cx<'_>, host: &Host<'_>, span: Span, msg: String) {
    if host.offline {
        cx.warn(span, msg);
    } else {
        cx.error(span, msg);
    }
}

/// Addresses that belong to this router where another router's belong:
/// a peer list copied whole from the other router (keepalived sends to
/// itself without a word), and virtual addresses outside every subnet of
/// their interface (reachable only through a host route, so clients on the
/// LAN may not find them). The interface's addresses are host facts, known
/// only when the check runs on the machine itself.
fn own_addresses(cx: &mut Cx<'_>, host: &Host<'_>, r: &RawInstance, name: &str) {
    let peers = r.cfg.unicast_peers.iter().zip(&r.peer_spans);
    if let Some(src) = r.cfg.src_addr {
        for (p, s) in peers.clone().filter(|(p, _)| p.addr == src) {
            cx.diags.push(
                crate::config::diag::Diagnostic::warning(
                    *s,
                    format!("vrrp_instance `{name}`: unicast peer `{}` is this router's own `unicast_src_ip`", p.addr),
                )
                .with_hint("list only the other routers: an advert sent to this router's own address reaches no other"),
            );
        }
    }
    if host.offline || !r.has_interface {
        return;
    }
    let Some(own) = (host.iface_addrs)(&r.cfg.interface) else { return };
    for (p, s) in peers.filter(|(p, _)| Some(p.addr) != r.cfg.src_addr && own.iter().any(|(a, _)| *a == p.addr)) {
        cx.diags.push(
            crate::config::diag::Diagnostic::warning(
                *s,
                format!(
                    "vrrp_instance `{name}`: unicast peer `{}` is an address of this machine's `{}`",
                    p.addr, r.cfg.interface
                ),
            )
            .with_hint("list only the other routers: an advert sent to this router's own address reaches no other"),
        );
    }
    for (v, s) in r.cfg.vips.iter().zip(&r.vip_spans) {
        let dev = v.dev.as_deref().unwrap_or(&r.cfg.interface);
        let addrs = if dev == r.cfg.interface { Some(own.clone()) } else { (host.iface_addrs)(dev) };
        let Some(addrs) = addrs else { continue };
        let same_family: Vec<&(IpAddr, u8)> = addrs.iter().filter(|(a, _)| a.is_ipv4() == v.addr.is_ipv4()).collect();
        // An interface without an address of the family has no subnet to
        // compare with; its missing source address is reported elsewhere.
        if same_family.is_empty() || same_family.iter().any(|(a, len)| same_subnet(*a, v.addr, *len)) {
            continue;
        }
        let nets: Vec<String> = same_family.iter().map(|(a, len)| network(*a, *len)).collect();
        cx.warn(
            *s,
            format!(
                "`{}` is outside every subnet of `{dev}` ({}): hosts on that link reach it only through a route to it",
                v.addr,
                nets.join(", ")
            ),
        );
    }
}

/// Whether `b` is in `a`'s subnet of prefix length `len`.
fn same_subnet(a: IpAddr, b: IpAddr, len: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len.min(32))).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len.min(128))).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// `a/len` with the host bits cleared, as `ip route` shows a subnet.
fn network(a: IpAddr, len: u8) -> String {
    match a {
        IpAddr::V4(v) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len.min(32))).unwrap_or(0);
            format!("{}/{len}", core::net::Ipv4Addr::from(u32::from(v) & mask))
        }
        IpAddr::V6(v) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len.min(128))).unwrap_or(0);
            format!("{}/{len}", core::net::Ipv6Addr::from(u128::from(v) & mask))
        }
    }
}

fn strict(cx: &mut Cx<'_>, r: &mut RawInstance, name: &str) {
    let span = r.span;
    if let (Some((InitialState::Master, s)), true) = (r.state, r.cfg.priority != 255) {
        cx.error(s, format!("strict mode: `{name}` has `state MASTER` but is not the address owner (priority 255)"));
    }
    if r.auth.is_some() {
        cx.error_hint(
            span,
            format!("strict mode: `{name}` has authentication"),
            "strict mode does not allow authentication",
        );
    }
    if r.preempt_delay.is_some() {
        cx.error(span, format!("strict mode: `{name}` has preempt_delay"));
    }
    if r.cfg.down_timer_adverts != 3 {
        cx.error(span, format!("strict mode: `{name}` has down_timer_adverts other than 3"));
    }
    if r.cfg.is_unicast() {
        cx.error(span, format!("strict mode: `{name}` uses unicast"));
    }
    // Settings strict mode forces; accept mode stays on (vipd has no firewall).
    r.cfg.lower_prio_no_advert = true;
    r.cfg.higher_prio_send_advert = false;
    r.cfg.garp.lower_prio_repeat = 0;
    r.cfg.garp.lower_prio_delay = Duration::ZERO;
}

/// Two instances may not create the same macvlan, nor one named like
/// another instance's `interface` (keepalived would share or fail it).
/// Sorted, not hashed: linear in the instances after the sorts.
fn vmac_names(cx: &mut Cx<'_>, config: &Config, spans: &[Span]) {
    let list = &config.instances;
    let name = |i: usize| list[i].vmac.as_ref().map_or("", |v| v.name.as_str());
    let mut order: Vec<usize> = (0..list.len()).filter(|&i| list[i].vmac.is_some()).collect();
    if order.is_empty() {
        return;
    }
    crate::sort::heap_sort_by(&mut order, |&a, &b| (name(a), a) < (name(b), b));
    let mut ifaces: Vec<usize> = (0..list.len()).collect();
    crate::sort::heap_sort_by(&mut ifaces, |&a, &b| list[a].interface < list[b].interface);
    for (n, &j) in order.iter().enumerate() {
        let b = &list[j];
        let span = spans.get(j).copied().unwrap_or_default();
        if let Some(&i) = n.checked_sub(1).and_then(|p| order.get(p)).filter(|&&i| name(i) == name(j)) {
            cx.error_hint(
                span,
                format!(
                    "vrrp_instance `{}` uses the virtual MAC interface `{}` of `{}`",
                    b.name,
                    name(j),
                    list[i].name
                ),
                "give one of them `use_vmac OTHER_NAME`",
            );
        }
        if let Ok(k) = ifaces.binary_search_by(|&a| list[a].interface.as_str().cmp(name(j))) {
            let a = &list[ifaces[k]];
            cx.error(
                span,
                format!(
                    "`{}` is `interface` of `{}`, not a name for the virtual MAC interface of `{}`",
                    name(j),
                    a.name,
                    b.name
                ),
            );
        }
    }
}

/// Duplicate VRID on one interface and family (§1.3), unless the two
/// instances are [separable](InstanceConfig::separable_from). Instances are
/// compared only within their (VRID, interface, family), so thousands of
/// instances stay cheap.
pub(super) fn duplicate_vrids(cx: &mut Cx<'_>, config: &Config, spans: &[Span]) {
    vmac_names(cx, config, spans);
    let list = &config.instances;
    let key = |i: usize| (list[i].vrid, list[i].interface.as_str(), list[i].family == Family::V6, i);
    let mut order: Vec<usize> = (0..list.len()).filter(|&i| list[i].vrid != 0).collect();
    crate::sort::heap_sort_by(&mut order, |&a, &b| key(a) < key(b));
    for (n, &i) in order.iter().enumerate() {
        let a = &list[i];
        for &j in order.iter().skip(n + 1) {
            let b = &list[j];
            if a.vrid != b.vrid || a.interface != b.interface || a.family != b.family {
                break;
            }
            if a.separable_from(b) {
                continue;
            }
            let first = spans.get(i).map_or(0, |s| s.line);
            if let Some(&span) = spans.get(j) {
                cx.error_hint(
                    span,
                    format!(
                        "vrrp_instance `{}` uses VRID {} on `{}` like `{}` at line {first}",
                        b.name, b.vrid, b.interface, a.name
                    ),
                    "every instance on an interface and family needs its own virtual_router_id",
                );
            }
        }
    }
}
