//! Multi-router scenarios on `core::sim`: fake time, real wire encoding.
//!
//! Router A is 10.0.0.1, B is 10.0.0.2. Times are exact: with v2 and a 1 s
//! interval, Master_Down is 3 s + (256 − prio)/256 s, so 3.414062 s at
//! priority 150 and 3.609375 s at 100 (keepalived measured 3.414 s and
//! 0.61 s for the same cases, keepalived-reference §2.2).

use std::net::IpAddr;

use vipd::config::{
    Config, InstanceConfig, SyncGroupConfig, TrackInterface, TrackRef, TrackerConfig, TrackerId, TrackerKind,
    UnicastPeer,
};
use vipd::core::sim::{Lan, RouterId};
use vipd::core::{LogEvent, Reason, State};
use vipd::time::{Duration, Instant};
use vipd::wire::WireError;
use vipd::wire::vrrp::{V3Ipv4Checksum, Version};

const VIP: &str = "10.0.0.100";

fn vip() -> IpAddr {
    VIP.parse().unwrap()
}

fn us(n: u64) -> Instant {
    Instant::from_micros(n)
}

fn secs(n: u64) -> Instant {
    Instant::from_micros(n * 1_000_000)
}

fn instance(version: Version, prio: u8, advert_ms: u64) -> InstanceConfig {
    let mut i = InstanceConfig::new("VI_1", "eth0", 51, version, &[vip()]);
    i.priority = prio;
    i.advert_int = Duration::from_millis(advert_ms);
    i
}

fn config(instances: Vec<InstanceConfig>) -> Config {
    Config { instances, ..Config::default() }
}

/// A at priority 150 and B at 100, both started at t = 0.
fn pair(version: Version, advert_ms: u64) -> (Lan, RouterId, RouterId) {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, config(vec![instance(version, 150, advert_ms)]));
    let b = lan.add_router("B", 2, config(vec![instance(version, 100, advert_ms)]));
    lan.start(a);
    lan.start(b);
    (lan, a, b)
}

/// Time of the last advert `r` sent before `t`.
fn last_advert_before(lan: &Lan, r: RouterId, t: Instant) -> Instant {
    lan.sent.iter().rev().find(|s| s.router == r && s.at < t).map(|s| s.at).expect("an advert")
}

#[test]
fn initial_election_v2() {
    let (mut lan, a, b) = pair(Version::V2, 1000);
    lan.run_until(secs(20));
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(us(3_414_062)));
    assert_eq!(lan.entered(b, "VI_1", State::Master), None, "B never master");
    assert_eq!(lan.state(b, "VI_1"), State::Backup);
    assert_eq!(lan.holders(vip()), vec![a]);
    // One advert a second from A, on the phase set when it became master.
    let times: Vec<u64> = lan.sent.iter().filter(|s| s.router == a).map(|s| s.at.as_micros()).collect();
    assert_eq!(times.len(), 17);
    assert!(times.windows(2).all(|w| w[1] - w[0] == 1_000_000), "{times:?}");
    assert!(lan.sent.iter().all(|s| s.router == a && s.priority == 150));
    let engine = lan.engine(b);
    let i = engine.instance_by_name("VI_1").unwrap();
    assert_eq!(i.stats.adverts_rcvd, 17);
    assert_eq!(i.master, Some((IpAddr::V4(lan.addr4(a)), 150)));
}

#[test]
fn initial_election_v3() {
    let (mut lan, a, b) = pair(Version::V3, 500);
    lan.run_until(secs(10));
    // 3 × 0.5 s + 106 × 0.5 s / 256
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(us(1_707_031)));
    assert_eq!(lan.state(b, "VI_1"), State::Backup);
    assert_eq!(lan.holders(vip()), vec![a]);
    assert_eq!(lan.masters("VI_1"), vec![a]);
}

