//! `vipd status` for people: a [`Snapshot`] as a short aligned report, a
//! header line and one block per instance, `ip -br` style first line and
//! `systemctl status` style labelled lines under it. The layout is for
//! reading, not parsing (scripts use the JSON, whose schema is stable); it
//! may change between versions. It only formats: no I/O, nothing read but
//! the snapshot. Names from the configuration are printed with control
//! characters escaped, so a hostile instance name cannot rewrite the
//! operator's terminal.

use core::fmt::{self, Display, Write as _};
use std::time::Duration;

use crate::config::TrackerKind;
use crate::core::{State, Stats, TrackStatus};
use crate::wire::WireError;
use crate::wire::vrrp::ChecksumForm;

use super::json::{family_name, selected, track_status_name, version_number};
use super::model::*;

/// Width of the labels ("priority", "master", ...) under an instance.
const LABEL: usize = 10;
/// Lines of VIPs wrap before this column.
const WRAP: usize = 100;

/// The report for the instances named in `only` (all when empty); ends
/// with a newline.
pub fn render(s: &Snapshot, only: &[&str]) -> String {
    let mut out = String::with_capacity(256 + s.instances.len() * 768);
    header(&mut out, s);
    let shown: Vec<&InstanceStatus> = s.instances.iter().filter(|i| selected(i, only)).collect();
    if shown.is_empty() {
        out.push_str(if s.instances.is_empty() { "no instances configured\n" } else { "no such instance\n" });
    }
    let name_w = shown.iter().map(|i| clean_width(&i.cfg.name)).max().unwrap_or(0);
    let intf_w = shown.iter().map(|i| clean_width(&i.cfg.interface)).max().unwrap_or(0);
    for i in shown {
        out.push('\n');
        instance(&mut out, s, i, name_w, intf_w);
    }
    let global: Vec<(WireError, u64)> = WireError::ALL
        .iter()
        .map(|&e| (e, s.global_errors.iter().filter(|(g, _)| *g == e).map(|(_, n)| *n).sum()))
        .filter(|(_, n)| *n > 0)
        .collect();
    if !global.is_empty() {
        out.push_str("\nadverts no instance matched\n");
        wrapped(&mut out, "errors", &error_items(&global));
    }
    out
}

/// `vipd 0.1.0  pid 4242  up 3d 4h  1 MASTER, 2 BACKUP`.
fn header(out: &mut String, s: &Snapshot) {
    if s.dry_run {
        out.push_str("DRY RUN: states are what vipd would do; it sends nothing and holds no address\n");
    }
    let _ = write!(out, "vipd {}  pid {}  up {}", s.version, s.pid, age(s.uptime));
    let mut counts = Vec::new();
    for st in [State::Master, State::Backup, State::Fault, State::Init] {
        let n = s.instances.iter().filter(|i| i.state == st).count();
        if n > 0 {
            counts.push(format!("{n} {}", st.name()));
        }
    }
    if !counts.is_empty() {
        let _ = write!(out, "  {}", counts.join(", "));
    }
    out.push('\n');
}

