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
                    if def.kind == TrackerKind::File { "vrrp_script or vrrp_probe" } else { "track_file" }
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
