//! The block tree → [`Config`], with keepalived's ranges and rules and
//! vipd's cross-checks. Every problem is a diagnostic; processing goes on
//! after an error so one run reports them all.

use core::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::diag::{Diagnostic, Span};
use super::keywords::{self, Support};
use super::lexer::{Token, split_argv};
use super::model::*;
use super::parse::Node;
use crate::time::Duration;
use crate::wire::vrrp::{Auth, V3Ipv4Checksum, Version};

/// Instance-level defaults that `global_defs` can change.
#[derive(Clone, Debug)]
struct Defaults {
    version: Version,
    garp: GarpConfig,
    lower_prio_no_advert: bool,
    higher_prio_send_advert: bool,
    check_unicast_src: bool,
    skip_check_adv_addr: bool,
    strict: bool,
    down_timer_adverts: u8,
    notify_priority_changes: bool,
    /// `v3_checksum_as_v2` in global_defs.
    v3_checksum_as_v2: bool,
    /// `vrrp_garp_lower_prio_delay` / `_repeat` given: otherwise they
    /// follow the (instance's) master delay and repeat, as in keepalived.
    lower_delay_set: bool,
    lower_repeat_set: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            version: Version::V2,
            garp: GarpConfig::default(),
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            check_unicast_src: false,
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

/// Checks whether a network interface exists (the real system, or a fake
/// in tests).
pub type IfaceCheck<'a> = &'a dyn Fn(&str) -> bool;

struct Cx<'a> {
    diags: &'a mut Vec<Diagnostic>,
}