fn instance(out: &mut String, s: &Snapshot, i: &InstanceStatus, name_w: usize, intf_w: usize) {
    let _ = writeln!(
        out,
        "{}  {}  vrid {:<3}  {:<5}  VRRPv{}  {:<6}  {:<7}  {}",
        Pad(&i.cfg.name, name_w),
        Pad(&i.cfg.interface, intf_w),
        i.cfg.vrid,
        family_name(i),
        version_number(i.cfg.version),
        i.state.name(),
        // A String: `{:<7}` pads what it is given, which Age does not do.
        age(i.in_state).to_string(),
        clean(&i.reason),
    );

    // The labelled lines below are written straight into `out`.
    start(out, "priority");
    let _ = write!(out, "{}", i.base_priority);
    if i.base_priority != i.effective_priority {
        let _ = write!(out, ", effective {}", i.effective_priority);
    }
    out.push('\n');

    start(out, "master");
    master(out, i);
    out.push('\n');

    if !i.vips.is_empty() {
        let items: Vec<String> = i.vips.iter().map(|v| vip(i, v)).collect();
        wrapped(out, "vips", &items);
    }

    trackers(out, s, i);

    if let Some(g) = &i.group {
        start(out, "group");
        let _ = write!(out, "{}", clean(g));
        if let Some(gs) = s.groups.iter().find(|x| &x.name == g) {
            if let Some(st) = gs.state {
                let _ = write!(out, " {}", st.name());
            }
            out.push_str(" (");
            for (n, m) in gs.members.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{}", clean(m));
            }
            out.push(')');
        }
        out.push('\n');
    }

    for c in i.conditions.iter().filter(|c| c.since.is_some()) {
        start(out, "condition");
        let _ = write!(out, "{} for {}", c.condition.name(), age(c.since.unwrap_or_default()));
        if let Some(e) = &c.evidence {
            let _ = write!(out, ": {}", clean(e));
        }
        out.push('\n');
    }
    start(out, "adverts");
    adverts(out, &i.counters);
    let c = &i.counters;
    start(out, "history");
    let _ = writeln!(out, "became master {}, released master {}", c.master_transitions, c.release_master);
    let errors: Vec<(WireError, u64)> =
        WireError::ALL.iter().map(|&e| (e, i.counters.error(e))).filter(|(_, n)| *n > 0).collect();
    if !errors.is_empty() {
        wrapped(out, "errors", &error_items(&errors));
    }
}

/// "us (10.0.0.2), priority 130, advert 100ms" or "fe80::2, priority 200,
/// advert 1s, last 400ms ago, checksum with pseudo-header".
fn master(t: &mut String, i: &InstanceStatus) {
    let Some(m) = &i.master else {
        return t.push_str(match i.state {
            State::Init | State::Fault => "none",
            State::Backup | State::Master => "none heard yet",
        });
    };
    let _ = if m.is_self { write!(t, "us ({})", m.address) } else { write!(t, "{}", m.address) };
    let _ = write!(t, ", priority {}, advert {}", m.priority, interval(m.advert_int));
    if let Some(seen) = m.last_seen {
        let _ = write!(t, ", last {} ago", age(seen));
    }
    if let Some(c) = m.checksum {
        t.push_str(match c {
            ChecksumForm::V2 => ", checksum v2",
            ChecksumForm::PseudoHeader => ", checksum with pseudo-header",
            ChecksumForm::NoPseudoHeader => ", checksum without pseudo-header (RFC 9568)",
        });
    }
}

/// "10.0.0.10/24 held", "10.0.1.10/24 on eth1 missing", "... excluded held".
fn vip(i: &InstanceStatus, v: &VipStatus) -> String {
    let mut t = format!("{}/{}", v.addr, v.prefix);
    if v.interface != i.cfg.interface {
        let _ = write!(t, " on {}", clean(&v.interface));
    }
    if v.excluded {
        t.push_str(" excluded");
    }
    t.push_str(if v.held { " held" } else { " missing" });
    t
}

