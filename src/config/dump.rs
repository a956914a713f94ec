//! `vipd check --dump`: the effective configuration, every default filled
//! in, in keepalived syntax (so the output is itself a valid config).

use core::fmt::{self, Display, Write};

use super::model::*;
use crate::time::Duration;
use crate::wire::vrrp::{Auth, Version};

/// A duration as keepalived writes seconds ("1", "0.5"): written in place,
/// no String per use.
fn secs(d: Duration) -> Secs {
    Secs(d)
}

struct Secs(Duration);

impl Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.to_string();
        f.write_str(s.trim_end_matches('s'))
    }
}

fn quote_argv(argv: &[String]) -> String {
    // keepalived's shell-like quoting of each word, then the whole line as
    // one double-quoted string; built in one String.
    let mut joined = String::new();
    for (k, a) in argv.iter().enumerate() {
        if k > 0 {
            joined.push(' ');
        }
        if a.is_empty() || a.chars().any(|c| c.is_whitespace() || "'\"#!\\{}".contains(c)) {
            crate::config::lexer::push_single_quoted(&mut joined, a);
        } else {
            joined.push_str(a);
        }
    }
    let mut out = String::from("\"");
    for c in joined.chars() {
        if matches!(c, '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn user(u: Option<&ScriptUser>) -> User<'_> {
    User(u)
}

/// " USER GROUP", " USER" or nothing.
struct User<'a>(Option<&'a ScriptUser>);

impl Display for User<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ScriptUser { user, group: Some(g) }) => write!(f, " {user} {g}"),
            Some(ScriptUser { user, group: None }) => write!(f, " {user}"),
            None => Ok(()),
        }
    }
}

fn script(out: &mut String, indent: &str, kw: &str, s: Option<&Script>) {
    if let Some(s) = s {
        let _ = writeln!(out, "{indent}{kw} {}{}", quote_argv(&s.argv), user(s.user.as_ref()));
    }
}

fn notify(out: &mut String, indent: &str, n: &Notify) {
    script(out, indent, "notify_master", n.master.as_deref());
    script(out, indent, "notify_backup", n.backup.as_deref());
    script(out, indent, "notify_fault", n.fault.as_deref());
    script(out, indent, "notify_stop", n.stop.as_deref());
    script(out, indent, "notify_deleted", n.deleted.as_deref());
    script(out, indent, "notify", n.generic.as_deref());
    script(out, indent, "notify_master_rx_lower_pri", n.master_rx_lower_pri.as_deref());
    let _ = writeln!(out, "{indent}notify_priority_changes {}", on(n.priority_changes));
    if let Some(a) = n.smtp_alert {
        let _ = writeln!(out, "{indent}smtp_alert {}", on(a));
    }
}

/// The e-mail settings of `global_defs`, those set only.
fn mail(out: &mut String, m: &Mail) {
    if !m.to.is_empty() {
        out.push_str("    notification_email {\n");
        for t in &m.to {
            let _ = writeln!(out, "        {t}");
        }
        out.push_str("    }\n");
    }
    if let Some(f) = &m.from {
        let _ = writeln!(out, "    notification_email_from {f}");
    }
    if let Some(s) = m.server {
        let _ = writeln!(out, "    smtp_server {} {}", s.ip(), s.port());
    }
    if let Some(h) = &m.helo {
        let _ = writeln!(out, "    smtp_helo_name {h}");
    }
    let _ = writeln!(out, "    smtp_connect_timeout {}", secs(m.connect_timeout));
    for (kw, v) in [("smtp_alert", m.alert), ("smtp_alert_vrrp", m.alert_vrrp)] {
        if let Some(v) = v {
            let _ = writeln!(out, "    {kw} {}", on(v));
        }
    }
    if m.no_faults {
        out.push_str("    no_email_faults\n");
    }
}

