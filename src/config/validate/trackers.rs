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
pub(super) const EXTENSION_PROBE: &str = "`vrrp_probe` is a vipd extension (keepalived would refuse this block \
     and every `track_script` naming it)";

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
    let mut target: Option<ProbeTarget> = None;
    let (mut rise, mut fall, mut init_fail) = (1u32, 1u32, false);
    let mut interval = Duration::from_secs(1);
    let (mut timeout, mut expect) = (None, None);
    for n in cx.block(node) {
        if !cx.known(n, keywords::PROBE, "vrrp_probe") {
            continue;
        }
        match n.name() {
            "tcp" => {
                if let Some(a) = cx.one(n) {
                    match a.text.parse() {
                        Ok(sa) => target = Some((sa, None)),
                        Err(_) => cx.error_hint(
                            a.span,
                            format!("`{}` is not ADDRESS:PORT", a.text),
                            "tcp 127.0.0.1:443, tcp [::1]:8443",
                        ),
                    }
                }
            }
            "http" => {
                if let Some(a) = cx.one(n) {
                    match http_url(&a.text) {
                        Ok(x) => target = Some(x),
                        Err(why) => {
                            cx.error_hint(a.span, format!("`{}`: {why}", a.text), "http http://127.0.0.1:80/healthz")
                        }
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
    let Some((addr, http)) = target else {
        cx.error_hint(
            node.span(),
            format!("vrrp_probe `{name}` has no `http` or `tcp`"),
            "http http://127.0.0.1:80/healthz",
        );
        return None;
    };
    if expect.is_some() && http.is_none() {
        cx.warn(node.span(), format!("vrrp_probe `{name}`: `expect` applies to `http` only"));
    }
    t.kind = TrackerKind::Script { rise, fall, init_fail };
    t.probe = Some(Probe { addr, http, expect, interval, timeout: timeout.unwrap_or(interval) });
    Some(t)
}

/// Where a probe connects, and for HTTP the `Host` header and path.
type ProbeTarget = (core::net::SocketAddr, Option<(String, String)>);

/// `http://ADDRESS[:PORT][/PATH]` → address, and the `Host` header and
/// path to send. No names (resolving would block the loop), no TLS.
fn http_url(url: &str) -> Result<ProbeTarget, &'static str> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(if url.starts_with("https://") { "vipd probes speak no TLS" } else { "not an http:// URL" });
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => {
            (&authority[..i], authority[i + 1..].parse().map_err(|_| "bad port")?)
        }
        _ => (authority, 80u16),
    };
    let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let ip: core::net::IpAddr =
        ip.parse().map_err(|_| "the host must be an IP address (vipd does not resolve names)")?;
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err("the path has spaces or control characters");
    }
    Ok((core::net::SocketAddr::new(ip, port), Some((authority.to_owned(), path.to_owned()))))
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
    use super::http_url;

    #[test]
    fn probe_urls() {
        let ok = |u: &str| http_url(u).map(|(a, h)| (a.to_string(), h.unwrap_or_default()));
        assert_eq!(
            ok("http://127.0.0.1/healthz"),
            Ok(("127.0.0.1:80".into(), ("127.0.0.1".into(), "/healthz".into())))
        );
        assert_eq!(ok("http://10.0.0.1:8080"), Ok(("10.0.0.1:8080".into(), ("10.0.0.1:8080".into(), "/".into()))));
        assert_eq!(ok("http://[fd00::1]:81/a?b"), Ok(("[fd00::1]:81".into(), ("[fd00::1]:81".into(), "/a?b".into()))));
        assert_eq!(ok("http://[::1]/"), Ok(("[::1]:80".into(), ("[::1]".into(), "/".into()))));
        assert!(http_url("https://127.0.0.1/").is_err());
        assert!(http_url("http://localhost/").is_err());
        assert!(http_url("http://127.0.0.1:99999/").is_err());
        assert!(http_url("127.0.0.1/").is_err());
    }
}