/// One line per script, file and interface tracker, in aligned columns:
/// name, type, status, weight, details.
fn trackers(out: &mut String, s: &Snapshot, i: &InstanceStatus) {
    let mut rows: Vec<[String; 5]> = Vec::new();
    for u in &i.tracks {
        // A dangling index is the snapshot builder's bug; leave it out
        // rather than fail the whole report.
        let Some(t) = s.trackers.get(u.tracker) else { continue };
        let weight = if u.reverse { format!("weight {} reverse", u.weight) } else { format!("weight {}", u.weight) };
        let (kind, detail) = match t.kind {
            TrackerKind::Script { rise, fall, .. } => {
                (if t.probe.is_some() { "probe" } else { "script" }, script_detail(t, rise, fall))
            }
            TrackerKind::File => ("file", format!("value {}", t.value)),
            TrackerKind::Process => ("process", format!("{} running", t.value)),
        };
        rows.push([
            clean(&t.name).to_string(),
            kind.to_owned(),
            track_status_name(t.status).to_owned(),
            weight,
            detail,
        ]);
    }
    for f in &i.interfaces {
        let up = if f.up { "up" } else { "down" };
        rows.push([
            clean(&f.name).to_string(),
            "interface".to_owned(),
            up.to_owned(),
            format!("weight {}", f.weight),
            String::new(),
        ]);
    }
    let mut w = [0; 4];
    for r in &rows {
        for (k, cell) in r.iter().take(4).enumerate() {
            w[k] = w[k].max(width(cell));
        }
    }
    for (n, r) in rows.iter().enumerate() {
        let label = if n == 0 { "track" } else { "" };
        let mut text = String::new();
        for (k, cell) in r.iter().enumerate() {
            text.push_str(cell);
            if let Some(&w) = w.get(k) {
                text.extend(core::iter::repeat_n(' ', w - width(cell) + 2));
            }
        }
        line(out, label, text.trim_end());
    }
}

/// "exit status 0 in 12ms, 3.4s ago; fall 1/3": the last run and how far
/// the current streak is towards flipping the status.
fn script_detail(t: &TrackerStatus, rise: u32, fall: u32) -> String {
    let mut d = match &t.last_run {
        Some(r) => format!("{} in {}, {} ago", clean(&r.result), age(r.duration), age(r.ago)),
        None => "not run yet".to_owned(),
    };
    match t.status {
        TrackStatus::Up => {
            let _ = write!(d, "; fall {}/{}", t.streak, fall);
        }
        TrackStatus::Down => {
            let _ = write!(d, "; rise {}/{}", t.streak, rise);
        }
        TrackStatus::Unknown => {}
    }
    d
}

/// "1007 received, 1009 sent, priority 0: 3 received, 4 sent, 5 send
/// failures", the zero parts left out but the first two.
fn adverts(t: &mut String, c: &Stats) {
    let _ = write!(t, "{} received, {} sent", c.adverts_rcvd, c.adverts_sent);
    if c.pri_zero_rcvd + c.pri_zero_sent > 0 {
        let _ = write!(t, ", priority 0: {} received, {} sent", c.pri_zero_rcvd, c.pri_zero_sent);
    }
    if c.send_failures > 0 {
        let _ = write!(t, ", {} send failures", c.send_failures);
    }
    t.push('\n');
}

/// "checksum-errors 3": the counter names of vipd(8), STATISTICS.
fn error_items(errors: &[(WireError, u64)]) -> Vec<String> {
    errors.iter().map(|(e, n)| format!("{} {n}", e.counter())).collect()
}

/// One labelled line under an instance.
fn line(out: &mut String, label: &str, text: &str) {
    start(out, label);
    out.push_str(text);
    out.push('\n');
}

/// The start of a labelled line: its text follows.
fn start(out: &mut String, label: &str) {
    let _ = write!(out, "  {label:<LABEL$} ");
}

/// Comma-separated items under one label, wrapped before [`WRAP`].
fn wrapped(out: &mut String, label: &str, items: &[String]) {
    let mut cur = String::new();
    let mut label = label;
    for (n, item) in items.iter().enumerate() {
        let sep = if n + 1 < items.len() { "," } else { "" };
        if !cur.is_empty() && 3 + LABEL + width(&cur) + 1 + width(item) + sep.len() > WRAP {
            line(out, label, &cur);
            label = "";
            cur.clear();
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(item);
        cur.push_str(sep);
    }
    line(out, label, &cur);
}

/// Human time: "400ms", "3.4s", "5m 12s", "2h 3m", "3d 4h".
fn age(d: Duration) -> Age {
    Age(d)
}

/// Written straight into the line: no String per use.
struct Age(Duration);

impl Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        let s = self.0.as_secs();
        let (a, sep, b, unit) = match s {
            _ if ms < 1000 => return write!(f, "{ms}ms"),
            0..60 => (s, ".", (ms % 1000 / 100) as u64, "s"),
            60..3600 => (s / 60, "m ", s % 60, "s"),
            3600..86400 => (s / 3600, "h ", s % 3600 / 60, "m"),
            _ => (s / 86400, "d ", s % 86400 / 3600, "h"),
        };
        write!(f, "{a}{sep}{b}{unit}")
    }
}

