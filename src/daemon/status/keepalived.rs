//! keepalived 2.2.7's data file (SIGUSR1, `keepalived.data`) and stats file
//! (SIGUSR2, `keepalived.stats`), rendered from a [`Snapshot`], so tools
//! that read keepalived's files (mehdy/keepalived-exporter above all) read
//! vipd's unchanged. Pure: text in, text out; the daemon writes it.
//!
//! The layout is keepalived 2.2.7's as it writes it (captured from the real
//! program: one-space section items, three-space fields, five-space list
//! entries, `key = value` in the data file and `key: value` in the stats
//! file). Every field keepalived-exporter reads is here and parses the same.
//! Lines about things vipd does not have are written with the value
//! keepalived gives when the feature is not in use (`Promote_secondaries =
//! disabled`, `Number of config faults = 0`:
//! vipd does not run a configuration with errors). Left out rather than
//! invented: keepalived's process internals (global definitions, socket
//! pool, file descriptors, interface table, a script's `Result` counter and
//! init state), notify script lines, and a tracker's own default weight
//! (vipd keeps only the weights instances use). Check scripts, tracked
//! files and tracked processes each have their section. The unit tests compare
//! with files keepalived 2.2.7 wrote (`tests/data/keepalived-files`).

use core::fmt::{Display, Write as _};
use std::time::Duration;

use super::model::*;
use crate::config::{Family, InitialState, ParamMatch, TrackerKind, VipConfig};
use crate::core::{State, TrackStatus};
use crate::wire::WireError;
use crate::wire::vrrp::{Auth, Version};

/// keepalived's data file: the VRRP topology, sync groups, check scripts
/// and tracked files.
pub fn data(s: &Snapshot) -> String {
    let mut o = String::with_capacity(1024 + 2048 * s.instances.len());
    o.push_str("------< VRRP Topology >------\n");
    for i in &s.instances {
        instance(&mut o, s, i);
    }
    if !s.groups.is_empty() {
        o.push_str("------< VRRP Sync groups >------\n");
        for g in &s.groups {
            group(&mut o, s, g);
        }
    }
    for sec in [Section::Scripts, Section::Files, Section::Processes] {
        let mut of = s.trackers.iter().enumerate().filter(|(_, t)| Section::of(t.kind) == sec).peekable();
        if of.peek().is_none() {
            continue;
        }
        o.push_str(sec.title());
        for (k, t) in of {
            match sec {
                Section::Scripts => script(&mut o, s, k, t),
                Section::Files => track_file(&mut o, s, k, t),
                Section::Processes => track_process(&mut o, s, k, t),
            }
        }
    }
    o
}

/// The data file's tracker sections, in keepalived's order (which is also
/// the order of an instance's `Tracked …` lists).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Scripts,
    Files,
    Processes,
}

impl Section {
    fn of(kind: TrackerKind) -> Section {
        match kind {
            TrackerKind::Script { .. } => Section::Scripts,
            TrackerKind::File => Section::Files,
            TrackerKind::Process => Section::Processes,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Section::Scripts => "------< VRRP Scripts >------\n",
            Section::Files => "------< VRRP Track files >------\n",
            Section::Processes => "------< VRRP Track processes >------\n",
        }
    }

    /// The heading of an instance's list, and whether its lines carry a
    /// comma after the name (keepalived writes scripts without one).
    fn tracked(self) -> (&'static str, &'static str) {
        match self {
            Section::Scripts => ("   Tracked scripts :\n", ""),
            Section::Files => ("   Tracked files :\n", ","),
            Section::Processes => ("   Tracked processes :\n", ","),
        }
    }
}

