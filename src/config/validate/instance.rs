//! `vrrp_instance` blocks: each keyword of the block read into a
//! [`RawInstance`] (the instance's settings, what was given, and where),
//! with the global defaults applied first, and the `authentication` block.
//! It must not check rules that need the whole instance or other blocks
//! (`instance_rules` does, once every block is read); address lines are
//! read by `addresses`, tracker lines by `trackers`.

use core::net::IpAddr;
use std::collections::HashSet;

use super::addresses::{unicast_peer, vip_line};
use super::cx::{Cx, block_name};
use super::globals::{Defaults, garp_setting};
use super::trackers::{TrackName, track_line};
use crate::config::diag::Span;
use crate::config::keywords;
use crate::config::lexer::Token;
use crate::config::model::*;
use crate::config::parse::Node;
use crate::time::Duration;
use crate::wire::vrrp::{Auth, V3Ipv4Checksum, Version};

/// An instance as its block was read: the settings, and what was given
/// where, for the rules checked once the whole file is read.
#[derive(Debug)]
pub(super) struct RawInstance {
    pub(super) span: Span,
    pub(super) cfg: InstanceConfig,
    pub(super) has_interface: bool,
    pub(super) interface_span: Span,
    pub(super) unicast_block: Option<Span>,
    pub(super) fault_no_peer: bool,
    pub(super) ttl_span: Option<Span>,
    pub(super) has_vrid: bool,
    pub(super) priority: Option<(u8, Span)>,
    pub(super) state: Option<(InitialState, Span)>,
    pub(super) nopreempt: Option<Span>,
    pub(super) preempt_delay: Option<Span>,
    pub(super) version: Option<Version>,
    pub(super) advert_int: Option<(Duration, Span)>,
    pub(super) auth: Option<Span>,
    pub(super) vip_spans: Vec<Span>,
    /// Interfaces named by virtual routes and rules, checked once the
    /// instance is read.
    pub(super) route_ifaces: Vec<(String, Span)>,
    pub(super) evip_spans: Vec<Span>,
    /// Where each unicast peer and the source address were given.
    pub(super) peer_spans: Vec<Span>,
    pub(super) src_span: Option<Span>,
    /// Every address of `virtual_ipaddress` and `_excluded` so far: the
    /// listed-twice check stays linear with 100,000 addresses.
    pub(super) vip_seen: HashSet<IpAddr>,
    pub(super) scripts: Vec<TrackName>,
    pub(super) files: Vec<TrackName>,
    pub(super) processes: Vec<TrackName>,
    pub(super) weighted_iface: Option<Span>,
    pub(super) lower_delay_set: bool,
    pub(super) lower_repeat_set: bool,
    /// `use_vmac [NAME]` was given (name `None`: `vrrp.VRID`), where.
    pub(super) use_vmac: Option<(Option<String>, Span)>,
    pub(super) vmac_xmit_base: Option<Span>,
}

/// The warning on vipd's own keyword: a configuration using it is no longer
/// one keepalived reads.
pub(super) const EXTENSION_ANY_SRC: &str = "`accept_any_unicast_src` is a vipd extension (keepalived would refuse \
     this line): unicast adverts from addresses that are not peers are accepted, as keepalived does by default";

/// The warning on `peer_silent_after` / `vrrp_peer_silent_after`.
pub(super) const EXTENSION_PEER_SILENT: &str = "`peer_silent_after` is a vipd extension (keepalived would refuse \
     this line)";

/// The longest `peer_silent_after`, in microseconds: one day.
pub(super) const PEER_SILENT_MAX: u64 = 86_400_000_000;

/// `v3_checksum_as_v2` (keepalived 2.2.8+): VRRPv3 over IPv4 sent with the
/// RFC 9568 checksum, without the pseudo-header.
fn checksum_form(as_v2: bool) -> V3Ipv4Checksum {
    if as_v2 { V3Ipv4Checksum::NoPseudoHeader } else { V3Ipv4Checksum::PseudoHeader }
}