impl Cx<'_> {
    fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    fn error_hint(&mut self, span: Span, msg: impl Into<String>, hint: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg).with_hint(hint));
    }

    fn warn(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(span, msg));
    }

    /// Checks `node`'s keyword against `table`; `Some(true)` when vipd
    /// implements it.
    fn known(&mut self, node: &Node, table: &[(&str, Support)], block: &str) -> bool {
        if node.name() == "{" && !node.keyword.quoted {
            // A block without a keyword, already reported by the parser.
            return false;
        }
        match keywords::lookup(table, node.name()) {
            Some(Support::Yes) => {
                let script = SCRIPT_KEYWORDS.contains(&node.name());
                self.verbatim(node, script);
                true
            }
            Some(Support::Ignored(why)) => {
                self.warn(node.span(), format!("`{}` is not implemented by vipd and is ignored: {why}", node.name()));
                false
            }
            Some(Support::Refused(why)) => {
                self.error(node.span(), format!("`{}` is not implemented by vipd: {why}", node.name()));
                false
            }
            None => {
                let msg = format!("unknown keyword `{}` in {block}", node.name());
                match keywords::suggest(table, block, node.name()) {
                    Some(h) => self.error_hint(node.span(), msg, h),
                    None => self.error(node.span(), msg),
                }
                false
            }
        }
    }

    /// Refuses tokens keepalived's tokenizer reads differently from vipd's
    /// (single quotes, escapes, quotes joined to text): outside script
    /// commands keepalived groups words with `"` only and reads `\` and `'`
    /// literally, so the same file would mean something else there. The
    /// first argument of a script keyword gets keepalived's shell-like
    /// second pass, which vipd reproduces.
    fn verbatim(&mut self, node: &Node, skip_command: bool) {
        let args = node.args.iter().enumerate().filter(|(i, _)| !(skip_command && *i == 0)).map(|(_, t)| t);
        for t in core::iter::once(&node.keyword).chain(args) {
            if !t.verbatim {
                self.error_hint(
                    t.span,
                    format!("keepalived 2.2.7 reads `{}` differently here", t.text),
                    "outside script commands it groups words only with double quotes and takes `'` and `\\` literally; write the value without them",
                );
            }
        }
    }

    fn no_block(&mut self, node: &Node) {
        if let Some(b) = &node.block {
            self.error(b.open, format!("`{}` does not take a block", node.name()));
        }
    }

    fn block<'n>(&mut self, node: &'n Node) -> &'n [Node] {
        if node.block.is_none() {
            self.error_hint(
                node.span(),
                format!("`{}` needs a block", node.name()),
                format!("{} {{ … }}", node.name()),
            );
        }
        node.children()
    }

    /// The single argument of `node`; extra tokens are an error (keepalived
    /// silently ignores them, which hides `;`-separated statements).
    fn one<'n>(&mut self, node: &'n Node) -> Option<&'n Token> {
        self.no_block(node);
        let Some(first) = node.args.first() else {
            self.error(node.span(), format!("`{}` needs a value", node.name()));
            return None;
        };
        self.extra(node, 1);
        Some(first)
    }

    fn extra(&mut self, node: &Node, from: usize) {
        if let Some(t) = node.args.get(from) {
            let hint = if t.text == ";" || t.text.starts_with(';') {
                "`;` does not separate statements: put each on its own line"
            } else {
                "keepalived ignores the rest of the line; vipd refuses it"
            };
            self.error_hint(t.span, format!("unexpected `{}` after `{}`", t.text, node.name()), hint);
        }
    }

    fn none(&mut self, node: &Node) {
        self.no_block(node);
        self.extra(node, 0);
    }

    fn int(&mut self, node: &Node, tok: &Token, lo: i64, hi: i64) -> Option<i64> {
        self.int_for(node.name(), tok, lo, hi)
    }

    fn int_for(&mut self, what: &str, tok: &Token, lo: i64, hi: i64) -> Option<i64> {
        match tok.text.parse::<i64>() {
            Ok(v) if (lo..=hi).contains(&v) => Some(v),
            Ok(_) => {
                self.error(tok.span, format!("`{}` is outside {lo}..{hi} for `{}`", tok.text, what));
                None
            }
            Err(_) => {
                self.error(tok.span, format!("`{}` is not a whole number (`{}`)", tok.text, what));
                None
            }
        }
    }

    fn int_arg(&mut self, node: &Node, lo: i64, hi: i64) -> Option<i64> {
        let t = self.one(node)?;
        self.int(node, t, lo, hi)
    }

    /// Seconds with up to 6 decimals, in `lo..=hi` microseconds.
    fn secs(&mut self, node: &Node, tok: &Token, lo: u64, hi: u64) -> Option<Duration> {
        let Some(us) = parse_micros(&tok.text) else {
            self.error(tok.span, format!("`{}` is not a number of seconds (`{}`)", tok.text, node.name()));
            return None;
        };
        if !(lo..=hi).contains(&us) {
            let (l, h) = (Duration::from_micros(lo), Duration::from_micros(hi));
            self.error(tok.span, format!("`{}` is outside {l}..{h} for `{}`", tok.text, node.name()));
            return None;
        }
        Some(Duration::from_micros(us))
    }

    fn secs_arg(&mut self, node: &Node, lo: u64, hi: u64) -> Option<Duration> {
        let t = self.one(node)?;
        self.secs(node, t, lo, hi)
    }

    /// A keyword keepalived 2.2.7 takes without a value: it ignores any
    /// argument, so `vrrp_strict off` turns strict mode *on* there. vipd
    /// refuses the argument rather than read it differently.
    fn switch(&mut self, node: &Node) -> bool {
        self.no_block(node);
        if let Some(t) = node.args.first() {
            self.error_hint(
                t.span,
                format!("`{}` takes no value", node.name()),
                format!(
                    "keepalived 2.2.7 ignores `{}` and turns `{}` on; remove the line to leave it off",
                    t.text,
                    node.name()
                ),
            );
        }
        true
    }

    /// keepalived's optional boolean: no argument = true.
    fn flag(&mut self, node: &Node) -> bool {
        self.no_block(node);
        let Some(t) = node.args.first() else { return true };
        self.extra(node, 1);
        match t.text.as_str() {
            "on" | "true" | "yes" | "1" => true,
            "off" | "false" | "no" | "0" => false,
            _ => {
                self.error_hint(
                    t.span,
                    format!("`{}` is not a boolean (`{}`)", t.text, node.name()),
                    "use on/off, true/false, yes/no or 1/0",
                );
                true
            }
        }
    }

    fn addr(&mut self, tok: &Token) -> Option<IpAddr> {
        match tok.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.error(tok.span, format!("`{}` is not an IPv4 or IPv6 address", tok.text));
                None
            }
        }
    }

    fn addr_arg(&mut self, node: &Node) -> Option<IpAddr> {
        let t = self.one(node)?;
        self.addr(t)
    }

    fn string_arg(&mut self, node: &Node) -> Option<String> {
        self.one(node).map(|t| t.text.clone())
    }

    /// `KEYWORD "cmd args" [user [group]]`.
    fn script(&mut self, node: &Node) -> Option<Script> {
        self.no_block(node);
        let Some(cmd) = node.args.first() else {
            self.error(node.span(), format!("`{}` needs a command", node.name()));
            return None;
        };
        let user = self.user(node, 1);
        match split_argv(&cmd.text) {
            Ok(argv) if !argv.is_empty() => Some(Script { argv, user }),
            Ok(_) => {
                self.error(cmd.span, format!("empty command for `{}`", node.name()));
                None
            }
            Err(e) => {
                self.error(cmd.span, format!("bad command for `{}`: {e}", node.name()));
                None
            }
        }
    }

    /// Optional `user [group]` starting at argument `from`.
    fn user(&mut self, node: &Node, from: usize) -> Option<ScriptUser> {
        let user = node.args.get(from)?;
        let group = node.args.get(from + 1).map(|g| g.text.clone());
        self.extra(node, from + 2);
        Some(ScriptUser { user: user.text.clone(), group })
    }

    /// `KEYWORD PATH [user [group]]`.
    fn fifo(&mut self, node: &Node) -> Option<Fifo> {
        self.no_block(node);
        let Some(path) = node.args.first() else {
            self.error(node.span(), format!("`{}` needs a path", node.name()));
            return None;
        };
        let user = self.user(node, 1);
        Some(Fifo { path: PathBuf::from(&path.text), user })
    }
}