#[test]
fn owner_goes_master_at_once() {
    let mut lan = Lan::new();
    let mut owner = instance(Version::V2, 255, 1000);
    owner.initial_state = vipd::config::InitialState::Master;
    let a = lan.add_router("A", 1, config(vec![owner]));
    let b = lan.add_router("B", 2, config(vec![instance(Version::V2, 100, 1000)]));
    lan.start(b);
    lan.run_until(secs(1));
    lan.start(a);
    lan.run_until(secs(10));
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(secs(1)));
    assert_eq!(lan.masters("VI_1"), vec![a]);
}

#[test]
fn graceful_handover_after_priority_zero_at_exactly_skew() {
    let (mut lan, a, b) = pair(Version::V2, 1000);
    lan.run_until(secs(10));
    lan.stop(a);
    lan.run_until(secs(20));
    let zero = lan.sent.iter().find(|s| s.priority == 0).expect("priority 0 sent");
    assert_eq!((zero.router, zero.at), (a, secs(10)));
    // Skew of priority 100: 156/256 s.
    assert_eq!(lan.entered(b, "VI_1", State::Master), Some(us(10_609_375)));
    assert_eq!(lan.transitions.last().unwrap().reason, Reason::PriorityZero);
    assert_eq!(lan.holders(vip()), vec![b]);

    // Same at v3 with 10 ms adverts: skew = 156 × 10 ms / 256 = 6.093 ms.
    let (mut lan, a, b) = pair(Version::V3, 10);
    lan.run_until(secs(1));
    lan.stop(a);
    lan.run_until(secs(2));
    assert_eq!(lan.entered(b, "VI_1", State::Master), Some(us(1_006_093)));
}

#[test]
fn silent_master_taken_over_at_master_down() {
    let (mut lan, a, b) = pair(Version::V2, 1000);
    lan.run_until(secs(10));
    lan.cable(a, false);
    lan.run_until(secs(20));
    let last = last_advert_before(&lan, a, secs(10));
    assert_eq!(last, us(9_414_062));
    assert_eq!(lan.entered(b, "VI_1", State::Master), Some(last + Duration::from_micros(3_609_375)));
    assert_eq!(lan.transitions.iter().rfind(|t| t.router == b).unwrap().reason, Reason::MasterDown);
    // A went to Fault and released its address (its priority 0 never got out).
    assert_eq!(lan.state(a, "VI_1"), State::Fault);
    assert_eq!(lan.holders(vip()), vec![b]);
}

#[test]
fn returning_higher_priority_router_preempts() {
    let (mut lan, a, b) = pair(Version::V2, 1000);
    lan.run_until(secs(10));
    lan.cable(a, false);
    lan.run_until(secs(20));
    lan.cable(a, true);
    lan.run_until(secs(40));
    // Out of Fault into Backup at 20 s, discards B's adverts, master after
    // its own Master_Down.
    assert_eq!(lan.entered(a, "VI_1", State::Backup), Some(secs(20)));
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(us(23_414_062)));
    assert_eq!(lan.transitions.iter().rfind(|t| t.router == a).unwrap().reason, Reason::Preempt);
    assert_eq!(lan.entered(b, "VI_1", State::Backup), Some(us(23_414_062)));
    assert!(matches!(
        lan.transitions.iter().rfind(|t| t.router == b).unwrap().reason,
        Reason::HigherPriority { priority: 150, .. }
    ));
    assert!(
        lan.logs(a).iter().any(|(_, l)| matches!(l, LogEvent::LowerPriorityDiscarded { priority: 100, ours: 150, .. }))
    );
    assert_eq!(lan.masters("VI_1"), vec![a]);
    assert_eq!(lan.holders(vip()), vec![a]);
}

#[test]
fn nopreempt_keeps_a_live_lower_master() {
    let mut lan = Lan::new();
    let mut high = instance(Version::V2, 150, 1000);
    high.preempt = false;
    let a = lan.add_router("A", 1, config(vec![high]));
    let b = lan.add_router("B", 2, config(vec![instance(Version::V2, 100, 1000)]));
    lan.start(b);
    lan.run_until(secs(5));
    assert_eq!(lan.masters("VI_1"), vec![b]);
    lan.start(a);
    lan.run_until(secs(60));
    assert_eq!(lan.masters("VI_1"), vec![b]);
    assert_eq!(lan.entered(a, "VI_1", State::Master), None);
    // It still takes over when the master goes away.
    lan.stop(b);
    lan.run_until(secs(61));
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(us(60_414_062)));
}

