//! `vipd status --json`: a [`Snapshot`] as one JSON document, schema 1
//! (vipd(8), STATUS). This module owns the field names and their meaning;
//! scripts parse them, so a field may be added but never renamed or given
//! another meaning without bumping `schema`. It only formats: it reads the
//! snapshot and nothing else, and writes no I/O. Serialized by hand (the
//! daemon has no serde); the one string escaper is
//! [`crate::config::diag::json_str`], shared with `vipd check --json`.

use core::fmt::{Display, Write as _};
use std::time::Duration;

use crate::config::TrackerKind;
use crate::config::diag::json_str;
use crate::core::{Stats, TrackStatus};
use crate::wire::WireError;
use crate::wire::vrrp::{ChecksumForm, Version};

use super::model::*;

/// The document's `schema` value: bump it when a field is renamed, removed
/// or changes meaning.
pub const SCHEMA: u32 = 1;

/// The snapshot as JSON, restricted to the instances named in `only` (all
/// when empty); ends with a newline.
pub fn render(s: &Snapshot, only: &[&str]) -> String {
    let mut out = String::with_capacity(1024 + s.instances.len() * 2048);
    object(&mut out, |o| {
        o.num("schema", SCHEMA);
        o.str("version", s.version);
        o.num("pid", s.pid);
        o.num("uptime_s", secs(s.uptime));
        o.num("taken_unix_s", s.taken_unix);
        o.bool("dry_run", s.dry_run);
        o.arr("instances", s.instances.iter().filter(|i| selected(i, only)), |out, i| instance(out, s, i));
        o.arr("groups", &s.groups, group);
        o.arr("trackers", &s.trackers, |out, t| object(out, |o| tracker_fields(o, t)));
        o.obj("global_errors", |o| {
            for e in WireError::ALL {
                let n: u64 = s.global_errors.iter().filter(|(g, _)| *g == e).map(|(_, n)| *n).sum();
                o.num(counter_key(e), n);
            }
        });
    });
    out.push('\n');
    out
}

/// Whether `only` lets this instance through.
pub(crate) fn selected(i: &InstanceStatus, only: &[&str]) -> bool {
    only.is_empty() || only.contains(&i.cfg.name.as_str())
}

/// The JSON key (and Prometheus `cause` label) of a receive-error counter.
pub fn counter_key(e: WireError) -> &'static str {
    match e {
        WireError::Checksum => "checksum_errors",
        WireError::Version => "version_errors",
        WireError::VrId => "vrid_errors",
        WireError::Interval => "interval_errors",
        WireError::IpTtl => "ttl_errors",
        WireError::PacketLength => "packet_length_errors",
        WireError::InvalidType => "invalid_type",
        WireError::AddressList => "address_list_errors",
        WireError::InvalidAuthType => "invalid_auth_type",
        WireError::AuthTypeMismatch => "auth_type_mismatch",
        WireError::AuthFailure => "auth_errors",
        WireError::Protocol => "protocol_errors",
        WireError::Source => "source_errors",
    }
}

/// `"inet"` / `"inet6"`, as `ip(8)` names the families.
pub(crate) fn family_name(i: &InstanceStatus) -> &'static str {
    match i.cfg.family {
        crate::config::Family::V4 => "inet",
        crate::config::Family::V6 => "inet6",
    }
}

pub(crate) fn version_number(v: Version) -> u8 {
    match v {
        Version::V2 => 2,
        Version::V3 => 3,
    }
}

/// The `checksum_form` values.
pub(crate) fn checksum_name(c: ChecksumForm) -> &'static str {
    match c {
        ChecksumForm::V2 => "v2",
        ChecksumForm::PseudoHeader => "pseudo_header",
        ChecksumForm::NoPseudoHeader => "rfc9568",
    }
}

pub(crate) fn track_status_name(t: TrackStatus) -> &'static str {
    match t {
        TrackStatus::Unknown => "unknown",
        TrackStatus::Up => "up",
        TrackStatus::Down => "down",
    }
}

