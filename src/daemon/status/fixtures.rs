//! Hand-built snapshots shared by the renderers' unit tests: one rich
//! daemon (every state but INIT, both families, both VRRP versions, every
//! tracker kind, a master that is us, one that is a peer and none, VIPs held
//! and missing, an instance name that needs escaping) and an empty one. Test
//! data only; nothing here reads a daemon.

use core::net::IpAddr;
use std::time::Duration;

use crate::config::{InstanceConfig, TrackerKind};
use crate::core::{Condition, NotifyState, State, Stats, TrackStatus};
use crate::wire::WireError;
use crate::wire::vrrp::{ChecksumForm, Version};

use super::model::*;

/// The awkward instance name: quotes, backslash, newline, tab, a control
/// character and non-ASCII text, so every escaper is exercised.
pub const ODD_NAME: &str = "VI \"odd\"\\ n\u{e9}\n\tx\u{1}";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn vip(addr: &str, prefix: u8, interface: &str, excluded: bool, held: bool) -> VipStatus {
    VipStatus { addr: ip(addr), prefix, interface: interface.to_owned(), excluded, held }
}

/// Every condition, those in `raised` raised for 12 s with evidence.
fn conditions(raised: &[Condition]) -> Vec<ConditionStatus> {
    Condition::ALL
        .iter()
        .map(|&c| {
            let up = raised.contains(&c);
            ConditionStatus {
                condition: c,
                since: up.then_some(Duration::from_secs(12)),
                raised: u64::from(up),
                evidence: up
                    .then(|| "adverts from 10.0.0.2 differ from our configuration: addresses ours 1, theirs 2".into()),
            }
        })
        .collect()
}

fn counters(seed: u64) -> Stats {
    let mut errors = [0; WireError::ALL.len()];
    for (i, e) in errors.iter_mut().enumerate() {
        *e = seed * 100 + i as u64;
    }
    Stats {
        master_transitions: seed + 1,
        adverts_rcvd: seed * 1000 + 7,
        adverts_sent: seed * 1000 + 9,
        pri_zero_rcvd: seed + 2,
        pri_zero_sent: seed + 3,
        send_failures: seed + 4,
        release_master: seed + 5,
        rcvd_pseudo_header_csum: seed + 6,
        rcvd_rfc9568_csum: seed + 7,
        errors,
    }
}