#[test]
fn preempt_delay_postpones_takeover() {
    let mut lan = Lan::new();
    let mut high = instance(Version::V2, 150, 1000);
    high.preempt_delay = Duration::from_secs(2);
    let a = lan.add_router("A", 1, config(vec![high]));
    let b = lan.add_router("B", 2, config(vec![instance(Version::V2, 100, 1000)]));
    lan.start(b);
    lan.run_until(secs(5));
    lan.start(a);
    lan.run_until(secs(20));
    // B's adverts: 3.609375 + k s. The first one A hears starts the delay;
    // adverts inside the delay are accepted, the rest discarded.
    let first = lan.sent.iter().find(|s| s.router == b && s.at >= secs(5)).unwrap().at;
    assert_eq!(first, us(5_609_375));
    let until = first + Duration::from_secs(2);
    let last_accepted = last_advert_before(&lan, b, until);
    assert_eq!(last_accepted, us(6_609_375));
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(last_accepted + Duration::from_micros(3_414_062)));
    assert!(lan.logs(a).iter().any(|(t, l)| *t == first && matches!(l, LogEvent::PreemptDelayStarted { .. })));

    // Without the delay, A preempts Master_Down after start.
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, config(vec![instance(Version::V2, 150, 1000)]));
    let b = lan.add_router("B", 2, config(vec![instance(Version::V2, 100, 1000)]));
    lan.start(b);
    lan.run_until(secs(5));
    lan.start(a);
    lan.run_until(secs(20));
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(us(8_414_062)));
}

#[test]
fn equal_priorities_elect_the_higher_address() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, config(vec![instance(Version::V3, 100, 1000)]));
    let b = lan.add_router("B", 2, config(vec![instance(Version::V3, 100, 1000)]));
    lan.start(a);
    lan.start(b);
    lan.run_until(secs(10));
    // Both time out together and both become master; the master with the
    // lower address yields on the other's advert (RFC 9568 §6.4.3).
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(us(3_609_375)));
    assert_eq!(lan.entered(b, "VI_1", State::Master), Some(us(3_609_375)));
    assert_eq!(lan.entered(a, "VI_1", State::Backup), Some(us(3_609_375)));
    assert_eq!(lan.masters("VI_1"), vec![b]);
    assert_eq!(lan.holders(vip()), vec![b]);

    // Backups never compare addresses: a later, lower-address router with
    // the same priority stays backup (keepalived #1440).
    let c = lan.add_router("C", 3, config(vec![instance(Version::V3, 100, 1000)]));
    lan.start(c);
    lan.run_until(secs(30));
    assert_eq!(lan.masters("VI_1"), vec![b]);
}

#[test]
fn v3_backup_adopts_the_masters_interval() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, config(vec![instance(Version::V3, 150, 500)]));
    let b = lan.add_router("B", 2, config(vec![instance(Version::V3, 100, 2000)]));
    lan.start(a);
    lan.start(b);
    lan.run_until(secs(10));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    let bi = lan.engine(b).instance_by_name("VI_1").unwrap();
    assert_eq!(bi.master_adver_int, Duration::from_millis(500));
    // Master_Down from the adopted interval: 1.5 s + 156 × 0.5 s / 256.
    let last = last_advert_before(&lan, a, secs(10));
    assert_eq!(bi.down_deadline(), Some(last + Duration::from_micros(1_804_687)));
    lan.kill(a);
    lan.run_until(secs(20));
    assert_eq!(lan.entered(b, "VI_1", State::Master), Some(last + Duration::from_micros(1_804_687)));
    // As master, B advertises its own interval again.
    let bi = lan.engine(b).instance_by_name("VI_1").unwrap();
    assert_eq!(bi.master_adver_int, Duration::from_secs(2));
    // (Before, as backup, B sent one report: the intervals differ, see
    // v2_interval_mismatch_is_followed.)
    let took_over = last + Duration::from_micros(1_804_687);
    let times: Vec<u64> =
        lan.sent.iter().filter(|s| s.router == b && s.at >= took_over).map(|s| s.at.as_micros()).collect();
    assert!(times.len() > 3 && times.windows(2).all(|w| w[1] - w[0] == 2_000_000), "{times:?}");
}