/// Keywords whose first argument is a command line (split into argv).
const SCRIPT_KEYWORDS: &[&str] = &[
    "script",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "notify_fifo_script",
    "vrrp_notify_fifo_script",
];

/// Parses decimal seconds (`1`, `0.5`, `0.000001`) into microseconds
/// exactly, without floating point.
pub fn parse_micros(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let all_digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(frac) || frac.len() > 6 {
        return None;
    }
    let w: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut f: u64 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    for _ in frac.len()..6 {
        f *= 10;
    }
    w.checked_mul(1_000_000)?.checked_add(f)
}

/// A reference to a named tracker, resolved after the whole file is read
/// (keepalived requires definition before use; vipd does not).
#[derive(Clone, Debug)]
struct TrackName {
    name: Token,
    weight: Option<i32>,
    reverse: bool,
    /// Top-level position of the block that uses it.
    pos: usize,
}

#[derive(Debug)]
struct RawInstance {
    span: Span,
    cfg: InstanceConfig,
    has_interface: bool,
    interface_span: Span,
    unicast_block: Option<Span>,
    fault_no_peer: bool,
    ttl_span: Option<Span>,
    has_vrid: bool,
    priority: Option<(u8, Span)>,
    state: Option<(InitialState, Span)>,
    nopreempt: Option<Span>,
    preempt_delay: Option<Span>,
    version: Option<Version>,
    advert_int: Option<(Duration, Span)>,
    auth: Option<Span>,
    vip_spans: Vec<Span>,
    evip_spans: Vec<Span>,
    scripts: Vec<TrackName>,
    files: Vec<TrackName>,
    weighted_iface: Option<Span>,
    lower_delay_set: bool,
    lower_repeat_set: bool,
}