fn on(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// One route line, every value written out (`table`, `scope`,
/// `protocol`), so it reads back the same.
fn route(out: &mut String, indent: &str, r: &RouteConfig) {
    let kind = match r.kind {
        6 => "blackhole ",
        7 => "unreachable ",
        8 => "prohibit ",
        9 => "throw ",
        _ => "",
    };
    let _ = write!(out, "{indent}{kind}{}/{}", r.dst, r.dst_len);
    if let Some(a) = r.src {
        let _ = write!(out, " src {a}");
    }
    if let Some(a) = r.via {
        let _ = write!(out, " via {a}");
    }
    if let Some(d) = &r.dev {
        let _ = write!(out, " dev {d}");
    }
    let _ = write!(out, " scope {} table {}", r.scope, r.table);
    if let Some(m) = r.metric {
        let _ = write!(out, " metric {m}");
    }
    // Only an untracked route keeps another protocol (keepalived's rule).
    if r.protocol != 18 {
        let _ = write!(out, " protocol {} no_track", r.protocol);
    }
    out.push('\n');
}

/// One rule line, its preference and family written out.
fn rule(out: &mut String, indent: &str, r: &RuleConfig) {
    let _ = write!(out, "{indent}{}", if r.family == Family::V6 { "inet6" } else { "inet" });
    if r.invert {
        out.push_str(" not");
    }
    if let Some((a, l)) = r.from {
        let _ = write!(out, " from {a}/{l}");
    }
    if let Some((a, l)) = r.to {
        let _ = write!(out, " to {a}/{l}");
    }
    match r.action {
        6 => out.push_str(" blackhole"),
        7 => out.push_str(" unreachable"),
        8 => out.push_str(" prohibit"),
        _ => {
            let _ = write!(out, " table {}", r.table);
        }
    }
    let _ = write!(out, " priority {}", r.priority);
    if let Some(d) = &r.iif {
        let _ = write!(out, " iif {d}");
    }
    if let Some(d) = &r.oif {
        let _ = write!(out, " oif {d}");
    }
    if let Some(m) = r.fwmark {
        let _ = write!(out, " fwmark {m:#x}");
        if let Some(k) = r.fwmask {
            let _ = write!(out, "/{k:#x}");
        }
    }
    if r.protocol != 18 {
        if r.protocol != 0 {
            let _ = write!(out, " protocol {}", r.protocol);
        }
        out.push_str(" no_track");
    }
    out.push('\n');
}

/// `dev` is where an address without its own goes: the instance's
/// interface, or nothing to write with `use_vmac` (its macvlan does not
/// exist before the daemon creates it, so naming it would not check).
fn vip(out: &mut String, v: &VipConfig, dev: Option<&str>) {
    let _ = write!(out, "        {}/{}", v.addr, v.prefix);
    if let Some(d) = v.dev.as_deref().or(dev) {
        let _ = write!(out, " dev {d}");
    }
    if let Some(b) = v.broadcast {
        let _ = write!(out, " brd {b}");
    }
    if v.addr.is_ipv4() {
        let scope = match v.scope {
            0 => "global",
            200 => "site",
            253 => "link",
            254 => "host",
            255 => "nowhere",
            n => {
                let _ = write!(out, " scope {n}");
                ""
            }
        };
        if !scope.is_empty() {
            out.push_str(" scope ");
            out.push_str(scope);
        }
    }
    if let Some(l) = &v.label {
        let _ = write!(out, " label {l}");
    }
    if let Some(p) = v.peer {
        let _ = write!(out, " peer {p}");
    }
    if v.addr.is_ipv6() {
        match v.preferred_lft {
            Some(n) => {
                let _ = write!(out, " preferred_lft {n}");
            }
            None => out.push_str(" preferred_lft forever"),
        }
        if !v.nodad {
            out.push_str(" -nodad");
        }
    }
    for (set, word) in [
        (v.home, "home"),
        (v.mngtmpaddr, "mngtmpaddr"),
        (v.noprefixroute, "noprefixroute"),
        (v.autojoin, "autojoin"),
        (v.no_track, "no_track"),
    ] {
        if set {
            let _ = write!(out, " {word}");
        }
    }
    out.push('\n');
}

/// Renders `config` with every value explicit.
pub fn dump(config: &Config) -> String {
    let mut out = String::new();
    let g = &config.globals;
    out.push_str("global_defs {\n");
    if let Some(r) = &g.router_id {
        let _ = writeln!(out, "    router_id {r}");
    }
    if let Some(u) = &g.script_user {
        let _ = writeln!(out, "    script_user{}", user(Some(u)));
    }
    if g.enable_script_security {
        out.push_str("    enable_script_security\n");
    }
    for (kw, f) in [("notify_fifo", &g.notify_fifo), ("vrrp_notify_fifo", &g.vrrp_notify_fifo)] {
        if let Some(f) = f {
            let _ = writeln!(out, "    {kw} {}{}", f.path.display(), user(f.user.as_ref()));
        }
    }
    script(&mut out, "    ", "notify_fifo_script", g.notify_fifo_script.as_ref());
    script(&mut out, "    ", "vrrp_notify_fifo_script", g.vrrp_notify_fifo_script.as_ref());
    let _ = writeln!(out, "    vrrp_mcast_group4 {}", g.mcast_group4);
    let _ = writeln!(out, "    vrrp_mcast_group6 {}", g.mcast_group6);
    if let Some(d) = &g.default_interface {
        let _ = writeln!(out, "    default_interface {d}");
    }
    // keepalived 2.2.7 refuses an interval of 0, its default: leave it out.
    if !g.garp_interval.is_zero() {
        let _ = writeln!(out, "    vrrp_garp_interval {}", secs(g.garp_interval));
    }
    if !g.gna_interval.is_zero() {
        let _ = writeln!(out, "    vrrp_gna_interval {}", secs(g.gna_interval));
    }
    let _ = writeln!(out, "    vrrp_startup_delay {}", secs(config.startup_delay));
    if let Some(p) = g.sched.rt_priority {
        let _ = writeln!(out, "    vrrp_rt_priority {p}");
    }
    if let Some(n) = g.sched.nice {
        let _ = writeln!(out, "    vrrp_priority {n}");
    }
    let _ = writeln!(out, "    vrrp_rlimit_rttime {}", g.sched.rlimit_rttime_us);
    // Only when set: the default would make every dump keepalived-unreadable.
    if g.notify_timeout != NOTIFY_TIMEOUT_DEFAULT {
        let _ = writeln!(out, "    notify_timeout {}", secs(g.notify_timeout));
    }
    if g.sched.no_swap {
        let _ = writeln!(out, "    vrrp_no_swap");
    }
    mail(&mut out, &g.mail);
    out.push_str("}\n");

    if !config.static_addresses.is_empty() {
        out.push_str("\nstatic_ipaddress {\n");
        let dev = g.default_interface.as_deref().unwrap_or("eth0");
        for v in &config.static_addresses {
            vip(&mut out, v, Some(dev));
        }
        out.push_str("}\n");
    }
    if !config.static_routes.is_empty() {
        out.push_str("\nstatic_routes {\n");
        config.static_routes.iter().for_each(|r| route(&mut out, "    ", r));
        out.push_str("}\n");
    }
    if !config.static_rules.is_empty() {
        out.push_str("\nstatic_rules {\n");
        config.static_rules.iter().for_each(|r| rule(&mut out, "    ", r));
        out.push_str("}\n");
    }

    for t in &config.trackers {
        match (&t.script, &t.file, t.kind) {
            (Some(s), _, TrackerKind::Script { rise, fall, init_fail }) => {
                let _ = writeln!(out, "\nvrrp_script {} {{", t.name);
                let _ = writeln!(out, "    script {}", quote_argv(&s.script.argv));
                let _ = writeln!(out, "    interval {}", secs(s.interval));
                let _ = writeln!(out, "    timeout {}", secs(s.timeout));
                let _ = writeln!(out, "    weight {}{}", t.weight, if t.reverse { " reverse" } else { "" });
                let _ = writeln!(out, "    rise {rise}\n    fall {fall}");
                if let Some(u) = &s.script.user {
                    let _ = writeln!(out, "    user{}", user(Some(u)));
                }
                if init_fail {
                    out.push_str("    init_fail\n");
                }
                out.push_str("}\n");
            }
            (_, _, TrackerKind::Script { rise, fall, init_fail }) if t.probe.is_some() => {
                let Some(p) = &t.probe else { continue };
                let _ = writeln!(out, "\nvrrp_probe {} {{", t.name);
                let _ = writeln!(out, "    {}", p.target);
                if let Some(e) = p.expect {
                    let _ = writeln!(out, "    expect {e}");
                }
                let _ = writeln!(out, "    interval {}\n    timeout {}", secs(p.interval), secs(p.timeout));
                let _ = writeln!(out, "    weight {}{}", t.weight, if t.reverse { " reverse" } else { "" });
                let _ = writeln!(out, "    rise {rise}\n    fall {fall}");
                if init_fail {
                    out.push_str("    init_fail\n");
                }
                out.push_str("}\n");
            }
            (_, Some(f), _) => {
                let _ = writeln!(out, "\ntrack_file {} {{", t.name);
                let _ = writeln!(out, "    file \"{}\"", f.path.display());
                let _ = writeln!(out, "    weight {}{}", t.weight, if t.reverse { " reverse" } else { "" });
                if let Some(v) = f.init {
                    let _ = writeln!(out, "    init_file {v}{}", if f.overwrite { " overwrite" } else { "" });
                }
                out.push_str("}\n");
            }
            (_, _, TrackerKind::Process) => {
                if let Some(p) = &t.process {
                    track_process(&mut out, t, p);
                }
            }
            _ => {}
        }
    }

    for g in &config.sync_groups {
        let _ = writeln!(out, "\nvrrp_sync_group {} {{\n    group {{", g.name);
        for &m in &g.members {
            if let Some(i) = config.instances.get(m) {
                let _ = writeln!(out, "        {}", i.name);
            }
        }
        out.push_str("    }\n");
        // The group's trackers are written into each member. A member
        // with a weight passed validation only with this switch, and
        // without weights it changes nothing, so it is written exactly
        // when some member has one.
        let weighted = g
            .members
            .iter()
            .filter_map(|&m| config.instances.get(m))
            .any(|i| i.track.iter().any(|t| t.weight != 0) || i.track_interfaces.iter().any(|t| t.weight != 0));
        if weighted {
            out.push_str("    sync_group_tracking_weight\n");
        }
        notify(&mut out, "    ", &g.notify);
        out.push_str("}\n");
    }

    for i in &config.instances {
        instance(&mut out, i, config);
    }
    out
}

fn instance(out: &mut String, i: &InstanceConfig, config: &Config) {
    let _ = writeln!(out, "\nvrrp_instance {} {{", i.name);
    let state = if i.initial_state == InitialState::Master { "MASTER" } else { "BACKUP" };
    let _ = writeln!(out, "    state {state}");
    let _ = writeln!(out, "    interface {}", i.interface);
    if let Some(v) = &i.vmac {
        let _ = writeln!(out, "    use_vmac {}", v.name);
        if v.xmit_base {
            out.push_str("    vmac_xmit_base\n");
        }
    }
    let _ = writeln!(out, "    virtual_router_id {}", i.vrid);
    let _ = writeln!(out, "    version {}", if i.version == Version::V2 { 2 } else { 3 });
    let _ = writeln!(out, "    priority {}", i.priority);
    let _ = writeln!(out, "    advert_int {}", secs(i.advert_int));
    out.push_str(if i.preempt { "    preempt\n" } else { "    nopreempt\n" });
    let _ = writeln!(out, "    preempt_delay {}", secs(i.preempt_delay));
    if let Auth::Simple(p) = i.auth {
        let pass: String = p.iter().take_while(|b| **b != 0).map(|b| char::from(*b)).collect();
        let _ = writeln!(out, "    authentication {{\n        auth_type PASS\n        auth_pass \"{pass}\"\n    }}");
    }
    if let Some(a) = i.src_addr {
        let kw = if i.is_unicast() { "unicast_src_ip" } else { "mcast_src_ip" };
        let _ = writeln!(out, "    {kw} {a}");
    }
    if i.is_unicast() {
        out.push_str("    unicast_peer {\n");
        for p in &i.unicast_peers {
            let _ = writeln!(out, "        {} min_ttl {} max_ttl {}", p.addr, p.min_ttl, p.max_ttl);
        }
        out.push_str("    }\n");
        if let Some(t) = i.unicast_ttl {
            let _ = writeln!(out, "    unicast_ttl {t}");
        }
    } else if let Some(g) = i.mcast_group {
        let _ = writeln!(out, "    mcast_dst_ip {g}");
    }
    // Switches keepalived turns on whatever their argument: bare, or absent.
    if i.check_unicast_src {
        out.push_str("    check_unicast_src\n");
    }
    if i.accept_any_unicast_src {
        out.push_str("    accept_any_unicast_src\n");
    }
    if !i.peer_silent_after.is_zero() {
        let _ = writeln!(out, "    peer_silent_after {}", secs(i.peer_silent_after));
    }
    if i.track_src_ip {
        out.push_str("    track_src_ip\n");
    }
    for (kw, list) in [("virtual_ipaddress", &i.vips), ("virtual_ipaddress_excluded", &i.excluded_vips)] {
        if !list.is_empty() {
            let _ = writeln!(out, "    {kw} {{");
            let home = if i.vmac.is_some() { None } else { Some(i.interface.as_str()) };
            for v in list {
                vip(out, v, home);
            }
            out.push_str("    }\n");
        }
    }
    if !i.routes.is_empty() {
        out.push_str("    virtual_routes {\n");
        i.routes.iter().for_each(|r| route(out, "        ", r));
        out.push_str("    }\n");
    }
    if !i.rules.is_empty() {
        out.push_str("    virtual_rules {\n");
        i.rules.iter().for_each(|r| rule(out, "        ", r));
        out.push_str("    }\n");
    }
    if !i.track_interfaces.is_empty() {
        out.push_str("    track_interface {\n");
        for t in &i.track_interfaces {
            let _ =
                writeln!(out, "        {} weight {}{}", t.interface, t.weight, if t.reverse { " reverse" } else { "" });
        }
        out.push_str("    }\n");
    }
    for (kw, kind) in
        [("track_script", None), ("track_file", Some(TrackerKind::File)), ("track_process", Some(TrackerKind::Process))]
    {
        let refs: Vec<_> = i
            .track
            .iter()
            .filter_map(|r| config.trackers.get(usize::from(r.tracker.0)).map(|t| (r, t)))
            .filter(|(_, t)| match kind {
                Some(k) => t.kind == k,
                None => matches!(t.kind, TrackerKind::Script { .. }),
            })
            .collect();
        if !refs.is_empty() {
            let _ = writeln!(out, "    {kw} {{");
            for (r, t) in refs {
                let _ =
                    writeln!(out, "        {} weight {}{}", t.name, r.weight, if r.reverse { " reverse" } else { "" });
            }
            out.push_str("    }\n");
        }
    }
    if i.dont_track_primary {
        out.push_str("    dont_track_primary\n");
    }
    notify(out, "    ", &i.notify);
    let gc = &i.garp;
    let _ = writeln!(out, "    garp_master_delay {}", secs(gc.master_delay));
    let _ = writeln!(out, "    garp_master_repeat {}", gc.master_repeat);
    let _ = writeln!(out, "    garp_master_refresh {}", secs(gc.master_refresh));
    let _ = writeln!(out, "    garp_master_refresh_repeat {}", gc.master_refresh_repeat);
    let _ = writeln!(out, "    garp_lower_prio_delay {}", secs(gc.lower_prio_delay));
    let _ = writeln!(out, "    garp_lower_prio_repeat {}", gc.lower_prio_repeat);
    let _ = writeln!(out, "    down_timer_adverts {}", i.down_timer_adverts);
    let _ = writeln!(out, "    lower_prio_no_advert {}", on(i.lower_prio_no_advert));
    let _ = writeln!(out, "    higher_prio_send_advert {}", on(i.higher_prio_send_advert));
    if i.v3_ipv4_checksum == crate::wire::vrrp::V3Ipv4Checksum::NoPseudoHeader {
        out.push_str("    v3_checksum_as_v2\n");
    }
    if i.skip_check_adv_addr {
        out.push_str("    skip_check_adv_addr\n");
    }
    if i.strict {
        out.push_str("    strict_mode\n");
    }
    out.push_str("    accept\n}\n");
}

/// A `vrrp_track_process` block as keepalived 2.2.7 reads it back.
fn track_process(out: &mut String, t: &TrackerConfig, p: &TrackProcess) {
    let _ = writeln!(out, "\nvrrp_track_process {} {{", t.name);
    out.push_str("    process");
    let params = p.params.split(|&b| b == 0).filter(|w| !w.is_empty());
    // keepalived takes each quoted string as one word.
    for w in core::iter::once(p.process.as_bytes()).chain(params) {
        let _ = write!(out, " \"{}\"", String::from_utf8_lossy(w));
    }
    out.push('\n');
    match p.param_match {
        ParamMatch::None => {}
        ParamMatch::Exact => out.push_str("    param_match\n"),
        ParamMatch::Partial => out.push_str("    param_match partial\n"),
        ParamMatch::Initial => out.push_str("    param_match initial\n"),
    }
    if p.full_command {
        out.push_str("    full_command\n");
    }
    let _ = writeln!(out, "    weight {}{}", t.weight, if t.reverse { " reverse" } else { "" });
    if p.quorum_max == 0 {
        out.push_str("    quorum_max 0\n");
    } else {
        let _ = writeln!(out, "    quorum {}", p.quorum);
        if p.quorum_max != u32::MAX {
            let _ = writeln!(out, "    quorum_max {}", p.quorum_max);
        }
    }
    if p.fork_delay > Duration::ZERO {
        let _ = writeln!(out, "    fork_delay {}", secs(p.fork_delay));
    }
    if p.terminate_delay > Duration::ZERO {
        let _ = writeln!(out, "    terminate_delay {}", secs(p.terminate_delay));
    }
    out.push_str("}\n");
}
