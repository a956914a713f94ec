//! Scenario tests of the conditions through `core::sim`: a drifted peer
//! takes part in the election and both sides report it; a VRRP-only
//! partition is split brain on both sides and heals with an announcement;
//! a different virtual router on our VRID is a collision; a unicast peer
//! that cannot be heard is silent; and none of them appears in a normal
//! start, preemption or failover.

use core::net::IpAddr;

use super::sim::{Lan, RouterId};
use super::*;
use crate::config::{Config, InstanceConfig, UnicastPeer};
use crate::time::Duration;
use crate::wire::vrrp::Version;

fn a_vip() -> IpAddr {
    IpAddr::from([10, 0, 0, 100])
}

fn b_vip() -> IpAddr {
    IpAddr::from([10, 0, 0, 200])
}

/// VRRPv3 at 10 ms, priority `prio`, the given VIPs.
fn v3(prio: u8, vips: &[IpAddr]) -> Config {
    let mut i = InstanceConfig::new("VI_1", "eth0", 51, Version::V3, vips);
    i.priority = prio;
    i.advert_int = Duration::from_millis(10);
    Config { instances: vec![i], ..Config::default() }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn active(lan: &Lan, r: RouterId, c: Condition) -> bool {
    lan.engine(r).instance_by_name("VI_1").is_some_and(|i| i.conditions.is_active(c))
}

/// When `r` raised `c` first.
fn raised_at(lan: &Lan, r: RouterId, c: Condition) -> Option<crate::time::Instant> {
    lan.logs(r)
        .iter()
        .find(|(_, l)| matches!(l, LogEvent::ConditionRaised { condition, .. } if *condition == c))
        .map(|(t, _)| *t)
}

fn any_raised(lan: &Lan, r: RouterId) -> Vec<LogEvent> {
    lan.logs(r).into_iter().map(|(_, l)| l).filter(|l| matches!(l, LogEvent::ConditionRaised { .. })).collect()
}

/// Runs `d` in 1 ms steps, checking at each that at most one router holds
/// `addr`.
fn run_single_holder(lan: &mut Lan, addr: IpAddr, d: Duration) {
    for _ in 0..d.as_millis() {
        lan.run_for(ms(1));
        assert!(lan.holders(addr).len() <= 1, "two holders of {addr} at {}", lan.now());
    }
}

#[test]
fn a_master_reloaded_with_one_more_vip_stays_the_only_master_and_both_report_the_mismatch() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, v3(150, &[a_vip()]));
    let b = lan.add_router("B", 2, v3(100, &[a_vip()]));
    lan.start(a);
    lan.start(b);
    lan.run_for(ms(500));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    // keepalived's backup drops these adverts and takes over: two masters.
    let reloaded = lan.now();
    lan.reload(a, v3(150, &[a_vip(), b_vip()]));
    run_single_holder(&mut lan, a_vip(), ms(2000));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    assert!(lan.entered(b, "VI_1", State::Master).is_none(), "the backup never took over");
    for r in [a, b] {
        let at = raised_at(&lan, r, Condition::PeerMismatch).expect("peer_mismatch raised");
        // Three advert intervals (and the backup's report on the way back).
        assert!(
            at.saturating_since(reloaded) <= ms(30),
            "{} raised after {}",
            lan.name(r),
            at.saturating_since(reloaded)
        );
        assert!(active(&lan, r, Condition::PeerMismatch));
        assert!(!active(&lan, r, Condition::SplitBrain), "reports are not a second master");
    }
    let b_ev = lan.engine(b).instances()[0].conditions.evidence(Condition::PeerMismatch);
    assert!(
        matches!(b_ev, Some(Evidence::Mismatch { drift, .. }) if drift.has(Drift::ADDRESSES) && drift.extra == Some(b_vip())),
        "{b_ev:?}"
    );
    // The backup's configuration catches up: both clear.
    lan.reload(b, v3(100, &[a_vip(), b_vip()]));
    lan.run_for(ms(4000));
    assert!(!active(&lan, b, Condition::PeerMismatch), "cleared on the next matching advert");
    assert!(!active(&lan, a, Condition::PeerMismatch), "cleared when the reports stop");
    assert_eq!(lan.masters("VI_1"), vec![a]);
}

#[test]
fn a_vrrp_only_partition_is_split_brain_on_both_sides_and_heals_with_an_announcement() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, v3(150, &[a_vip()]));
    let b = lan.add_router("B", 2, v3(100, &[a_vip()]));
    lan.start(a);
    lan.start(b);
    lan.run_for(ms(500));
    // B stops hearing A: it becomes master; A still hears B, and B sees
    // A's GARPs for the VIP.
    lan.block_vrrp(a, b);
    lan.run_for(ms(300));
    assert_eq!(lan.masters("VI_1").len(), 2);
    let b_master = lan.entered(b, "VI_1", State::Master).unwrap();
    for r in [a, b] {
        let at = raised_at(&lan, r, Condition::SplitBrain).expect("split_brain raised");
        assert!(at.saturating_since(b_master) <= ms(30), "{} after {}", lan.name(r), at.saturating_since(b_master));
    }
    let healed = lan.now();
    lan.heal();
    lan.run_for(ms(200));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    assert!(!active(&lan, a, Condition::SplitBrain) && !active(&lan, b, Condition::SplitBrain));
    // A, which stayed master, announced when its condition cleared.
    let cleared = lan
        .logs(a)
        .iter()
        .find(|(t, l)| *t >= healed && matches!(l, LogEvent::ConditionCleared { condition: Condition::SplitBrain, .. }))
        .map(|(t, _)| *t)
        .expect("cleared on A");
    assert!(
        lan.effects.iter().any(|(t, r, e)| *t == cleared && *r == a && matches!(e, Effect::Announce { .. })),
        "GARP round when split brain cleared"
    );
    assert!(cleared.saturating_since(healed) <= ms(100), "cleared {} after the heal", cleared.saturating_since(healed));
}