pub(super) fn instance(cx: &mut Cx<'_>, node: &Node, d: &Defaults) -> Option<RawInstance> {
    let name = block_name(cx, node)?;
    let mut cfg = InstanceConfig::new(&name, "", 0, d.version, &[]);
    cfg.interface.clear();
    cfg.garp = d.garp;
    cfg.lower_prio_no_advert = d.lower_prio_no_advert;
    cfg.higher_prio_send_advert = d.higher_prio_send_advert;
    cfg.check_unicast_src = d.check_unicast_src;
    cfg.accept_any_unicast_src = d.accept_any_unicast_src;
    cfg.peer_silent_after = d.peer_silent_after;
    cfg.skip_check_adv_addr = d.skip_check_adv_addr;
    cfg.strict = d.strict;
    cfg.down_timer_adverts = d.down_timer_adverts;
    cfg.notify.priority_changes = d.notify_priority_changes;
    cfg.v3_ipv4_checksum = checksum_form(d.v3_checksum_as_v2);
    cfg.vips.clear();
    let mut r = RawInstance {
        span: node.span(),
        cfg,
        has_interface: false,
        interface_span: node.span(),
        unicast_block: None,
        fault_no_peer: false,
        ttl_span: None,
        has_vrid: false,
        priority: None,
        state: None,
        nopreempt: None,
        preempt_delay: None,
        version: None,
        advert_int: None,
        auth: None,
        vip_spans: Vec::new(),
        route_ifaces: Vec::new(),
        evip_spans: Vec::new(),
        peer_spans: Vec::new(),
        src_span: None,
        vip_seen: HashSet::new(),
        scripts: Vec::new(),
        files: Vec::new(),
        processes: Vec::new(),
        weighted_iface: None,
        lower_delay_set: d.lower_delay_set,
        lower_repeat_set: d.lower_repeat_set,
        use_vmac: None,
        vmac_xmit_base: None,
    };
    let children = cx.block(node);
    for n in children {
        if !cx.known(n, keywords::INSTANCE, "vrrp_instance") {
            continue;
        }
        instance_keyword(cx, n, &mut r);
    }
    Some(r)
}