fn instance(out: &mut String, s: &Snapshot, i: &InstanceStatus) {
    object(out, |o| {
        o.str("name", &i.cfg.name);
        o.str("interface", &i.cfg.interface);
        o.num("vrid", i.cfg.vrid);
        o.str("family", family_name(i));
        o.num("vrrp_version", version_number(i.cfg.version));
        o.str("state", i.state.name());
        o.num("since_s", secs(i.in_state));
        o.str("reason", &i.reason);
        o.num("priority", i.base_priority);
        o.num("effective_priority", i.effective_priority);
        o.num("advert_int_ms", i.cfg.advert_int.as_millis());
        match i.source {
            Some(a) => o.display("source", a),
            None => o.null("source"),
        }
        o.arr("unicast_peers", &i.cfg.unicast_peers, |out, p| display_str(out, p.addr));
        match &i.master {
            Some(m) => o.obj("master", |o| master(o, m)),
            None => o.null("master"),
        }
        o.arr("vips", i.vips.iter().filter(|v| !v.excluded), vip_str);
        o.arr("excluded_vips", i.vips.iter().filter(|v| v.excluded), vip_str);
        o.bool("vips_held", i.vips.iter().all(|v| v.held));
        o.arr("vip_details", &i.vips, |out, v| {
            object(out, |o| {
                o.display("address", v.addr);
                o.num("prefix", v.prefix);
                o.str("interface", &v.interface);
                o.bool("excluded", v.excluded);
                o.bool("held", v.held);
            })
        });
        // Script and file trackers first, then interfaces: two sources, so
        // the array is written by hand.
        o.key("trackers");
        o.out.push('[');
        let mut first = true;
        for u in &i.tracks {
            // A dangling index is the snapshot builder's bug; leave the
            // entry out rather than fail the whole answer.
            let Some(t) = s.trackers.get(u.tracker) else { continue };
            comma(o.out, &mut first);
            object(o.out, |o| {
                tracker_fields(o, t);
                o.num("weight", u.weight);
                o.bool("reverse", u.reverse);
            });
        }
        for f in &i.interfaces {
            comma(o.out, &mut first);
            object(o.out, |o| {
                o.str("name", &f.name);
                o.str("type", "interface");
                o.str("status", if f.up { "up" } else { "down" });
                o.bool("up", f.up);
                o.num("weight", f.weight);
            });
        }
        o.out.push(']');
        match &i.group {
            Some(g) => o.str("group", g),
            None => o.null("group"),
        }
        o.obj("counters", |o| counters(o, &i.counters));
        let raised = i.conditions.iter().filter(|c| c.since.is_some());
        o.arr("conditions", raised, |out, c| json_str(out, c.condition.name()));
        o.obj("condition_details", |o| {
            for c in &i.conditions {
                o.obj(c.condition.name(), |o| {
                    o.bool("active", c.since.is_some());
                    match c.since {
                        Some(d) => o.num("since_s", secs(d)),
                        None => o.null("since_s"),
                    }
                    o.num("raised_total", c.raised);
                    match &c.evidence {
                        Some(e) => o.str("evidence", e),
                        None => o.null("evidence"),
                    }
                });
            }
        });
    });
}

fn master(o: &mut Obj<'_>, m: &MasterStatus) {
    o.display("address", m.address);
    o.num("priority", m.priority);
    o.num("advert_int_ms", m.advert_int.as_millis());
    match m.last_seen {
        Some(d) => o.num("last_seen_ms", d.as_millis()),
        None => o.null("last_seen_ms"),
    }
    match m.checksum {
        Some(c) => o.str("checksum_form", checksum_name(c)),
        None => o.null("checksum_form"),
    }
    o.bool("is_self", m.is_self);
}