/// keepalived's stats file: per instance, the counters of RFC 2787 /
/// RFC 6527 that keepalived keeps, in its order and words.
pub fn stats(s: &Snapshot) -> String {
    let mut o = String::with_capacity(400 * s.instances.len());
    for i in &s.instances {
        let c = &i.counters;
        let e = |w: WireError| c.error(w);
        let _ = write!(
            o,
            "VRRP Instance: {}\n  Advertisements:\n    Received: {}\n    Sent: {}\n  Became master: {}\n  \
             Released master: {}\n  Packet Errors:\n    Length: {}\n    TTL: {}\n    Invalid Type: {}\n    \
             Advertisement Interval: {}\n    Address List: {}\n  Authentication Errors:\n    Invalid Type: {}\n    \
             Type Mismatch: {}\n    Failure: {}\n  Priority Zero:\n    Received: {}\n    Sent: {}\n",
            i.cfg.name,
            c.adverts_rcvd,
            c.adverts_sent,
            c.master_transitions,
            c.release_master,
            e(WireError::PacketLength),
            e(WireError::IpTtl),
            e(WireError::InvalidType),
            e(WireError::Interval),
            e(WireError::AddressList),
            e(WireError::InvalidAuthType),
            e(WireError::AuthTypeMismatch),
            e(WireError::AuthFailure),
            c.pri_zero_rcvd,
            c.pri_zero_sent,
        );
    }
    o
}

/// One `   LABEL = VALUE` line; one call per line keeps the many lines of
/// the data file small in the binary.
fn kv(o: &mut String, label: &str, value: &dyn Display) {
    let _ = writeln!(o, "   {label} = {value}");
}

fn on_off(b: bool) -> &'static str {
    if b { "enabled" } else { "disabled" }
}

/// Is this reference to a tracker failing now? (A reversed tracker fails
/// while it is up.)
fn failing(status: TrackStatus, reverse: bool) -> bool {
    matches!((status, reverse), (TrackStatus::Down, false) | (TrackStatus::Up, true))
}