#[test]
fn v2_interval_mismatch_is_followed() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, config(vec![instance(Version::V2, 150, 1000)]));
    let b = lan.add_router("B", 2, config(vec![instance(Version::V2, 100, 2000)]));
    lan.start(a);
    lan.start(b);
    lan.run_until(secs(20));
    // RFC 3768 §7.1 has B drop A's adverts, and keepalived does, so both
    // end up master. vipd elects with the drifted peer and raises
    // peer_mismatch on both (B reports it to A).
    assert_eq!(lan.masters("VI_1"), vec![a]);
    for r in [a, b] {
        let i = lan.engine(r).instance_by_name("VI_1").unwrap();
        assert!(i.conditions.is_active(vipd::core::Condition::PeerMismatch), "{}", lan.name(r));
        assert_eq!(i.stats.error(WireError::Interval), 0);
    }
}

fn tracked(prio: u8, weight: i32) -> Config {
    let mut i = instance(Version::V2, prio, 1000);
    i.track.push(TrackRef { tracker: TrackerId(0), weight, reverse: false });
    Config {
        instances: vec![i],
        trackers: vec![TrackerConfig {
            kind: TrackerKind::Script { rise: 1, fall: 1, init_fail: false },
            ..TrackerConfig::script("chk", &["true"])
        }],
        ..Config::default()
    }
}

#[test]
fn weight_zero_tracker_forces_fault_and_back() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, tracked(150, 0));
    let b = lan.add_router("B", 2, config(vec![instance(Version::V2, 100, 1000)]));
    lan.start(a);
    lan.start(b);
    // Until the unweighted check reports, A waits in Init (keepalived's
    // num_script_init): no state change, so no log line and no notify.
    assert_eq!(lan.state(a, "VI_1"), State::Init);
    assert!(!lan.transitions.iter().any(|t| t.router == a));
    lan.script_result(a, TrackerId(0), true);
    let t = lan.transitions.iter().find(|t| t.router == a).unwrap();
    assert_eq!((t.from, t.to, t.reason), (State::Init, State::Backup, Reason::Startup));
    lan.run_until(secs(10));
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(us(3_414_062)));

    lan.script_result(a, TrackerId(0), false);
    assert_eq!(lan.state(a, "VI_1"), State::Fault);
    lan.run_until(secs(20));
    // Entering Fault, the master sent priority 0: B takes over after Skew.
    assert!(lan.sent.iter().any(|s| s.router == a && s.priority == 0 && s.at == secs(10)));
    assert_eq!(lan.entered(b, "VI_1", State::Master), Some(us(10_609_375)));
    assert_eq!(lan.holders(vip()), vec![b]);

    lan.script_result(a, TrackerId(0), true);
    assert_eq!(lan.state(a, "VI_1"), State::Backup);
    lan.run_until(secs(30));
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(us(23_414_062)));
    assert_eq!(lan.holders(vip()), vec![a]);
}

#[test]
fn a_first_failing_check_is_a_loud_fault() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, tracked(150, 0));
    lan.start(a);
    assert_eq!(lan.state(a, "VI_1"), State::Init);
    lan.script_result(a, TrackerId(0), false);
    assert_eq!(lan.state(a, "VI_1"), State::Fault);
    let t = lan.transitions.iter().find(|t| t.router == a).unwrap();
    assert_eq!((t.from, t.to), (State::Init, State::Fault));
    lan.script_result(a, TrackerId(0), true);
    assert_eq!(lan.state(a, "VI_1"), State::Backup);
}

