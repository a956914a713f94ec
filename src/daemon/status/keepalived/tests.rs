//! The renderers against files keepalived 2.2.7 wrote
//! (`tests/data/keepalived-files`, README there): for the same situation
//! vipd's text is keepalived's, line for line, less the lines vipd leaves
//! out on purpose ([`OMITTED`]); and keepalived-exporter's parsing rules
//! read the same keys and values from both.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::config::{InstanceConfig, TrackInterface, TrackRef, TrackerId, UnicastPeer, VipConfig};
use crate::core::{NotifyState, Stats};

const V2_MASTER_DATA: &str = include_str!("../../../../tests/data/keepalived-files/v2-master.data");
const V2_MASTER_STATS: &str = include_str!("../../../../tests/data/keepalived-files/v2-master.stats");
const V3_BACKUP_DATA: &str = include_str!("../../../../tests/data/keepalived-files/v3-backup.data");
const V3_BACKUP_STATS: &str = include_str!("../../../../tests/data/keepalived-files/v3-backup.stats");
const V3_MASTER_DATA: &str = include_str!("../../../../tests/data/keepalived-files/v3-master.data");
const V3_MASTER_STATS: &str = include_str!("../../../../tests/data/keepalived-files/v3-master.stats");
const V3_PROCESS_CONF: &str = include_str!("../../../../tests/data/keepalived-files/v3-process.conf");
const V3_PROCESS_DATA: &str = include_str!("../../../../tests/data/keepalived-files/v3-process.data");

/// Lines of keepalived's sections that vipd does not write: process
/// internals (file descriptors, the script's result counter and init
/// state), notify script lines, and settings vipd does not keep once the
/// configuration is loaded (a tracker's default weight).
const OMITTED: &[&str] = &[
    "   fd_in ",
    " state transition script = ",
    "   Weight = ",
    "   Result = ",
    "   Insecure = ",
    "   Init state = ",
    "   VRRP instances :",
];

/// Sections of keepalived's data file that vipd writes.
const SECTIONS: &[&str] =
    &["VRRP Topology", "VRRP Sync groups", "VRRP Scripts", "VRRP Track files", "VRRP Track processes"];