fn instance(o: &mut String, s: &Snapshot, i: &InstanceStatus) {
    let c = &i.cfg;
    let v3 = c.version == Version::V3;
    let _ = writeln!(o, " VRRP Instance = {}", c.name);
    kv(o, "VRRP Version", &if v3 { 3 } else { 2 });
    if let Some(g) = &i.group {
        kv(o, "Sync group", &g);
    }
    if c.family == Family::V6 {
        o.push_str("   Using Native IPv6\n");
    }
    kv(o, "State", &i.state.name());
    if i.state == State::Backup {
        // keepalived writes these for every backup (garbage before the
        // first advert); "(none)" is its word for an address it lacks.
        let m = i.master.as_ref().filter(|m| !m.is_self);
        match m {
            Some(m) => {
                kv(o, "Master router", &m.address);
            }
            None => o.push_str("   Master router = (none)\n"),
        }
        kv(o, "Master priority", &m.map_or(0, |m| m.priority));
        if v3 {
            let int = m.map_or(c.advert_int.to_std(), |m| m.advert_int);
            let cs = (int.as_micros() + 5_000) / 10_000;
            let _ = writeln!(o, "   Master advert int = {}.{:02} sec", cs / 100, cs % 100);
        }
    }
    // keepalived lists its flags below the line; the sync-group one has no
    // words (it writes "Flags:" alone).
    if c.is_unicast() {
        o.push_str("   Flags:\n     Using unicast\n");
    } else if i.group.is_some() {
        o.push_str("   Flags:\n");
    } else {
        o.push_str("   Flags: none\n");
    }
    let want = match i.state {
        State::Init => match c.initial_state {
            InitialState::Master => "MASTER",
            InitialState::Backup => "BACKUP",
        },
        st => st.name(),
    };
    kv(o, "Wantstate", &want);
    o.push_str("   Number of config faults = 0\n");
    kv(o, "Number of interface and track script faults", &faults(s, i));
    let init = i
        .tracks
        .iter()
        .filter_map(|t| s.trackers.get(t.tracker))
        .filter(|t| matches!(t.kind, TrackerKind::Script { .. }) && t.status == TrackStatus::Unknown)
        .count();
    kv(o, "Number of track scripts init", &init);
    let now_us = s.taken_unix.saturating_mul(1_000_000).saturating_add(u64::from(s.taken_subsec_us));
    // An instance not started yet has been in INIT since the daemon started.
    let since = now_us.saturating_sub(micros(i.in_state.min(s.uptime)));
    kv(o, "Last transition", &Stamp(since, s.utc_offset_s));
    match i.next_timer {
        Some(t) => {
            kv(o, "Read timeout", &Stamp(now_us.saturating_add(micros(t)), s.utc_offset_s));
        }
        None => o.push_str("   Read timeout = DISABLED\n"),
    }
    let master_int = i.master.as_ref().map_or(c.advert_int.to_std(), |m| m.advert_int);
    let down = crate::core::timing::master_down(
        c.version,
        i.effective_priority,
        crate::time::Duration::from_micros(micros(master_int)),
        c.down_timer_adverts,
    );
    let _ = writeln!(o, "   Master down timer = {} usecs", down.as_micros());
    kv(o, "Interface", &c.interface);
    if c.dont_track_primary {
        o.push_str("   VRRP interface tracking disabled\n");
    }
    if c.skip_check_adv_addr {
        o.push_str("   Skip checking advert IP addresses\n");
    }
    if c.strict {
        o.push_str("   Enforcing strict VRRP compliance\n");
    }
    match (i.source, c.src_addr.is_some()) {
        (Some(a), true) => {
            let _ = writeln!(o, "   Using src_ip = {a} (from configuration)");
        }
        (Some(a), false) => {
            kv(o, "Using src_ip", &a);
        }
        (None, _) => o.push_str("   Using src_ip = (none)\n"),
    }
    if !c.is_unicast() {
        match c.family {
            Family::V4 => {
                let _ = writeln!(o, "   Multicast address {}", c.group_addr());
            }
            Family::V6 => {
                let _ = writeln!(o, "   Multicast address {}, ifindex {}", c.group_addr(), i.ifindex);
            }
        }
    }
    let g = &c.garp;
    kv(o, "Gratuitous ARP delay", &g.master_delay.to_std().as_secs());
    kv(o, "Gratuitous ARP repeat", &g.master_repeat);
    kv(o, "Gratuitous ARP refresh", &g.master_refresh.to_std().as_secs());
    kv(o, "Gratuitous ARP refresh repeat", &g.master_refresh_repeat);
    kv(o, "Gratuitous ARP lower priority delay", &g.lower_prio_delay.to_std().as_secs());
    kv(o, "Gratuitous ARP lower priority repeat", &g.lower_prio_repeat);
    kv(o, "Down timer adverts", &c.down_timer_adverts);
    kv(o, "Send advert after receive lower priority advert", &!c.lower_prio_no_advert);
    kv(o, "Send advert after receive higher priority advert", &c.higher_prio_send_advert);
    kv(o, "Virtual Router ID", &c.vrid);
    kv(o, "Priority", &i.base_priority);
    kv(o, "Effective priority", &i.effective_priority);
    kv(o, "Total priority", &i.effective_priority);
    if v3 {
        let _ = writeln!(o, "   Advert interval = {} milli-sec", c.advert_int.as_millis());
        if i.state == State::Backup {
            let _ = writeln!(o, "   Master advert interval = {} milli-sec", master_int.as_millis());
        }
    } else {
        let _ = writeln!(o, "   Advert interval = {} sec", c.advert_int.to_std().as_secs());
    }
    kv(o, "Accept", &on_off(c.accept));
    kv(o, "Preempt", &on_off(c.preempt));
    if !c.preempt_delay.is_zero() {
        let _ = writeln!(o, "   Preempt delay = {} secs", Secs(c.preempt_delay.to_std()));
    }
    o.push_str("   Promote_secondaries = disabled\n");
    if !v3 {
        match c.auth {
            Auth::None => o.push_str("   Authentication type = none\n"),
            Auth::Ah => o.push_str("   Authentication type = IPSEC_AH\n"),
            Auth::Simple(pass) => {
                // keepalived writes the password; the file is 0600 like its.
                let len = pass.iter().position(|&b| b == 0).unwrap_or(pass.len());
                let _ = write!(
                    o,
                    "   Authentication type = SIMPLE_PASSWORD\n   Password = {}\n",
                    String::from_utf8_lossy(&pass[..len])
                );
            }
        }
    }
    // `vips` lists the VIPs then the excluded ones, as the configuration
    // does; the options to print are in the configuration.
    let all = i.vips.iter().zip(c.vips.iter().chain(&c.excluded_vips));
    let (vips, excluded): (Vec<_>, Vec<_>) = all.partition(|(v, _)| !v.excluded);
    if !vips.is_empty() {
        let _ = writeln!(o, "   Virtual IP ({}):", vips.len());
        for (v, vc) in vips {
            vip(o, v, vc);
        }
    }
    if !excluded.is_empty() {
        o.push_str("   Virtual IP Excluded :\n");
        for (v, vc) in excluded {
            vip(o, v, vc);
        }
    }
    if c.is_unicast() {
        match (c.unicast_ttl, c.family) {
            (Some(t), _) => {
                kv(o, "Unicast TTL", &t);
            }
            (None, Family::V4) => o.push_str("   Unicast TTL = 255\n"),
            // The kernel's default hop limit: vipd does not know it.
            (None, Family::V6) => {}
        }
        let checks = c.check_unicast_src || !c.accept_any_unicast_src;
        let _ = writeln!(o, "   Check unicast src : {}", if checks { "yes" } else { "no" });
        o.push_str("   Unicast Peer :\n");
        for p in &c.unicast_peers {
            let _ = writeln!(o, "     {} min_ttl {} max_ttl {}", p.addr, p.min_ttl, p.max_ttl);
        }
        o.push_str("   Unicast checksum compatibility = no\n");
    }
    if !c.track_interfaces.is_empty() {
        o.push_str("   Tracked interfaces :\n");
        for t in &c.track_interfaces {
            let _ = writeln!(o, "     {} weight {}{}", t.interface, t.weight, rev(t.reverse));
        }
    }
    for sec in [Section::Scripts, Section::Files, Section::Processes] {
        let mut uses = i
            .tracks
            .iter()
            .filter_map(|u| {
                let t = s.trackers.get(u.tracker)?;
                (Section::of(t.kind) == sec).then_some((t, u))
            })
            .peekable();
        if uses.peek().is_none() {
            continue;
        }
        let (title, comma) = sec.tracked();
        o.push_str(title);
        for (t, u) in uses {
            let _ = writeln!(o, "     {}{comma} weight {}{}", t.name, u.weight, rev(u.reverse));
        }
    }
    let smtp = s.smtp_alerts.instances.contains(&c.name);
    let _ = writeln!(o, "   Using smtp notification = {}", if smtp { "yes" } else { "no" });
    kv(o, "Notify deleted", &if c.notify.report_deleted { "Deleted" } else { "Fault" });
    kv(o, "Notify priority changes", &c.notify.priority_changes);
}

