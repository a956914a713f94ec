//! Trackers: the `vrrp_script`, `vrrp_probe` (a vipd extension) and
//! `track_file` / `vrrp_track_file` blocks that define them, the `NAME [weight N] [reverse]` lines of the
//! `track_script`, `track_file` and `track_interface` blocks that use them,
//! and resolving those names against the definitions once the whole file is
//! read. It must not run scripts or read files: that is the tracker's
//! runtime, not the configuration.

use std::path::PathBuf;

use super::cx::{Cx, block_name};
use super::instance::RawInstance;
use crate::config::keywords;
use crate::config::lexer::Token;
use crate::config::model::*;
use crate::config::parse::Node;
use crate::time::Duration;

/// A reference to a named tracker, resolved after the whole file is read
/// (keepalived requires definition before use; vipd does not).
#[derive(Clone, Debug)]
pub(super) struct TrackName {
    pub(super) name: Token,
    pub(super) weight: Option<i32>,
    pub(super) reverse: bool,
    /// Top-level position of the block that uses it.
    pub(super) pos: usize,
}

/// `NAME [weight N [reverse|no_reverse]]` in a track_* block.
pub(super) fn track_line(cx: &mut Cx<'_>, line: &Node, max: i64) -> Option<TrackName> {
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

pub(super) fn define_tracker(cx: &mut Cx<'_>, config: &mut Config, node: &Node, t: TrackerConfig) -> bool {
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

pub(super) fn script_block(cx: &mut Cx<'_>, node: &Node) -> Option<TrackerConfig> {
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

/// The warning on every `vrrp_probe` block: a configuration using one is
/// no longer one keepalived reads.
pub(super) const EXTENSION_PROBE: &str = "`vrrp_probe` is a vipd extension (keepalived would refuse it)";

/// Probe timers: 10 ms to a day, in microseconds.
const PROBE_MIN_US: u64 = 10_000;
const PROBE_MAX_US: u64 = 86_400_000_000;

/// `vrrp_probe NAME { http URL | tcp ADDR:PORT; expect; interval; timeout;
/// rise; fall; weight; init_fail }`: the keywords of `vrrp_script` where
/// they mean the same, with decimal seconds.
pub(super) fn probe_block(cx: &mut Cx<'_>, node: &Node) -> Option<TrackerConfig> {
    let name = block_name(cx, node)?;
    cx.warn(node.span(), EXTENSION_PROBE);
    let mut t = TrackerConfig::script(&name, &[]);
    t.script = None;
    let mut target: Option<(core::net::SocketAddr, String)> = None;
    let (mut rise, mut fall, mut init_fail) = (1u32, 1u32, false);
    let mut interval = Duration::from_secs(1);
    let (mut timeout, mut expect) = (None, None);
    for n in cx.block(node) {
        if !cx.known(n, keywords::PROBE, "vrrp_probe") {
            continue;
        }
        match n.name() {
            "tcp" | "http" => {
                if let Some(a) = cx.one(n) {
                    match probe_addr(&a.text, n.name() == "http") {
                        Some(addr) => target = Some((addr, [n.name(), " ", &a.text].concat())),
                        None => cx.error_hint(a.span, format!("`{}` is not a probe target", a.text), PROBE_HINT),
                    }
                }
            }
            "expect" => expect = cx.int_arg(n, 100, 599).map(|v| v as u16),
            "interval" => interval = cx.secs_arg(n, PROBE_MIN_US, PROBE_MAX_US).unwrap_or(interval),
            "timeout" => timeout = cx.secs_arg(n, PROBE_MIN_US, PROBE_MAX_US),
            "weight" => {
                cx.no_block(n);
                if let Some(w) = n.args.first() {
                    t.weight = cx.int(n, w, -253, 253).unwrap_or(0) as i32;
                    t.reverse = n.args.get(1).is_some_and(|x| x.text == "reverse");
                    cx.extra(n, 1 + usize::from(t.reverse));
                } else {
                    cx.error(n.span(), "`weight` needs a value");
                }
            }
            "rise" => rise = cx.int_arg(n, 1, 1_000_000).map_or(rise, |v| v as u32),
            "fall" => fall = cx.int_arg(n, 1, 1_000_000).map_or(fall, |v| v as u32),
            _ => {
                cx.none(n);
                init_fail = true;
            }
        }
    }
    let Some((addr, target)) = target else {
        cx.error_hint(node.span(), format!("vrrp_probe `{name}` has no `http` or `tcp`"), PROBE_HINT);
        return None;
    };
    t.kind = TrackerKind::Script { rise, fall, init_fail };
    t.probe = Some(Probe { target, addr, expect, interval, timeout: timeout.unwrap_or(interval) });
    Some(t)
}

const PROBE_HINT: &str =
    "http http://ADDRESS[:PORT][/PATH] or tcp ADDRESS:PORT, with IP addresses (vipd resolves no names; no https)";

/// The address a probe target names: `http://ADDRESS[:PORT][/PATH]` (port
/// 80 by default) or `ADDRESS:PORT`, IPv6 in brackets.
fn probe_addr(s: &str, http: bool) -> Option<core::net::SocketAddr> {
    let s = match http {
        true => s.strip_prefix("http://").map(|r| r.split('/').next().unwrap_or(r))?,
        false => s,
    };
    let (host, port) = match s.rfind(':') {
        Some(i) if !s[i..].contains(']') => (&s[..i], s[i + 1..].parse().ok()?),
        _ if http => (s, 80),
        _ => return None,
    };
    let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Some(core::net::SocketAddr::new(ip.parse().ok()?, port))
}

pub(super) fn track_file_block(cx: &mut Cx<'_>, node: &Node) -> Option<TrackerConfig> {
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

/// The kind of tracker a `track_*` line of `r` names.
fn used_as(r: &RawInstance, t: &TrackName) -> &'static str {
    if r.files.iter().any(|f| f.name == t.name) {
        "track_file"
    } else if r.processes.iter().any(|f| f.name == t.name) {
        "vrrp_track_process"
    } else {
        "vrrp_script"
    }
}

/// An instance's `track_script` / `track_file` names (its own and its sync
/// group's) resolved against the definitions anywhere in the file, into
/// `r.cfg.track`.
pub(super) fn resolve_tracks(
    cx: &mut Cx<'_>,
    r: &mut RawInstance,
    config: &Config,
    tracker_pos: &[usize],
    broken: &[String],
) {
    for t in r.scripts.iter().chain(&r.files).chain(&r.processes) {
        let Some(idx) = config.trackers.iter().position(|x| x.name == t.name.text) else {
            if broken.contains(&t.name.text) {
                continue;
            }
            let what = used_as(r, t);
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
        let what = used_as(r, t);
        let is = match def.kind {
            TrackerKind::File => "track_file",
            TrackerKind::Process => "vrrp_track_process",
            TrackerKind::Script { .. } => "vrrp_script",
        };
        if what != is {
            cx.error(t.name.span, format!("`{}` is not a {what}", t.name.text));
            continue;
        }
        let weight = t.weight.unwrap_or(def.weight);
        // keepalived keeps the tracker's `reverse` when a line overrides the
        // weight.
        let reverse = t.reverse || def.reverse;
        r.cfg.track.push(TrackRef { tracker: TrackerId(idx as u16), weight, reverse });
    }
}

/// `vrrp_track_process NAME { … }` as keepalived 2.2.7 reads it: parameters
/// after the name, or `param_match`, make it compare the command line
/// (`full_command`); `quorum_max 0` sets `quorum` to 0; a weight line
/// after another weight is ignored there, so it is an error here.
pub(super) fn track_process_block(cx: &mut Cx<'_>, node: &Node) -> Option<TrackerConfig> {
    let name = block_name(cx, node)?;
    let mut t = TrackerConfig::script(&name, &[]);
    t.kind = TrackerKind::Process;
    t.script = None;
    let mut p = TrackProcess {
        process: String::new(),
        params: Vec::new(),
        param_match: ParamMatch::None,
        full_command: false,
        quorum: 1,
        quorum_max: u32::MAX,
        fork_delay: Duration::ZERO,
        terminate_delay: Duration::ZERO,
    };
    let mut have_process = false;
    let mut have_weight = false;
    for n in cx.block(node) {
        if !cx.known(n, keywords::TRACK_PROCESS, "vrrp_track_process") {
            continue;
        }
        cx.no_block(n);
        match n.name() {
            "process" => {
                let Some(first) = n.args.first() else {
                    cx.error(n.span(), "`process` needs a process name");
                    continue;
                };
                if have_process {
                    cx.error(n.span(), "`process` is given twice; keepalived ignores the second");
                    continue;
                }
                have_process = true;
                p.process = first.text.clone();
                if n.args.len() > 1 {
                    for a in &n.args[1..] {
                        p.params.extend_from_slice(a.text.as_bytes());
                        p.params.push(0);
                    }
                    if p.param_match == ParamMatch::None {
                        p.param_match = ParamMatch::Exact;
                    }
                    p.full_command = true;
                }
            }
            "param_match" => {
                p.param_match = match n.args.first().map(|a| a.text.as_str()) {
                    None => ParamMatch::Exact,
                    Some("initial") => ParamMatch::Initial,
                    Some("partial") => ParamMatch::Partial,
                    Some(_) => {
                        cx.error_hint(n.span(), "unknown `param_match`", "param_match [initial|partial]");
                        continue;
                    }
                };
                cx.extra(n, 1);
                p.full_command = true;
            }
            "weight" => {
                let Some(w) = n.args.first() else {
                    cx.error(n.span(), "`weight` needs a value");
                    continue;
                };
                if have_weight {
                    cx.error(n.span(), "`weight` is given twice; keepalived ignores the second");
                    continue;
                }
                t.weight = cx.int(n, w, -254, 254).unwrap_or(0) as i32;
                // keepalived takes a later weight line while the weight is 0.
                have_weight = t.weight != 0;
                if n.args.get(1).is_some_and(|x| x.text == "reverse") {
                    t.reverse = true;
                    cx.extra(n, 2);
                } else {
                    cx.extra(n, 1);
                }
            }
            "quorum" => {
                if let Some(q) = cx.int_arg(n, 1, 65_535) {
                    if q as u32 > p.quorum_max {
                        cx.error(n.span(), "`quorum` is above `quorum_max`; keepalived ignores it");
                    } else {
                        p.quorum = q as u32;
                    }
                }
            }
            "quorum_max" => {
                if let Some(q) = cx.int_arg(n, 0, 65_535) {
                    let q = q as u32;
                    if (q != 0 || p.quorum > 1) && q < p.quorum {
                        cx.error(n.span(), "`quorum_max` is below `quorum`; keepalived ignores it");
                    } else {
                        p.quorum_max = q;
                        p.quorum = if q == 0 { 0 } else { p.quorum.max(1) };
                    }
                }
            }
            "delay" | "fork_delay" | "terminate_delay" => {
                if let Some(d) = cx.secs_arg(n, 1, 3_600_000_000) {
                    if n.name() != "fork_delay" {
                        p.terminate_delay = d;
                    }
                    if n.name() != "terminate_delay" {
                        p.fork_delay = d;
                    }
                }
            }
            _ => {
                cx.none(n);
                p.full_command = true;
            }
        }
    }
    if !have_process {
        cx.error_hint(node.span(), format!("vrrp_track_process `{name}` has no `process`"), "process NAME [PARAMS…]");
        return None;
    }
    t.process = Some(p);
    Some(t)
}

#[cfg(test)]
mod process_tests {
    use crate::config::{Loaded, ParamMatch, TrackerKind, load_with};
    use crate::time::Duration;

    fn load(text: &str) -> Loaded {
        load_with(std::path::Path::new("t.conf"), Some(text), "h", &|_| true)
    }

    fn instance(tracks: &str) -> String {
        format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority 100\n \
             virtual_ipaddress {{\n  10.0.0.1\n }}\n track_process {{\n{tracks}\n }}\n}}\n"
        )
    }

    #[test]
    fn track_process_as_keepalived_reads_it() {
        let l = load(&format!(
            "vrrp_track_process a {{\n process nginx\n}}\n\
             vrrp_track_process b {{\n process /usr/sbin/nginx -g \"daemon off;\"\n weight -20 reverse\n delay 0.5\n}}\n\
             vrrp_track_process c {{\n process x\n param_match initial\n quorum 2\n quorum_max 3\n fork_delay 1\n}}\n\
             vrrp_track_process d {{\n process x\n quorum_max 0\n}}\n{}",
            instance("  a\n  b weight 5\n  c\n  d")
        ));
        assert!(!l.has_errors(), "{:?}", l.diagnostics);
        let t = &l.config.trackers;
        let p = |k: usize| t[k].process.as_ref().unwrap();
        assert!(t.iter().all(|t| t.kind == TrackerKind::Process));
        assert_eq!((t[0].weight, p(0).param_match, p(0).full_command), (0, ParamMatch::None, false));
        assert_eq!((p(0).quorum, p(0).quorum_max), (1, u32::MAX));
        // Parameters imply an exact parameter match on the command line.
        assert_eq!(p(1).params, b"-g\0daemon off;\0");
        assert_eq!((p(1).param_match, p(1).full_command), (ParamMatch::Exact, true));
        assert_eq!((t[1].weight, t[1].reverse), (-20, true));
        assert_eq!((p(1).fork_delay, p(1).terminate_delay), (Duration::from_millis(500), Duration::from_millis(500)));
        assert_eq!(
            (p(2).param_match, p(2).full_command, p(2).quorum, p(2).quorum_max),
            (ParamMatch::Initial, true, 2, 3)
        );
        assert_eq!((p(2).fork_delay, p(2).terminate_delay), (Duration::from_secs(1), Duration::ZERO));
        assert_eq!((p(3).quorum, p(3).quorum_max), (0, 0), "quorum_max 0: up while none runs");
        let track = &l.config.instances[0].track;
        assert_eq!(track.len(), 4);
        assert_eq!((track[1].weight, track[1].reverse), (5, true), "the line's weight, the tracker's reverse");
    }

    #[test]
    fn track_process_errors() {
        let errs =
            |text: String| load(&text).diagnostics.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("\n");
        let e = errs(format!("vrrp_track_process a {{\n weight 1\n}}\n{}", instance("  a")));
        assert!(e.contains("has no `process`"), "{e}");
        let e = errs(format!("vrrp_track_process a {{\n process x\n quorum 3\n quorum_max 2\n}}\n{}", instance("  a")));
        assert!(e.contains("`quorum_max` is below `quorum`"), "{e}");
        let e = errs(format!("vrrp_track_process a {{\n process x\n delay 0\n}}\n{}", instance("  a")));
        assert!(e.contains("outside"), "{e}");
        let e = errs(format!("vrrp_script a {{\n script /bin/true\n}}\n{}", instance("  a")));
        assert!(e.contains("`a` is not a vrrp_track_process"), "{e}");
        let e = errs(instance("  nope"));
        assert!(e.contains("vrrp_track_process `nope` is not defined"), "{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::probe_addr;
    use crate::config::{Severity, TrackerKind, dump, load_with};
    use crate::time::Duration;

    const PROBES: &str = "vrrp_probe chk_web {\n http http://127.0.0.1:80/healthz\n expect 204\n interval 0.01\n \
        timeout 0.05\n rise 2\n fall 3\n weight -30 reverse\n init_fail\n}\nvrrp_probe chk_tcp {\n tcp [::1]:8443\n}\n\
        vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n priority 100\n advert_int 1\n \
        track_script {\n  chk_web\n  chk_tcp weight 5\n }\n virtual_ipaddress {\n  10.0.0.1/24\n }\n}\n";

    #[test]
    fn probe_blocks_read_warn_and_dump_back() {
        let l = load_with(std::path::Path::new("/p.conf"), Some(PROBES), "x", &|_| true);
        let warnings: Vec<_> = l.diagnostics.iter().filter(|d| d.severity == Severity::Warning).collect();
        assert!(!l.has_errors(), "{:?}", l.diagnostics);
        assert_eq!(warnings.len(), 2, "one per block: {warnings:?}");
        assert!(warnings.iter().all(|d| d.message.contains("vipd extension")));
        let web = &l.config.trackers[0];
        assert_eq!(web.kind, TrackerKind::Script { rise: 2, fall: 3, init_fail: true });
        assert_eq!((web.weight, web.reverse), (-30, true));
        let p = web.probe.as_ref().expect("a probe");
        assert_eq!((p.url(), p.addr.to_string().as_str()), (Some("http://127.0.0.1:80/healthz"), "127.0.0.1:80"));
        assert_eq!(
            (p.expect, p.interval, p.timeout),
            (Some(204), Duration::from_millis(10), Duration::from_millis(50))
        );
        let tcp = l.config.trackers[1].probe.as_ref().expect("a probe");
        assert_eq!((tcp.url(), tcp.interval, tcp.timeout), (None, Duration::from_secs(1), Duration::from_secs(1)));
        assert_eq!(l.config.instances[0].track.len(), 2);
        let text = dump::dump(&l.config);
        let again = load_with(std::path::Path::new("/d.conf"), Some(&text), "x", &|_| true);
        assert!(!again.has_errors(), "{:?}\n{text}", again.diagnostics);
        assert_eq!(dump::dump(&again.config), text);
    }

    #[test]
    fn bad_probe_blocks_are_errors() {
        for body in ["http https://127.0.0.1/", "tcp localhost:80", "interval 0.001\n tcp 127.0.0.1:1", ""] {
            let text = format!("vrrp_probe p {{\n {body}\n}}\n");
            let l = load_with(std::path::Path::new("/p.conf"), Some(&text), "x", &|_| true);
            assert!(l.has_errors(), "{body}: {:?}", l.diagnostics);
        }
    }

    #[test]
    fn probe_targets() {
        let ok = |u: &str, http| probe_addr(u, http).map(|a| a.to_string());
        assert_eq!(ok("http://127.0.0.1/healthz", true).as_deref(), Some("127.0.0.1:80"));
        assert_eq!(ok("http://10.0.0.1:8080", true).as_deref(), Some("10.0.0.1:8080"));
        assert_eq!(ok("http://[fd00::1]:81/a?b", true).as_deref(), Some("[fd00::1]:81"));
        assert_eq!(ok("http://[::1]/", true).as_deref(), Some("[::1]:80"));
        assert_eq!(ok("[::1]:8443", false).as_deref(), Some("[::1]:8443"));
        assert_eq!(ok("127.0.0.1:443", false).as_deref(), Some("127.0.0.1:443"));
        for (bad, http) in [
            ("https://127.0.0.1/", true),
            ("http://localhost/", true),
            ("http://127.0.0.1:99999/", true),
            ("127.0.0.1/", true),
            ("127.0.0.1", false),
            ("[::1]", false),
            ("db.example:5432", false),
        ] {
            assert_eq!(probe_addr(bad, http), None, "{bad}");
        }
    }
}