/// keepalived's file as vipd should write it: its sections, less
/// [`OMITTED`].
fn expected(real: &str) -> String {
    let mut out = String::new();
    let mut keep = false;
    for line in real.lines() {
        if let Some(title) = line.strip_prefix("------< ").and_then(|l| l.strip_suffix(" >------")) {
            keep = SECTIONS.contains(&title);
        } else if !keep || OMITTED.iter().any(|o| line.contains(o)) {
            continue;
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Line-by-line comparison, so a failure shows the first line that differs.
fn same_text(got: &str, want: &str) {
    for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} differs\n--- vipd:\n{got}\n--- keepalived:\n{want}", n + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count(), "\n--- vipd:\n{got}\n--- keepalived:\n{want}");
    assert_eq!(got, want);
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse::<Ipv4Addr>().expect("v4"))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().expect("v6"))
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn snapshot(taken_unix: u64, instances: Vec<InstanceStatus>) -> Snapshot {
    Snapshot {
        version: "test",
        pid: 1,
        uptime: Duration::from_secs(3600),
        taken_unix,
        taken_subsec_us: 0,
        utc_offset_s: 0,
        instances,
        groups: Vec::new(),
        trackers: Vec::new(),
        global_errors: Vec::new(),
        smtp_alerts: SmtpAlerts::default(),
        dry_run: false,
    }
}

/// An instance on eth0 (ifindex `ifindex`) whose VIPs are held when it is
/// master; the test sets the rest.
fn inst(cfg: InstanceConfig, state: State, in_state: f64, next: Option<f64>) -> InstanceStatus {
    let held = state == State::Master;
    let vips = cfg
        .vips
        .iter()
        .map(|v| (v, false))
        .chain(cfg.excluded_vips.iter().map(|v| (v, true)))
        .map(|(v, excluded)| VipStatus {
            addr: v.addr,
            prefix: v.prefix,
            interface: v.dev.clone().unwrap_or_else(|| cfg.interface.clone()),
            excluded,
            held,
        })
        .collect();
    InstanceStatus {
        state,
        in_state: secs(in_state),
        reason: String::new(),
        base_priority: cfg.priority,
        effective_priority: cfg.priority,
        master: None,
        source: Some(v4("10.199.0.1")),
        ifindex: 2,
        next_timer: next.map(secs),
        vips,
        tracks: Vec::new(),
        interfaces: vec![InterfaceStatus { name: cfg.interface.clone(), weight: 0, up: true }],
        group: None,
        counters: Stats::default(),
        conditions: Vec::new(),
        cfg,
    }
}

fn is_master(i: &mut InstanceStatus) {
    i.master = Some(MasterStatus {
        address: i.source.unwrap_or(v4("0.0.0.0")),
        priority: i.effective_priority,
        advert_int: i.cfg.advert_int.to_std(),
        last_seen: None,
        checksum: None,
        is_self: true,
    });
}

fn follows(i: &mut InstanceStatus, address: IpAddr, priority: u8, advert_int: f64) {
    i.master = Some(MasterStatus {
        address,
        priority,
        advert_int: secs(advert_int),
        last_seen: Some(Duration::from_millis(300)),
        checksum: None,
        is_self: false,
    });
}

fn uses(i: &mut InstanceStatus, tracker: usize, weight: i32) {
    i.cfg.track.push(TrackRef { tracker: TrackerId(tracker as u16), weight, reverse: false });
    i.tracks.push(TrackUse { tracker, weight, reverse: false });
}

fn check(name: &str, argv0: &str, interval: u64, timeout: u64, rise: u32, fall: u32, up: bool) -> TrackerStatus {
    TrackerStatus {
        name: name.to_owned(),
        kind: TrackerKind::Script { rise, fall, init_fail: false },
        status: if up { TrackStatus::Up } else { TrackStatus::Down },
        value: 0,
        streak: 0,
        last_run: None,
        running: false,
        check: Some(CheckInfo {
            argv: vec![argv0.to_owned()],
            uid: 0,
            gid: 0,
            interval: Duration::from_secs(interval),
            timeout: Duration::from_secs(timeout),
        }),
        path: None,
        probe: None,
        process: None,
    }
}

/// A tracker that is not a check script: its kind, status and value, the
/// rest empty for the test to set.
fn tracker(name: &str, kind: TrackerKind, status: TrackStatus, value: i64) -> TrackerStatus {
    TrackerStatus {
        name: name.to_owned(),
        kind,
        status,
        value,
        streak: 0,
        last_run: None,
        running: false,
        check: None,
        path: None,
        probe: None,
        process: None,
    }
}

fn sent(i: &mut InstanceStatus, rcvd: u64, sent: u64, became: u64) {
    i.counters.adverts_rcvd = rcvd;
    i.counters.adverts_sent = sent;
    i.counters.master_transitions = became;
}

/// `v2-master.conf` as keepalived had it when it wrote its files.
fn v2_master() -> Snapshot {
    let mut c = InstanceConfig::new("VI_1", "eth0", 51, Version::V2, &[]);
    c.vips = vec![VipConfig::new(v4("10.199.0.100"), 24), VipConfig::host(v4("10.199.0.101"))];
    c.excluded_vips = vec![VipConfig::host(v4("10.199.0.102"))];
    c.priority = 150;
    c.initial_state = InitialState::Master;
    c.auth = Auth::Simple(*b"secret\0\0");
    let mut vi1 = inst(c, State::Master, 1.800869, Some(1.199352));
    vi1.effective_priority = 160;
    is_master(&mut vi1);
    uses(&mut vi1, 0, 10);
    sent(&mut vi1, 0, 4, 1);
    let c = InstanceConfig::new("VI_2", "eth0", 52, Version::V2, &[]);
    let mut vi2 = inst(c, State::Master, 1.566661, Some(1.433560));
    vi2.cfg.vips = vec![VipConfig::new(v4("10.199.0.110"), 24)];
    vi2.vips =
        vec![VipStatus { addr: v4("10.199.0.110"), prefix: 24, interface: "eth0".into(), excluded: false, held: true }];
    is_master(&mut vi2);
    sent(&mut vi2, 0, 4, 1);
    let mut s = snapshot(1_796_460_368, vec![vi1, vi2]);
    s.trackers = vec![check("chk_ok", "/usr/bin/true", 1, 0, 2, 3, true)];
    s
}

/// `v3-backup.conf` against `v3-backup-peer.conf`.
fn v3_backup() -> Snapshot {
    let peer = v4("10.199.0.2");
    let mut c = InstanceConfig::new("VI_B", "eth0", 61, Version::V3, &[]);
    c.vips = vec![VipConfig::new(v4("10.199.0.100"), 24)];
    c.advert_int = crate::time::Duration::from_millis(100);
    c.preempt = false;
    // keepalived ignored the weights in a sync group.
    c.track_interfaces = vec![TrackInterface { interface: "eth1".into(), weight: 0, reverse: false }];
    let mut vib = inst(c, State::Backup, 7.877376, Some(0.429325));
    follows(&mut vib, peer, 200, 0.1);
    vib.group = Some("SG1".into());
    sent(&mut vib, 90, 0, 0);

    let mut c = InstanceConfig::new("VI_U", "eth0", 62, Version::V3, &[v4("10.199.0.101")]);
    c.unicast_peers = vec![UnicastPeer::new(peer)];
    c.src_addr = Some(v4("10.199.0.1"));
    c.accept_any_unicast_src = true;
    c.preempt_delay = crate::time::Duration::from_secs(5);
    c.garp.master_refresh = crate::time::Duration::from_secs(10);
    let mut viu = inst(c, State::Backup, 7.876953, Some(2.942417));
    follows(&mut viu, peer, 200, 1.0);
    viu.group = Some("SG1".into());
    sent(&mut viu, 8, 0, 0);

    let mut c = InstanceConfig::new("VI_6", "eth0", 63, Version::V3, &[]);
    c.family = crate::config::Family::V6;
    c.vips = vec![VipConfig::new(v6("fd00::100"), 64)];
    let mut vi6 = inst(c, State::Backup, 7.876951, Some(2.942422));
    vi6.source = Some(v6("fe80::64f6:fff:feb8:f5a4"));
    follows(&mut vi6, v6("fe80::884e:f6ff:fe86:f68"), 200, 1.0);
    sent(&mut vi6, 8, 0, 0);

    let c = InstanceConfig::new("VI_F", "eth0", 64, Version::V3, &[v4("10.199.0.104")]);
    let mut vif = inst(c, State::Fault, 7.875112, None);
    uses(&mut vif, 0, 0);

    let mut s = snapshot(1_796_460_410, vec![vib, viu, vi6, vif]);
    s.groups = vec![GroupStatus {
        name: "SG1".into(),
        state: Some(NotifyState::Backup),
        members: vec!["VI_B".into(), "VI_U".into()],
    }];
    s.trackers = vec![check("chk_bad", "/usr/bin/false", 1, 2, 1, 2, false)];
    s
}

/// `v3-master.conf`, the tracked file holding 5.
fn v3_master() -> Snapshot {
    let mut c = InstanceConfig::new("VI_M", "eth0", 71, Version::V3, &[]);
    c.vips = vec![VipConfig::new(v4("10.199.0.120"), 24), VipConfig::host(v4("10.199.0.121"))];
    c.advert_int = crate::time::Duration::from_millis(500);
    c.priority = 150;
    c.initial_state = InitialState::Master;
    c.track_interfaces = vec![TrackInterface { interface: "eth1".into(), weight: -20, reverse: false }];
    let mut vim = inst(c, State::Master, 3.740758, Some(0.760397));
    vim.effective_priority = 165;
    is_master(&mut vim);
    vim.interfaces.push(InterfaceStatus { name: "eth1".into(), weight: -20, up: true });
    uses(&mut vim, 1, 3);
    uses(&mut vim, 0, -30);
    sent(&mut vim, 0, 11, 1);

    let mut c = InstanceConfig::new("VI_6", "eth0", 73, Version::V3, &[]);
    c.family = crate::config::Family::V6;
    c.vips = vec![VipConfig::new(v6("fd00::100"), 128), VipConfig::new(v6("fd00::101"), 64)];
    c.initial_state = InitialState::Master;
    let mut vi6 = inst(c, State::Master, 1.809508, Some(1.190783));
    vi6.source = Some(v6("fe80::64f6:fff:feb8:f5a4"));
    is_master(&mut vi6);
    sent(&mut vi6, 0, 4, 1);

    let mut s = snapshot(1_796_460_455, vec![vim, vi6]);
    let file = TrackerStatus {
        path: Some("/var/tmp/kacap/trackfile".into()),
        ..tracker("tf1", TrackerKind::File, TrackStatus::Up, 5)
    };
    s.trackers = vec![check("chk_ok", "/usr/bin/true", 2, 0, 1, 1, true), file];
    s
}

/// `v3-process.conf` (in a namespace, where the kernel's process events
/// do not reach keepalived: it counted no process), dumped 0.49 s after
/// VI_P became master. The process trackers' settings are vipd's reading
/// of the same file.
fn v3_process() -> Snapshot {
    let loaded =
        crate::config::load_with(std::path::Path::new("v3-process.conf"), Some(V3_PROCESS_CONF), "test", &|_| true);
    let watched = |name: &str| {
        let t = loaded.config.trackers.iter().find(|t| t.name == name).expect("configured");
        ProcessInfo {
            cfg: t.process.clone().expect("a vrrp_track_process"),
            count: 0,
            quorum: false,
            fork_timer: false,
            terminate_timer: false,
        }
    };
    let process = |name: &str| TrackerStatus {
        process: Some(watched(name)),
        ..tracker(name, TrackerKind::Process, TrackStatus::Down, 0)
    };
    let mut c = InstanceConfig::new("VI_P", "eth0", 74, Version::V3, &[]);
    c.vips = vec![VipConfig::new(v4("10.199.0.130"), 24)];
    c.priority = 150;
    c.initial_state = InitialState::Master;
    let mut vip = inst(c, State::Master, 0.492229, Some(0.507771));
    vip.effective_priority = 130;
    is_master(&mut vip);
    uses(&mut vip, 0, 0);
    uses(&mut vip, 1, 2);
    uses(&mut vip, 2, -20);
    vip.cfg.track.push(TrackRef { tracker: TrackerId(3), weight: 7, reverse: true });
    vip.tracks.push(TrackUse { tracker: 3, weight: 7, reverse: true });
    let mut s = snapshot(1_796_533_843, vec![vip]);
    s.taken_subsec_us = 600_000;
    let file = TrackerStatus {
        path: Some("/root/kacap-conf/trackfile".into()),
        ..tracker("tf1", TrackerKind::File, TrackStatus::Up, 0)
    };
    s.trackers =
        vec![check("chk_ok", "/usr/bin/true", 2, 0, 1, 1, true), file, process("tp_sleep"), process("tp_params")];
    s
}

#[test]
fn the_data_file_is_keepalived_s_line_for_line() {
    // The comparison covers every instance and section written.
    let want = expected(V3_BACKUP_DATA);
    assert_eq!(want.matches(" VRRP Instance = ").count(), 4);
    for title in SECTIONS {
        assert_eq!(
            want.matches(&format!("------< {title} >------")).count(),
            1 - usize::from(matches!(*title, "VRRP Track files" | "VRRP Track processes"))
        );
    }
    assert!(want.lines().count() > 180, "{} lines", want.lines().count());
    same_text(&data(&v2_master()), &expected(V2_MASTER_DATA));
    same_text(&data(&v3_backup()), &expected(V3_BACKUP_DATA));
    same_text(&data(&v3_master()), &expected(V3_MASTER_DATA));
    let want = expected(V3_PROCESS_DATA);
    assert_eq!(want.matches(" VRRP Track process = ").count(), 2, "{want}");
    same_text(&data(&v3_process()), &want);
}

#[test]
fn the_stats_file_is_keepalived_s_byte_for_byte() {
    same_text(&stats(&v2_master()), V2_MASTER_STATS);
    same_text(&stats(&v3_backup()), V3_BACKUP_STATS);
    same_text(&stats(&v3_master()), V3_MASTER_STATS);
}

/// What keepalived-exporter (mehdy/keepalived-exporter,
/// `ParseVRRPData`) takes from a data file: per instance, the value of
/// each key it knows, and the VIP lines. Written from its rules: an
/// instance starts at ` VRRP Instance = NAME`; three-space lines are
/// `key = value` or `key: value`; five-space lines are values of the last
/// key; `Virtual IP (N)` collects them; any other line ends the instance.
fn exporter_data(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut instance: Option<String> = None;
    let mut key = String::new();
    for l in text.lines() {
        if l.starts_with(" VRRP Instance") && l.contains('=') {
            let name = l.split('=').nth(1).unwrap_or("").trim().to_owned();
            out.entry(name.clone()).or_default();
            instance = Some(name);
        } else if let (true, Some(name)) = (l.starts_with("   "), &instance) {
            let val = if l.starts_with("     ") {
                l.trim().to_owned()
            } else {
                let Some((k, v)) = l.trim().split_once('=').or_else(|| l.trim().split_once(':')) else { continue };
                key = k.trim().to_owned();
                if key == "Virtual IP" {
                    continue;
                }
                v.trim().to_owned()
            };
            let wanted = ["State", "Wantstate", "Interface", "Gratuitous ARP delay", "Virtual Router ID"];
            let entry = out.entry(name.clone()).or_default();
            if (key.starts_with("Virtual IP (") || key == "Virtual IP") && !val.is_empty() {
                // ParseVIP: the address and the interface.
                let w: Vec<&str> = val.split(' ').collect();
                assert!(w.len() >= 3 && w[1] == "dev", "a VIP line the exporter cannot parse: {val:?}");
                entry.entry("VIP".into()).or_default().push(format!("{} {}", w[0], w[2]));
            } else if wanted.contains(&key.as_str()) {
                entry.entry(key.clone()).or_default().push(val);
            }
        } else if !l.starts_with(" VRRP Version") && !l.starts_with(" VRRP Script") {
            instance = None;
        }
    }
    out
}

/// What keepalived-exporter's `ParseStats` takes from a stats file:
/// `(instance, section, key) -> value`, every value an integer.
fn exporter_stats(text: &str) -> BTreeMap<(String, String, String), i64> {
    let mut out = BTreeMap::new();
    let (mut instance, mut section) = (String::new(), String::new());
    for l in text.lines() {
        let kv = |l: &str| -> (String, i64) {
            let (k, v) = l.trim().split_once(':').unwrap_or_else(|| panic!("not key: value: {l:?}"));
            (k.trim().to_owned(), v.trim().parse().unwrap_or_else(|_| panic!("not an integer: {l:?}")))
        };
        if l.starts_with("VRRP Instance") && l.contains(':') {
            instance = l.split(':').nth(1).unwrap_or("").trim().to_owned();
        } else if l.starts_with("  ") && l.ends_with(':') {
            section = l.trim().trim_end_matches(':').to_owned();
        } else if l.starts_with("    ") && !section.is_empty() {
            let (k, v) = kv(l);
            out.insert((instance.clone(), section.clone(), k), v);
        } else if l.starts_with("  ") && !l.starts_with("    ") {
            section.clear();
            let (k, v) = kv(l);
            out.insert((instance.clone(), String::new(), k), v);
        }
    }
    out
}

#[test]
fn keepalived_exporter_reads_the_same_from_vipd_and_keepalived() {
    for (snap, real_data, real_stats) in [
        (v2_master(), V2_MASTER_DATA, V2_MASTER_STATS),
        (v3_backup(), V3_BACKUP_DATA, V3_BACKUP_STATS),
        (v3_master(), V3_MASTER_DATA, V3_MASTER_STATS),
    ] {
        let (ours, theirs) = (exporter_data(&data(&snap)), exporter_data(real_data));
        assert_eq!(ours, theirs);
        for fields in ours.values() {
            for k in ["State", "Wantstate", "Interface", "Gratuitous ARP delay", "Virtual Router ID", "VIP"] {
                assert!(fields.contains_key(k), "{k} missing: {fields:?}");
            }
        }
        assert_eq!(exporter_stats(&stats(&snap)), exporter_stats(real_stats));
    }
}

#[test]
fn every_stats_counter_lands_where_the_exporter_looks() {
    let mut s = v2_master();
    s.instances.truncate(1);
    let c = &mut s.instances[0].counters;
    *c = Stats {
        adverts_rcvd: 1,
        adverts_sent: 2,
        master_transitions: 3,
        release_master: 4,
        pri_zero_rcvd: 5,
        pri_zero_sent: 6,
        ..Stats::default()
    };
    for (k, e) in [
        WireError::PacketLength,
        WireError::IpTtl,
        WireError::InvalidType,
        WireError::Interval,
        WireError::AddressList,
        WireError::InvalidAuthType,
        WireError::AuthTypeMismatch,
        WireError::AuthFailure,
    ]
    .into_iter()
    .enumerate()
    {
        c.errors[e.index()] = 10 + k as u64;
    }
    let got = exporter_stats(&stats(&s));
    let want: BTreeMap<(String, String, String), i64> = [
        ("Advertisements", "Received", 1),
        ("Advertisements", "Sent", 2),
        ("", "Became master", 3),
        ("", "Released master", 4),
        ("Packet Errors", "Length", 10),
        ("Packet Errors", "TTL", 11),
        ("Packet Errors", "Invalid Type", 12),
        ("Packet Errors", "Advertisement Interval", 13),
        ("Packet Errors", "Address List", 14),
        ("Authentication Errors", "Invalid Type", 15),
        ("Authentication Errors", "Type Mismatch", 16),
        ("Authentication Errors", "Failure", 17),
        ("Priority Zero", "Received", 5),
        ("Priority Zero", "Sent", 6),
    ]
    .into_iter()
    .map(|(sec, k, v)| (("VI_1".to_owned(), sec.to_owned(), k.to_owned()), v))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn time_stamps_are_ctime_with_microseconds_in_local_time() {
    assert_eq!(Stamp(1_796_460_402_122_624, 0).to_string(), "1796460402.122624 (Sat Dec  5 08:46:42.122624 2026)");
    assert_eq!(Stamp(1_796_460_402_000_001, 3600).to_string(), "1796460402.000001 (Sat Dec  5 09:46:42.000001 2026)");
    assert_eq!(Stamp(0, 0).to_string(), "0.000000 (Thu Jan  1 00:00:00.000000 1970)");
    assert_eq!(Stamp(0, -3600).to_string(), "0.000000 (Wed Dec 31 23:00:00.000000 1969)");
    // 2024-02-29 12:00:00 UTC.
    assert_eq!(Stamp(1_709_208_000_000_000, 0).to_string(), "1709208000.000000 (Thu Feb 29 12:00:00.000000 2024)");
}

#[test]
fn states_without_a_master_or_a_timer() {
    let mut s = v2_master();
    s.trackers[0].status = TrackStatus::Unknown;
    s.trackers[0].running = true;
    let i = &mut s.instances[0];
    i.state = State::Backup;
    i.master = None;
    i.next_timer = None;
    let j = &mut s.instances[1];
    j.state = State::Init;
    j.in_state = Duration::from_secs(1 << 40);
    j.cfg.unicast_peers = vec![UnicastPeer::new(v4("10.199.0.2"))];
    let text = data(&s);
    let vi1 = &text[..text.find(" VRRP Instance = VI_2").expect("VI_2")];
    let vi2 = &text[text.find(" VRRP Instance = VI_2").expect("VI_2")..];
    for want in [
        "   Master router = (none)\n   Master priority = 0\n   Flags: none\n",
        "   Wantstate = BACKUP\n",
        "   Number of track scripts init = 1\n",
        "   Read timeout = DISABLED\n",
    ] {
        assert!(vi1.contains(want), "{want:?} not in\n{vi1}");
    }
    for want in [
        "   State = INIT\n   Flags:\n     Using unicast\n   Wantstate = BACKUP\n",
        // Never before the daemon started.
        "   Last transition = 1796456768.000000 ",
        "   Check unicast src : yes\n   Unicast Peer :\n     10.199.0.2 min_ttl 0 max_ttl 255\n",
    ] {
        assert!(vi2.contains(want), "{want:?} not in\n{vi2}");
    }
    assert!(!vi2.contains("Multicast address"), "{vi2}");
    assert!(text.contains("   Status = INIT\n"), "{text}");
    assert!(text.contains("   State = running\n"), "{text}");
}

#[test]
fn faults_count_what_holds_an_instance_in_fault() {
    let mut s = v3_backup();
    let f = &mut s.instances[3];
    f.interfaces[0].up = false;
    f.interfaces.push(InterfaceStatus { name: "eth1".into(), weight: 0, up: false });
    f.interfaces.push(InterfaceStatus { name: "eth2".into(), weight: -10, up: false });
    let text = data(&s);
    assert!(text.contains("   Number of interface and track script faults = 3\n"), "{text}");
    s.instances[3].cfg.dont_track_primary = true;
    let text = data(&s);
    assert!(text.contains("   Number of interface and track script faults = 2\n"), "{text}");
    assert!(text.contains("   VRRP interface tracking disabled\n"), "{text}");
}

#[test]
fn vip_options_are_written_as_keepalived_writes_them() {
    let mut a = VipConfig::new(v4("10.199.0.140"), 24);
    a.broadcast = Some("10.199.0.255".parse().expect("brd"));
    a.label = Some("eth0:1".into());
    let mut b = VipConfig::host(v4("10.199.0.141"));
    b.scope = 254;
    let mut c = VipConfig::host(v4("10.199.0.142"));
    c.peer = Some(v4("10.199.0.143"));
    let mut d = VipConfig::new(v4("10.199.0.144"), 24);
    d.dev = Some("eth1".into());
    d.no_track = true;
    let mut e = VipConfig::new(v6("fd00::92"), 64);
    e.preferred_lft = Some(30);
    let mut f = VipConfig::host(v6("fd00::93"));
    f.nodad = false;
    let mut g = VipConfig::new(v6("fd00::94"), 64);
    (g.home, g.mngtmpaddr, g.noprefixroute) = (true, true, true);
    let mut out = String::new();
    for vc in [a, b, c, d, e, f, g] {
        let held = VipStatus {
            addr: vc.addr,
            prefix: vc.prefix,
            interface: vc.dev.clone().unwrap_or_else(|| "eth0".into()),
            excluded: false,
            held: true,
        };
        vip(&mut out, &held, &vc);
    }
    // As keepalived 2.2.7 wrote the same `virtual_ipaddress` entries.
    assert_eq!(
        out,
        "     10.199.0.140/24 brd 10.199.0.255 dev eth0 scope global label eth0:1 set\n     \
         10.199.0.141 dev eth0 scope host set\n     \
         10.199.0.142 dev eth0 scope global peer 10.199.0.143/32 set\n     \
         10.199.0.144/24 dev eth1 scope global no_track set\n     \
         fd00::92/64 dev eth0 scope global preferred_lft 30 set\n     \
         fd00::93 dev eth0 scope global -nodad deprecated set\n     \
         fd00::94/64 dev eth0 scope global home mngtmpaddr noprefixroute preferred_lft forever set\n"
    );
}

#[test]
fn preempt_delay_is_written_like_printf_g() {
    assert_eq!(Secs(Duration::from_secs(5)).to_string(), "5");
    assert_eq!(Secs(Duration::from_millis(500)).to_string(), "0.5");
    assert_eq!(Secs(Duration::from_micros(1_250_000)).to_string(), "1.25");
}