fn instance_keyword(cx: &mut Cx<'_>, n: &Node, r: &mut RawInstance) {
    let c = &mut r.cfg;
    match n.name() {
        "state" => {
            if let Some(t) = cx.one(n) {
                let s = match t.text.as_str() {
                    "MASTER" => Some(InitialState::Master),
                    "BACKUP" => Some(InitialState::Backup),
                    other => {
                        let hint = if other.eq_ignore_ascii_case("master") || other.eq_ignore_ascii_case("backup") {
                            format!("values are case-sensitive: `{}`", other.to_ascii_uppercase())
                        } else {
                            "MASTER or BACKUP".to_owned()
                        };
                        cx.error_hint(t.span, format!("`{other}` is not a state"), hint);
                        None
                    }
                };
                if let Some(s) = s {
                    if let Some((first, at)) = r.state {
                        cx.error_hint(
                            n.span(),
                            "`state` is given twice",
                            format!(
                                "keepalived 2.2.7 keeps {} from line {}; keep one",
                                if first == InitialState::Master { "MASTER" } else { "the last" },
                                at.line
                            ),
                        );
                    }
                    r.state = Some((s, n.span()));
                }
            }
        }
        "interface" => {
            if let Some(i) = cx.string_arg(n) {
                if i == "lo" {
                    cx.error(n.span(), "adverts cannot be sent on the loopback interface");
                }
                c.interface = i;
                r.has_interface = true;
                r.interface_span = n.span();
            }
        }
        "virtual_router_id" => {
            if let Some(v) = cx.int_arg(n, 1, 255) {
                c.vrid = v as u8;
            }
            r.has_vrid = true;
        }
        "priority" => {
            if let Some(v) = cx.int_arg(n, 1, 255) {
                r.priority = Some((v as u8, n.span()));
            }
        }
        "advert_int" => {
            if let Some(v) = cx.secs_arg(n, 10_000, 255_000_000) {
                r.advert_int = Some((v, n.span()));
            }
        }
        "nopreempt" => {
            cx.none(n);
            c.preempt = false;
            r.nopreempt = Some(n.span());
        }
        "preempt" => {
            cx.none(n);
            c.preempt = true;
            r.nopreempt = None;
        }
        "preempt_delay" => {
            if let Some(v) = cx.secs_arg(n, 0, 1_000_000_000) {
                c.preempt_delay = v;
                // `preempt_delay 0` is the default spelled out (as in a dump).
                r.preempt_delay = (!v.is_zero()).then(|| n.span());
            }
        }
        "authentication" => {
            cx.extra(n, 0);
            r.auth = Some(n.span());
            authentication(cx, n, c);
        }
        "unicast_src_ip" | "mcast_src_ip" => {
            if let Some(a) = cx.addr_arg(n) {
                c.src_addr = Some(a);
                r.src_span = Some(n.span());
            }
        }
        "unicast_peer" => {
            cx.extra(n, 0);
            r.unicast_block = Some(n.span());
            for line in cx.block(n) {
                if let Some(p) = unicast_peer(cx, line) {
                    c.unicast_peers.push(p);
                    r.peer_spans.push(line.span());
                }
            }
        }
        "unicast_ttl" => {
            c.unicast_ttl = cx.int_arg(n, 0, 255).map(|v| v as u8);
            r.ttl_span = Some(n.span());
        }
        "unicast_fault_no_peer" => {
            cx.none(n);
            r.fault_no_peer = true;
        }
        "check_unicast_src" => c.check_unicast_src = cx.switch(n),
        "accept_any_unicast_src" => {
            c.accept_any_unicast_src = cx.switch(n);
            cx.warn(n.span(), EXTENSION_ANY_SRC);
        }
        "peer_silent_after" => {
            c.peer_silent_after = cx.secs_arg(n, 0, PEER_SILENT_MAX).unwrap_or(c.peer_silent_after);
            cx.warn(n.span(), EXTENSION_PEER_SILENT);
        }
        "mcast_dst_ip" => {
            if let Some(a) = cx.addr_arg(n) {
                if !a.is_multicast() {
                    cx.error(n.span(), format!("`{a}` is not a multicast address"));
                }
                c.mcast_group = Some(a);
            }
        }
        "track_src_ip" => {
            cx.none(n);
            c.track_src_ip = true;
        }
        "version" => {
            if let Some(v) = cx.int_arg(n, 2, 3) {
                r.version = Some(if v == 2 { Version::V2 } else { Version::V3 });
            }
        }
        "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
            cx.extra(n, 0);
            let excluded = n.name() == "virtual_ipaddress_excluded";
            for line in cx.block(n) {
                if let Some(v) = vip_line(cx, line) {
                    if !r.vip_seen.insert(v.addr) {
                        // keepalived keeps both and advertises the address twice;
                        // vipd does the same so the address counts match.
                        cx.warn(line.span(), format!("`{}` is listed twice in this instance", v.addr));
                    }
                    if excluded {
                        r.evip_spans.push(line.span());
                        c.excluded_vips.push(v);
                    } else {
                        r.vip_spans.push(line.span());
                        c.vips.push(v);
                    }
                }
            }
        }
        "virtual_routes" => {
            cx.extra(n, 0);
            for line in cx.block(n) {
                if let Some(route) = super::routes::route_line(cx, line) {
                    r.route_ifaces.extend(route.dev.iter().map(|d| (d.clone(), line.span())));
                    c.routes.push(route);
                }
            }
        }
        "virtual_rules" => {
            cx.extra(n, 0);
            for line in cx.block(n) {
                if let Some(rule) = super::routes::rule_line(cx, line) {
                    r.route_ifaces.extend(rule.iif.iter().chain(rule.oif.iter()).map(|d| (d.clone(), line.span())));
                    c.rules.push(rule);
                }
            }
        }
        "track_interface" => {
            cx.extra(n, 0);
            for line in cx.block(n) {
                if let Some(t) = track_line(cx, line, 253) {
                    if t.weight.is_some_and(|w| w != 0) {
                        r.weighted_iface.get_or_insert(line.span());
                    }
                    c.track_interfaces.push(TrackInterface {
                        interface: t.name.text,
                        weight: t.weight.unwrap_or(0),
                        reverse: t.reverse,
                    });
                }
            }
        }
        "track_script" => {
            cx.extra(n, 0);
            for line in cx.block(n) {
                r.scripts.extend(track_line(cx, line, 253));
            }
        }
        "track_file" => {
            cx.extra(n, 0);
            for line in cx.block(n) {
                r.files.extend(track_line(cx, line, 254));
            }
        }
        "track_process" => {
            cx.extra(n, 0);
            for line in cx.block(n) {
                r.processes.extend(track_line(cx, line, 254));
            }
        }
        "use_vmac" => {
            // keepalived 2.2.7: `use_vmac [NAME] [MAC]`; a MAC of one's own
            // is not implemented (peers and switches expect the RFC's).
            let name = n.args.first().map(|t| t.text.clone());
            if let Some(mac) = n.args.get(1) {
                cx.error_hint(
                    mac.span,
                    "a MAC address of one's own after `use_vmac NAME` is not implemented by vipd",
                    "leave it out: vipd uses 00:00:5e:00:01:VRID",
                );
            }
            cx.extra(n, 2);
            r.use_vmac = Some((name, n.span()));
        }
        "vmac_xmit_base" => {
            cx.none(n);
            r.vmac_xmit_base = Some(n.span());
        }
        "dont_track_primary" => {
            cx.none(n);
            c.dont_track_primary = true;
        }
        "notify_master" => set_once(cx, n, &mut c.notify.master),
        "notify_backup" => set_once(cx, n, &mut c.notify.backup),
        "notify_fault" => set_once(cx, n, &mut c.notify.fault),
        "notify_stop" => set_once(cx, n, &mut c.notify.stop),
        // keepalived: a switch (report DELETED to `notify`) or a command.
        "notify_deleted" => {
            c.notify.report_deleted = true;
            if !n.args.is_empty() {
                set_once(cx, n, &mut c.notify.deleted);
            }
        }
        "notify" => set_once(cx, n, &mut c.notify.generic),
        "notify_master_rx_lower_pri" => set_once(cx, n, &mut c.notify.master_rx_lower_pri),
        "notify_priority_changes" => c.notify.priority_changes = cx.flag(n),
        "smtp_alert" => c.notify.smtp_alert = Some(cx.flag(n)),
        "down_timer_adverts" => c.down_timer_adverts = cx.int_arg(n, 1, 100).map_or(c.down_timer_adverts, |v| v as u8),
        "lower_prio_no_advert" => c.lower_prio_no_advert = cx.flag(n),
        "higher_prio_send_advert" => c.higher_prio_send_advert = cx.flag(n),
        "accept" => {
            cx.none(n);
            c.accept = true;
        }
        // Decided against keepalived 2.2.7, where `skip_check_adv_addr off`
        // still sets the flag: the value means what it says.
        "skip_check_adv_addr" => c.skip_check_adv_addr = cx.flag(n),
        "strict_mode" => c.strict = cx.flag(n),
        "v3_checksum_as_v2" => c.v3_ipv4_checksum = checksum_form(cx.flag(n)),
        kw => {
            r.lower_delay_set |= kw == "garp_lower_prio_delay";
            r.lower_repeat_set |= kw == "garp_lower_prio_repeat";
            garp_setting(cx, n, kw, &mut r.cfg.garp)
        }
    }
}

