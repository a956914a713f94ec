//! `global_defs`: the daemon-wide settings (router id, script user and
//! security, notify FIFOs, multicast groups, scheduling, GARP timers,
//! startup delay) and the instance defaults it can change. It must not
//! build instances: `instance` reads [`Defaults`] when it starts one.

use core::net::IpAddr;

use super::cx::Cx;
use crate::config::keywords;
use crate::config::model::*;
use crate::config::parse::Node;
use crate::time::Duration;
use crate::wire::vrrp::Version;

/// Instance-level defaults that `global_defs` can change.
#[derive(Clone, Debug)]
pub(super) struct Defaults {
    pub(super) version: Version,
    pub(super) garp: GarpConfig,
    pub(super) lower_prio_no_advert: bool,
    pub(super) higher_prio_send_advert: bool,
    pub(super) check_unicast_src: bool,
    pub(super) accept_any_unicast_src: bool,
    pub(super) peer_silent_after: Duration,
    pub(super) skip_check_adv_addr: bool,
    pub(super) strict: bool,
    pub(super) down_timer_adverts: u8,
    pub(super) notify_priority_changes: bool,
    /// `v3_checksum_as_v2` in global_defs.
    pub(super) v3_checksum_as_v2: bool,
    /// `vrrp_garp_lower_prio_delay` / `_repeat` given: otherwise they
    /// follow the (instance's) master delay and repeat, as in keepalived.
    pub(super) lower_delay_set: bool,
    pub(super) lower_repeat_set: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            version: Version::V2,
            garp: GarpConfig::default(),
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            check_unicast_src: false,
            accept_any_unicast_src: false,
            peer_silent_after: Duration::ZERO,
            skip_check_adv_addr: false,
            strict: false,
            down_timer_adverts: 3,
            notify_priority_changes: false,
            v3_checksum_as_v2: false,
            lower_delay_set: false,
            lower_repeat_set: false,
        }
    }
}

/// `notify_timeout` bounds, in microseconds: one second to one day. A
/// cloud API failover script may need minutes; none needs a day.
const NOTIFY_TIMEOUT_MIN: u64 = 1_000_000;
const NOTIFY_TIMEOUT_MAX: u64 = 86_400_000_000;

/// The warning on `notify_timeout`: a configuration using it is no longer
/// one keepalived reads.
const EXTENSION_NOTIFY_TIMEOUT: &str = "`notify_timeout` is a vipd extension (keepalived would refuse this line)";

pub(super) fn global_defs(cx: &mut Cx<'_>, nodes: &[Node], config: &mut Config, d: &mut Defaults) {
    global_items(cx, nodes, config, d);
    // Unset global lower-priority GARP settings are the global master ones;
    // instances inherit both (keepalived: an instance's own
    // garp_master_* does not move its lower-priority ones).
    if !d.lower_delay_set {
        d.garp.lower_prio_delay = d.garp.master_delay;
    }
    if !d.lower_repeat_set {
        d.garp.lower_prio_repeat = d.garp.master_repeat;
    }
}

