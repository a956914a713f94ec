//! Routes, rules and static addresses carried out: an instance's
//! `virtual_routes` / `virtual_rules` installed after its addresses when it
//! becomes master and removed before them when it leaves (keepalived's
//! order: a route with `src VIP` needs the VIP), and `static_ipaddress`,
//! `static_routes`, `static_rules` installed at start and removed at exit
//! (with `--dont-release-vrrp` too), as keepalived 2.2.7 does. A route or
//! rule the kernel refuses is logged and the rest go on; one already there
//! counts as added, one already gone as removed. Requests are the bounded
//! blocking netlink requests addresses use; nothing here allocates (an
//! interface name is looked up with a stack buffer).

use super::{Daemon, Log};
use crate::config::{Config, Family, RouteConfig, RuleConfig, VipConfig};
use crate::core::InstanceId;
use crate::sys::netlink::Netlink;
use crate::wire::netlink::{AF_INET, AF_INET6, RouteSpec, RuleSpec};

/// What the configuration installs whatever the VRRP state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Statics {
    pub(super) addrs: Vec<VipConfig>,
    pub(super) routes: Vec<RouteConfig>,
    pub(super) rules: Vec<RuleConfig>,
    /// `default_interface`: where a static address without `dev` goes.
    pub(super) default_iface: Option<String>,
}

impl Statics {
    pub(super) fn of(c: &Config) -> Statics {
        Statics {
            addrs: c.static_addresses.clone(),
            routes: c.static_routes.clone(),
            rules: c.static_rules.clone(),
            default_iface: c.globals.default_interface.clone(),
        }
    }
}

/// The index of interface `name`, 0 if there is none.
pub(super) fn index_of(name: &str) -> u32 {
    let mut buf = [0u8; 16];
    if name.len() >= buf.len() || name.bytes().any(|b| b == 0) {
        return 0;
    }
    for (d, s) in buf.iter_mut().zip(name.bytes()) {
        *d = s;
    }
    // SAFETY: `buf` is NUL-terminated (at most 15 name bytes in 16) and
    // lives across the call, which only reads it.
    unsafe { libc::if_nametoindex(buf.as_ptr().cast()) }
}

pub(super) fn route_spec(r: &RouteConfig, oif: Option<u32>) -> RouteSpec {
    RouteSpec {
        dst: r.dst,
        dst_len: r.dst_len,
        src: r.src,
        gateway: r.via,
        oif,
        table: r.table,
        metric: r.metric,
        scope: r.scope,
        protocol: r.protocol,
        kind: r.kind,
    }
}

pub(super) fn rule_spec(r: &RuleConfig) -> RuleSpec<'_> {
    RuleSpec {
        family: if r.family == Family::V6 { AF_INET6 } else { AF_INET },
        from: r.from,
        to: r.to,
        table: r.table,
        action: r.action,
        priority: r.priority,
        invert: r.invert,
        iif: r.iif.as_deref(),
        oif: r.oif.as_deref(),
        fwmark: r.fwmark,
        fwmask: r.fwmask,
        protocol: r.protocol,
    }
}

/// Adds or removes one route; `who` names the instance (or "static").
pub(super) fn route_change(netlink: &mut Netlink, log: &Log, who: &str, r: &RouteConfig, add: bool) {
    let oif = match &r.dev {
        None => None,
        Some(dev) => match index_of(dev) {
            0 => {
                log!(log, "({who}) cannot {} route {}/{}: no interface {dev}", verb(add), r.dst, r.dst_len);
                return;
            }
            i => Some(i),
        },
    };
    if let Err(e) = netlink.route(add, &route_spec(r, oif)) {
        log!(log, "({who}) cannot {} route {}/{}: {e}", verb(add), r.dst, r.dst_len);
    }
}

/// Adds or removes one rule.
pub(super) fn rule_change(netlink: &mut Netlink, log: &Log, who: &str, r: &RuleConfig, add: bool) {
    if let Err(e) = netlink.rule(add, &rule_spec(r)) {
        log!(log, "({who}) cannot {} rule with preference {}: {e}", verb(add), r.priority);
    }
}

fn verb(add: bool) -> &'static str {
    if add { "add" } else { "remove" }
}

/// Routes then rules on adding; rules then routes on removing.
pub(super) fn routes_and_rules(
    netlink: &mut Netlink,
    log: &Log,
    who: &str,
    routes: &[RouteConfig],
    rules: &[RuleConfig],
    add: bool,
) {
    if add {
        routes.iter().for_each(|r| route_change(netlink, log, who, r, true));
        rules.iter().for_each(|r| rule_change(netlink, log, who, r, true));
    } else {
        rules.iter().for_each(|r| rule_change(netlink, log, who, r, false));
        routes.iter().for_each(|r| route_change(netlink, log, who, r, false));
    }
}

impl Daemon {
    /// The instance's virtual routes and rules, after its addresses are
    /// set (`add`) or before they are removed.
    pub(super) fn virtual_routes(&mut self, inst: InstanceId, add: bool) {
        let Some(i) = self.engine.instance(inst) else { return };
        if i.cfg.routes.is_empty() && i.cfg.rules.is_empty() {
            return;
        }
        routes_and_rules(&mut self.netlink, &self.log, i.name(), &i.cfg.routes, &i.cfg.rules, add);
    }

    /// Static addresses, routes and rules: added at start (addresses
    /// first), removed at exit (in the reverse order).
    pub(super) fn statics(&mut self, add: bool) {
        let s = &self.statics;
        if !add {
            routes_and_rules(&mut self.netlink, &self.log, "static", &s.routes, &s.rules, false);
        }
        for v in &s.addrs {
            static_addr(&mut self.netlink, &self.log, s.default_iface.as_deref(), v, add);
        }
        if add {
            routes_and_rules(&mut self.netlink, &self.log, "static", &s.routes, &s.rules, true);
        }
    }

    /// A reload: what the old configuration installed and the new one does
    /// not is removed, what the new one adds is added. Virtual routes and
    /// rules of an instance that stays master are compared by instance
    /// name; the new ones are added when its addresses are (`AddVips`).
    pub(super) fn reconcile_statics(&mut self, new: Statics) {
        let old = core::mem::replace(&mut self.statics, new);
        let s = &self.statics;
        let gone_rules: Vec<&RuleConfig> = old.rules.iter().filter(|r| !s.rules.contains(r)).collect();
        for r in gone_rules {
            rule_change(&mut self.netlink, &self.log, "static", r, false);
        }
        for r in old.routes.iter().filter(|r| !s.routes.contains(r)) {
            route_change(&mut self.netlink, &self.log, "static", r, false);
        }
        for v in old.addrs.iter().filter(|v| !s.addrs.contains(v)) {
            static_addr(&mut self.netlink, &self.log, old.default_iface.as_deref(), v, false);
        }
        self.statics(true);
    }
}

fn static_addr(netlink: &mut Netlink, log: &Log, default: Option<&str>, v: &VipConfig, add: bool) {
    let Some(dev) = v.dev.as_deref().or(default) else {
        log!(log, "(static) cannot {} {}/{}: no `dev` and no default_interface", verb(add), v.addr, v.prefix);
        return;
    };
    let index = index_of(dev);
    if index == 0 {
        log!(log, "(static) cannot {} {}/{}: no interface {dev}", verb(add), v.addr, v.prefix);
        return;
    }
    let r = if add { netlink.add_addr(index, v) } else { netlink.del_addr(index, v) };
    if let Err(e) = r {
        log!(log, "(static) cannot {} {}/{}: {e}", verb(add), v.addr, v.prefix);
    }
}
