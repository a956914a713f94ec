//! The block tree → [`Config`], with keepalived's ranges and rules and
//! vipd's cross-checks. Every problem is a diagnostic; processing goes on
//! after an error so one run reports them all.
//!
//! This file owns the entry point and the walk over the top-level blocks:
//! `global_defs` first (its defaults apply to every instance wherever it
//! stands), then each block handed to the file named after it, then the
//! cross-block steps (sync group members, per-instance rules, duplicate
//! VRIDs) in that order. It must not read the keywords inside a block:
//! those are read in that block's file, against its table in `keywords`.
//!
//! - `cx`: the diagnostics sink and the checks every keyword line shares.
//! - `values`: the value readers (numbers, seconds, booleans, addresses,
//!   commands).
//! - `globals`: `global_defs`; `instance`: `vrrp_instance`;
//!   `addresses`: address and unicast peer lines; `trackers`:
//!   `vrrp_script`, `vrrp_probe`, `track_file` and `track_*` lines; `sync_group`:
//!   `vrrp_sync_group`; `routes`: route and rule lines; `instance_rules`: the rules checked once a whole
//!   instance is read.

mod addresses;
mod cx;
mod globals;
mod instance;
mod instance_rules;
mod routes;
mod sync_group;
mod trackers;
mod values;

use core::net::IpAddr;

use super::diag::Diagnostic;
use super::keywords::{self, Support};
use super::model::*;
use super::parse::Node;

use addresses::vip_line;
use cx::{Cx, name_of};
use globals::{Defaults, global_defs};
use instance::{RawInstance, instance};
use instance_rules::{duplicate_vrids, finish_instance};
use sync_group::{RawGroup, attach_groups, sync_group};
use trackers::{define_tracker, probe_block, script_block, track_file_block, track_process_block};

pub use values::parse_micros;

/// Checks whether a network interface exists (the real system, or a fake
/// in tests).
pub type IfaceCheck<'a> = &'a dyn Fn(&str) -> bool;

/// The addresses of an interface with their prefix lengths; `None` when
/// they are not known (no netlink, or a test that does not say).
pub type IfaceAddrs<'a> = &'a dyn Fn(&str) -> Option<Vec<(IpAddr, u8)>>;

/// What the reader may ask about the machine the configuration is checked
/// on: the host facts, as opposed to the file's own rules.
pub struct Host<'a> {
    pub iface_exists: IfaceCheck<'a>,
    pub iface_addrs: IfaceAddrs<'a>,
    /// The file is checked away from the machine it is for (CI, a laptop):
    /// a host fact that does not hold here is a warning, not an error.
    pub offline: bool,
}

/// Builds the configuration from the tree. `iface_exists` answers whether
/// an interface is present on this machine.
pub fn build(nodes: &[Node], iface_exists: IfaceCheck<'_>, diags: &mut Vec<Diagnostic>) -> Config {
    build_on(nodes, &Host { iface_exists, iface_addrs: &|_| None, offline: false }, diags)
}