#[test]
fn weights_move_mastership() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, tracked(150, -60));
    let b = lan.add_router("B", 2, config(vec![instance(Version::V2, 100, 1000)]));
    lan.start(a);
    lan.start(b);
    lan.script_result(a, TrackerId(0), true);
    lan.run_until(secs(10));
    assert_eq!(lan.masters("VI_1"), vec![a]);

    // 150 − 60 = 90 < 100: A keeps advertising 90, B discards those and
    // preempts Master_Down after the last advert it accepted.
    lan.script_result(a, TrackerId(0), false);
    assert_eq!(lan.engine(a).instance_by_name("VI_1").unwrap().effective_priority, 90);
    lan.run_until(secs(20));
    assert!(lan.sent.iter().any(|s| s.router == a && s.priority == 90 && s.at == us(10_414_062)));
    assert_eq!(lan.entered(b, "VI_1", State::Master), Some(us(9_414_062 + 3_609_375)));
    assert_eq!(lan.masters("VI_1"), vec![b]);
    assert_eq!(lan.state(a, "VI_1"), State::Backup);

    // Recovery: A is 150 again and preempts, its down timer moved by the skew change.
    lan.script_result(a, TrackerId(0), true);
    lan.run_until(secs(30));
    let last_b = last_advert_before(&lan, b, secs(20));
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(last_b + Duration::from_micros(3_414_062)));
    assert_eq!(lan.masters("VI_1"), vec![a]);
}

fn grouped(prio: u8, track_eth1: bool) -> Config {
    let mut i1 = InstanceConfig::new("VI_1", "eth0", 1, Version::V2, &["10.0.0.101".parse().unwrap()]);
    let mut i2 = InstanceConfig::new("VI_2", "eth0", 2, Version::V2, &["10.0.0.102".parse().unwrap()]);
    i1.priority = prio;
    i2.priority = prio;
    if track_eth1 {
        i2.track_interfaces.push(TrackInterface { interface: "eth1".into(), weight: 0, reverse: false });
    }
    Config {
        instances: vec![i1, i2],
        sync_groups: vec![SyncGroupConfig { name: "G".into(), members: vec![0, 1], notify: Default::default() }],
        ..Config::default()
    }
}

#[test]
fn sync_group_fails_over_together() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, grouped(150, true));
    let b = lan.add_router("B", 2, grouped(100, false));
    lan.start(a);
    lan.start(b);
    lan.run_until(secs(10));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    assert_eq!(lan.masters("VI_2"), vec![a]);

    // eth1 fails on A: VI_2 faults and takes VI_1 with it; both send
    // priority 0 and B takes both over after its skew.
    lan.link(a, "eth1", false);
    assert_eq!(lan.state(a, "VI_1"), State::Fault);
    assert_eq!(lan.state(a, "VI_2"), State::Fault);
    lan.run_until(secs(20));
    assert_eq!(lan.entered(b, "VI_1", State::Master), Some(us(10_609_375)));
    assert_eq!(lan.entered(b, "VI_2", State::Master), Some(us(10_609_375)));
    assert_eq!(lan.holders("10.0.0.101".parse().unwrap()), vec![b]);
    assert_eq!(lan.holders("10.0.0.102".parse().unwrap()), vec![b]);
    assert_eq!(lan.engine(a).group_state(vipd::core::GroupId(0)), Some(vipd::core::NotifyState::Fault));
    assert_eq!(lan.engine(b).group_state(vipd::core::GroupId(0)), Some(vipd::core::NotifyState::Master));

    // eth1 back: both return to Backup and preempt together.
    lan.link(a, "eth1", true);
    lan.run_until(secs(30));
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(us(23_414_062)));
    assert_eq!(lan.entered(a, "VI_2", State::Master), Some(us(23_414_062)));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    assert_eq!(lan.masters("VI_2"), vec![a]);
}