/// An advert interval: "100ms", "1s", "1.5s".
fn interval(d: Duration) -> Interval {
    Interval(d)
}

struct Interval(Duration);

impl Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            return write!(f, "{ms}ms");
        }
        let mut frac = ms % 1000;
        if frac == 0 {
            return write!(f, "{}s", ms / 1000);
        }
        // Trailing zeros dropped: "1.5s", "2.01s".
        let mut width = 3;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        write!(f, "{}.{frac:0width$}s", ms / 1000)
    }
}

/// The text with control characters escaped (`\n`, `\t`, `\u{1}`), so it
/// stays on one line and cannot drive the terminal.
fn clean(s: &str) -> Clean<'_> {
    Clean(s)
}

struct Clean<'a>(&'a str);

impl Display for Clean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// The width of `clean(s)`.
fn clean_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_control() { c.escape_default().count() } else { 1 }).sum()
}

/// Columns are counted in characters (good enough for names, which are
/// nearly always ASCII).
fn width(s: &str) -> usize {
    s.chars().count()
}

/// `clean(s)` padded with spaces to `w` columns.
struct Pad<'a>(&'a str, usize);

impl Display for Pad<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", clean(self.0))?;
        for _ in clean_width(self.0)..self.1 {
            f.write_char(' ')?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::fixtures;

    #[test]
    fn rich_report() {
        let got = render(&fixtures::rich(), &[]);
        let want = r#"vipd 0.1.0  pid 4242  up 3d 4h  1 MASTER, 1 BACKUP, 1 FAULT

VI_1                    eth0   vrid 51   inet   VRRPv3  MASTER  2h 3m    master down timer expired
  priority   150, effective 130
  master     us (10.0.0.2), priority 130, advert 100ms
  vips       10.0.0.10/24 held, 10.0.1.10/24 on eth1 held, 192.168.5.5/32 excluded held
  track      chk_http            script     up    weight -20  exit status 0 in 12ms, 3.4s ago; fall 1/3
             /run/weight "file"  file       up    weight 2    value -5
             eth0                interface  up    weight 0
             eth1                interface  down  weight -10
  group      G1 MASTER (VI_1, VI_3)
  adverts    1007 received, 1009 sent, priority 0: 3 received, 4 sent, 5 send failures
  history    became master 2, released master 6
  errors     checksum-errors 100, version-errors 101, vrid-errors 102, interval-errors 103,
             ip-ttl-errors 104, packet-length-errors 105, invalid-type-pkts 106,
             address-list-errors 107, invalid-auth-type 108, auth-type-mismatch 109,
             auth-failures 110, protocol-errors 111, source-errors 112

VI "odd"\ né\n\tx\u{1}  eth"2  vrid 52   inet6  VRRPv3  BACKUP  4.2s     higher priority advert from fe80::2 (priority 200)
  priority   100
  master     fe80::2, priority 200, advert 1s, last 400ms ago, checksum with pseudo-header
  vips       2001:db8::10/64 missing
  track      chk_db  script     down  weight 0  timed out in 2.0s, 1.0s ago; rise 1/2
             eth"2   interface  up    weight 0
  condition  peer_mismatch for 12.0s: adverts from 10.0.0.2 differ from our configuration: addresses ours 1, theirs 2
  adverts    2007 received, 2009 sent, priority 0: 4 received, 5 sent, 6 send failures
  history    became master 3, released master 7
  errors     checksum-errors 200, version-errors 201, vrid-errors 202, interval-errors 203,
             ip-ttl-errors 204, packet-length-errors 205, invalid-type-pkts 206,
             address-list-errors 207, invalid-auth-type 208, auth-type-mismatch 209,
             auth-failures 210, protocol-errors 211, source-errors 212

VI_3                    eth3   vrid 53   inet   VRRPv2  FAULT   3d 5h    tracker chk_db failed
  priority   90
  master     none
  track      chk_db   script     down     weight 0  timed out in 2.0s, 1.0s ago; rise 1/2
             chk_new  script     unknown  weight 0  not run yet
             eth3     interface  up       weight 0
  group      G1 MASTER (VI_1, VI_3)
  adverts    0 received, 0 sent
  history    became master 0, released master 0

adverts no instance matched
  errors     vrid-errors 7, packet-length-errors 2
"#;
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn only_and_empty() {
        let got = render(&fixtures::rich(), &["VI_3"]);
        assert!(got.contains("\nVI_3  eth3  vrid 53 "), "{got}");
        assert!(!got.contains("VI_1  "), "{got}");
        assert_eq!(render(&fixtures::rich(), &["nope"]).lines().nth(1), Some("no such instance"));
        assert_eq!(render(&fixtures::empty(), &[]), "vipd 0.1.0  pid 1  up 1.5s\nno instances configured\n");
    }

    #[test]
    fn one_line_per_item_whatever_the_names() {
        // The odd name's newline and tab are escaped, so the block has its
        // 18 lines (header, blank, 13 for the instance, blank, 2 for the
        // global errors) and each line is a header, instance or label line.
        let got = render(&fixtures::rich(), &[fixtures::ODD_NAME]);
        assert_eq!(got.lines().count(), 18, "{got}");
        assert!(
            got.lines().all(|l| l.is_empty()
                || l.starts_with("vipd ")
                || l.starts_with("VI \"")
                || l.starts_with("  ")
                || l.starts_with("adverts no")),
            "{got}"
        );
        assert!(!got.contains('\t') && !got.contains('\u{1}'));
    }

    #[test]
    fn many_vips_wrap() {
        let mut s = fixtures::rich();
        let v = s.instances[0].vips[0].clone();
        s.instances[0].vips = (0..20).map(|_| v.clone()).collect();
        let got = render(&s, &["VI_1"]);
        let vip_lines: Vec<&str> = got.lines().filter(|l| l.contains("10.0.0.10/24")).collect();
        assert!(vip_lines.len() > 2, "{got}");
        assert!(vip_lines.iter().all(|l| l.len() <= WRAP), "{got}");
        assert!(vip_lines[1].starts_with(&" ".repeat(3 + LABEL)));
    }

    #[test]
    fn durations() {
        assert_eq!(age(Duration::from_millis(999)).to_string(), "999ms");
        assert_eq!(age(Duration::from_millis(1_050)).to_string(), "1.0s");
        assert_eq!(age(Duration::from_secs(59)).to_string(), "59.0s");
        assert_eq!(age(Duration::from_secs(61)).to_string(), "1m 1s");
        assert_eq!(age(Duration::from_secs(3600)).to_string(), "1h 0m");
        assert_eq!(age(Duration::from_secs(86400 * 400)).to_string(), "400d 0h");
        assert_eq!(interval(Duration::from_millis(30)).to_string(), "30ms");
        assert_eq!(interval(Duration::from_millis(1000)).to_string(), "1s");
        assert_eq!(interval(Duration::from_millis(1500)).to_string(), "1.5s");
        assert_eq!(interval(Duration::from_millis(2010)).to_string(), "2.01s");
    }
}