fn global_items(cx: &mut Cx<'_>, nodes: &[Node], config: &mut Config, d: &mut Defaults) {
    for n in nodes {
        let g = &mut config.globals;
        if !cx.known(n, keywords::GLOBAL_DEFS, "global_defs") {
            continue;
        }
        match n.name() {
            "router_id" => g.router_id = cx.string_arg(n),
            "script_user" => {
                cx.no_block(n);
                match cx.user(n, 0) {
                    Some(u) => g.script_user = Some(u),
                    None => cx.error(n.span(), "`script_user` needs a user name"),
                }
            }
            "enable_script_security" => {
                cx.none(n);
                g.enable_script_security = true;
            }
            "notify_fifo" => g.notify_fifo = cx.fifo(n),
            "notify_fifo_script" => g.notify_fifo_script = cx.script(n),
            "vrrp_notify_fifo" => g.vrrp_notify_fifo = cx.fifo(n),
            "vrrp_notify_fifo_script" => g.vrrp_notify_fifo_script = cx.script(n),
            "vrrp_mcast_group4" => match cx.addr_arg(n) {
                Some(IpAddr::V4(a)) if a.is_multicast() => g.mcast_group4 = a,
                Some(_) => cx.error(n.span(), "`vrrp_mcast_group4` needs an IPv4 multicast address"),
                None => {}
            },
            "vrrp_mcast_group6" => match cx.addr_arg(n) {
                Some(IpAddr::V6(a)) if a.is_multicast() => g.mcast_group6 = a,
                Some(_) => cx.error(n.span(), "`vrrp_mcast_group6` needs an IPv6 multicast address"),
                None => {}
            },
            "default_interface" => g.default_interface = cx.string_arg(n),
            // keepalived keeps the first and reports the others.
            "vmac_prefix" => match (&g.vmac_prefix, cx.string_arg(n)) {
                (None, p) => g.vmac_prefix = p,
                (Some(first), Some(p)) => {
                    cx.warn(n.span(), format!("`vmac_prefix` is already `{first}`; `{p}` is ignored, as in keepalived"))
                }
                (Some(_), None) => {}
            },
            // keepalived's range is 1..99; 0 is vipd's "never real-time".
            "vrrp_rt_priority" => g.sched.rt_priority = cx.int_arg(n, 0, 99).map(|v| v as u8),
            "vrrp_priority" => g.sched.nice = cx.int_arg(n, -20, 19).map(|v| v as i8),
            "vrrp_rlimit_rttime" | "vrrp_rlimit_rtime" => {
                g.sched.rlimit_rttime_us =
                    cx.int_arg(n, 1, i64::from(u32::MAX)).map_or(g.sched.rlimit_rttime_us, |v| v as u32)
            }
            "vrrp_no_swap" => g.sched.no_swap = cx.switch(n),
            "vrrp_garp_interval" => g.garp_interval = cx.secs_arg(n, 0, 4_294_967_295).unwrap_or(g.garp_interval),
            "vrrp_gna_interval" => g.gna_interval = cx.secs_arg(n, 0, 4_294_967_295).unwrap_or(g.gna_interval),
            "vrrp_startup_delay" => {
                config.startup_delay = cx.secs_arg(n, 0, 4_294_967_295_000_000).unwrap_or(config.startup_delay)
            }
            "vrrp_version" => {
                if let Some(v) = cx.int_arg(n, 2, 3) {
                    d.version = if v == 2 { Version::V2 } else { Version::V3 };
                }
            }
            "vrrp_min_garp" => {
                if cx.flag(n) {
                    d.garp.master_repeat = 1;
                    d.garp.master_delay = Duration::ZERO;
                }
            }
            "vrrp_down_timer_adverts" => {
                d.down_timer_adverts = cx.int_arg(n, 1, 100).map_or(d.down_timer_adverts, |v| v as u8)
            }
            "vrrp_lower_prio_no_advert" => d.lower_prio_no_advert = cx.flag(n),
            "vrrp_higher_prio_send_advert" => d.higher_prio_send_advert = cx.flag(n),
            "vrrp_check_unicast_src" => d.check_unicast_src = cx.switch(n),
            "vrrp_accept_any_unicast_src" => {
                d.accept_any_unicast_src = cx.switch(n);
                cx.warn(n.span(), super::instance::EXTENSION_ANY_SRC);
            }
            "vrrp_peer_silent_after" => {
                d.peer_silent_after =
                    cx.secs_arg(n, 0, super::instance::PEER_SILENT_MAX).unwrap_or(d.peer_silent_after);
                cx.warn(n.span(), super::instance::EXTENSION_PEER_SILENT);
            }
            "vrrp_skip_check_adv_addr" => d.skip_check_adv_addr = cx.switch(n),
            "vrrp_strict" => d.strict = cx.switch(n),
            "vrrp_notify_priority_changes" => d.notify_priority_changes = cx.flag(n),
            "v3_checksum_as_v2" => d.v3_checksum_as_v2 = cx.flag(n),
            "notify_timeout" => {
                g.notify_timeout = cx.secs_arg(n, NOTIFY_TIMEOUT_MIN, NOTIFY_TIMEOUT_MAX).unwrap_or(g.notify_timeout);
                cx.warn(n.span(), EXTENSION_NOTIFY_TIMEOUT);
            }
            "notification_email" => {
                cx.extra(n, 0);
                for a in cx.block(n) {
                    cx.no_block(a);
                    g.mail.to.push(a.name().to_owned());
                    g.mail.to.extend(a.args.iter().map(|t| t.text.clone()));
                }
            }
            "notification_email_from" => g.mail.from = cx.string_arg(n),
            "smtp_helo_name" => g.mail.helo = cx.string_arg(n),
            "smtp_server" => g.mail.server = smtp_server(cx, n),
            "smtp_connect_timeout" => {
                let t = cx.int_arg(n, 1, 86_400).map(|s| Duration::from_secs(s as u64));
                g.mail.connect_timeout = t.unwrap_or(g.mail.connect_timeout);
            }
            "smtp_alert" => g.mail.alert = Some(cx.flag(n)),
            "smtp_alert_vrrp" => g.mail.alert_vrrp = Some(cx.flag(n)),
            "no_email_faults" => {
                cx.none(n);
                g.mail.no_faults = true;
            }
            kw => {
                let kw = kw.trim_start_matches("vrrp_");
                d.lower_delay_set |= kw == "garp_lower_prio_delay";
                d.lower_repeat_set |= kw == "garp_lower_prio_repeat";
                garp_setting(cx, n, kw, &mut d.garp)
            }
        }
    }
}

