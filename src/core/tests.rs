//! Engine tests against single events: receive checks and their counters,
//! effect order, GARP schedule, shutdown, start-up variants, and the
//! decisions drivers only carry out: the announce queue, notify effects,
//! the run of failed sends, what a reload releases, which interface holds
//! each address.

use core::net::IpAddr;

use super::sim::{Lan, MCAST4};
use super::*;
use crate::config::{Config, InitialState, InstanceConfig, UnicastPeer};
use crate::time::{Instant, Secs};
use crate::wire::vrrp::{Addrs, Advert, Auth, ChecksumForm, Interval, Version};

const VIP: [u8; 4] = [10, 0, 0, 100];

fn vip() -> IpAddr {
    IpAddr::from(VIP)
}

fn us(n: u64) -> Instant {
    Instant::from_micros(n)
}

fn secs(n: u64) -> Instant {
    Instant::from_micros(n * 1_000_000)
}

fn one(i: InstanceConfig) -> Config {
    Config { instances: vec![i], ..Config::default() }
}

fn v2(prio: u8) -> InstanceConfig {
    let mut i = InstanceConfig::new("VI_1", "eth0", 51, Version::V2, &[vip()]);
    i.priority = prio;
    i
}

/// An engine with its link up and address reported, started at t = 0.
fn started(cfg: Config) -> (Engine, Effects) {
    let mut e = Engine::new(&cfg).unwrap();
    let mut fx = Effects::with_capacity(e.effects_capacity());
    let eth0 = IfaceId(0);
    e.handle(Instant::ZERO, Event::Link { iface: eth0, up: true }, &mut fx);
    e.handle(Instant::ZERO, Event::Address { iface: eth0, addr: IpAddr::from([10, 0, 0, 1]), present: true }, &mut fx);
    fx.clear();
    e.handle(Instant::ZERO, Event::Start, &mut fx);
    (e, fx)
}

const PEER: [u8; 4] = [10, 0, 0, 2];
static ONE_VIP: [[u8; 4]; 1] = [VIP];

fn rx(advert: Advert<'_>) -> RxAdvert<'_> {
    RxAdvert {
        iface: IfaceId(0),
        src: IpAddr::from(PEER),
        dst: IpAddr::V4(MCAST4),
        ttl: 255,
        advert,
        checksum: ChecksumForm::V2,
    }
}

fn advert(prio: u8) -> Advert<'static> {
    Advert {
        version: Version::V2,
        vrid: 51,
        priority: prio,
        interval: Interval::V2(Secs::new(1)),
        auth: Auth::None,
        addrs: Addrs::V4(&ONE_VIP),
    }
}

/// A sync group of the first two instances.
fn group_of_two() -> crate::config::SyncGroupConfig {
    crate::config::SyncGroupConfig { name: "G".into(), members: vec![0, 1], notify: Default::default() }
}

fn inst(e: &Engine) -> &Instance {
    &e.instances()[0]
}