#[test]
fn sync_group_holds_a_member_whose_master_is_alive() {
    // B's VI_1 master (A) dies for VI_1 only: a third router C still masters
    // VI_2 at a higher priority, so B's group must not go master for VI_1
    // alone... until VI_2 also wants it.
    let mut lan = Lan::new();
    let mut a_cfg = grouped(150, false);
    a_cfg.instances.truncate(1);
    a_cfg.sync_groups.clear();
    let mut c_cfg = grouped(200, false);
    c_cfg.instances.remove(0);
    c_cfg.sync_groups.clear();
    let a = lan.add_router("A", 1, a_cfg);
    let b = lan.add_router("B", 2, grouped(100, false));
    let c = lan.add_router("C", 3, c_cfg);
    lan.start(a);
    lan.start(b);
    lan.start(c);
    lan.run_until(secs(10));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    assert_eq!(lan.masters("VI_2"), vec![c]);
    lan.kill(a);
    lan.run_until(secs(30));
    assert_eq!(lan.state(b, "VI_1"), State::Backup, "held back by its group");
    assert!(lan.logs(b).iter().any(|(_, l)| matches!(l, LogEvent::SyncGroupWait { .. })));
    lan.kill(c);
    lan.run_until(secs(40));
    assert_eq!(lan.state(b, "VI_1"), State::Master);
    assert_eq!(lan.state(b, "VI_2"), State::Master);
}

#[test]
fn partition_gives_two_masters_and_heal_converges_within_one_interval() {
    let (mut lan, a, b) = pair(Version::V2, 1000);
    lan.run_until(secs(10));
    lan.partition(&[a]);
    lan.run_until(secs(20));
    assert_eq!(lan.masters("VI_1"), vec![a, b]);
    assert_eq!(lan.holders(vip()), vec![a, b]);
    lan.heal();
    lan.run_until(secs(21));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    assert_eq!(lan.holders(vip()), vec![a]);
    // B's first advert after the heal reached A, which answered at once
    // (keepalived's default), and B yielded on that answer.
    let yielded = lan.entered(b, "VI_1", State::Backup).unwrap();
    assert!(yielded >= secs(20) && yielded < secs(21), "{yielded}");
    assert!(lan.logs(a).iter().any(|(t, l)| *t == yielded && matches!(l, LogEvent::MasterRxLowerPriority { .. })));
    lan.run_until(secs(40));
    assert_eq!(lan.masters("VI_1"), vec![a]);
}

#[test]
fn lower_prio_no_advert_waits_for_the_masters_own_schedule() {
    let mut lan = Lan::new();
    let mut high = instance(Version::V2, 150, 1000);
    high.lower_prio_no_advert = true;
    let a = lan.add_router("A", 1, config(vec![high]));
    let b = lan.add_router("B", 2, config(vec![instance(Version::V2, 100, 1000)]));
    lan.start(a);
    lan.start(b);
    lan.run_until(secs(10));
    lan.partition(&[a]);
    lan.run_until(secs(20));
    lan.heal();
    lan.run_until(secs(22));
    // A's next scheduled advert after the heal, not B's, ends the split.
    let next_a = lan.sent.iter().find(|s| s.router == a && s.at >= secs(20)).unwrap().at;
    assert_eq!(next_a, us(20_414_062));
    assert_eq!(lan.entered(b, "VI_1", State::Backup), Some(next_a));
}

#[test]
fn deleted_vip_releases_and_retakes_after_skew() {
    let (mut lan, a, b) = pair(Version::V2, 1000);
    lan.run_until(secs(10));
    lan.delete_address(a, "eth0", vip());
    assert_eq!(lan.state(a, "VI_1"), State::Backup);
    assert!(lan.sent.iter().any(|s| s.router == a && s.priority == 0 && s.at == secs(10)));
    lan.run_until(secs(20));
    // A waits Skew(150) = 0.414 s, B Skew(100) = 0.609 s: A re-takes it.
    assert_eq!(lan.entered(a, "VI_1", State::Master), Some(us(10_414_062)));
    assert_eq!(lan.entered(b, "VI_1", State::Master), None);
    assert_eq!(lan.holders(vip()), vec![a]);
}

