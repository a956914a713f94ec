//! `vipd status --prometheus` and `GET /metrics`: a [`Snapshot`] in the
//! Prometheus text exposition format (0.0.4). This module owns the metric
//! names, labels and meanings (vipd(8), STATUS). Where
//! mehdy/keepalived-exporter has a metric, its exact name, labels and value
//! convention are kept (read from its `internal/collector/collector.go` and
//! `parser.go`), so existing dashboards and alerts work against vipd;
//! everything else is under `vipd_`. It only formats: no I/O, no reading
//! of anything but the snapshot.

use core::fmt::{self, Display};
use std::time::Duration;

use crate::config::TrackerKind;
use crate::core::{NotifyState, State, TrackStatus};
use crate::wire::WireError;

use super::json::{checksum_name, counter_key, family_name, version_number};
use super::model::*;

mod format;
use format::Kind::{Counter, Gauge};
use format::Value::{Int, Secs};
use format::{Family, Kind, Value};

/// The labels keepalived-exporter puts on its per-instance counters.
fn inst_labels(i: &InstanceStatus) -> [(&'static str, &dyn Display); 3] {
    [("iname", &i.cfg.name), ("intf", &i.cfg.interface), ("vrid", &i.cfg.vrid)]
}

/// A family whose samples are one per instance at most, labelled with
/// [`inst_labels`] (`None`: no sample for that instance). Tables of these
/// rather than one closure per family: the binary carries one loop.
type PerInstance = (&'static str, Kind, &'static str, Get);

/// Where a per-instance family's value comes from: a receive-error counter
/// (no function of its own for each), or a function.
#[derive(Clone, Copy)]
enum Get {
    Error(WireError),
    F(fn(&InstanceStatus) -> Option<Value>),
}
use Get::F;

/// A family of at most one sample per tracker, labelled with its name.
type PerTracker = (&'static str, &'static str, fn(&TrackerStatus) -> Option<Value>);

/// The whole snapshot as exposition text, one family after another (a
/// family's samples must be contiguous); families with no sample are left
/// out, as client libraries do.
pub fn render(s: &Snapshot) -> String {
    let mut text = String::with_capacity(4096 + s.instances.len() * 6144);
    let out = &mut text;
    let all = &s.instances;

    Family::new(out, "keepalived_up", Gauge, "Whether keepalived (here vipd) answered: always 1.").sample(&[], Int(1));
    let mut f = Family::new(
        out,
        "keepalived_vrrp_state",
        Gauge,
        "Instance state per virtual IP: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT (one sample with ip_address=\"\" \
         when the instance has no virtual IP).",
    );
    for i in all {
        let mut any = false;
        for v in i.vips.iter().filter(|v| !v.excluded) {
            any = true;
            f.vip(i, v, &[], state_value(i.state));
        }
        if !any {
            f.inst(i, &[("ip_address", &"")], state_value(i.state));
        }
    }
    let mut f = Family::new(
        out,
        "keepalived_vrrp_excluded_state",
        Gauge,
        "Instance state per excluded virtual IP (virtual_ipaddress_excluded), as keepalived_vrrp_state.",
    );
    for i in all {
        for v in i.vips.iter().filter(|v| v.excluded) {
            f.vip(i, v, &[], state_value(i.state));
        }
    }
    per_instance(out, all, KEEPALIVED_COUNTERS);
    per_tracker(out, &s.trackers, SCRIPT_STATUS);

    Family::new(out, "vipd_build_info", Gauge, "vipd's version, as a label; always 1.")
        .sample(&[("version", &s.version)], Int(1));
    Family::new(out, "vipd_dry_run", Gauge, "1 when started with --dry-run (sends nothing, holds nothing).")
        .sample(&[], Int(i64::from(s.dry_run)));
    Family::new(out, "vipd_uptime_seconds", Gauge, "Seconds since the daemon started.").sample(&[], Secs(s.uptime));
    instance_families(out, s);
    tracker_families(out, s);
    let mut f = Family::new(
        out,
        "vipd_sync_group_state",
        Gauge,
        "Sync group state last reported: 1 BACKUP, 2 MASTER, 3 FAULT, 4 STOP.",
    );
    for g in &s.groups {
        if let Some(st) = g.state {
            f.sample(&[("group", &g.name)], notify_value(st));
        }
    }
    let mut f = Family::new(
        out,
        "vipd_global_receive_errors_total",
        Counter,
        "Adverts rejected before any instance could be charged (unknown VRID, too short, ...), by cause.",
    );
    for e in WireError::ALL {
        let n: u64 = s.global_errors.iter().filter(|(g, _)| *g == e).map(|(_, n)| *n).sum();
        f.sample(&[("cause", &counter_key(e))], n.into());
    }
    let mut f = Family::new(
        out,
        "vipd_smtp_alerts_total",
        Counter,
        "E-mail alerts: delivered, failed (each logged), dropped unsent from a full queue.",
    );
    let a = &s.smtp_alerts;
    for (result, n) in [("sent", a.sent), ("failed", a.failed), ("dropped", a.dropped)] {
        f.sample(&[("result", &result)], n.into());
    }
    text
}

/// keepalived-exporter's per-instance families (labels iname, intf, vrid).
const KEEPALIVED_COUNTERS: &[PerInstance] = &[
    (
        "keepalived_gratuitous_arp_delay_total",
        Counter,
        "garp_master_delay in seconds (a setting, typed counter as keepalived-exporter does).",
        F(|i| Some(Secs(i.cfg.garp.master_delay.to_std()))),
    ),
    (
        "keepalived_advertisements_received_total",
        Counter,
        "Adverts received that passed every check.",
        F(|i| Some(i.counters.adverts_rcvd.into())),
    ),
    ("keepalived_advertisements_sent_total", Counter, "Adverts sent.", F(|i| Some(i.counters.adverts_sent.into()))),
    (
        "keepalived_become_master_total",
        Counter,
        "Transitions to MASTER.",
        F(|i| Some(i.counters.master_transitions.into())),
    ),
    (
        "keepalived_release_master_total",
        Counter,
        "Transitions out of MASTER.",
        F(|i| Some(i.counters.release_master.into())),
    ),
    (
        "keepalived_packet_length_errors_total",
        Counter,
        "Adverts rejected for their length.",
        Get::Error(WireError::PacketLength),
    ),
    (
        "keepalived_advertisements_interval_errors_total",
        Counter,
        "Adverts rejected for their interval.",
        Get::Error(WireError::Interval),
    ),
    (
        "keepalived_ip_ttl_errors_total",
        Counter,
        "Adverts rejected for their TTL or hop limit.",
        Get::Error(WireError::IpTtl),
    ),
    (
        "keepalived_invalid_type_received_total",
        Counter,
        "Packets whose VRRP type is not ADVERTISEMENT.",
        Get::Error(WireError::InvalidType),
    ),
    (
        "keepalived_address_list_errors_total",
        Counter,
        "Adverts with none of our addresses (another virtual router).",
        Get::Error(WireError::AddressList),
    ),
    (
        "keepalived_authentication_invalid_total",
        Counter,
        "VRRPv2 adverts with an unknown auth type.",
        Get::Error(WireError::InvalidAuthType),
    ),
    (
        "keepalived_authentication_mismatch_total",
        Counter,
        "VRRPv2 adverts with another auth type than ours.",
        Get::Error(WireError::AuthTypeMismatch),
    ),
    (
        "keepalived_authentication_failure_total",
        Counter,
        "VRRPv2 adverts with a wrong password.",
        Get::Error(WireError::AuthFailure),
    ),
    (
        "keepalived_priority_zero_received_total",
        Counter,
        "Priority 0 adverts received.",
        F(|i| Some(i.counters.pri_zero_rcvd.into())),
    ),
    (
        "keepalived_priority_zero_sent_total",
        Counter,
        "Priority 0 adverts sent.",
        F(|i| Some(i.counters.pri_zero_sent.into())),
    ),
];

const SCRIPT_STATUS: &[PerTracker] = &[(
    "keepalived_script_status",
    "Check script status: 1 GOOD, 0 BAD (absent before its first result).",
    |t| match (t.kind, known(t.status)) {
        (TrackerKind::Script { .. }, Some(up)) => Some(up.into()),
        _ => None,
    },
)];

/// vipd's own per-instance families, from `vipd_instance_state` to
/// `vipd_master_last_advert_seconds`, less `vipd_master_info`.
const STATE: &[PerInstance] = &[
    ("vipd_instance_state", Gauge, "0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.", F(|i| Some(state_value(i.state)))),
    ("vipd_state_seconds", Gauge, "Seconds in the current state.", F(|i| Some(Secs(i.in_state)))),
    ("vipd_priority", Gauge, "Configured (base) priority.", F(|i| Some(i.base_priority.into()))),
    (
        "vipd_effective_priority",
        Gauge,
        "Priority with trackers applied, as advertised.",
        F(|i| Some(i.effective_priority.into())),
    ),
];
const MASTER: &[PerInstance] = &[
    (
        "vipd_master_is_self",
        Gauge,
        "1 when this router is the master, 0 when a peer is.",
        F(|i| i.master.as_ref().map(|m| m.is_self.into())),
    ),
    (
        "vipd_master_priority",
        Gauge,
        "The current master's priority.",
        F(|i| i.master.as_ref().map(|m| m.priority.into())),
    ),
    (
        "vipd_master_advert_interval_seconds",
        Gauge,
        "The current master's advert interval.",
        F(|i| i.master.as_ref().map(|m| Secs(m.advert_int))),
    ),
    (
        "vipd_master_last_advert_seconds",
        Gauge,
        "Seconds since the peer master's last accepted advert; absent when we are master.",
        F(|i| i.master.as_ref().and_then(|m| m.last_seen).map(Secs)),
    ),
    (
        "vipd_vips_held",
        Gauge,
        "1 when every virtual IP (and excluded one) is on its interface.",
        F(|i| Some(i.vips.iter().all(|v| v.held).into())),
    ),
];
const SEND_FAILURES: &[PerInstance] = &[(
    "vipd_send_failures_total",
    Counter,
    "Adverts the kernel refused to send.",
    F(|i| Some(i.counters.send_failures.into())),
)];

/// vipd's own per-instance families.
fn instance_families(out: &mut String, s: &Snapshot) {
    let all = &s.instances;
    let mut f = Family::new(out, "vipd_instance_info", Gauge, "One per instance, its description in labels; always 1.");
    for i in all {
        let version = version_number(i.cfg.version);
        let group = i.group.as_deref().unwrap_or("");
        f.inst(i, &[("family", &family_name(i)), ("vrrp_version", &version), ("group", &group)], Int(1));
    }
    per_instance(out, all, STATE);
    let mut f = Family::new(
        out,
        "vipd_master_info",
        Gauge,
        "The current master's address and checksum form (\"\" when unknown); absent without a master. Always 1.",
    );
    for i in all {
        let Some(m) = &i.master else { continue };
        let form = m.checksum.map(checksum_name).unwrap_or("");
        f.inst(i, &[("address", &m.address), ("checksum_form", &form)], Int(1));
    }
    per_instance(out, all, MASTER);
    let mut f = Family::new(out, "vipd_vip_held", Gauge, "1 when this address is on its interface (intf), else 0.");
    for i in all {
        for v in &i.vips {
            let excluded = u8::from(v.excluded);
            f.vip(i, v, &[("excluded", &excluded)], v.held.into());
        }
    }
    let mut f =
        Family::new(out, "vipd_interface_up", Gauge, "Tracked interfaces (and the instance's own): 1 up, 0 down.");
    for i in all {
        for (n, t) in i.interfaces.iter().enumerate() {
            // The instance's own interface may also be listed under
            // track_interface: one series each, or the scrape fails.
            if i.interfaces[..n].iter().any(|e| e.name == t.name) {
                continue;
            }
            f.inst(i, &[("interface", &t.name)], t.up.into());
        }
    }
    per_instance(out, all, SEND_FAILURES);
    let mut f = Family::new(
        out,
        "vipd_checksum_form_received_total",
        Counter,
        "VRRPv3/IPv4 adverts accepted, by checksum form.",
    );
    for i in all {
        f.inst(i, &[("form", &"pseudo_header")], i.counters.rcvd_pseudo_header_csum.into());
        f.inst(i, &[("form", &"rfc9568")], i.counters.rcvd_rfc9568_csum.into());
    }
    for (name, kind, help, raised) in [
        ("vipd_condition", Gauge, "Conditions (vipd.conf(5) CONDITIONS): 1 raised, 0 not.", false),
        ("vipd_condition_raised_total", Counter, "Times each condition was raised.", true),
    ] {
        let mut f = Family::new(out, name, kind, help);
        for i in all {
            for c in &i.conditions {
                let v = if raised { c.raised.into() } else { c.since.is_some().into() };
                f.inst(i, &[("condition", &c.condition.name())], v);
            }
        }
    }
    let mut f =
        Family::new(out, "vipd_receive_errors_total", Counter, "Adverts rejected, by cause (every cause vipd counts).");
    for i in all {
        for e in WireError::ALL {
            f.inst(i, &[("cause", &counter_key(e))], i.counters.error(e).into());
        }
    }
}

/// One family per entry of `table`, in its order.
fn per_instance(out: &mut String, all: &[InstanceStatus], table: &[PerInstance]) {
    for &(name, kind, help, get) in table {
        let mut f = Family::new(out, name, kind, help);
        for i in all {
            let value = match get {
                Get::Error(e) => Some(i.counters.error(e).into()),
                F(value) => value(i),
            };
            if let Some(v) = value {
                f.inst(i, &[], v);
            }
        }
    }
}

/// One gauge family per entry of `table`, in its order.
fn per_tracker(out: &mut String, all: &[TrackerStatus], table: &[PerTracker]) {
    for (name, help, value) in table {
        let mut f = Family::new(out, name, Gauge, help);
        for t in all {
            if let Some(v) = value(t) {
                f.sample(&[("name", &t.name)], v);
            }
        }
    }
}

/// vipd's tracker families after `vipd_tracker_status` (labelled by the
/// tracker's name, as keepalived_script_status is).
const TRACKERS: &[PerTracker] = &[
    ("vipd_tracker_file_value", "The value last read from a tracked file.", |t| {
        (t.kind == TrackerKind::File).then_some(Int(t.value))
    }),
    ("vipd_tracker_processes", "Processes matching a vrrp_track_process now.", |t| {
        (t.kind == TrackerKind::Process).then_some(Int(t.value))
    }),
    ("vipd_script_last_exit_code", "Exit status of the script's last run (absent if it did not exit).", |t| {
        t.last_run.as_ref().and_then(|r| r.exit_code).map(|c| Int(c.into()))
    }),
    ("vipd_script_last_success", "1 when the script's last run counted as a success.", |t| {
        t.last_run.as_ref().map(|r| r.success.into())
    }),
    ("vipd_script_last_duration_seconds", "How long the script's last run took.", |t| {
        t.last_run.as_ref().map(|r| Secs(r.duration))
    }),
    ("vipd_script_last_run_age_seconds", "Seconds since the script's last run ended.", |t| {
        t.last_run.as_ref().map(|r| Secs(r.ago))
    }),
];

/// vipd's tracker families (labelled by the tracker's name, as
/// keepalived_script_status is).
fn tracker_families(out: &mut String, s: &Snapshot) {
    let mut f = Family::new(
        out,
        "vipd_tracker_status",
        Gauge,
        "Scripts, probes, files, processes: 1 up, 0 down, -1 no result yet.",
    );
    for t in &s.trackers {
        let kind = match t.kind {
            TrackerKind::Script { .. } if t.probe.is_some() => "probe",
            TrackerKind::Script { .. } => "script",
            TrackerKind::File => "file",
            TrackerKind::Process => "process",
        };
        let v = match known(t.status) {
            Some(up) => up.into(),
            None => Int(-1),
        };
        f.sample(&[("name", &t.name), ("type", &kind)], v);
    }
    per_tracker(out, &s.trackers, TRACKERS);
}

fn vip_labels<'a>(i: &'a InstanceStatus, v: &'a VipAddr<'a>) -> [(&'static str, &'a dyn Display); 4] {
    // keepalived-exporter takes intf from the VIP's "dev" and ip_address
    // as "addr/prefix", both from keepalived's data file.
    [("iname", &i.cfg.name), ("intf", &v.0.interface), ("vrid", &i.cfg.vrid), ("ip_address", v)]
}