fn rev(reverse: bool) -> &'static str {
    if reverse { " reverse" } else { "" }
}

/// keepalived's `num_script_if_fault`: what holds the instance in FAULT
/// now (its interface, tracked interfaces and trackers of weight 0).
fn faults(s: &Snapshot, i: &InstanceStatus) -> usize {
    let own = i.interfaces.first().is_some_and(|f| !f.up) && !i.cfg.dont_track_primary;
    let ifaces = i.interfaces.iter().skip(1).filter(|f| f.weight == 0 && !f.up).count();
    let trackers = i
        .tracks
        .iter()
        .filter(|u| u.weight == 0 && s.trackers.get(u.tracker).is_some_and(|t| failing(t.status, u.reverse)))
        .count();
    usize::from(own) + ifaces + trackers
}

/// One address, as keepalived lists it: the prefix only when it is not a
/// host's, then `dev`, `scope`, the options given, and `set` when it is on
/// the interface.
fn vip(o: &mut String, v: &VipStatus, c: &VipConfig) {
    let host = if v.addr.is_ipv6() { 128 } else { 32 };
    let _ = write!(o, "     {}", v.addr);
    if v.prefix != host && c.peer.is_none() {
        let _ = write!(o, "/{}", v.prefix);
    }
    if let Some(b) = c.broadcast {
        let _ = write!(o, " brd {b}");
    }
    let _ = write!(o, " dev {} scope {}", v.interface, scope(c.scope));
    if let Some(p) = c.peer {
        let _ = write!(o, " peer {p}/{}", v.prefix);
    }
    if let Some(l) = &c.label {
        let _ = write!(o, " label {l}");
    }
    if v.addr.is_ipv6() {
        if !c.nodad {
            o.push_str(" -nodad");
        }
        for (on, word) in [(c.home, " home"), (c.mngtmpaddr, " mngtmpaddr"), (c.noprefixroute, " noprefixroute")] {
            if on {
                o.push_str(word);
            }
        }
        if c.autojoin {
            o.push_str(" autojoin");
        }
    }
    if c.no_track {
        o.push_str(" no_track");
    }
    if v.addr.is_ipv6() {
        match c.preferred_lft {
            Some(0) => o.push_str(" deprecated"),
            Some(n) => {
                let _ = write!(o, " preferred_lft {n}");
            }
            None => o.push_str(" preferred_lft forever"),
        }
    }
    o.push_str(if v.held { " set\n" } else { "\n" });
}