/// The fields a tracker has wherever it appears (top level or under an
/// instance, where weight and reverse follow).
fn tracker_fields(o: &mut Obj<'_>, t: &TrackerStatus) {
    o.str("name", &t.name);
    match t.kind {
        TrackerKind::Script { rise, fall, init_fail } => {
            match &t.probe {
                Some(p) => {
                    o.str("type", "probe");
                    o.str("target", &p.target);
                }
                None => o.str("type", "script"),
            }
            o.str("status", track_status_name(t.status));
            o.num("rise", rise);
            o.num("fall", fall);
            o.bool("init_fail", init_fail);
            o.num("streak", t.streak);
            match &t.last_run {
                Some(r) => {
                    o.str("last_result", &r.result);
                    match r.exit_code {
                        Some(c) => o.num("last_exit_code", c),
                        None => o.null("last_exit_code"),
                    }
                    o.bool("last_success", r.success);
                    o.num("last_duration_ms", r.duration.as_millis());
                    o.num("last_run_ago_ms", r.ago.as_millis());
                }
                None => {
                    for k in ["last_result", "last_exit_code", "last_success", "last_duration_ms", "last_run_ago_ms"] {
                        o.null(k);
                    }
                }
            }
        }
        TrackerKind::File => {
            o.str("type", "file");
            o.str("status", track_status_name(t.status));
            o.num("value", t.value);
        }
        TrackerKind::Process => {
            o.str("type", "process");
            o.str("status", track_status_name(t.status));
            o.num("processes", t.value);
        }
    }
}

fn counters(o: &mut Obj<'_>, c: &Stats) {
    o.num("adverts_received", c.adverts_rcvd);
    o.num("adverts_sent", c.adverts_sent);
    o.num("became_master", c.master_transitions);
    o.num("released_master", c.release_master);
    o.num("priority_zero_received", c.pri_zero_rcvd);
    o.num("priority_zero_sent", c.pri_zero_sent);
    o.num("send_failures", c.send_failures);
    o.num("pseudo_header_checksum_received", c.rcvd_pseudo_header_csum);
    o.num("rfc9568_checksum_received", c.rcvd_rfc9568_csum);
    for e in WireError::ALL {
        o.num(counter_key(e), c.error(e));
    }
}

fn group(out: &mut String, g: &GroupStatus) {
    object(out, |o| {
        o.str("name", &g.name);
        match g.state {
            Some(st) => o.str("state", st.name()),
            None => o.null("state"),
        }
        o.arr("members", &g.members, |out, m| json_str(out, m));
    });
}

/// Seconds with millisecond precision: a JSON number, never exponent form.
fn secs(d: Duration) -> Fixed3 {
    Fixed3(d.as_millis())
}

/// Milliseconds printed as seconds with three decimals.
struct Fixed3(u128);

impl Display for Fixed3 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

fn vip_str(out: &mut String, v: &VipStatus) {
    display_str(out, format_args!("{}/{}", v.addr, v.prefix));
}

/// Appends a value's `Display` form as a JSON string.
fn display_str(out: &mut String, v: impl Display) {
    json_str(out, &v.to_string());
}

fn comma(out: &mut String, first: &mut bool) {
    if !*first {
        out.push(',');
    }
    *first = false;
}

