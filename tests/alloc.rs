//! The engine allocates nothing after construction: 10,000 adverts go out of
//! one engine and into another (through the real wire encode and parse),
//! with a counting global allocator watching the test thread.

use std::net::IpAddr;

use vipd::config::{Config, InstanceConfig, SyncGroupConfig, TrackRef, TrackerConfig, TrackerId, TrackerKind};
use vipd::core::sim::{MCAST4, MCAST6};
use vipd::core::{Effect, Effects, Engine, Event, IfaceId, RxAdvert, State};
use vipd::time::{Duration, Instant};
use vipd::wire::vrrp::{Advert, V3Ipv4Checksum, Version};

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

fn config(prio: u8) -> Config {
    let v4: IpAddr = "10.0.0.100".parse().unwrap();
    let v6: IpAddr = "fd00::100".parse().unwrap();
    let mut instances = Vec::new();
    for (n, (version, addr, ms)) in
        [(Version::V2, v4, 1000), (Version::V3, v4, 10), (Version::V3, v6, 10), (Version::V3, v4, 50)]
            .into_iter()
            .enumerate()
    {
        let mut i = InstanceConfig::new(&format!("VI_{n}"), "eth0", 10 + n as u8, version, &[addr]);
        i.priority = prio;
        i.advert_int = Duration::from_millis(ms);
        i.garp.master_refresh = Duration::from_secs(1);
        i.track.push(TrackRef { tracker: TrackerId(0), weight: -10, reverse: false });
        instances.push(i);
    }
    Config {
        instances,
        sync_groups: vec![SyncGroupConfig { name: "G".into(), members: vec![1, 3], notify: Default::default() }],
        trackers: vec![TrackerConfig {
            kind: TrackerKind::Script { rise: 2, fall: 2, init_fail: false },
            ..TrackerConfig::script("chk", &["true"])
        }],
        ..Config::default()
    }
}

struct Node {
    engine: Engine,
    fx: Effects,
    addr4: IpAddr,
    addr6: IpAddr,
}

impl Node {
    fn new(prio: u8, host: u8) -> Node {
        let engine = Engine::new(&config(prio)).unwrap();
        let fx = Effects::with_capacity(engine.effects_capacity());
        Node {
            engine,
            fx,
            addr4: IpAddr::from([10, 0, 0, host]),
            addr6: IpAddr::from([0xfe80, 0, 0, 0, 0, 0, 0, u16::from(host)]),
        }
    }

    fn boot(&mut self, now: Instant) {
        for ev in [
            Event::Link { iface: IfaceId(0), up: true },
            Event::Address { iface: IfaceId(0), addr: self.addr4, present: true },
            Event::Address { iface: IfaceId(0), addr: self.addr6, present: true },
            Event::Start,
            Event::ScriptResult { tracker: TrackerId(0), success: true },
        ] {
            self.fx.clear();
            self.engine.handle(now, ev, &mut self.fx);
        }
    }
}

/// Delivers every advert in `from.fx` to `to`; returns how many.
fn deliver(now: Instant, from: &Node, to: &mut Node, buf: &mut [u8; 4096]) -> u64 {
    let mut n = 0;
    to.fx.clear();
    for e in from.fx.as_slice() {
        let Effect::SendAdvert { inst, priority } = *e else {
            continue;
        };
        let (Some(advert), Some(src)) = (from.engine.advert(inst, priority), from.engine.source_addr(inst)) else {
            continue;
        };
        let dst = if src.is_ipv4() { IpAddr::V4(MCAST4) } else { IpAddr::V6(MCAST6) };
        let len = advert.emit(buf, src, dst, V3Ipv4Checksum::PseudoHeader).unwrap();
        let (advert, checksum) = Advert::parse(&buf[..len], src, dst).unwrap();
        let rx = RxAdvert { iface: IfaceId(0), src, dst, ttl: 255, advert, checksum };
        to.engine.handle(now, Event::Advert(rx), &mut to.fx);
        n += 1;
    }
    n
}

/// Runs both nodes' timers up to `until`; returns adverts delivered.
fn run(now: &mut Instant, until: Instant, a: &mut Node, b: &mut Node, buf: &mut [u8; 4096]) -> u64 {
    let mut adverts = 0;
    loop {
        let next = [a.engine.next_deadline(), b.engine.next_deadline()].into_iter().flatten().min();
        let Some(next) = next.filter(|&t| t <= until) else {
            break;
        };
        *now = next;
        adverts += tick(*now, a, b, buf);
        adverts += tick(*now, b, a, buf);
    }
    adverts
}

fn tick(now: Instant, x: &mut Node, y: &mut Node, buf: &mut [u8; 4096]) -> u64 {
    if x.engine.next_deadline().is_none_or(|t| t > now) {
        return 0;
    }
    x.fx.clear();
    x.engine.handle(now, Event::Timer, &mut x.fx);
    deliver(now, x, y, buf)
}

#[test]
fn no_allocation_after_start() {
    let mut a = Node::new(150, 1);
    let mut b = Node::new(100, 2);
    let mut buf = [0u8; 4096];
    let mut now = Instant::ZERO;
    a.boot(now);
    b.boot(now);
    // Reach steady state: A master everywhere.
    run(&mut now, Instant::from_millis(10_000), &mut a, &mut b, &mut buf);
    assert!(a.engine.instances().iter().all(|i| i.state == State::Master));
    assert!(b.engine.instances().iter().all(|i| i.state == State::Backup));

    let rcvd = |a: &Node, b: &Node| -> u64 {
        a.engine.instances().iter().chain(b.engine.instances()).map(|i| i.stats.adverts_rcvd).sum()
    };
    let rcvd_before = rcvd(&a, &b);
    let (adverts, allocations) = counting::allocations(|| {
        let mut adverts = 0;
        let mut step = 0u64;
        while rcvd(&a, &b) - rcvd_before < 10_000 {
            step += 1;
            let until = now + Duration::from_millis(500);
            adverts += run(&mut now, until, &mut a, &mut b, &mut buf);
            // Also exercise the other paths: tracker flaps (priority changes,
            // backup timer shifts) and a graceful handover and back.
            let event = match step % 16 {
                2 => Event::Shutdown { release_vips: true },
                6 => Event::Start,
                _ => Event::ScriptResult { tracker: TrackerId(0), success: !step.is_multiple_of(4) },
            };
            a.fx.clear();
            a.engine.handle(now, event, &mut a.fx);
            adverts += deliver(now, &a, &mut b, &mut buf);
        }
        adverts
    });
    assert!(adverts >= 10_000);
    assert_eq!(allocations, 0, "{allocations} allocations for {adverts} adverts");
    let both = || a.engine.instances().iter().chain(b.engine.instances());
    let sent: u64 = both().map(|i| i.stats.adverts_sent).sum();
    let rcvd: u64 = both().map(|i| i.stats.adverts_rcvd).sum();
    assert!(sent >= 10_000 && rcvd >= 10_000, "sent {sent} rcvd {rcvd}");
    // The handovers really happened, both ways.
    assert!(b.engine.instances().iter().all(|i| i.stats.master_transitions >= 2));
    assert!(a.engine.instances().iter().all(|i| i.stats.pri_zero_sent >= 2));
}