/// rtnetlink scope names, as `ip` and keepalived write them.
fn scope(n: u8) -> ScopeName {
    ScopeName(n)
}

struct ScopeName(u8);

impl core::fmt::Display for ScopeName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            0 => f.write_str("global"),
            200 => f.write_str("site"),
            253 => f.write_str("link"),
            254 => f.write_str("host"),
            255 => f.write_str("nowhere"),
            n => write!(f, "{n}"),
        }
    }
}

fn group(o: &mut String, s: &Snapshot, g: &GroupStatus) {
    let state = g.state.map_or("INIT", |st| st.name());
    let members = || s.instances.iter().filter(|i| g.members.contains(&i.cfg.name));
    let fault = members().filter(|i| i.state == State::Fault).count();
    let init = members().filter(|i| i.state == State::Init).count();
    let _ = writeln!(o, " VRRP Sync Group = {}, {state}", g.name);
    let _ = writeln!(o, "   Num member fault {fault}, num member init {init}");
    o.push_str("   VRRP member instances :\n");
    for m in &g.members {
        let _ = writeln!(o, "     {m}");
    }
    let smtp = s.smtp_alerts.groups.contains(&g.name);
    let _ = writeln!(o, "   Using smtp notification = {}", if smtp { "yes" } else { "no" });
}

/// `     VI_1, weight 10` for every instance that tracks tracker `k`.
fn tracking(o: &mut String, s: &Snapshot, k: usize) {
    o.push_str("   Tracking instances :\n");
    for i in &s.instances {
        for u in i.tracks.iter().filter(|u| u.tracker == k) {
            let _ = writeln!(o, "     {}, weight {}{}", i.cfg.name, u.weight, rev(u.reverse));
        }
    }
}

fn script(o: &mut String, s: &Snapshot, k: usize, t: &TrackerStatus) {
    let _ = writeln!(o, " VRRP Script = {}", t.name);
    if let Some(c) = &t.check {
        o.push_str("   Command =");
        for a in &c.argv {
            let _ = write!(o, " '{a}'");
        }
        o.push('\n');
        let _ = writeln!(o, "   Interval = {} sec", c.interval.as_secs());
        let _ = writeln!(o, "   Timeout = {} sec", c.timeout.as_secs());
    }
    if let TrackerKind::Script { rise, fall, .. } = t.kind {
        let _ = writeln!(o, "   Rise = {rise}\n   Fall = {fall}");
    }
    // keepalived-exporter's keepalived_vrrp_script_status reads GOOD/BAD.
    let status = match t.status {
        TrackStatus::Unknown => "INIT",
        TrackStatus::Up => "GOOD",
        TrackStatus::Down => "BAD",
    };
    kv(o, "Status", &status);
    if let Some(c) = &t.check {
        let _ = writeln!(o, "   Script uid:gid = {}:{}", c.uid, c.gid);
    }
    tracking(o, s, k);
    kv(o, "State", &if t.running { "running" } else { "idle" });
}