/// A VIP written as "addr/prefix".
struct VipAddr<'a>(&'a VipStatus);

impl Display for VipAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.addr, self.0.prefix)
    }
}

/// keepalived's numbering (keepalived-exporter's VRRPStates).
fn state_value(s: State) -> Value {
    Int(match s {
        State::Init => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
    })
}

fn notify_value(s: NotifyState) -> Value {
    Int(match s {
        NotifyState::Backup => 1,
        NotifyState::Master => 2,
        NotifyState::Fault => 3,
        NotifyState::Stop => 4,
    })
}

fn known(t: TrackStatus) -> Option<bool> {
    match t {
        TrackStatus::Unknown => None,
        TrackStatus::Up => Some(true),
        TrackStatus::Down => Some(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::fixtures;

    /// `promtool check metrics` on `text`: None when promtool is missing
    /// (skipped through testkit::skip, which fails under
    /// VIPD_TESTS_MUST_RUN), else its exit status and output.
    fn promtool(text: &str) -> Option<(bool, String)> {
        let (ok, out, err) = crate::sys::testkit::pipe_through("promtool", &["check", "metrics"], text)?;
        Some((ok, out + &err))
    }

    #[test]
    fn promtool_accepts_rich_and_empty() {
        for snap in [fixtures::rich(), fixtures::empty()] {
            let text = render(&snap);
            let Some((ok, msg)) = promtool(&text) else { return };
            assert!(ok && msg.trim().is_empty(), "promtool check metrics: {msg}\n{text}");
        }
    }

    #[test]
    fn promtool_rejects_a_broken_exposition() {
        // Proves the check above can fail, both ways: a parse error (bad
        // label escape) and a lint problem (a counter without _total).
        for bad in [
            "# HELP x_total Errors.\n# TYPE x_total counter\nx_total{a=\"b\\q\"} 1\n",
            "# HELP x_errors Errors.\n# TYPE x_errors counter\nx_errors{a=\"b\"} 1\n",
        ] {
            let Some((ok, msg)) = promtool(bad) else { return };
            assert!(!ok, "promtool accepted {bad:?}: {msg}");
        }
    }

    #[test]
    fn keepalived_exporter_names_and_labels() {
        let text = render(&fixtures::rich());
        for line in [
            "keepalived_up 1",
            "keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"10.0.0.10/24\"} 2",
            "keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth1\",vrid=\"51\",ip_address=\"10.0.1.10/24\"} 2",
            "keepalived_vrrp_state{iname=\"VI_3\",intf=\"eth3\",vrid=\"53\",ip_address=\"\"} 3",
            "keepalived_vrrp_excluded_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"192.168.5.5/32\"} 2",
            "keepalived_gratuitous_arp_delay_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 5",
            "keepalived_advertisements_received_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 1007",
            "keepalived_advertisements_sent_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 1009",
            "keepalived_become_master_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 2",
            "keepalived_release_master_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 6",
            "keepalived_packet_length_errors_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 105",
            "keepalived_advertisements_interval_errors_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 103",
            "keepalived_ip_ttl_errors_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 104",
            "keepalived_invalid_type_received_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 106",
            "keepalived_address_list_errors_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 107",
            "keepalived_authentication_invalid_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 108",
            "keepalived_authentication_mismatch_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 109",
            "keepalived_authentication_failure_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 110",
            "keepalived_priority_zero_received_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 3",
            "keepalived_priority_zero_sent_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 4",
            "keepalived_script_status{name=\"chk_http\"} 1",
            "keepalived_script_status{name=\"chk_db\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        // No verdict yet: no GOOD/BAD sample (keepalived-exporter would
        // read one of the two; neither would be true).
        assert!(!text.contains("keepalived_script_status{name=\"chk_new\"}"));
    }

    #[test]
    fn vipd_metrics() {
        let text = render(&fixtures::rich());
        let i1 = "iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"";
        for line in [
            "vipd_build_info{version=\"0.1.0\"} 1".to_owned(),
            "vipd_uptime_seconds 273906".to_owned(),
            format!("vipd_instance_info{{{i1},family=\"inet\",vrrp_version=\"3\",group=\"G1\"}} 1"),
            format!("vipd_instance_state{{{i1}}} 2"),
            format!("vipd_state_seconds{{{i1}}} 7384"),
            format!("vipd_priority{{{i1}}} 150"),
            format!("vipd_effective_priority{{{i1}}} 130"),
            format!("vipd_master_info{{{i1},address=\"10.0.0.2\",checksum_form=\"\"}} 1"),
            format!("vipd_master_is_self{{{i1}}} 1"),
            format!("vipd_master_advert_interval_seconds{{{i1}}} 0.1"),
            format!("vipd_vips_held{{{i1}}} 1"),
            "vipd_vip_held{iname=\"VI_1\",intf=\"eth1\",vrid=\"51\",ip_address=\"10.0.1.10/24\",excluded=\"0\"} 1"
                .to_owned(),
            format!("vipd_interface_up{{{i1},interface=\"eth1\"}} 0"),
            format!("vipd_send_failures_total{{{i1}}} 5"),
            format!("vipd_checksum_form_received_total{{{i1},form=\"rfc9568\"}} 8"),
            format!("vipd_receive_errors_total{{{i1},cause=\"source_errors\"}} 112"),
            "vipd_global_receive_errors_total{cause=\"vrid_errors\"} 7".to_owned(),
            "vipd_global_receive_errors_total{cause=\"checksum_errors\"} 0".to_owned(),
            "vipd_tracker_status{name=\"chk_new\",type=\"script\"} -1".to_owned(),
            "vipd_tracker_status{name=\"chk_db\",type=\"script\"} 0".to_owned(),
            "vipd_tracker_file_value{name=\"/run/weight \\\"file\\\"\"} -5".to_owned(),
            "vipd_script_last_exit_code{name=\"chk_http\"} 0".to_owned(),
            "vipd_script_last_success{name=\"chk_db\"} 0".to_owned(),
            "vipd_script_last_duration_seconds{name=\"chk_http\"} 0.012".to_owned(),
            "vipd_script_last_run_age_seconds{name=\"chk_http\"} 3.4".to_owned(),
            "vipd_sync_group_state{group=\"G1\"} 2".to_owned(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        // The peer master: seen 0.4 s ago, in pseudo-header form.
        assert!(text.contains("vipd_master_last_advert_seconds{iname=\"VI \\\"odd\\\"\\\\ n"));
        assert!(text.contains("checksum_form=\"pseudo_header\"} 1"));
        // We are master of VI_1, no master for VI_3: no age for either.
        assert!(!text.contains("vipd_master_last_advert_seconds{iname=\"VI_1\""));
        assert!(!text.contains("vipd_master_priority{iname=\"VI_3\""));
        // A timed-out run has no exit code.
        assert!(!text.contains("vipd_script_last_exit_code{name=\"chk_db\"}"));
    }

    #[test]
    fn label_values_are_escaped() {
        let text = render(&fixtures::rich());
        let line =
            "vipd_instance_state{iname=\"VI \\\"odd\\\"\\\\ n\u{e9}\\n\tx\u{1}\",intf=\"eth\\\"2\",vrid=\"52\"} 1";
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        // Exactly one line per sample: the newline in the name is escaped.
        assert!(text.lines().all(|l| l.starts_with("# ") || l.starts_with("keepalived_") || l.starts_with("vipd_")));
    }

    #[test]
    fn families_are_contiguous_typed_and_named_by_type() {
        let text = render(&fixtures::rich());
        let mut seen: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut kind = "";
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().expect("name").to_owned();
                assert!(!seen.contains(&name), "{name} twice");
                seen.push(name.clone());
                current = name;
            } else if let Some(rest) = l.strip_prefix("# TYPE ") {
                let (name, k) = rest.split_once(' ').expect("type");
                assert_eq!(name, current);
                kind = if k == "counter" { "counter" } else { "gauge" };
                assert_eq!(name.ends_with("_total"), kind == "counter", "{name} is a {k}");
            } else {
                let name = l.split(['{', ' ']).next().expect("sample name");
                assert_eq!(name, current, "sample outside its family: {l}");
                assert!(!kind.is_empty());
            }
        }
        assert!(seen.len() > 40, "{seen:?}");
    }

    #[test]
    fn an_interface_listed_twice_is_one_series() {
        // track_interface naming the instance's own interface: a second
        // identical series would make Prometheus reject the whole scrape.
        let mut s = fixtures::rich();
        let own = s.instances[0].interfaces[0].clone();
        s.instances[0].interfaces.push(own);
        let text = render(&s);
        let n = text
            .lines()
            .filter(|l| l.starts_with("vipd_interface_up{iname=\"VI_1\",") && l.contains("\"eth0\"}"))
            .count();
        assert_eq!(n, 1, "{text}");
    }

    #[test]
    fn empty_daemon() {
        let text = render(&fixtures::empty());
        assert!(text.lines().any(|l| l == "keepalived_up 1"));
        assert!(!text.contains("keepalived_vrrp_state"));
        assert!(!text.contains("# TYPE vipd_instance_state"), "no empty families");
    }
}