/// Three instances (MASTER v3/IPv4 in group G1, BACKUP IPv6 with the odd
/// name, FAULT v2/IPv4 in G1 with no master) and four trackers.
pub fn rich() -> Snapshot {
    let mut c1 = InstanceConfig::new("VI_1", "eth0", 51, Version::V3, &[ip("10.0.0.10")]);
    c1.advert_int = crate::time::Duration::from_millis(100);
    let vi1 = InstanceStatus {
        cfg: c1,
        state: State::Master,
        in_state: Duration::from_secs(2 * 3600 + 3 * 60 + 4),
        reason: "master down timer expired".to_owned(),
        base_priority: 150,
        effective_priority: 130,
        master: Some(MasterStatus {
            address: ip("10.0.0.2"),
            priority: 130,
            advert_int: Duration::from_millis(100),
            last_seen: None,
            checksum: None,
            is_self: true,
        }),
        source: Some(ip("10.0.0.2")),
        ifindex: 2,
        next_timer: None,
        vips: vec![
            vip("10.0.0.10", 24, "eth0", false, true),
            vip("10.0.1.10", 24, "eth1", false, true),
            vip("192.168.5.5", 32, "eth0", true, true),
        ],
        tracks: vec![
            TrackUse { tracker: 0, weight: -20, reverse: false },
            TrackUse { tracker: 1, weight: 2, reverse: false },
        ],
        interfaces: vec![
            InterfaceStatus { name: "eth0".to_owned(), weight: 0, up: true },
            InterfaceStatus { name: "eth1".to_owned(), weight: -10, up: false },
        ],
        group: Some("G1".to_owned()),
        counters: counters(1),
        conditions: conditions(&[]),
    };

    let c2 = InstanceConfig::new(ODD_NAME, "eth\"2", 52, Version::V3, &[ip("2001:db8::10")]);
    let vi2 = InstanceStatus {
        cfg: c2,
        state: State::Backup,
        in_state: Duration::from_millis(4_250),
        reason: "higher priority advert from fe80::2 (priority 200)".to_owned(),
        base_priority: 100,
        effective_priority: 100,
        master: Some(MasterStatus {
            address: ip("fe80::2"),
            priority: 200,
            advert_int: Duration::from_secs(1),
            last_seen: Some(Duration::from_millis(400)),
            checksum: Some(ChecksumForm::PseudoHeader),
            is_self: false,
        }),
        source: Some(ip("fe80::1")),
        ifindex: 2,
        next_timer: None,
        vips: vec![vip("2001:db8::10", 64, "eth\"2", false, false)],
        tracks: vec![TrackUse { tracker: 2, weight: 0, reverse: false }],
        interfaces: vec![InterfaceStatus { name: "eth\"2".to_owned(), weight: 0, up: true }],
        group: None,
        counters: counters(2),
        conditions: conditions(&[Condition::PeerMismatch]),
    };

    let c3 = InstanceConfig::new("VI_3", "eth3", 53, Version::V2, &[]);
    let vi3 = InstanceStatus {
        cfg: c3,
        state: State::Fault,
        in_state: Duration::from_secs(3 * 86400 + 5 * 3600),
        reason: "tracker chk_db failed".to_owned(),
        base_priority: 90,
        effective_priority: 90,
        master: None,
        source: None,
        ifindex: 2,
        next_timer: None,
        vips: Vec::new(),
        tracks: vec![
            TrackUse { tracker: 2, weight: 0, reverse: false },
            TrackUse { tracker: 3, weight: 0, reverse: false },
            // A dangling index must not panic a renderer.
            TrackUse { tracker: 99, weight: 0, reverse: false },
        ],
        interfaces: vec![InterfaceStatus { name: "eth3".to_owned(), weight: 0, up: true }],
        group: Some("G1".to_owned()),
        counters: Stats::default(),
        conditions: conditions(&[]),
    };

    Snapshot {
        version: "0.1.0",
        pid: 4242,
        uptime: Duration::from_secs(3 * 86400 + 4 * 3600 + 5 * 60 + 6),
        taken_unix: 1_700_000_000,
        taken_subsec_us: 0,
        utc_offset_s: 0,
        instances: vec![vi1, vi2, vi3],
        groups: vec![GroupStatus {
            name: "G1".to_owned(),
            state: Some(NotifyState::Master),
            members: vec!["VI_1".to_owned(), "VI_3".to_owned()],
        }],
        trackers: vec![
            TrackerStatus {
                name: "chk_http".to_owned(),
                kind: TrackerKind::Script { rise: 2, fall: 3, init_fail: false },
                status: TrackStatus::Up,
                value: 0,
                streak: 1,
                running: false,
                check: None,
                path: None,
                probe: None,
                process: None,
                last_run: Some(ScriptRun {
                    result: "exit status 0".to_owned(),
                    exit_code: Some(0),
                    success: true,
                    duration: Duration::from_millis(12),
                    ago: Duration::from_millis(3_400),
                }),
            },
            TrackerStatus {
                name: "/run/weight \"file\"".to_owned(),
                kind: TrackerKind::File,
                status: TrackStatus::Up,
                value: -5,
                streak: 0,
                last_run: None,
                running: false,
                check: None,
                path: None,
                probe: None,
                process: None,
            },
            TrackerStatus {
                name: "chk_db".to_owned(),
                kind: TrackerKind::Script { rise: 2, fall: 1, init_fail: true },
                status: TrackStatus::Down,
                value: 0,
                streak: 1,
                running: false,
                check: None,
                path: None,
                probe: None,
                process: None,
                last_run: Some(ScriptRun {
                    result: "timed out".to_owned(),
                    exit_code: None,
                    success: false,
                    duration: Duration::from_secs(2),
                    ago: Duration::from_secs(1),
                }),
            },
            TrackerStatus {
                name: "chk_new".to_owned(),
                kind: TrackerKind::Script { rise: 1, fall: 1, init_fail: false },
                status: TrackStatus::Unknown,
                value: 0,
                streak: 0,
                last_run: None,
                running: false,
                check: None,
                path: None,
                probe: None,
                process: None,
            },
        ],
        global_errors: vec![(WireError::VrId, 7), (WireError::PacketLength, 2)],
        smtp_alerts: SmtpAlerts { sent: 3, failed: 1, dropped: 0, ..SmtpAlerts::default() },
        dry_run: false,
    }
}

/// A daemon with nothing configured.
pub fn empty() -> Snapshot {
    Snapshot {
        version: "0.1.0",
        pid: 1,
        uptime: Duration::from_millis(1500),
        taken_unix: 1_700_000_000,
        taken_subsec_us: 0,
        utc_offset_s: 0,
        instances: Vec::new(),
        groups: Vec::new(),
        trackers: Vec::new(),
        global_errors: Vec::new(),
        smtp_alerts: SmtpAlerts::default(),
        dry_run: false,
    }
}