fn track_file(o: &mut String, s: &Snapshot, k: usize, t: &TrackerStatus) {
    let _ = writeln!(o, " Track file = {}", t.name);
    if let Some(p) = &t.path {
        kv(o, "File", &p.display());
    }
    kv(o, "Status", &t.value);
    tracking(o, s, k);
}

fn track_process(o: &mut String, s: &Snapshot, k: usize, t: &TrackerStatus) {
    let _ = writeln!(o, " VRRP Track process = {}", t.name);
    if let Some(p) = &t.process {
        let c = &p.cfg;
        kv(o, "Process", &c.process);
        if !c.params.is_empty() {
            // Stored as /proc/PID/cmdline lays them out, each followed by
            // a NUL; keepalived writes them separated by spaces.
            let text = String::from_utf8_lossy(c.params.strip_suffix(b"\0").unwrap_or(&c.params)).replace('\0', " ");
            kv(o, "Parameters", &text);
        }
        match c.param_match {
            ParamMatch::None => {}
            ParamMatch::Exact => o.push_str("   Param match\n"),
            ParamMatch::Partial => kv(o, "Param match", &"partial"),
            ParamMatch::Initial => kv(o, "Param match", &"initial"),
        }
        kv(o, "Min processes", &c.quorum);
        if c.quorum_max < u32::MAX {
            kv(o, "Max processes", &c.quorum_max);
        }
        kv(o, "Current processes", &p.count);
        kv(o, "Have quorum", &p.quorum);
        // C's `%f`: six decimals.
        let _ = writeln!(o, "   Terminate delay = {:.6}s", c.terminate_delay.to_std().as_secs_f64());
        let _ = writeln!(o, "   Fork delay = {:.6}s", c.fork_delay.to_std().as_secs_f64());
        let not = |running: bool| if running { "" } else { "not " };
        let _ = writeln!(o, "   Fork delay timer {}running", not(p.fork_timer));
        let _ = writeln!(o, "   Terminate delay timer {}running", not(p.terminate_timer));
        kv(o, "Full command", &c.full_command);
    }
    tracking(o, s, k);
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Seconds as C's `%g` writes them: no trailing zeros.
struct Secs(Duration);

impl core::fmt::Display for Secs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let us = self.0.subsec_micros();
        if us == 0 {
            return write!(f, "{}", self.0.as_secs());
        }
        let mut frac = format!("{us:06}");
        while frac.ends_with('0') {
            frac.pop();
        }
        write!(f, "{}.{frac}", self.0.as_secs())
    }
}

/// Day names from 1970-01-01 (a Thursday) on, and month names, as C's
/// `%a` and `%b` print them.
pub(crate) const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
pub(crate) const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A time stamp as keepalived writes it: `1796460402.122624 (Sat Dec  5
/// 08:46:42.122624 2026)`, the date in local time (`ctime` with the
/// microseconds after the seconds).
struct Stamp(u64, i32);

impl core::fmt::Display for Stamp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (secs, us) = (self.0 / 1_000_000, self.0 % 1_000_000);
        let local = secs as i64 + i64::from(self.1);
        let (days, rem) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil(days);
        let wday = DAYS[days.rem_euclid(7) as usize];
        let month = MONTHS[(m - 1) as usize];
        let (h, min, s) = (rem / 3600, rem / 60 % 60, rem % 60);
        write!(f, "{secs}.{us:06} ({wday} {month} {d:>2} {h:02}:{min:02}:{s:02}.{us:06} {y})")
    }
}

/// Year, month (1..=12) and day of `days` since 1970-01-01 (proleptic
/// Gregorian; Howard Hinnant's days-to-civil).
pub(crate) fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests;