/// `smtp_server ADDR [PORT]` (port 25 by default). keepalived also takes a
/// host name and resolves it once at load; vipd resolves nothing (a DNS
/// lookup would block the loop on a reload), so a name other than
/// `localhost` is refused with a hint.
fn smtp_server(cx: &mut Cx<'_>, n: &Node) -> Option<core::net::SocketAddr> {
    cx.no_block(n);
    let Some(host) = n.args.first() else {
        cx.error(n.span(), "`smtp_server` needs an address");
        return None;
    };
    cx.extra(n, 2);
    let port = match n.args.get(1) {
        Some(t) => cx.int(n, t, 1, 65_535)? as u16,
        None => 25,
    };
    let addr = if host.text == "localhost" {
        IpAddr::V4(core::net::Ipv4Addr::LOCALHOST)
    } else {
        match host.text.parse::<IpAddr>() {
            Ok(a) => a,
            Err(_) => {
                cx.error_hint(
                    host.span,
                    format!("`{}` is not an IPv4 or IPv6 address (`smtp_server`)", host.text),
                    "vipd resolves no host names: give the server's address",
                );
                return None;
            }
        }
    };
    Some(core::net::SocketAddr::new(addr, port))
}

/// The `garp_*` settings shared by `global_defs` (with a `vrrp_` prefix)
/// and instances.
pub(super) fn garp_setting(cx: &mut Cx<'_>, n: &Node, kw: &str, garp: &mut GarpConfig) {
    // keepalived reads these as whole seconds (a fraction is truncated, or
    // the global form ignored) and turns a repeat of 0 into 1; vipd refuses
    // both rather than differ.
    let secs = |cx: &mut Cx<'_>| cx.int_arg(n, 0, 4294).map(|s| Duration::from_secs(s as u64));
    let repeat = |cx: &mut Cx<'_>| {
        let t = cx.one(n)?;
        if t.text == "0" {
            cx.error_hint(t.span, format!("`{} 0` sends one round in keepalived", n.name()), "use 1, or a delay of 0");
            return None;
        }
        cx.int(n, t, 1, 255).map(|v| v as u8)
    };
    match kw {
        "garp_master_delay" => garp.master_delay = secs(cx).unwrap_or(garp.master_delay),
        "garp_master_repeat" => garp.master_repeat = repeat(cx).unwrap_or(garp.master_repeat),
        "garp_master_refresh" => garp.master_refresh = secs(cx).unwrap_or(garp.master_refresh),
        "garp_master_refresh_repeat" => garp.master_refresh_repeat = repeat(cx).unwrap_or(garp.master_refresh_repeat),
        "garp_lower_prio_delay" => garp.lower_prio_delay = secs(cx).unwrap_or(garp.lower_prio_delay),
        "garp_lower_prio_repeat" => garp.lower_prio_repeat = repeat(cx).unwrap_or(garp.lower_prio_repeat),
        _ => {}
    }
}