/// [`build`] against everything `host` knows about the machine.
pub fn build_on(nodes: &[Node], host: &Host<'_>, diags: &mut Vec<Diagnostic>) -> Config {
    let mut cx = Cx { diags, next_rule_pref: routes::FIRST_AUTO_RULE_PREF };
    let mut config = Config::default();
    let mut defaults = Defaults::default();

    for node in nodes {
        if cx.known(node, keywords::TOP, "the top level") && node.name() == "global_defs" {
            cx.extra(node, 0);
            let children = cx.block(node);
            global_defs(&mut cx, children, &mut config, &mut defaults);
        }
    }

    let mut raws: Vec<RawInstance> = Vec::new();
    let mut broken: Vec<String> = Vec::new();
    let mut tracker_pos: Vec<usize> = Vec::new();
    let instance_names: Vec<&str> = nodes
        .iter()
        .filter(|n| n.name() == "vrrp_instance")
        .filter_map(|n| n.args.first().map(|t| t.text.as_str()))
        .collect();
    let mut groups: Vec<RawGroup<'_>> = Vec::new();
    for (pos, node) in nodes.iter().enumerate() {
        if keywords::lookup(keywords::TOP, node.name()) != Some(Support::Yes) {
            continue;
        }
        match node.name() {
            "vrrp_instance" => {
                if let Some(mut raw) = instance(&mut cx, node, &defaults) {
                    for t in raw.scripts.iter_mut().chain(raw.files.iter_mut()).chain(raw.processes.iter_mut()) {
                        t.pos = pos;
                    }
                    if let Some(first) = raws.iter().find(|r| r.cfg.name == raw.cfg.name) {
                        let at = first.span.line;
                        cx.error(
                            node.span(),
                            format!("vrrp_instance `{}` is already defined at line {at}", raw.cfg.name),
                        );
                    } else {
                        raws.push(raw);
                    }
                }
            }
            "vrrp_script" | "vrrp_probe" | "track_file" | "vrrp_track_file" | "vrrp_track_process" => {
                let t = match node.name() {
                    "vrrp_script" => script_block(&mut cx, node),
                    "vrrp_probe" => probe_block(&mut cx, node),
                    "vrrp_track_process" => track_process_block(&mut cx, node),
                    _ => track_file_block(&mut cx, node),
                };
                match t {
                    Some(t) => {
                        if define_tracker(&mut cx, &mut config, node, t) {
                            tracker_pos.push(pos);
                        }
                    }
                    // Already reported; references to it are not errors again.
                    None => broken.push(name_of(node)),
                }
            }
            "vrrp_sync_group" => {
                if let Some(mut g) = sync_group(&mut cx, node, &instance_names) {
                    for t in g.2.iter_mut().chain(g.3.iter_mut()) {
                        t.pos = pos;
                    }
                    groups.push(g);
                }
            }
            "static_routes" => {
                cx.extra(node, 0);
                for line in cx.block(node) {
                    if let Some(r) = routes::route_line(&mut cx, line) {
                        if let Some(dev) = r.dev.as_deref().filter(|d| !(host.iface_exists)(d)) {
                            let msg = format!("interface `{dev}` of a static route does not exist");
                            instance_rules::host_fact(&mut cx, host, line.span(), msg);
                        }
                        config.static_routes.push(r);
                    }
                }
            }
            "static_rules" => {
                cx.extra(node, 0);
                for line in cx.block(node) {
                    if let Some(r) = routes::rule_line(&mut cx, line) {
                        for dev in r.iif.iter().chain(r.oif.iter()).filter(|d| !(host.iface_exists)(d)) {
                            let msg = format!("interface `{dev}` of a static rule does not exist");
                            instance_rules::host_fact(&mut cx, host, line.span(), msg);
                        }
                        config.static_rules.push(r);
                    }
                }
            }
            "static_ipaddress" => {
                cx.extra(node, 0);
                for line in cx.block(node) {
                    if let Some(v) = vip_line(&mut cx, line) {
                        if let Some(dev) = v.dev.as_deref().filter(|d| !(host.iface_exists)(d)) {
                            let msg = format!("interface `{dev}` of static address `{}` does not exist", v.addr);
                            instance_rules::host_fact(&mut cx, host, line.span(), msg);
                        }
                        config.static_addresses.push(v);
                    }
                }
            }
            _ => {}
        }
    }

    attach_groups(&mut cx, &groups, &mut raws, &mut config);

    let mut spans = Vec::with_capacity(raws.len());
    let mut kept = vec![None; raws.len()];
    for (i, raw) in raws.into_iter().enumerate() {
        let span = raw.span;
        if let Some(inst) = finish_instance(&mut cx, raw, &config, &tracker_pos, &broken, host) {
            kept[i] = Some(config.instances.len());
            config.instances.push(inst);
            spans.push(span);
        }
    }
    for g in &mut config.sync_groups {
        g.members.retain_mut(|m| match kept.get(*m).copied().flatten() {
            Some(k) => {
                *m = k;
                true
            }
            None => false,
        });
    }
    duplicate_vrids(&mut cx, &config, &spans);
    // A file whose instances all sit in an include that matched nothing
    // would otherwise start a daemon that does nothing, without a word.
    // With errors it does not start at all, and they come first.
    let errors = cx.diags.iter().any(|d| d.severity == super::diag::Severity::Error);
    if !errors && !nodes.iter().any(|n| n.name() == "vrrp_instance") {
        cx.diags.push(Diagnostic {
            severity: super::diag::Severity::Warning,
            span: None,
            message: "the configuration has no vrrp_instance: vipd would start and manage no address".to_owned(),
            hint: None,
        });
    }
    config
}