#[test]
fn a_backup_hearing_two_masters_reports_split_brain() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, v3(150, &[a_vip()]));
    let b = lan.add_router("B", 2, v3(120, &[a_vip()]));
    let c = lan.add_router("C", 3, v3(50, &[a_vip()]));
    lan.start(a);
    lan.start(b);
    lan.start(c);
    lan.run_for(ms(500));
    lan.block_vrrp(a, b);
    lan.block_vrrp(b, a);
    lan.run_for(ms(300));
    assert_eq!(lan.masters("VI_1").len(), 2);
    assert!(active(&lan, c, Condition::SplitBrain));
    assert_eq!(lan.state(c, "VI_1"), State::Backup);
}

#[test]
fn another_virtual_router_on_our_vrid_is_a_collision_and_both_keep_their_vips() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, v3(150, &[a_vip()]));
    let c = lan.add_router("C", 3, v3(100, &[b_vip()]));
    lan.start(a);
    lan.start(c);
    lan.run_for(ms(500));
    assert_eq!(lan.holders(a_vip()), vec![a]);
    assert_eq!(lan.holders(b_vip()), vec![c]);
    for r in [a, c] {
        assert!(active(&lan, r, Condition::VridCollision), "{}", lan.name(r));
        assert!(!active(&lan, r, Condition::PeerMismatch) && !active(&lan, r, Condition::SplitBrain));
    }
}

fn unicast(prio: u8, peer: [u8; 4], silent: Duration) -> Config {
    let mut cfg = v3(prio, &[a_vip()]);
    let i = &mut cfg.instances[0];
    i.unicast_peers = vec![UnicastPeer::new(IpAddr::from(peer))];
    i.peer_silent_after = silent;
    cfg
}

#[test]
fn a_unicast_peer_at_a_wrong_address_is_silent_on_both_masters() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, unicast(150, [10, 0, 0, 99], Duration::from_secs(1)));
    let b = lan.add_router("B", 2, unicast(100, [10, 0, 0, 1], Duration::from_secs(1)));
    lan.start(a);
    lan.start(b);
    lan.run_for(ms(3000));
    assert_eq!(lan.masters("VI_1").len(), 2, "A never hears B: a stranger's adverts are dropped");
    for r in [a, b] {
        assert!(active(&lan, r, Condition::PeerSilent), "{}", lan.name(r));
    }
}

#[test]
fn a_healthy_unicast_pair_hears_its_backup_and_raises_nothing() {
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, unicast(150, [10, 0, 0, 2], Duration::from_secs(1)));
    let b = lan.add_router("B", 2, unicast(100, [10, 0, 0, 1], Duration::from_secs(1)));
    lan.start(a);
    lan.start(b);
    lan.run_for(Duration::from_secs(10));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    assert_eq!(any_raised(&lan, a), vec![], "the backup's presence reports reach the master");
    assert_eq!(any_raised(&lan, b), vec![]);
    // The master dies: the backup takes over and, master now, finds its
    // peer silent.
    lan.kill(a);
    lan.run_for(Duration::from_secs(3));
    assert_eq!(lan.masters("VI_1"), vec![b]);
    assert!(active(&lan, b, Condition::PeerSilent));
}

#[test]
fn normal_starts_preemption_and_failover_raise_no_condition() {
    let mut lan = Lan::new();
    lan.set_loss_ppm(20_000);
    let a = lan.add_router("A", 1, v3(150, &[a_vip()]));
    let b = lan.add_router("B", 2, v3(100, &[a_vip()]));
    let c = lan.add_router("C", 3, v3(50, &[a_vip()]));
    lan.start(b);
    lan.start(c);
    lan.run_for(ms(300));
    // A starts later and preempts B; then it fails, B takes over, A comes
    // back and preempts again.
    lan.start(a);
    lan.run_for(ms(300));
    lan.kill(a);
    lan.run_for(ms(300));
    lan.start(a);
    lan.run_for(ms(300));
    lan.stop(a);
    lan.run_for(ms(300));
    lan.start(a);
    lan.run_for(ms(2000));
    assert_eq!(lan.masters("VI_1"), vec![a]);
    for r in [a, b, c] {
        assert_eq!(any_raised(&lan, r), vec![], "{}", lan.name(r));
    }
}

#[test]
fn a_v2_peer_with_a_longer_interval_is_followed_not_timed_out() {
    let mk = |prio: u8, int: u64| {
        let mut i = InstanceConfig::new("VI_1", "eth0", 51, Version::V2, &[a_vip()]);
        i.priority = prio;
        i.advert_int = Duration::from_secs(int);
        Config { instances: vec![i], ..Config::default() }
    };
    let mut lan = Lan::new();
    let a = lan.add_router("A", 1, mk(150, 5));
    let b = lan.add_router("B", 2, mk(100, 1));
    lan.start(a);
    lan.start(b);
    lan.run_for(Duration::from_secs(20));
    let settled = lan.now();
    for _ in 0..60 {
        lan.run_for(Duration::from_secs(1));
        assert_eq!(lan.masters("VI_1"), vec![a], "at {}", lan.now());
    }
    assert!(lan.entered(b, "VI_1", State::Master).is_none_or(|t| t < settled));
    assert!(active(&lan, b, Condition::PeerMismatch));
    let ev = lan.engine(b).instances()[0].conditions.evidence(Condition::PeerMismatch);
    assert!(matches!(ev, Some(Evidence::Mismatch { drift, .. }) if drift.has(Drift::INTERVAL)), "{ev:?}");
}