/// Writes `{...}`, the members coming from `f`.
fn object(out: &mut String, f: impl FnOnce(&mut Obj<'_>)) {
    out.push('{');
    let mut o = Obj { out, first: true };
    f(&mut o);
    o.out.push('}');
}

/// An object being written: puts the commas between members.
struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl Obj<'_> {
    /// Starts a member; the caller writes its value.
    fn key(&mut self, k: &str) {
        comma(self.out, &mut self.first);
        json_str(self.out, k);
        self.out.push(':');
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        json_str(self.out, v);
    }

    fn display(&mut self, k: &str, v: impl Display) {
        self.key(k);
        display_str(self.out, v);
    }

    /// A number; only ever called with integers and [`Fixed3`], whose
    /// `Display` is valid JSON.
    fn num(&mut self, k: &str, v: impl Display) {
        self.key(k);
        // Writing to a String cannot fail.
        let _ = write!(self.out, "{v}");
    }

    fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
    }

    fn null(&mut self, k: &str) {
        self.key(k);
        self.out.push_str("null");
    }

    fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj<'_>)) {
        self.key(k);
        object(self.out, f);
    }

    fn arr<T>(&mut self, k: &str, items: impl IntoIterator<Item = T>, mut f: impl FnMut(&mut String, T)) {
        self.key(k);
        self.out.push('[');
        let mut first = true;
        for item in items {
            comma(self.out, &mut first);
            f(self.out, item);
        }
        self.out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::fixtures::{self, ODD_NAME};
    /// Parses `doc` with Python's json module and returns it re-dumped with
    /// sorted keys (so tests can look at values), or None when python3 is
    /// missing (the test then skips with a printed reason).
    fn python_json(doc: &str, expr: &str) -> Option<String> {
        let script = format!("import json,sys; d=json.load(sys.stdin); print(json.dumps({expr}))");
        let (ok, out, err) = crate::sys::testkit::pipe_through("python3", &["-c", &script], doc)?;
        assert!(ok, "python3 rejected the document: {err}\n{doc}");
        Some(out.trim_end().to_owned())
    }

    #[test]
    fn parses_as_json() {
        let doc = render(&fixtures::rich(), &[]);
        assert!(doc.ends_with("}\n"));
        assert_eq!(doc.matches('\n').count(), 1, "one line");
        if let Some(v) = python_json(&doc, "[d['schema'], d['pid'], len(d['instances']), d['uptime_s']]") {
            assert_eq!(v, "[1, 4242, 3, 273906.0]");
        }
        let empty = render(&fixtures::empty(), &[]);
        if let Some(v) =
            python_json(&empty, "[d['instances'], d['groups'], d['trackers'], d['global_errors']['vrid_errors']]")
        {
            assert_eq!(v, "[[], [], [], 0]");
        }
    }

    #[test]
    fn odd_names_are_escaped() {
        let doc = render(&fixtures::rich(), &[ODD_NAME]);
        assert!(doc.contains(r#""name":"VI \"odd\"\\ né\n\tx\u0001""#), "{doc}");
        if let Some(v) = python_json(&doc, "[i['name'] for i in d['instances']] + [d['instances'][0]['interface']]") {
            let expect = format!("[{}, \"eth\\\"2\"]", python_repr(ODD_NAME));
            assert_eq!(v, expect);
        }
    }

    /// How Python's json.dumps writes `s` (ASCII-escaped).
    fn python_repr(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7e => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn master_self_peer_and_none() {
        let doc = render(&fixtures::rich(), &[]);
        let Some(v) = python_json(&doc, "[i['master'] for i in d['instances']]") else { return };
        assert_eq!(
            v,
            "[{\"address\": \"10.0.0.2\", \"priority\": 130, \"advert_int_ms\": 100, \"last_seen_ms\": null, \
             \"checksum_form\": null, \"is_self\": true}, \
             {\"address\": \"fe80::2\", \"priority\": 200, \"advert_int_ms\": 1000, \"last_seen_ms\": 400, \
             \"checksum_form\": \"pseudo_header\", \"is_self\": false}, null]"
        );
    }

    #[test]
    fn instance_fields() {
        let doc = render(&fixtures::rich(), &["VI_1", "VI_3"]);
        let Some(v) = python_json(
            &doc,
            "[[i['name'], i['interface'], i['vrid'], i['family'], i['vrrp_version'], i['state'], i['since_s'], \
             i['reason'], i['priority'], i['effective_priority'], i['vips'], i['excluded_vips'], i['vips_held'], \
             i['group'], [t['name'] + ':' + t['type'] + ':' + t['status'] for t in i['trackers']]] \
             for i in d['instances']]",
        ) else {
            return;
        };
        assert_eq!(
            v,
            "[[\"VI_1\", \"eth0\", 51, \"inet\", 3, \"MASTER\", 7384.0, \"master down timer expired\", 150, 130, \
             [\"10.0.0.10/24\", \"10.0.1.10/24\"], [\"192.168.5.5/32\"], true, \"G1\", \
             [\"chk_http:script:up\", \"/run/weight \\\"file\\\":file:up\", \"eth0:interface:up\", \
             \"eth1:interface:down\"]], \
             [\"VI_3\", \"eth3\", 53, \"inet\", 2, \"FAULT\", 277200.0, \"tracker chk_db failed\", 90, 90, [], [], \
             true, \"G1\", [\"chk_db:script:down\", \"chk_new:script:unknown\", \"eth3:interface:up\"]]]"
        );
    }

    #[test]
    fn conditions_by_name_with_details() {
        let doc = render(&fixtures::rich(), &[]);
        let expr = "[[i['conditions'], i['condition_details']['peer_mismatch'], \
                    sorted(i['condition_details'])] for i in d['instances']]";
        let Some(v) = python_json(&doc, expr) else { return };
        let idle = "{\"active\": false, \"since_s\": null, \"raised_total\": 0, \"evidence\": null}";
        let names = "[\"peer_mismatch\", \"peer_silent\", \"split_brain\", \"vrid_collision\"]";
        assert_eq!(
            v,
            format!(
                "[[[], {idle}, {names}], [[\"peer_mismatch\"], {{\"active\": true, \"since_s\": 12.0, \
                 \"raised_total\": 1, \"evidence\": \"adverts from 10.0.0.2 differ from our configuration: \
                 addresses ours 1, theirs 2\"}}, {names}], [[], {idle}, {names}]]"
            )
        );
    }

    #[test]
    fn trackers_and_counters() {
        let doc = render(&fixtures::rich(), &["VI_3"]);
        let Some(v) = python_json(&doc, "[d['trackers'][2], d['trackers'][3]['last_exit_code'], d['trackers'][1]]")
        else {
            return;
        };
        assert_eq!(
            v,
            "[{\"name\": \"chk_db\", \"type\": \"script\", \"status\": \"down\", \"rise\": 2, \"fall\": 1, \
             \"init_fail\": true, \"streak\": 1, \"last_result\": \"timed out\", \"last_exit_code\": null, \
             \"last_success\": false, \"last_duration_ms\": 2000, \"last_run_ago_ms\": 1000}, null, \
             {\"name\": \"/run/weight \\\"file\\\"\", \"type\": \"file\", \"status\": \"up\", \"value\": -5}]"
        );
        let doc = render(&fixtures::rich(), &["VI_1"]);
        let Some(v) = python_json(&doc, "d['instances'][0]['counters']") else { return };
        assert_eq!(
            v,
            "{\"adverts_received\": 1007, \"adverts_sent\": 1009, \"became_master\": 2, \"released_master\": 6, \
             \"priority_zero_received\": 3, \"priority_zero_sent\": 4, \"send_failures\": 5, \
             \"pseudo_header_checksum_received\": 7, \"rfc9568_checksum_received\": 8, \"checksum_errors\": 100, \
             \"version_errors\": 101, \"vrid_errors\": 102, \"interval_errors\": 103, \"ttl_errors\": 104, \
             \"packet_length_errors\": 105, \"invalid_type\": 106, \"address_list_errors\": 107, \
             \"invalid_auth_type\": 108, \"auth_type_mismatch\": 109, \"auth_errors\": 110, \
             \"protocol_errors\": 111, \"source_errors\": 112}"
        );
        let Some(v) = python_json(
            &doc,
            "[d['global_errors']['vrid_errors'], d['global_errors']['packet_length_errors'], d['groups']]",
        ) else {
            return;
        };
        assert_eq!(v, "[7, 2, [{\"name\": \"G1\", \"state\": \"MASTER\", \"members\": [\"VI_1\", \"VI_3\"]}]]");
    }

    #[test]
    fn counter_keys_are_distinct_snake_case() {
        for (i, e) in WireError::ALL.iter().enumerate() {
            let k = counter_key(*e);
            assert!(k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()), "{k}");
            for other in &WireError::ALL[i + 1..] {
                assert_ne!(k, counter_key(*other));
            }
        }
    }

    #[test]
    fn only_filters_instances() {
        let doc = render(&fixtures::rich(), &["VI_3"]);
        assert!(doc.contains("\"name\":\"VI_3\""));
        assert!(!doc.contains("\"name\":\"VI_1\""));
        let none = render(&fixtures::rich(), &["nope"]);
        assert!(none.contains("\"instances\":[]"));
    }
}