#[test]
fn receive_checks_charge_the_right_counter() {
    // A different version, interval or an overlapping address list is a
    // drifted peer, not an error: see tests_conditions.
    static OTHER: [[u8; 4]; 1] = [[10, 0, 0, 99]];
    let (mut e, mut fx) = started(one(v2(100)));
    let cases: &[(RxAdvert<'_>, WireError)] = &[
        (RxAdvert { ttl: 254, ..rx(advert(200)) }, WireError::IpTtl),
        (RxAdvert { dst: IpAddr::from(PEER), ..rx(advert(200)) }, WireError::Source),
        (rx(Advert { auth: Auth::Simple(*b"secret\0\0"), ..advert(200) }), WireError::AuthTypeMismatch),
        (rx(Advert { addrs: Addrs::V4(&OTHER), ..advert(200) }), WireError::AddressList),
    ];
    for (n, (r, err)) in cases.iter().enumerate() {
        let before = inst(&e).stats.error(*err);
        fx.clear();
        e.handle(us(n as u64), Event::Advert(*r), &mut fx);
        assert_eq!(inst(&e).stats.error(*err), before + 1, "case {n}: {err:?}");
        assert!(fx.iter().any(|f| matches!(f, Effect::Log(LogEvent::RxError { error, .. }) if error == err)));
    }
    assert_eq!(inst(&e).stats.adverts_rcvd, 0, "none accepted");
    // The timer was never reset by a rejected advert.
    assert_eq!(inst(&e).down_deadline(), Some(us(3_609_375)));

    // Unknown VRID: router-level counter.
    fx.clear();
    e.handle(secs(1), Event::Advert(rx(Advert { vrid: 9, ..advert(200) })), &mut fx);
    assert_eq!(e.global_error(WireError::VrId), 1);
    // Wire-level errors reported by the driver land on the instance when the
    // VRID is known, else on the router.
    e.handle(
        secs(1),
        Event::RxError { iface: IfaceId(0), family: Family::V4, vrid: Some(51), error: WireError::Checksum },
        &mut fx,
    );
    e.handle(
        secs(1),
        Event::RxError { iface: IfaceId(0), family: Family::V4, vrid: None, error: WireError::Checksum },
        &mut fx,
    );
    assert_eq!(inst(&e).stats.error(WireError::Checksum), 1);
    assert_eq!(e.global_error(WireError::Checksum), 1);
}

#[test]
fn simple_password_is_checked() {
    let mut cfg = v2(100);
    cfg.auth = Auth::Simple(*b"abcdefgh");
    let (mut e, mut fx) = started(one(cfg));
    e.handle(us(1), Event::Advert(rx(Advert { auth: Auth::Simple(*b"abcdefgX"), ..advert(200) })), &mut fx);
    assert_eq!(inst(&e).stats.error(WireError::AuthFailure), 1);
    e.handle(us(2), Event::Advert(rx(advert(200))), &mut fx);
    assert_eq!(inst(&e).stats.error(WireError::AuthTypeMismatch), 1);
    e.handle(us(3), Event::Advert(rx(Advert { auth: Auth::Ah, ..advert(200) })), &mut fx);
    assert_eq!(inst(&e).stats.error(WireError::AuthTypeMismatch), 2);
    e.handle(us(4), Event::Advert(rx(Advert { auth: Auth::Simple(*b"abcdefgh"), ..advert(200) })), &mut fx);
    assert_eq!(inst(&e).stats.adverts_rcvd, 1);
    // Our own adverts carry the password.
    assert_eq!(e.advert(InstanceId(0), 100).unwrap().auth, Auth::Simple(*b"abcdefgh"));
}

#[test]
fn master_entry_effects_in_keepalived_order_and_garp_schedule() {
    let mut cfg = v2(255);
    cfg.initial_state = InitialState::Master;
    cfg.garp.master_refresh = Duration::from_secs(60);
    cfg.garp.master_refresh_repeat = 2;
    let (mut e, mut fx) = started(one(cfg));
    let id = InstanceId(0);
    // Stale addresses removed first; the state change (and its notify) comes
    // after the advert, the addresses and the GARP burst.
    assert_eq!(
        fx.as_slice(),
        &[
            Effect::RemoveVips { inst: id },
            Effect::SendAdvert { inst: id, priority: 255 },
            Effect::AddVips { inst: id },
            Effect::Announce { inst: id, rounds: 5 },
            Effect::StateChange { inst: id, from: State::Init, to: State::Master, reason: Reason::Owner, notify: true },
        ]
    );
    // Collect announcements over two minutes.
    let mut announces = Vec::new();
    let mut now = Instant::ZERO;
    while let Some(t) = e.next_deadline().filter(|&t| t <= secs(125)) {
        now = t;
        fx.clear();
        e.handle(now, Event::Timer, &mut fx);
        for f in &fx {
            if let Effect::Announce { rounds, .. } = f {
                announces.push((now, *rounds));
            }
        }
    }
    assert!(now >= secs(124));
    assert_eq!(announces, vec![(secs(5), 5), (secs(60), 2), (secs(120), 2)]);
    assert_eq!(inst(&e).stats.adverts_sent, 126);
}

#[test]
fn master_answers_lower_priority_with_advert_and_garps() {
    let mut cfg = v2(150);
    cfg.garp.lower_prio_delay = Duration::from_secs(2);
    cfg.garp.lower_prio_repeat = 3;
    let (mut e, mut fx) = started(one(cfg));
    e.handle(secs(4), Event::Timer, &mut fx);
    assert_eq!(inst(&e).state, State::Master);
    fx.clear();
    e.handle(secs(5), Event::Advert(rx(advert(100))), &mut fx);
    let id = InstanceId(0);
    assert_eq!(
        fx.as_slice(),
        &[
            Effect::Log(LogEvent::MasterRxLowerPriority {
                inst: id,
                from: IpAddr::from(PEER),
                priority: 100,
                ours: 150
            }),
            Effect::SendAdvert { inst: id, priority: 150 },
            Effect::Announce { inst: id, rounds: 3 },
        ]
    );
    // The advert timer restarted from the answer; the second burst comes 2 s later.
    assert_eq!(inst(&e).advert_deadline(), Some(secs(6)));
    fx.clear();
    e.handle(secs(7), Event::Timer, &mut fx);
    assert!(fx.iter().any(|f| *f == Effect::Announce { inst: id, rounds: 3 }));

    // Equal priority from a lower address: also "lower".
    fx.clear();
    let low = RxAdvert { src: IpAddr::from([10, 0, 0, 0]), ..rx(advert(150)) };
    e.handle(secs(8), Event::Advert(low), &mut fx);
    assert_eq!(inst(&e).state, State::Master);
    // Equal priority from a higher address: yield, without priority 0.
    fx.clear();
    e.handle(secs(9), Event::Advert(rx(advert(150))), &mut fx);
    assert_eq!(inst(&e).state, State::Backup);
    assert!(!fx.iter().any(|f| matches!(f, Effect::SendAdvert { priority: 0, .. })));
    assert!(fx.iter().any(|f| *f == Effect::RemoveVips { inst: id }));
}

#[test]
fn higher_prio_send_advert_sends_one_before_yielding() {
    let mut cfg = v2(150);
    cfg.higher_prio_send_advert = true;
    let (mut e, mut fx) = started(one(cfg));
    e.handle(secs(4), Event::Timer, &mut fx);
    fx.clear();
    e.handle(secs(5), Event::Advert(rx(advert(200))), &mut fx);
    let sends: Vec<_> = fx.iter().filter(|f| matches!(f, Effect::SendAdvert { .. })).collect();
    assert_eq!(sends, vec![&Effect::SendAdvert { inst: InstanceId(0), priority: 150 }]);
    assert_eq!(inst(&e).state, State::Backup);
}

#[test]
fn two_owners_lower_ours_to_254() {
    let mut cfg = v2(255);
    cfg.initial_state = InitialState::Master;
    let (mut e, mut fx) = started(one(cfg));
    fx.clear();
    e.handle(secs(1), Event::Advert(rx(advert(255))), &mut fx);
    assert!(fx.iter().any(|f| matches!(f, Effect::Log(LogEvent::OwnerConflict { .. }))));
    assert_eq!(inst(&e).effective_priority, 254);
    assert_eq!(inst(&e).state, State::Backup);
}

#[test]
fn priority_zero_answered_by_master_and_shortens_backup_timer() {
    let (mut e, mut fx) = started(one(v2(100)));
    e.handle(secs(1), Event::Advert(rx(advert(200))), &mut fx);
    assert_eq!(inst(&e).down_deadline(), Some(us(4_609_375)));
    e.handle(secs(2), Event::Advert(rx(advert(0))), &mut fx);
    assert_eq!(inst(&e).down_deadline(), Some(us(2_609_375)));
    assert_eq!(inst(&e).stats.pri_zero_rcvd, 1);
    fx.clear();
    e.handle(us(2_609_375), Event::Timer, &mut fx);
    assert_eq!(inst(&e).state, State::Master);
    assert_eq!(inst(&e).reason, Reason::PriorityZero);
    fx.clear();
    e.handle(secs(3), Event::Advert(rx(advert(0))), &mut fx);
    assert_eq!(fx.as_slice(), &[Effect::SendAdvert { inst: InstanceId(0), priority: 100 }]);
    assert_eq!(inst(&e).advert_deadline(), Some(secs(4)));
}

#[test]
fn shutdown_releases_masters_and_reports_stop() {
    let (mut e, mut fx) = started(one(v2(150)));
    e.handle(secs(4), Event::Timer, &mut fx);
    fx.clear();
    e.handle(secs(5), Event::Shutdown { release_vips: true }, &mut fx);
    let id = InstanceId(0);
    assert_eq!(
        fx.as_slice(),
        &[
            Effect::SendAdvert { inst: id, priority: 0 },
            Effect::RemoveVips { inst: id },
            Effect::StateChange {
                inst: id,
                from: State::Master,
                to: State::Init,
                reason: Reason::Shutdown,
                notify: false
            },
            Effect::Notify { inst: id, state: NotifyState::Stop },
        ]
    );
    assert_eq!(e.next_deadline(), None);
    let (mut e, mut fx) = started(one(v2(150)));
    e.handle(secs(4), Event::Timer, &mut fx);
    fx.clear();
    e.handle(secs(5), Event::Shutdown { release_vips: false }, &mut fx);
    // `-V`: the addresses stay, so no priority 0 either (keepalived skips
    // the whole release); a peer taking over would hold them too.
    assert_eq!(
        fx.as_slice(),
        &[
            Effect::StateChange {
                inst: id,
                from: State::Master,
                to: State::Init,
                reason: Reason::Shutdown,
                notify: false
            },
            Effect::Notify { inst: id, state: NotifyState::Stop },
        ]
    );
}

#[test]
fn state_master_below_255_is_only_a_hint() {
    let mut cfg = v2(150);
    cfg.initial_state = InitialState::Master;
    let (e, fx) = started(one(cfg));
    assert_eq!(inst(&e).state, State::Backup);
    assert_eq!(inst(&e).down_deadline(), Some(us(3_414_062)));
    assert!(!fx.iter().any(|f| matches!(f, Effect::SendAdvert { .. })));
    // 255 with state BACKUP waits the full timer too.
    let mut cfg = v2(255);
    cfg.initial_state = InitialState::Backup;
    let (e, _) = started(one(cfg));
    assert_eq!(inst(&e).state, State::Backup);
    assert_eq!(inst(&e).down_deadline(), Some(us(3_003_906)));
}

#[test]
fn link_down_means_fault_unless_dont_track_primary() {
    let (mut e, mut fx) = started(one(v2(150)));
    e.handle(secs(4), Event::Timer, &mut fx);
    fx.clear();
    e.handle(secs(5), Event::Link { iface: IfaceId(0), up: false }, &mut fx);
    assert_eq!(inst(&e).state, State::Fault);
    assert!(fx.iter().any(|f| *f == Effect::SendAdvert { inst: InstanceId(0), priority: 0 }));
    // Adverts are ignored in Fault, counters untouched.
    e.handle(secs(6), Event::Advert(rx(advert(200))), &mut fx);
    assert_eq!(inst(&e).stats.adverts_rcvd, 0);
    // An owner leaving Fault waits one advert + skew.
    let mut cfg = v2(255);
    cfg.initial_state = InitialState::Master;
    let (mut e, mut fx) = started(one(cfg));
    e.handle(secs(1), Event::Link { iface: IfaceId(0), up: false }, &mut fx);
    e.handle(secs(2), Event::Link { iface: IfaceId(0), up: true }, &mut fx);
    assert_eq!(inst(&e).state, State::Backup);
    assert_eq!(inst(&e).down_deadline(), Some(secs(3) + Duration::from_micros(3_906)));

    let mut cfg = v2(150);
    cfg.dont_track_primary = true;
    let (mut e, mut fx) = started(one(cfg));
    e.handle(secs(1), Event::Link { iface: IfaceId(0), up: false }, &mut fx);
    assert_eq!(inst(&e).state, State::Backup);
}

#[test]
fn unknown_link_is_down_so_never_master() {
    let mut e = Engine::new(&one(v2(150))).unwrap();
    let mut fx = Effects::with_capacity(e.effects_capacity());
    e.handle(Instant::ZERO, Event::Start, &mut fx);
    assert_eq!(inst(&e).state, State::Fault);
}

#[test]
fn startup_delay_pushes_back_the_first_timer_only() {
    let mut cfg = one(v2(150));
    cfg.startup_delay = Duration::from_secs(10);
    let (mut e, mut fx) = started(cfg);
    // keepalived 2.2: in Backup at once (adverts are processed), the first
    // timer later by the delay.
    assert_eq!(inst(&e).state, State::Backup);
    assert_eq!(inst(&e).down_deadline(), Some(us(13_414_062)));
    e.handle(secs(1), Event::Advert(rx(advert(200))), &mut fx);
    assert_eq!(inst(&e).down_deadline(), Some(us(4_414_062)), "an advert restarts it normally");

    // An owner waits exactly the delay.
    let mut owner = v2(255);
    owner.initial_state = InitialState::Master;
    let mut cfg = one(owner);
    cfg.startup_delay = Duration::from_secs(10);
    let (mut e, mut fx) = started(cfg);
    assert_eq!(inst(&e).state, State::Backup);
    assert_eq!(e.next_deadline(), Some(secs(10)));
    e.handle(secs(10), Event::Timer, &mut fx);
    assert_eq!(inst(&e).state, State::Master);
}

#[test]
fn unicast_ttl_range_and_leaving_fault_announces_source() {
    let mut cfg = v2(100);
    let mut peer = UnicastPeer::new(IpAddr::from(PEER));
    peer.min_ttl = 250;
    cfg.unicast_peers.push(peer);
    let (mut e, mut fx) = started(one(cfg));
    let uni = RxAdvert { dst: IpAddr::from([10, 0, 0, 1]), ttl: 200, ..rx(advert(200)) };
    e.handle(secs(1), Event::Advert(uni), &mut fx);
    assert_eq!(inst(&e).stats.error(WireError::IpTtl), 1);
    e.handle(secs(1), Event::Advert(RxAdvert { ttl: 250, ..uni }), &mut fx);
    assert_eq!(inst(&e).stats.adverts_rcvd, 1);
    e.handle(secs(1), Event::Advert(RxAdvert { src: IpAddr::from([10, 0, 0, 9]), ttl: 250, ..uni }), &mut fx);
    assert_eq!(inst(&e).stats.error(WireError::Source), 1, "min_ttl implies source checking");

    e.handle(secs(2), Event::Link { iface: IfaceId(0), up: false }, &mut fx);
    fx.clear();
    e.handle(secs(3), Event::Link { iface: IfaceId(0), up: true }, &mut fx);
    assert!(fx.iter().any(|f| *f == Effect::AnnounceSource { inst: InstanceId(0) }));
}

#[test]
fn duplicate_vrid_is_refused_unless_unicast_peers_differ() {
    let a = v2(100);
    let mut b = v2(100);
    b.name = "VI_2".into();
    let cfg = Config { instances: vec![a.clone(), b.clone()], ..Config::default() };
    assert!(matches!(Engine::new(&cfg), Err(BuildError::DuplicateVrid { .. })));
    let (mut a, mut b) = (a, b);
    a.unicast_peers.push(UnicastPeer::new(IpAddr::from([10, 0, 0, 2])));
    b.unicast_peers.push(UnicastPeer::new(IpAddr::from([10, 0, 0, 3])));
    let cfg = Config { instances: vec![a, b], ..Config::default() };
    let (mut e, mut fx) = started(cfg);
    // Demultiplexed by source.
    let from3 = RxAdvert { src: IpAddr::from([10, 0, 0, 3]), dst: IpAddr::from([10, 0, 0, 1]), ..rx(advert(200)) };
    e.handle(secs(1), Event::Advert(from3), &mut fx);
    assert_eq!(e.instances()[0].stats.adverts_rcvd, 0);
    assert_eq!(e.instances()[1].stats.adverts_rcvd, 1);
}

#[test]
fn skip_check_adv_addr_only_for_the_known_master_in_backup() {
    static OTHER: [[u8; 4]; 1] = [[10, 0, 0, 99]];
    let mut cfg = v2(100);
    cfg.skip_check_adv_addr = true;
    let (mut e, mut fx) = started(one(cfg));
    e.handle(secs(1), Event::Advert(rx(Advert { addrs: Addrs::V4(&OTHER), ..advert(200) })), &mut fx);
    assert_eq!(inst(&e).stats.error(WireError::AddressList), 1, "not yet our master");
    e.handle(secs(1), Event::Advert(rx(advert(200))), &mut fx);
    e.handle(secs(2), Event::Advert(rx(Advert { addrs: Addrs::V4(&OTHER), ..advert(200) })), &mut fx);
    assert_eq!(inst(&e).stats.adverts_rcvd, 2);
}

#[test]
fn effects_capacity_is_never_exceeded_in_a_busy_simulation() {
    // debug_assert in Effects::push trips if a bound is wrong; drive a lot
    // of transitions through a sync group with many members.
    let mut lan = Lan::new();
    let mk = |prio: u8| {
        let instances: Vec<_> = (0..20u8)
            .map(|n| {
                let mut i =
                    InstanceConfig::new(&format!("VI_{n}"), "eth0", n + 1, Version::V3, &[IpAddr::from([10, 0, 1, n])]);
                i.priority = prio;
                i.advert_int = Duration::from_millis(10);
                i
            })
            .collect();
        Config {
            instances,
            sync_groups: vec![crate::config::SyncGroupConfig {
                name: "G".into(),
                members: (0..20).collect(),
                notify: Default::default(),
            }],
            ..Config::default()
        }
    };
    let a = lan.add_router("A", 1, mk(150));
    let b = lan.add_router("B", 2, mk(100));
    lan.start(a);
    lan.start(b);
    for k in 0..20 {
        lan.run_for(Duration::from_millis(300));
        if k % 2 == 0 {
            lan.cable(a, false);
        } else {
            lan.cable(a, true);
        }
    }
    lan.run_for(Duration::from_secs(1));
    assert_eq!(lan.masters("VI_7"), vec![a]);
}

#[test]
fn owner_in_a_mixed_sync_group_starts_as_backup() {
    let mut owner = v2(255);
    owner.initial_state = InitialState::Master;
    let mut other = InstanceConfig::new("VI_2", "eth0", 52, Version::V2, &[IpAddr::from([10, 0, 0, 101])]);
    other.priority = 100;
    let cfg = Config { instances: vec![owner.clone(), other], sync_groups: vec![group_of_two()], ..Config::default() };
    let (mut e, mut fx) = started(cfg);
    assert_eq!(e.instances()[0].state, State::Backup);
    assert_eq!(e.instances()[1].state, State::Backup);
    // No deadline in the past: the loop would spin.
    assert!(e.next_deadline().is_some_and(|t| t > Instant::ZERO));
    while let Some(now) = e.next_deadline().filter(|&t| t <= secs(4)) {
        e.handle(now, Event::Timer, &mut fx);
    }
    // VI_1 (owner, 3.0039 s) waits for VI_2 (3.609 s), then both go.
    assert!(e.instances().iter().all(|i| i.state == State::Master), "the group goes master together");
    assert!(e.instances().iter().all(|i| i.since == us(3_609_375)));
    assert_eq!(e.group_state(GroupId(0)), Some(NotifyState::Master));

    // A group of owners only starts master at once.
    let mut owner2 = owner.clone();
    owner2.name = "VI_2".into();
    owner2.vrid = 52;
    let cfg = Config { instances: vec![owner, owner2], sync_groups: vec![group_of_two()], ..Config::default() };
    let (e, _) = started(cfg);
    assert!(e.instances().iter().all(|i| i.state == State::Master));
}

#[test]
fn an_owner_ignores_its_own_looped_advert() {
    let mut cfg = v2(255);
    cfg.initial_state = InitialState::Master;
    let (mut e, mut fx) = started(one(cfg));
    fx.clear();
    let own = RxAdvert { src: IpAddr::from([10, 0, 0, 1]), ..rx(advert(255)) };
    e.handle(secs(1), Event::Advert(own), &mut fx);
    assert_eq!(inst(&e).effective_priority, 255);
    assert_eq!(inst(&e).state, State::Master);
    assert!(fx.iter().any(|f| matches!(f, Effect::Log(LogEvent::OwnAdvertSeen { .. }))));
}

#[test]
fn primary_address_falls_back_and_no_source_is_a_fault() {
    let (mut e, mut fx) = started(one(v2(150)));
    let eth0 = IfaceId(0);
    e.handle(secs(1), Event::Address { iface: eth0, addr: IpAddr::from([10, 0, 0, 9]), present: true }, &mut fx);
    e.handle(secs(1), Event::Address { iface: eth0, addr: IpAddr::from([10, 0, 0, 1]), present: false }, &mut fx);
    assert_eq!(e.source_addr(InstanceId(0)), Some(IpAddr::from([10, 0, 0, 9])));
    assert_eq!(inst(&e).state, State::Backup);
    e.handle(secs(2), Event::Address { iface: eth0, addr: IpAddr::from([10, 0, 0, 9]), present: false }, &mut fx);
    assert_eq!(e.source_addr(InstanceId(0)), None);
    assert_eq!(inst(&e).state, State::Fault);
    e.handle(secs(3), Event::Address { iface: eth0, addr: IpAddr::from([10, 0, 0, 7]), present: true }, &mut fx);
    assert_eq!(inst(&e).state, State::Backup);
    // A VIP showing up on the interface never becomes the source.
    e.handle(secs(4), Event::Address { iface: eth0, addr: vip(), present: true }, &mut fx);
    e.handle(secs(4), Event::Address { iface: eth0, addr: IpAddr::from([10, 0, 0, 7]), present: false }, &mut fx);
    assert_eq!(e.source_addr(InstanceId(0)), None);
}

#[test]
fn track_src_ip_faults_when_the_configured_source_goes() {
    let mut cfg = v2(150);
    cfg.src_addr = Some(IpAddr::from([10, 0, 0, 5]));
    cfg.track_src_ip = true;
    let (mut e, mut fx) = started(one(cfg));
    assert_eq!(inst(&e).state, State::Fault, "10.0.0.5 is not on eth0");
    let eth0 = IfaceId(0);
    e.handle(secs(1), Event::Address { iface: eth0, addr: IpAddr::from([10, 0, 0, 5]), present: true }, &mut fx);
    assert_eq!(inst(&e).state, State::Backup);
    e.handle(secs(2), Event::Address { iface: eth0, addr: IpAddr::from([10, 0, 0, 5]), present: false }, &mut fx);
    assert_eq!(inst(&e).state, State::Fault);
}

#[test]
fn group_stop_is_reported_once_and_only_after_a_state() {
    let mut a = v2(100);
    let mut b = InstanceConfig::new("VI_2", "eth0", 52, Version::V2, &[IpAddr::from([10, 0, 0, 101])]);
    a.priority = 100;
    b.priority = 100;
    let cfg = Config { instances: vec![a, b], sync_groups: vec![group_of_two()], ..Config::default() };
    let mut e = Engine::new(&cfg).unwrap();
    let mut fx = Effects::with_capacity(e.effects_capacity());
    e.handle(Instant::ZERO, Event::Shutdown { release_vips: true }, &mut fx);
    assert!(!fx.iter().any(|f| matches!(f, Effect::GroupState { .. })), "never started");
    let (mut e, mut fx) = started(cfg);
    assert!(fx.iter().any(|f| *f == Effect::GroupState { group: GroupId(0), state: NotifyState::Backup }));
    fx.clear();
    e.handle(secs(1), Event::Shutdown { release_vips: true }, &mut fx);
    e.handle(secs(1), Event::Shutdown { release_vips: true }, &mut fx);
    let stops = fx.iter().filter(|f| matches!(f, Effect::GroupState { state: NotifyState::Stop, .. })).count();
    assert_eq!(stops, 1);
}

#[test]
fn unicast_and_multicast_instances_share_a_vrid() {
    let a = v2(100);
    let mut b = v2(100);
    b.name = "VI_2".into();
    b.unicast_peers.push(UnicastPeer::new(IpAddr::from(PEER)));
    let (mut e, mut fx) = started(Config { instances: vec![a, b], ..Config::default() });
    e.handle(secs(1), Event::Advert(rx(advert(200))), &mut fx);
    let uni = RxAdvert { dst: IpAddr::from([10, 0, 0, 1]), ..rx(advert(200)) };
    e.handle(secs(1), Event::Advert(uni), &mut fx);
    assert_eq!(e.instances()[0].stats.adverts_rcvd, 1);
    assert_eq!(e.instances()[1].stats.adverts_rcvd, 1);
    assert_eq!(e.instances()[0].stats.error(WireError::Source), 0);
}

#[test]
fn unusable_configs_are_refused() {
    let mut cfg = v2(100);
    cfg.advert_int = Duration::ZERO;
    assert!(matches!(Engine::new(&one(cfg)), Err(BuildError::Invalid { .. })));
    let mut cfg = v2(100);
    cfg.auth = Auth::Ah;
    assert!(matches!(Engine::new(&one(cfg)), Err(BuildError::Invalid { .. })));
}

/// A fresh engine for `cfg` with eth0 up and addressed, and eth1 as given,
/// not started.
fn reported(cfg: &Config, eth1_up: bool) -> (Engine, Effects) {
    let mut e = Engine::new(cfg).unwrap();
    let mut fx = Effects::with_capacity(e.effects_capacity());
    e.handle(Instant::ZERO, Event::Link { iface: IfaceId(0), up: true }, &mut fx);
    e.handle(
        Instant::ZERO,
        Event::Address { iface: IfaceId(0), addr: IpAddr::from([10, 0, 0, 1]), present: true },
        &mut fx,
    );
    if let Some(eth1) = e.iface_by_name("eth1") {
        e.handle(Instant::ZERO, Event::Link { iface: eth1, up: eth1_up }, &mut fx);
    }
    fx.clear();
    (e, fx)
}

#[test]
fn reload_keeps_a_master_and_releases_one_that_cannot_carry_on() {
    let (mut old, mut fx) = started(one(v2(150)));
    old.handle(secs(4), Event::Timer, &mut fx);
    assert_eq!(inst(&old).state, State::Master);

    // Same virtual router, one more address: stays master without a state
    // change, advertises and installs at once.
    let mut more = v2(150);
    more.vips.push(crate::config::VipConfig::host(IpAddr::from([10, 0, 0, 101])));
    let (mut new, mut fx) = reported(&one(more), true);
    new.start_from(&old, secs(5), &mut fx);
    assert_eq!(inst(&new).state, State::Master);
    assert!(!fx.iter().any(|f| matches!(f, Effect::StateChange { .. })));
    assert!(fx.iter().any(|f| *f == Effect::SendAdvert { inst: InstanceId(0), priority: 150 }));
    assert!(fx.iter().any(|f| *f == Effect::AddVips { inst: InstanceId(0) }));
    assert_eq!(inst(&new).stats.master_transitions, 1, "counters carry over");

    // Same router, but now tracking an interface that is down: it must not
    // keep the addresses while the peer takes over.
    let mut tracked = v2(150);
    tracked.track_interfaces.push(crate::config::TrackInterface {
        interface: "eth1".into(),
        weight: 0,
        reverse: false,
    });
    let (mut new, mut fx) = reported(&one(tracked), false);
    new.start_from(&old, secs(5), &mut fx);
    assert_eq!(inst(&new).state, State::Fault);
    assert!(fx.iter().any(|f| *f == Effect::SendAdvert { inst: InstanceId(0), priority: 0 }));
    assert!(fx.iter().any(|f| *f == Effect::RemoveVips { inst: InstanceId(0) }));
}

#[test]
fn adverts_that_cannot_be_sent_mean_fault_for_one_master_down() {
    let (mut e, mut fx) = started(one(v2(150)));
    e.handle(secs(4), Event::Timer, &mut fx);
    assert_eq!(inst(&e).state, State::Master);
    fx.clear();
    e.handle(secs(5), Event::Sent { inst: InstanceId(0), priority: 150, ok: false, count: 3 }, &mut fx);
    assert_eq!(inst(&e).state, State::Fault);
    assert!(fx.iter().any(|f| *f == Effect::RemoveVips { inst: InstanceId(0) }));
    assert_eq!(inst(&e).stats.send_failures, 1);
    // Back to Backup after Master_Down (3.414062 s), then the usual election.
    assert_eq!(e.next_deadline(), Some(us(8_414_062)));
    e.handle(us(8_414_062), Event::Timer, &mut fx);
    assert_eq!(inst(&e).state, State::Backup);
    // Ignored outside Master/Backup.
    let (mut e, mut fx) = started(one(v2(150)));
    e.handle(secs(1), Event::Link { iface: IfaceId(0), up: false }, &mut fx);
    e.handle(secs(1), Event::Sent { inst: InstanceId(0), priority: 150, ok: false, count: 3 }, &mut fx);
    assert_eq!(inst(&e).stats.send_failures, 0);
}

#[test]
fn a_crowd_of_ipv4_addresses_does_not_push_out_the_link_local_source() {
    let v6 = InstanceConfig::new("VI_6", "eth0", 52, Version::V3, &["fd00::100".parse().unwrap()]);
    let (mut e, mut fx) = started(one(v6));
    let eth0 = IfaceId(0);
    for n in 2..=40u8 {
        e.handle(secs(1), Event::Address { iface: eth0, addr: IpAddr::from([10, 0, 1, n]), present: true }, &mut fx);
    }
    assert!(fx.iter().any(|f| matches!(f, Effect::Log(LogEvent::AddressNotTracked { .. }))));
    let ll: IpAddr = "fe80::1".parse().unwrap();
    e.handle(secs(2), Event::Address { iface: eth0, addr: ll, present: true }, &mut fx);
    assert_eq!(e.source_addr(InstanceId(0)), Some(ll));
    assert_eq!(inst(&e).state, State::Backup);
    // The primary IPv4 address is still the first one.
    assert_eq!(e.ifaces()[0].primary4(), Some([10, 0, 0, 1].into()));
}

#[test]
fn reload_keeps_a_check_scripts_verdict_when_its_counts_change() {
    use crate::config::{TrackRef, TrackerConfig, TrackerId, TrackerKind};
    let cfg = |fall: u32| {
        let mut c = one(v2(150));
        c.trackers.push(TrackerConfig {
            kind: TrackerKind::Script { rise: 1, fall, init_fail: false },
            ..TrackerConfig::script("chk", &["true"])
        });
        c.instances[0].track.push(TrackRef { tracker: TrackerId(0), weight: 0, reverse: false });
        c
    };
    let (mut old, mut fx) = started(cfg(2));
    assert_eq!(inst(&old).state, State::Init, "waits for the check");
    old.handle(secs(0), Event::ScriptResult { tracker: TrackerId(0), success: true }, &mut fx);
    old.handle(secs(4), Event::Timer, &mut fx);
    assert_eq!(inst(&old).state, State::Master);
    // `fall 2` -> `fall 3`: the verdict carries over by name; the master
    // neither releases nor waits for the script again.
    let (mut new, mut fx) = reported(&cfg(3), true);
    new.start_from(&old, secs(5), &mut fx);
    assert_eq!(inst(&new).state, State::Master);
    assert!(!fx.iter().any(|f| matches!(f, Effect::SendAdvert { priority: 0, .. } | Effect::RemoveVips { .. })));
}

/// Two masters on one router whose phases differ by less than a quarter
/// interval (an owner at 0, a priority-200 instance master 32.19 ms in)
/// end up sending in the same wakeups, and neither ever leaves more than
/// its interval between two adverts.
#[test]
fn nearby_advert_timers_share_wakeups() {
    let ten_ms = Duration::from_millis(10);
    let mk = |name: &str, vrid: u8, prio: u8, last: u8| {
        let mut i = InstanceConfig::new(name, "eth0", vrid, Version::V3, &[IpAddr::from([10, 0, 1, last])]);
        i.priority = prio;
        i.advert_int = ten_ms;
        i
    };
    let cfg = Config { instances: vec![mk("VI_1", 1, 255, 1), mk("VI_2", 2, 200, 2)], ..Config::default() };
    let (mut e, mut fx) = started(cfg);
    let mut sent: [Vec<Instant>; 2] = [Vec::new(), Vec::new()];
    let mut wakeups_late = 0;
    let end = Instant::from_millis(1000);
    while let Some(t) = e.next_deadline().filter(|&t| t < end) {
        fx.clear();
        e.handle(t, Event::Timer, &mut fx);
        for f in &fx {
            if let Effect::SendAdvert { inst, .. } = f {
                sent[usize::from(inst.0)].push(t);
            }
        }
        if t >= Instant::from_millis(500) {
            wakeups_late += 1;
        }
    }
    assert_eq!(inst(&e).state, State::Master);
    assert_eq!(e.instances()[1].state, State::Master);
    for (k, times) in sent.iter().enumerate() {
        let worst = times.windows(2).map(|w| w[1].saturating_since(w[0])).max().unwrap_or_default();
        assert!(worst <= ten_ms, "VI_{}: a gap of {worst} between adverts", k + 1);
        assert!(times.len() >= 95, "VI_{}: {} adverts in 1 s", k + 1, times.len());
    }
    // After the first merge they go out together: one wakeup per interval.
    let late: Vec<&Instant> = sent[1].iter().filter(|&&t| t >= Instant::from_millis(100)).collect();
    assert!(late.iter().all(|t| sent[0].contains(t)), "VI_2 still sends on its own: {late:?}");
    assert!(wakeups_late <= 51, "{wakeups_late} wakeups in the last 500 ms");
}

#[test]
fn addresses_know_their_interface_from_the_build() {
    let mut cfg = v2(100);
    let mut on_eth1 = crate::config::VipConfig::host(IpAddr::from([10, 0, 1, 100]));
    on_eth1.dev = Some("eth1".into());
    cfg.vips.push(on_eth1);
    cfg.excluded_vips.push(crate::config::VipConfig::host("fd00::1".parse().unwrap()));
    let e = Engine::new(&one(cfg)).unwrap();
    let (eth0, eth1) = (e.iface_by_name("eth0"), e.iface_by_name("eth1"));
    let id = InstanceId(0);
    assert_eq!((0..4).map(|k| e.vip_iface(id, k)).collect::<Vec<_>>(), vec![eth0, eth1, eth0, None]);
    let addrs: Vec<(IpAddr, IfaceId)> = inst(&e).addresses().map(|(v, f)| (v.addr, f)).collect();
    assert_eq!(addrs[1], (IpAddr::from([10, 0, 1, 100]), eth1.unwrap()));
    assert_eq!(addrs[2].0, "fd00::1".parse::<IpAddr>().unwrap());
}

#[test]
fn priority_notifies_carry_the_state_the_event_leaves() {
    // Tracking its own interface with a weight: one link event changes the
    // priority and the fault together.
    let mut cfg = v2(100);
    cfg.notify.priority_changes = true;
    cfg.track_interfaces.push(crate::config::TrackInterface { interface: "eth0".into(), weight: 20, reverse: false });
    let (mut e, mut fx) = started(one(cfg.clone()));
    assert_eq!((inst(&e).state, inst(&e).effective_priority), (State::Backup, 120));
    let id = InstanceId(0);
    let notifies = |fx: &Effects| -> Vec<Effect> {
        fx.iter().filter(|f| matches!(f, Effect::NotifyEvent { .. })).copied().collect()
    };
    // Backup to Fault, 120 to 100: no priority notify in Fault.
    fx.clear();
    e.handle(secs(1), Event::Link { iface: IfaceId(0), up: false }, &mut fx);
    assert_eq!(inst(&e).state, State::Fault);
    assert!(fx.iter().any(|f| matches!(f, Effect::Log(LogEvent::PriorityChanged { .. }))));
    assert_eq!(notifies(&fx), vec![]);
    // Fault to Backup, 100 to 120: BACKUP_PRIORITY, before its log line
    // and the state's own notify.
    fx.clear();
    e.handle(secs(2), Event::Link { iface: IfaceId(0), up: true }, &mut fx);
    let pos = |want: fn(&Effect) -> bool| fx.iter().position(want).unwrap();
    let notify = pos(|f| *f == Effect::NotifyEvent { inst: InstanceId(0), event: NotifyEvent::BackupPriority });
    assert_eq!(notifies(&fx).len(), 1);
    let line = pos(|f| matches!(f, Effect::Log(LogEvent::PriorityChanged { .. })));
    let state = pos(|f| matches!(f, Effect::StateChange { to: State::Backup, .. }));
    assert!(notify < line && line < state, "{fx:?}");
    // Master: MASTER_PRIORITY, before the log line.
    let mut master = v2(150);
    master.notify.priority_changes = true;
    master.track_interfaces.push(crate::config::TrackInterface {
        interface: "eth1".into(),
        weight: -10,
        reverse: false,
    });
    let (mut m, mut fx) = reported(&one(master), true);
    m.handle(Instant::ZERO, Event::Start, &mut fx);
    m.handle(secs(4), Event::Timer, &mut fx);
    assert_eq!(inst(&m).state, State::Master);
    fx.clear();
    let eth1 = m.iface_by_name("eth1").unwrap();
    m.handle(secs(5), Event::Link { iface: eth1, up: false }, &mut fx);
    assert_eq!(
        fx.as_slice(),
        &[
            Effect::NotifyEvent { inst: id, event: NotifyEvent::MasterPriority },
            Effect::Log(LogEvent::PriorityChanged { inst: id, from: 150, to: 140 }),
        ]
    );
    // Without `notify_priority_changes`, none.
    let mut quiet = cfg;
    quiet.notify.priority_changes = false;
    let (mut e, mut fx) = started(one(quiet));
    e.handle(secs(1), Event::Link { iface: IfaceId(0), up: false }, &mut fx);
    e.handle(secs(2), Event::Link { iface: IfaceId(0), up: true }, &mut fx);
    assert_eq!(notifies(&fx), vec![]);
}

#[test]
fn a_heard_lower_priority_notifies_only_when_someone_listens() {
    let mut cfg = one(v2(150));
    cfg.globals.notify_fifo = Some(crate::config::Fifo { path: "/run/vipd.fifo".into(), user: None });
    let (mut e, mut fx) = started(cfg);
    e.handle(secs(4), Event::Timer, &mut fx);
    fx.clear();
    e.handle(secs(5), Event::Advert(rx(advert(100))), &mut fx);
    let id = InstanceId(0);
    // Queued before the "forcing new election" line, as before the answer.
    assert_eq!(
        &fx.as_slice()[..3],
        &[
            Effect::NotifyEvent { inst: id, event: NotifyEvent::MasterRxLowerPri },
            Effect::Log(LogEvent::MasterRxLowerPriority {
                inst: id,
                from: IpAddr::from(PEER),
                priority: 100,
                ours: 150
            }),
            Effect::SendAdvert { inst: id, priority: 150 },
        ]
    );
    // No FIFO and no script: no notify at all (see
    // master_answers_lower_priority_with_advert_and_garps).
}

#[test]
fn a_run_of_failed_sends_is_the_engines_to_judge() {
    let (mut e, mut fx) = started(one(v2(150)));
    e.handle(secs(4), Event::Timer, &mut fx);
    let id = InstanceId(0);
    let sent = |priority, ok, count| Event::Sent { inst: id, priority, ok, count };
    fx.clear();
    // Two failures, one success, two failures: no run of three.
    for ev in [sent(150, false, 2), sent(150, true, 1), sent(150, false, 2)] {
        e.handle(secs(5), ev, &mut fx);
    }
    // Priority 0 failing does not count.
    e.handle(secs(5), sent(0, false, 5), &mut fx);
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(inst(&e).state, State::Master);
    // The third in a row: said first, then Fault for one master-down.
    e.handle(secs(5), sent(150, false, 1), &mut fx);
    assert_eq!(fx.get(0), Some(Effect::Log(LogEvent::SendFailing { inst: id })));
    assert!(fx.iter().any(|f| matches!(f, Effect::StateChange { to: State::Fault, .. })));
    assert_eq!(inst(&e).stats.send_failures, 1);
    // More failures while out: nothing more.
    fx.clear();
    e.handle(secs(5), sent(150, false, 3), &mut fx);
    assert!(fx.is_empty());
    assert_eq!(inst(&e).stats.send_failures, 1);
    // Back in the election and master again, sends failing again make a
    // new run of three and a new Fault: never a master nobody hears.
    let mut t = secs(5);
    while inst(&e).state != State::Master {
        t = e.next_deadline().expect("a timer while out of the election");
        e.handle(t, Event::Timer, &mut fx);
    }
    fx.clear();
    e.handle(t, sent(150, false, 3), &mut fx);
    assert!(fx.iter().any(|f| matches!(f, Effect::StateChange { to: State::Fault, .. })), "{fx:?}");
    assert_eq!(inst(&e).stats.send_failures, 2);
}

/// Two owners (master at start) and a backup, for the reload tests.
fn three_for_reload() -> Config {
    let mut a = InstanceConfig::new("VI_A", "eth0", 51, Version::V2, &[vip(), IpAddr::from([10, 0, 0, 101])]);
    a.priority = 255;
    a.initial_state = InitialState::Master;
    let mut b = InstanceConfig::new("VI_B", "eth0", 52, Version::V2, &[IpAddr::from([10, 0, 0, 102])]);
    b.priority = 255;
    b.initial_state = InitialState::Master;
    b.notify.report_deleted = true;
    let c = InstanceConfig::new("VI_C", "eth0", 53, Version::V2, &[IpAddr::from([10, 0, 0, 103])]);
    Config { instances: vec![a, b, c], ..Config::default() }
}

#[test]
fn reload_release_is_decided_by_the_old_engine() {
    let (old, _) = started(three_for_reload());
    let states: Vec<State> = old.instances().iter().map(|i| i.state).collect();
    assert_eq!(states, vec![State::Master, State::Master, State::Backup]);
    // The new configuration keeps VI_A's router with one address fewer and
    // drops VI_B (a master, `notify_deleted`) and VI_C (a backup).
    let mut a = InstanceConfig::new("VI_A", "eth0", 51, Version::V2, &[vip()]);
    a.priority = 255;
    a.initial_state = InitialState::Master;
    let (new, _) = reported(&one(a), true);
    let mut fx = Effects::with_capacity(old.release_capacity());
    old.release_for(&new, &mut fx);
    let (a, b, c) = (InstanceId(0), InstanceId(1), InstanceId(2));
    assert_eq!(
        fx.as_slice(),
        &[
            // Removed instances report first, with their old scripts.
            Effect::NotifyEvent { inst: b, event: NotifyEvent::Deleted },
            Effect::Notify { inst: c, state: NotifyState::Stop },
            // The master that stays only loses the address it no longer has.
            Effect::RemoveVip { inst: a, vip: 1 },
            // The master that goes releases with priority 0, then its addresses.
            Effect::SendAdvert { inst: b, priority: 0 },
            Effect::Log(LogEvent::RemovedByReload { inst: b }),
            Effect::RemoveVip { inst: b, vip: 0 },
        ]
    );
    assert_eq!(old.instance(a).and_then(|i| i.vip(1)).map(|(v, _)| v.addr), Some(IpAddr::from([10, 0, 0, 101])));
    // Nothing to release for an identical configuration.
    let (same, _) = reported(&three_for_reload(), true);
    fx.clear();
    old.release_for(&same, &mut fx);
    assert!(fx.is_empty());
}

#[test]
fn announcements_come_one_by_one_when_their_turn_comes() {
    let mut cfg = v2(255);
    cfg.initial_state = InitialState::Master;
    cfg.vips.push(crate::config::VipConfig::host(IpAddr::from([10, 0, 0, 101])));
    let mut v6 = crate::config::VipConfig::host("fd00::1".parse().unwrap());
    v6.dev = Some("eth1".into());
    cfg.excluded_vips.push(v6);
    cfg.garp.master_repeat = 2;
    let mut cfg = one(cfg);
    cfg.globals.garp_interval = Duration::from_millis(300);
    let (mut e, mut fx) = reported(&cfg, true);
    e.handle(Instant::ZERO, Event::Start, &mut fx);
    // Only the request when becoming master; the GARPs come from the queue.
    assert!(fx.iter().any(|f| *f == Effect::Announce { inst: InstanceId(0), rounds: 2 }));
    assert!(!fx.iter().any(|f| matches!(f, Effect::AnnounceAddr { .. })));
    assert_eq!(e.next_deadline(), Some(Instant::ZERO));
    let (eth0, eth1) = (IfaceId(0), e.iface_by_name("eth1").unwrap());
    let (a, b, c) = (vip(), IpAddr::from([10, 0, 0, 101]), "fd00::1".parse().unwrap());
    let mut seen = Vec::new();
    let mut adverts = Vec::new();
    while let Some(t) = e.next_deadline().filter(|&t| t < secs(2)) {
        fx.clear();
        e.handle(t, Event::Timer, &mut fx);
        for f in &fx {
            match *f {
                Effect::AnnounceAddr { iface, addr } => seen.push((t.as_micros() / 1000, iface, addr)),
                Effect::SendAdvert { .. } => adverts.push(t),
                _ => {}
            }
        }
    }
    // Round by round, VIPs then excluded ones; IPv4 on eth0 300 ms apart,
    // IPv6 (no `vrrp_gna_interval`) at once.
    assert_eq!(seen, vec![(0, eth0, a), (0, eth1, c), (0, eth1, c), (300, eth0, b), (600, eth0, a), (900, eth0, b)]);
    // Wakeups for announcements alone never pull an advert forward.
    assert_eq!(adverts, vec![secs(1)]);
    // Released addresses are not announced.
    let mut owner = cfg.clone();
    owner.instances[0].garp.master_repeat = 5;
    let (mut e, mut fx) = reported(&owner, true);
    e.handle(Instant::ZERO, Event::Start, &mut fx);
    e.handle(Instant::ZERO, Event::Link { iface: IfaceId(0), up: false }, &mut fx);
    assert_eq!(inst(&e).state, State::Fault);
    assert_eq!(e.next_deadline(), None, "nothing left to announce");
}

/// Issue 18.1: a master flooded with lower-priority (and priority-0)
/// adverts answers once per advert interval, announces once per
/// `garp_lower_prio_delay`, and says so once per interval, however many
/// packets arrive.
#[test]
fn a_flood_of_lower_priority_adverts_is_answered_once_per_interval() {
    let mut cfg = v2(150);
    cfg.garp.lower_prio_delay = Duration::from_secs(5);
    cfg.garp.lower_prio_repeat = 5;
    let (mut e, mut fx) = started(one(cfg));
    e.handle(secs(4), Event::Timer, &mut fx);
    assert_eq!(inst(&e).state, State::Master);
    let id = InstanceId(0);
    let (mut adverts, mut announces, mut logs) = (0, 0, 0);
    // 10,000 adverts in 10 s, alternating priority 100 and 0.
    for k in 0..10_000u64 {
        let now = us(5_000_000 + k * 1_000);
        fx.clear();
        e.handle(now, Event::Timer, &mut fx);
        e.handle(now, Event::Advert(rx(advert(if k % 2 == 0 { 100 } else { 0 }))), &mut fx);
        for f in fx.iter() {
            match f {
                Effect::SendAdvert { inst, priority: 150 } if *inst == id => adverts += 1,
                Effect::Announce { .. } => announces += 1,
                Effect::Log(LogEvent::MasterRxLowerPriority { .. }) => logs += 1,
                _ => {}
            }
        }
    }
    assert_eq!(inst(&e).state, State::Master);
    // Every advert counts: its own (10 in 10 s) and at most one answer an
    // interval (10).
    assert!(adverts <= 21, "{adverts} adverts in 10 s at a 1 s interval");
    // A burst at 5 s and 10 s, and each one's delayed second burst.
    assert!(announces <= 4, "{announces} announcement rounds in 10 s");
    assert!(logs <= 10, "{logs} lower-priority lines in 10 s");
    assert_eq!(inst(&e).stats.adverts_rcvd, 10_000);
}

/// Issue 18.1: two peers alternating their checksum forms are logged once
/// each, not once per packet.
#[test]
fn checksum_forms_of_alternating_peers_are_logged_once_each() {
    let mut cfg = InstanceConfig::new("VI_1", "eth0", 51, Version::V3, &[vip()]);
    cfg.priority = 100;
    let (mut e, mut fx) = started(one(cfg));
    let v3 = |prio| Advert {
        version: Version::V3,
        interval: Interval::V3(crate::time::Centis::new(100).unwrap()),
        ..advert(prio)
    };
    let mut lines = 0;
    for k in 0..1000u64 {
        let (src, form) = if k % 2 == 0 {
            ([10, 0, 0, 2], ChecksumForm::PseudoHeader)
        } else {
            ([10, 0, 0, 3], ChecksumForm::NoPseudoHeader)
        };
        let r = RxAdvert { src: IpAddr::from(src), checksum: form, ..rx(v3(200)) };
        fx.clear();
        e.handle(us(1_000_000 + k * 10_000), Event::Advert(r), &mut fx);
        lines += fx.iter().filter(|f| matches!(f, Effect::Log(LogEvent::ChecksumForm { .. }))).count();
    }
    assert_eq!(lines, 2);
}

/// Issue 18.4: unicast adverts from a stranger are dropped and counted by
/// default; `accept_any_unicast_src` restores keepalived's acceptance.
#[test]
fn unicast_strangers_are_dropped_unless_accepted() {
    for accept in [false, true] {
        let mut cfg = v2(100);
        cfg.unicast_peers.push(UnicastPeer::new(IpAddr::from(PEER)));
        cfg.accept_any_unicast_src = accept;
        let (mut e, mut fx) = started(one(cfg));
        let stranger =
            RxAdvert { dst: IpAddr::from([10, 0, 0, 1]), src: IpAddr::from([10, 0, 0, 9]), ..rx(advert(200)) };
        e.handle(secs(1), Event::Advert(stranger), &mut fx);
        assert_eq!(inst(&e).stats.error(WireError::Source), u64::from(!accept), "accept_any_unicast_src {accept}");
        assert_eq!(inst(&e).stats.adverts_rcvd, u64::from(accept));
    }
}

/// Issue 18.4: a backup that adopted a long interval from a (spoofed)
/// higher-priority advert takes over within one Master_Down of the
/// interval a lower-priority master really sends, not of the adopted one.
#[test]
fn a_lower_priority_master_bounds_an_adopted_interval() {
    let mut cfg = InstanceConfig::new("VI_1", "eth0", 51, Version::V3, &[vip()]);
    cfg.priority = 150;
    let (mut e, mut fx) = started(one(cfg));
    let v3 = |prio, cs| Advert {
        version: Version::V3,
        interval: Interval::V3(crate::time::Centis::new(cs).unwrap()),
        ..advert(prio)
    };
    // The spoof: priority 254, a 40 s interval.
    e.handle(secs(1), Event::Advert(rx(v3(254, 4000))), &mut fx);
    assert_eq!(inst(&e).master_adver_int, Duration::from_secs(40));
    // The real peer, master now at priority 100, every 100 ms.
    e.handle(secs(2), Event::Advert(rx(v3(100, 10))), &mut fx);
    let bound = secs(2) + crate::core::timing::master_down(Version::V3, 150, Duration::from_millis(100), 3);
    assert!(inst(&e).down_deadline().is_some_and(|d| d <= bound), "{:?} > {bound:?}", inst(&e).down_deadline());
    fx.clear();
    e.handle(bound, Event::Timer, &mut fx);
    assert_eq!(inst(&e).state, State::Master);
}

/// Issue 17: before a reload's swap, every master advertises at once and
/// its schedule follows from there; the heap's deadline moves with it.
#[test]
fn advertise_early_sends_every_masters_advert_now() {
    let (mut e, mut fx) = started(one(v2(150)));
    e.handle(secs(4), Event::Timer, &mut fx);
    assert_eq!(inst(&e).state, State::Master);
    let due = inst(&e).advert_deadline().expect("a master's advert deadline");
    let ms = |n: u64| Duration::from_millis(n);
    fx.clear();
    e.advertise_early(due - ms(900), &mut fx);
    assert!(fx.iter().any(|f| matches!(f, Effect::SendAdvert { priority: 150, .. })), "{fx:?}");
    assert_eq!(inst(&e).advert_deadline(), Some(due - ms(900) + ms(1000)));
    // The heap agrees with the instance (checked in debug builds).
    assert!(e.next_deadline().is_some());
    // A backup sends nothing.
    let (mut e, mut fx) = started(one(v2(100)));
    fx.clear();
    e.advertise_early(secs(1), &mut fx);
    assert!(!fx.iter().any(|f| matches!(f, Effect::SendAdvert { .. })), "{fx:?}");
}