/// A repeated notify keyword: keepalived keeps the first silently; vipd
/// keeps the first and says so.
pub(super) fn set_once(cx: &mut Cx<'_>, n: &Node, slot: &mut Option<Box<Script>>) {
    let s = cx.script(n);
    if slot.is_some() {
        cx.error(n.span(), format!("`{}` is given twice", n.name()));
    } else {
        *slot = s.map(Box::new);
    }
}

fn authentication(cx: &mut Cx<'_>, n: &Node, c: &mut InstanceConfig) {
    let mut kind: Option<(String, Span)> = None;
    let mut pass: Option<&Token> = None;
    for a in cx.block(n) {
        if !cx.known(a, keywords::AUTHENTICATION, "authentication") {
            continue;
        }
        match a.name() {
            "auth_type" => kind = cx.one(a).map(|t| (t.text.clone(), t.span)),
            _ => pass = cx.one(a),
        }
    }
    match kind {
        Some((k, _)) if k == "PASS" => {
            let Some(p) = pass else {
                cx.error(n.span(), "`auth_type PASS` needs an `auth_pass`");
                return;
            };
            let bytes = p.text.as_bytes();
            if bytes.len() > 8 {
                cx.warn(p.span, "`auth_pass` is longer than 8 bytes; only the first 8 are used, as by keepalived");
            }
            let mut key = [0u8; 8];
            for (k, b) in key.iter_mut().zip(bytes) {
                *k = *b;
            }
            c.auth = Auth::Simple(key);
        }
        Some((k, span)) if k == "AH" => cx.error_hint(
            span,
            "`auth_type AH` is not implemented by vipd",
            "AH authentication was removed from VRRP by RFC 3768; use PASS or none",
        ),
        Some((k, span)) => cx.error_hint(span, format!("`{k}` is not an auth_type"), "PASS or AH"),
        None => cx.error(n.span(), "`authentication` needs an `auth_type`"),
    }
}