#[test]
fn unicast_pair_elects_and_fails_over() {
    let mut lan = Lan::new();
    let mk = |prio: u8, peer: &str| {
        let mut i = instance(Version::V3, prio, 100);
        i.unicast_peers.push(UnicastPeer::new(peer.parse().unwrap()));
        i.check_unicast_src = true;
        config(vec![i])
    };
    let a = lan.add_router("A", 1, mk(150, "10.0.0.2"));
    let b = lan.add_router("B", 2, mk(100, "10.0.0.1"));
    // A third host not in the peer lists: its adverts are dropped by source.
    let c = lan.add_router("C", 3, mk(200, "10.0.0.1"));
    lan.start(a);
    lan.start(b);
    lan.run_until(secs(5));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    lan.start(c);
    lan.run_until(secs(10));
    assert_eq!(lan.state(a, "VI_1"), State::Master, "C is not a configured peer");
    assert!(lan.engine(a).instance_by_name("VI_1").unwrap().stats.error(WireError::Source) > 0);
    lan.kill(c);
    lan.stop(a);
    lan.run_until(secs(11));
    assert_eq!(lan.entered(b, "VI_1", State::Master), Some(us(10_060_937)));
}

#[test]
fn rfc9568_checksum_peer_is_accepted_and_counted() {
    let (mut lan, a, b) = pair(Version::V3, 100);
    lan.v3_ipv4_checksum = V3Ipv4Checksum::NoPseudoHeader;
    lan.run_until(secs(5));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    let bi = lan.engine(b).instance_by_name("VI_1").unwrap();
    assert!(bi.stats.rcvd_rfc9568_csum > 30);
    assert_eq!(bi.stats.rcvd_pseudo_header_csum, 0);
    assert_eq!(bi.stats.error(WireError::Checksum), 0);
    // The form is logged once per peer, not per packet.
    let forms = lan.logs(b).iter().filter(|(_, l)| matches!(l, LogEvent::ChecksumForm { .. })).count();
    assert_eq!(forms, 1);
}

#[test]
fn lossy_lan_still_converges_to_one_master() {
    let (mut lan, _a, _b) = pair(Version::V3, 100);
    lan.set_loss_ppm(100_000);
    lan.run_until(secs(60));
    lan.set_loss_ppm(0);
    lan.run_for(Duration::from_millis(200));
    assert_eq!(lan.masters("VI_1").len(), 1);
    assert_eq!(lan.holders(vip()).len(), 1);
}

#[test]
fn garps_take_their_turns_and_stop_with_the_addresses() {
    // Two addresses, GARPs 100 ms apart on the interface.
    let both = |prio: u8| {
        let mut i = instance(Version::V2, prio, 1000);
        i.vips.push(vipd::config::VipConfig::host("10.0.0.101".parse().unwrap()));
        let mut cfg = config(vec![i]);
        cfg.globals.garp_interval = Duration::from_millis(100);
        cfg
    };
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, both(150));
    let b = lan.add_router("B", 2, both(100));
    lan.start(a);
    lan.start(b);
    let garps = |lan: &Lan, r: RouterId| -> Vec<(u64, IpAddr)> {
        let each = lan.effects.iter().filter(|(_, who, _)| *who == r);
        each.filter_map(|(t, _, e)| match e {
            vipd::core::Effect::AnnounceAddr { addr, .. } => Some((t.as_micros() / 1000, *addr)),
            _ => None,
        })
        .collect()
    };
    let won = 3_414; // ms: A's Master_Down at priority 150
    lan.run_until(us(3_414_062 + 450_000));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    let extra: IpAddr = "10.0.0.101".parse().unwrap();
    // Round by round (5 rounds × 2 addresses), one every 100 ms.
    let want: Vec<(u64, IpAddr)> = (0..5).map(|k| (won + 100 * k, if k % 2 == 0 { vip() } else { extra })).collect();
    assert_eq!(garps(&lan, a), want);
    // A stops half way: the rest of its rounds are dropped with its
    // addresses; B takes over after Skew and announces in turn.
    lan.stop(a);
    lan.run_for(Duration::from_secs(2));
    assert_eq!(garps(&lan, a), want);
    assert_eq!(lan.masters("VI_1"), vec![b]);
    let taken = lan.entered(b, "VI_1", State::Master).unwrap().as_micros() / 1000;
    let theirs = garps(&lan, b);
    assert_eq!(theirs.len(), 10);
    assert!(theirs.iter().enumerate().all(|(k, &(t, _))| t == taken + 100 * k as u64), "{theirs:?}");
}