/// Builds the configuration from the tree. `iface_exists` answers whether
/// an interface is present on this machine.
pub fn build(nodes: &[Node], iface_exists: IfaceCheck<'_>, diags: &mut Vec<Diagnostic>) -> Config {
    let mut cx = Cx { diags };
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
    let mut groups: Vec<RawGroup> = Vec::new();
    for (pos, node) in nodes.iter().enumerate() {
        if keywords::lookup(keywords::TOP, node.name()) != Some(Support::Yes) {
            continue;
        }
        match node.name() {
            "vrrp_instance" => {
                if let Some(mut raw) = instance(&mut cx, node, &defaults) {
                    for t in raw.scripts.iter_mut().chain(raw.files.iter_mut()) {
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
            "vrrp_script" | "track_file" | "vrrp_track_file" => {
                let t = if node.name() == "vrrp_script" {
                    script_block(&mut cx, node)
                } else {
                    track_file_block(&mut cx, node)
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
            "static_ipaddress" => {
                cx.extra(node, 0);
                for line in cx.block(node) {
                    if let Some(v) = vip_line(&mut cx, line) {
                        config.static_addresses.push(v);
                    }
                }
            }
            _ => {}
        }
    }

    // Sync groups: members by name; group trackers apply to every member.
    let mut member_of: Vec<Option<usize>> = vec![None; raws.len()];
    for (gi, (node, members, scripts, files, ifaces, tracking_weight)) in groups.iter().enumerate() {
        let mut idx = Vec::new();
        for m in members {
            match raws.iter().position(|r| r.cfg.name == m.text) {
                None => cx.error(m.span, format!("sync group member `{}` is not a vrrp_instance", m.text)),
                Some(i) if member_of[i].is_some() => {
                    cx.error(m.span, format!("vrrp_instance `{}` is already in another sync group", m.text))
                }
                Some(i) => {
                    member_of[i] = Some(gi);
                    idx.push(i);
                }
            }
        }
        if members.len() == 1 {
            cx.warn(node.span(), format!("sync group `{}` has a single member", name_of(node)));
        }
        for &i in &idx {
            let r = &mut raws[i];
            r.scripts.extend(scripts.iter().cloned());
            r.files.extend(files.iter().cloned());
            r.cfg.track_interfaces.extend(ifaces.iter().cloned());
            if !tracking_weight {
                zero_member_weights(&mut cx, node, r);
            }
        }
        let notify = group_notify(&mut cx, node);
        config.sync_groups.push(SyncGroupConfig { name: name_of(node), members: idx, notify });
    }

    let mut spans = Vec::with_capacity(raws.len());
    let mut kept = vec![None; raws.len()];
    for (i, raw) in raws.into_iter().enumerate() {
        let span = raw.span;
        if let Some(inst) = finish_instance(&mut cx, raw, &config, &tracker_pos, &broken, iface_exists) {
            kept[i] = Some(config.instances.len());
            config.instances.push(inst);
            spans.push(span);
        }
    }
    for g in &mut config.sync_groups {
        g.members = g.members.iter().filter_map(|&m| kept.get(m).copied().flatten()).collect();
    }
    duplicate_vrids(&mut cx, &config, &spans);
    config
}

fn name_of(node: &Node) -> String {
    node.args.first().map(|t| t.text.clone()).unwrap_or_default()
}

fn zero_member_weights(cx: &mut Cx<'_>, group: &Node, r: &RawInstance) {
    let weighted = r.scripts.iter().chain(&r.files).find(|t| t.weight.is_some_and(|w| w != 0));
    if let Some(t) = weighted {
        cx.error_hint(
            t.name.span,
            format!(
                "`{}` is weighted, but `{}` is in sync group `{}`: keepalived drops the weight",
                t.name.text,
                r.cfg.name,
                name_of(group)
            ),
            "add `sync_group_tracking_weight` to the group, or use weight 0",
        );
    } else if let Some(span) = r.weighted_iface {
        cx.error_hint(
            span,
            format!("a weighted track_interface in `{}`, which is in sync group `{}`", r.cfg.name, name_of(group)),
            "add `sync_group_tracking_weight` to the group, or use weight 0",
        );
    }
}

fn define_tracker(cx: &mut Cx<'_>, config: &mut Config, node: &Node, t: TrackerConfig) -> bool {
    if config.trackers.iter().any(|o| o.name == t.name) {
        cx.error(node.span(), format!("tracker `{}` is defined twice", t.name));
        false
    } else if config.trackers.len() < usize::from(u16::MAX) {
        config.trackers.push(t);
        true
    } else {
        false
    }
}

fn block_name(cx: &mut Cx<'_>, node: &Node) -> Option<String> {
    match node.args.first() {
        Some(n) => {
            cx.extra(node, 1);
            Some(n.text.clone())
        }
        None => {
            cx.error(node.span(), format!("`{}` needs a name", node.name()));
            None
        }
    }
}

// ----- global_defs -------------------------------------------------------------------

fn global_defs(cx: &mut Cx<'_>, nodes: &[Node], config: &mut Config, d: &mut Defaults) {
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
            "vrrp_skip_check_adv_addr" => d.skip_check_adv_addr = cx.switch(n),
            "vrrp_strict" => d.strict = cx.switch(n),
            "vrrp_notify_priority_changes" => d.notify_priority_changes = cx.flag(n),
            "v3_checksum_as_v2" => d.v3_checksum_as_v2 = cx.flag(n),
            kw => {
                let kw = kw.trim_start_matches("vrrp_");
                d.lower_delay_set |= kw == "garp_lower_prio_delay";
                d.lower_repeat_set |= kw == "garp_lower_prio_repeat";
                garp_setting(cx, n, kw, &mut d.garp)
            }
        }
    }
}

/// The `garp_*` settings shared by `global_defs` (with a `vrrp_` prefix)
/// and instances.
fn garp_setting(cx: &mut Cx<'_>, n: &Node, kw: &str, garp: &mut GarpConfig) {
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

// ----- vrrp_instance -----------------------------------------------------------------

/// `v3_checksum_as_v2` (keepalived 2.2.8+): VRRPv3 over IPv4 sent with the
/// RFC 9568 checksum, without the pseudo-header.
fn checksum_form(as_v2: bool) -> V3Ipv4Checksum {
    if as_v2 { V3Ipv4Checksum::NoPseudoHeader } else { V3Ipv4Checksum::PseudoHeader }
}

fn instance(cx: &mut Cx<'_>, node: &Node, d: &Defaults) -> Option<RawInstance> {
    let name = block_name(cx, node)?;
    let mut cfg = InstanceConfig::new(&name, "", 0, d.version, &[]);
    cfg.interface.clear();
    cfg.garp = d.garp;
    cfg.lower_prio_no_advert = d.lower_prio_no_advert;
    cfg.higher_prio_send_advert = d.higher_prio_send_advert;
    cfg.check_unicast_src = d.check_unicast_src;
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
        evip_spans: Vec::new(),
        scripts: Vec::new(),
        files: Vec::new(),
        weighted_iface: None,
        lower_delay_set: d.lower_delay_set,
        lower_repeat_set: d.lower_repeat_set,
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
            }
        }
        "unicast_peer" => {
            cx.extra(n, 0);
            r.unicast_block = Some(n.span());
            for line in cx.block(n) {
                if let Some(p) = unicast_peer(cx, line) {
                    c.unicast_peers.push(p);
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
                    if c.vips.iter().chain(&c.excluded_vips).any(|o| o.addr == v.addr) {
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
fn set_once(cx: &mut Cx<'_>, n: &Node, slot: &mut Option<Script>) {
    let s = cx.script(n);
    if slot.is_some() {
        cx.error(n.span(), format!("`{}` is given twice", n.name()));
    } else {
        *slot = s;
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

fn unicast_peer(cx: &mut Cx<'_>, line: &Node) -> Option<UnicastPeer> {
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

/// `NAME [weight N [reverse|no_reverse]]` in a track_* block.
fn track_line(cx: &mut Cx<'_>, line: &Node, max: i64) -> Option<TrackName> {
    cx.no_block(line);
    cx.verbatim(line, false);
    let mut t = TrackName { name: line.keyword.clone(), weight: None, reverse: false, pos: 0 };
    let mut args = line.args.iter();
    while let Some(k) = args.next() {
        match k.text.as_str() {
            "weight" => match args.next() {
                Some(v) => t.weight = cx.int_for("weight", v, -max, max).map(|w| w as i32),
                None => cx.error(k.span, "`weight` needs a value"),
            },
            "reverse" => t.reverse = true,
            "no_reverse" | "noreverse" => cx.error_hint(
                k.span,
                format!("`{}` is not understood by keepalived 2.2.7", k.text),
                "it ignores the option and keeps the tracker's `reverse`; remove it",
            ),
            _ => {
                cx.error_hint(k.span, format!("unexpected `{}` after `{}`", k.text, t.name.text), "weight N [reverse]");
                break;
            }
        }
    }
    Some(t)
}

/// One address line (§1.4): `ADDR[/PREFIX] [dev IF] [brd A|+|-] [scope S]
/// [label L] [peer A] [home] [-nodad] [mngtmpaddr] [noprefixroute]
/// [autojoin] [no_track] [preferred_lft N|forever]`.
fn vip_line(cx: &mut Cx<'_>, line: &Node) -> Option<VipConfig> {
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

// ----- vrrp_script, track_file, vrrp_sync_group ----------------------------------------

fn script_block(cx: &mut Cx<'_>, node: &Node) -> Option<TrackerConfig> {
    let name = block_name(cx, node)?;
    let mut t = TrackerConfig::script(&name, &[]);
    let mut argv: Option<Script> = None;
    let (mut rise, mut fall, mut init_fail) = (1u32, 1u32, false);
    let mut interval = Duration::from_secs(1);
    let mut timeout: Option<Duration> = None;
    let mut user = None;
    for n in cx.block(node) {
        if !cx.known(n, keywords::SCRIPT, "vrrp_script") {
            continue;
        }
        match n.name() {
            "script" => {
                cx.extra(n, 1);
                argv = cx.script(n);
            }
            // keepalived's script timers are whole seconds (0 is refused).
            "interval" => interval = cx.int_arg(n, 1, 86_400).map_or(interval, |s| Duration::from_secs(s as u64)),
            "timeout" => timeout = cx.int_arg(n, 1, 86_400).map(|s| Duration::from_secs(s as u64)),
            "weight" => {
                cx.no_block(n);
                if let Some(w) = n.args.first() {
                    t.weight = cx.int(n, w, -253, 253).unwrap_or(0) as i32;
                    match n.args.get(1).map(|x| x.text.as_str()) {
                        None => {}
                        Some("reverse") => {
                            t.reverse = true;
                            cx.extra(n, 2);
                        }
                        Some(_) => cx.extra(n, 1),
                    }
                } else {
                    cx.error(n.span(), "`weight` needs a value");
                }
            }
            "rise" => rise = cx.int_arg(n, 1, 1_000_000).map_or(rise, |v| v as u32),
            "fall" => fall = cx.int_arg(n, 1, 1_000_000).map_or(fall, |v| v as u32),
            "user" => {
                cx.no_block(n);
                user = cx.user(n, 0);
                if user.is_none() {
                    cx.error(n.span(), "`user` needs a user name");
                }
            }
            _ => {
                cx.none(n);
                init_fail = true;
            }
        }
    }
    let Some(mut script) = argv else {
        cx.error_hint(node.span(), format!("vrrp_script `{name}` has no `script`"), "script \"/path/to/check args\"");
        return None;
    };
    if user.is_some() {
        script.user = user;
    }
    t.kind = TrackerKind::Script { rise, fall, init_fail };
    t.script = Some(CheckScript { script, interval, timeout: timeout.unwrap_or(interval) });
    Some(t)
}

fn track_file_block(cx: &mut Cx<'_>, node: &Node) -> Option<TrackerConfig> {
    let name = block_name(cx, node)?;
    let mut t = TrackerConfig::script(&name, &[]);
    t.kind = TrackerKind::File;
    t.script = None;
    t.weight = 1;
    let mut file: Option<TrackFile> = None;
    let (mut init, mut overwrite) = (None, false);
    for n in cx.block(node) {
        if !cx.known(n, keywords::TRACK_FILE, "track_file") {
            continue;
        }
        match n.name() {
            "file" => {
                file = cx.string_arg(n).map(|p| TrackFile { path: PathBuf::from(p), init: None, overwrite: false })
            }
            "weight" => {
                cx.no_block(n);
                if let Some(w) = n.args.first() {
                    t.weight = cx.int(n, w, -254, 254).unwrap_or(1) as i32;
                    if n.args.get(1).is_some_and(|x| x.text == "reverse") {
                        t.reverse = true;
                        cx.extra(n, 2);
                    } else {
                        cx.extra(n, 1);
                    }
                } else {
                    cx.error(n.span(), "`weight` needs a value");
                }
            }
            _ => {
                cx.no_block(n);
                init = Some(0);
                for a in &n.args {
                    if a.text == "overwrite" {
                        overwrite = true;
                    } else if let Some(v) = cx.int(n, a, -254, 254) {
                        init = Some(v);
                    }
                }
            }
        }
    }
    let Some(mut f) = file else {
        cx.error_hint(node.span(), format!("track_file `{name}` has no `file`"), "file \"/path/to/file\"");
        return None;
    };
    f.init = init;
    f.overwrite = overwrite;
    t.file = Some(f);
    Some(t)
}

type RawGroup = (Node, Vec<Token>, Vec<TrackName>, Vec<TrackName>, Vec<TrackInterface>, bool);

fn sync_group(cx: &mut Cx<'_>, node: &Node, instances: &[&str]) -> Option<RawGroup> {
    block_name(cx, node)?;
    let mut members = Vec::new();
    let (mut scripts, mut files, mut ifaces) = (Vec::new(), Vec::new(), Vec::new());
    let mut tracking_weight = false;
    let mut has_group = false;
    for n in cx.block(node) {
        if instances.contains(&n.name()) && keywords::lookup(keywords::SYNC_GROUP, n.name()).is_none() {
            // keepalived's old syntax listed members directly in the group.
            cx.error_hint(
                n.span(),
                format!("instance `{}` listed directly in vrrp_sync_group", n.name()),
                "members go in a `group { … }` block (the old syntax is not accepted by keepalived 2 either)",
            );
            continue;
        }
        if !cx.known(n, keywords::SYNC_GROUP, "vrrp_sync_group") {
            continue;
        }
        match n.name() {
            "group" => {
                cx.extra(n, 0);
                has_group = true;
                for m in cx.block(n) {
                    cx.none(m);
                    cx.verbatim(m, false);
                    members.push(m.keyword.clone());
                }
            }
            "track_script" => {
                cx.extra(n, 0);
                for l in cx.block(n) {
                    scripts.extend(track_line(cx, l, 253));
                }
            }
            "track_file" => {
                cx.extra(n, 0);
                for l in cx.block(n) {
                    files.extend(track_line(cx, l, 254));
                }
            }
            "track_interface" => {
                cx.extra(n, 0);
                for l in cx.block(n) {
                    if let Some(t) = track_line(cx, l, 253) {
                        ifaces.push(TrackInterface {
                            interface: t.name.text,
                            weight: t.weight.unwrap_or(0),
                            reverse: t.reverse,
                        });
                    }
                }
            }
            "sync_group_tracking_weight" => {
                cx.none(n);
                tracking_weight = true;
            }
            // Notifies are read again by group_notify.
            _ => {}
        }
    }
    if !has_group {
        cx.error_hint(node.span(), "vrrp_sync_group without a `group` block", "group { VI_1 VI_2 }");
    }
    Some((node.clone(), members, scripts, files, ifaces, tracking_weight))
}

fn group_notify(cx: &mut Cx<'_>, node: &Node) -> Notify {
    let mut notify = Notify::default();
    for n in node.children() {
        match n.name() {
            "notify_master" => set_once(cx, n, &mut notify.master),
            "notify_backup" => set_once(cx, n, &mut notify.backup),
            "notify_fault" => set_once(cx, n, &mut notify.fault),
            "notify_stop" => set_once(cx, n, &mut notify.stop),
            "notify" => set_once(cx, n, &mut notify.generic),
            "notify_priority_changes" => notify.priority_changes = cx.flag(n),
            _ => {}
        }
    }
    notify
}

// ----- per-instance rules --------------------------------------------------------------

fn finish_instance(
    cx: &mut Cx<'_>,
    mut r: RawInstance,
    config: &Config,
    tracker_pos: &[usize],
    broken: &[String],
    iface_exists: IfaceCheck<'_>,
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
    } else if !iface_exists(&r.cfg.interface) {
        cx.error(r.interface_span, format!("vrrp_instance `{name}`: interface `{}` does not exist", r.cfg.interface));
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
    if let (Some((InitialState::Master, s)), Some(_)) = (r.state, r.nopreempt) {
        cx.error_hint(
            s,
            format!(
                "vrrp_instance `{name}` has both `state MASTER` and `nopreempt`; keepalived silently drops nopreempt"
            ),
            "use `state BACKUP` on every router that has nopreempt",
        );
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
        if let Some(dev) = v.dev.as_deref().filter(|d| !iface_exists(d)) {
            cx.error(*s, format!("interface `{dev}` of `{}` does not exist", v.addr));
        }
    }

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
    for t in r.scripts.iter().chain(&r.files) {
        let Some(idx) = config.trackers.iter().position(|x| x.name == t.name.text) else {
            if broken.contains(&t.name.text) {
                continue;
            }
            let what = if r.files.iter().any(|f| f.name == t.name) { "track_file" } else { "vrrp_script" };
            cx.error(t.name.span, format!("{what} `{}` is not defined", t.name.text));
            continue;
        };
        if tracker_pos.get(idx).is_some_and(|&p| p > t.pos) {
            // keepalived 2.2.7 resolves names while reading: a tracker
            // defined later is dropped ("track script … not found,
            // ignoring"), so the same file would elect differently.
            cx.error_hint(
                t.name.span,
                format!("`{}` is defined after this use; keepalived 2.2.7 ignores such a reference", t.name.text),
                "move its definition above the block that uses it",
            );
            continue;
        }
        let def = &config.trackers[idx];
        let kind_ok = matches!(
            (def.kind, r.files.iter().any(|f| f.name == t.name)),
            (TrackerKind::File, true) | (TrackerKind::Script { .. }, false)
        );
        if !kind_ok {
            cx.error(
                t.name.span,
                format!(
                    "`{}` is not a {}",
                    t.name.text,
                    if def.kind == TrackerKind::File { "vrrp_script" } else { "track_file" }
                ),
            );
            continue;
        }
        let weight = t.weight.unwrap_or(def.weight);
        // keepalived keeps the tracker's `reverse` when a line overrides the
        // weight.
        let reverse = t.reverse || def.reverse;
        r.cfg.track.push(TrackRef { tracker: TrackerId(idx as u16), weight, reverse });
    }
    for t in &r.cfg.track_interfaces {
        if !iface_exists(&t.interface) {
            cx.error(span, format!("vrrp_instance `{name}`: tracked interface `{}` does not exist", t.interface));
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

/// Duplicate VRID on one interface and family (§1.3), unless unicast peer
/// sets do not overlap or the multicast groups differ.
fn duplicate_vrids(cx: &mut Cx<'_>, config: &Config, spans: &[Span]) {
    let list = &config.instances;
    for (i, a) in list.iter().enumerate() {
        for (j, b) in list.iter().enumerate().skip(i + 1) {
            if a.vrid != b.vrid || a.interface != b.interface || a.family != b.family || a.vrid == 0 {
                continue;
            }
            let peers_overlap = a.unicast_peers.iter().any(|p| b.unicast_peers.iter().any(|q| q.addr == p.addr));
            let separate = if a.is_unicast() && b.is_unicast() {
                !peers_overlap
            } else {
                a.is_unicast() != b.is_unicast() || a.mcast_group != b.mcast_group
            };
            if !separate {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_seconds() {
        assert_eq!(parse_micros("1"), Some(1_000_000));
        assert_eq!(parse_micros("0.01"), Some(10_000));
        assert_eq!(parse_micros(".5"), Some(500_000));
        assert_eq!(parse_micros("3."), Some(3_000_000));
        assert_eq!(parse_micros("0.000001"), Some(1));
        assert_eq!(parse_micros("0.0000001"), None);
        assert_eq!(parse_micros("1e3"), None);
        assert_eq!(parse_micros("-1"), None);
        assert_eq!(parse_micros("."), None);
        assert_eq!(parse_micros(""), None);
        assert_eq!(parse_micros("99999999999999999999"), None);
    }
}
