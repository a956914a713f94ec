//! An in-memory LAN of several engines with a fake clock.
//!
//! Every advert goes through the real wire code: the sender's engine builds
//! it, `wire::vrrp` emits the bytes with the checksum, the receiver parses
//! them, so scenario tests exercise the same path as the daemon minus the
//! sockets. The LAN can lose packets (seeded, deterministic), partition the
//! routers, pull a router's cable, stop it gracefully or kill it silently.
//!
//! This is test equipment: it allocates freely. The engines inside it do not.

use core::cmp::Reverse;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::collections::{BTreeSet, BinaryHeap};

use super::{Effect, Effects, Engine, Event, InstanceId, LogEvent, Reason, RxAdvert, State};
use crate::config::{Config, Family, TrackerId};
use crate::time::{Duration, Instant};
use crate::wire::vrrp::{Advert, V3Ipv4Checksum};

/// Multicast groups of RFC 9568 §5.1, for tests driving engines by hand.
pub use crate::wire::vrrp::{MULTICAST_V4 as MCAST4, MULTICAST_V6 as MCAST6};

/// Index of a router in the LAN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouterId(pub usize);

/// One recorded state change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub at: Instant,
    pub router: RouterId,
    pub instance: String,
    pub from: State,
    pub to: State,
    pub reason: Reason,
}

/// One advert put on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub at: Instant,
    pub router: RouterId,
    pub instance: String,
    pub priority: u8,
}

struct Router {
    name: String,
    config: Config,
    engine: Engine,
    fx: Effects,
    addr4: Ipv4Addr,
    addr6: Ipv6Addr,
    /// Powered and running vipd.
    running: bool,
    /// Cable plugged in.
    cable: bool,
    /// Partition segment; packets cross only within a segment.
    segment: u8,
    /// (interface, address) pairs currently installed.
    vips: BTreeSet<(String, IpAddr)>,
}

struct Packet {
    to: RouterId,
    iface: String,
    src: IpAddr,
    dst: IpAddr,
    bytes: Vec<u8>,
}

/// The simulated LAN.
pub struct Lan {
    now: Instant,
    routers: Vec<Router>,
    queue: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    packets: Vec<Option<Packet>>,
    seq: u64,
    /// One-way delivery delay.
    pub latency: Duration,
    /// Loss probability in parts per million.
    loss_ppm: u32,
    rng: u64,
    pub v3_ipv4_checksum: V3Ipv4Checksum,
    pub transitions: Vec<Transition>,
    pub sent: Vec<Sent>,
    /// Every effect of every router, with time.
    pub effects: Vec<(Instant, RouterId, Effect)>,
    /// VRRP dropped from the first router to the second (a firewall
    /// dropping protocol 112 one way; GARPs and NAs still pass).
    vrrp_blocked: BTreeSet<(usize, usize)>,
}

impl Default for Lan {
    fn default() -> Self {
        Lan::new()
    }
}

impl Lan {
    pub fn new() -> Lan {
        Lan {
            now: Instant::ZERO,
            routers: Vec::new(),
            queue: BinaryHeap::new(),
            packets: Vec::new(),
            seq: 0,
            latency: Duration::ZERO,
            loss_ppm: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
            v3_ipv4_checksum: V3Ipv4Checksum::PseudoHeader,
            transitions: Vec::new(),
            sent: Vec::new(),
            effects: Vec::new(),
            vrrp_blocked: BTreeSet::new(),
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Adds a powered-off router with primary address 10.0.0.`host` and
    /// link-local fe80::`host`.
    ///
    /// # Panics
    /// When the engine cannot be built from `config` (a test bug).
    pub fn add_router(&mut self, name: &str, host: u8, config: Config) -> RouterId {
        let engine = Engine::new(&config).unwrap_or_else(|e| panic!("{name}: {e}"));
        let fx = Effects::with_capacity(engine.effects_capacity());
        self.routers.push(Router {
            name: name.to_owned(),
            config,
            engine,
            fx,
            addr4: Ipv4Addr::new(10, 0, 0, host),
            addr6: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(host)),
            running: false,
            cable: true,
            segment: 0,
            vips: BTreeSet::new(),
        });
        RouterId(self.routers.len() - 1)
    }

    pub fn addr4(&self, r: RouterId) -> Ipv4Addr {
        self.routers[r.0].addr4
    }

    pub fn engine(&self, r: RouterId) -> &Engine {
        &self.routers[r.0].engine
    }

    pub fn name(&self, r: RouterId) -> &str {
        &self.routers[r.0].name
    }

    /// Starts vipd on `r` now: links and addresses reported, then `Start`.
    pub fn start(&mut self, r: RouterId) {
        let router = &mut self.routers[r.0];
        if router.running {
            return;
        }
        router.running = true;
        router.engine = Engine::new(&router.config).unwrap_or_else(|e| panic!("{}: {e}", router.name));
        router.fx = Effects::with_capacity(router.engine.effects_capacity());
        let (a4, a6, cable) = (router.addr4, router.addr6, router.cable);
        for i in 0..router.engine.ifaces().len() {
            let iface = super::IfaceId(i as u16);
            self.feed(r, Event::Link { iface, up: cable });
            self.feed(r, Event::Address { iface, addr: IpAddr::V4(a4), present: true });
            self.feed(r, Event::Address { iface, addr: IpAddr::V6(a6), present: true });
        }
        self.feed(r, Event::Start);
    }

    /// Graceful stop (SIGTERM): priority 0 from masters, VIPs released.
    pub fn stop(&mut self, r: RouterId) {
        if self.routers[r.0].running {
            self.feed(r, Event::Shutdown { release_vips: true });
            self.routers[r.0].running = false;
        }
    }

    /// The router dies silently: no more packets, its addresses stay
    /// configured on a dead host.
    pub fn kill(&mut self, r: RouterId) {
        self.routers[r.0].running = false;
    }

    /// Plugs or pulls the router's cable: packets stop both ways and the
    /// engine sees its links go down.
    pub fn cable(&mut self, r: RouterId, plugged: bool) {
        self.routers[r.0].cable = plugged;
        if self.routers[r.0].running {
            for i in 0..self.routers[r.0].engine.ifaces().len() {
                self.feed(r, Event::Link { iface: super::IfaceId(i as u16), up: plugged });
            }
        }
    }

    /// Splits the LAN: routers in `side` can only reach each other.
    pub fn partition(&mut self, side: &[RouterId]) {
        for (i, router) in self.routers.iter_mut().enumerate() {
            router.segment = u8::from(side.contains(&RouterId(i)));
        }
    }

    pub fn heal(&mut self) {
        for router in &mut self.routers {
            router.segment = 0;
        }
        self.vrrp_blocked.clear();
    }

    /// Drops VRRP from `from` to `to` only (until `heal`): ARP and NA
    /// still pass, as with a firewall rule on protocol 112.
    pub fn block_vrrp(&mut self, from: RouterId, to: RouterId) {
        self.vrrp_blocked.insert((from.0, to.0));
    }

    /// Reloads `r` with `config` as the daemon does on SIGHUP: the old
    /// engine releases what the new one will not hold, then the new one
    /// starts from the old.
    pub fn reload(&mut self, r: RouterId, config: Config) {
        let now = self.now;
        let router = &mut self.routers[r.0];
        let mut new = Engine::new(&config).unwrap_or_else(|e| panic!("{}: {e}", router.name));
        router.config = config;
        router.fx = Effects::with_capacity(router.engine.release_capacity() + new.effects_capacity());
        router.engine.release_for(&new, &mut router.fx);
        self.apply(r);
        let router = &mut self.routers[r.0];
        let (a4, a6, cable) = (router.addr4, router.addr6, router.cable);
        let mut fx = Effects::with_capacity(new.effects_capacity());
        for i in 0..new.ifaces().len() {
            let iface = super::IfaceId(i as u16);
            new.handle(now, Event::Link { iface, up: cable }, &mut fx);
            new.handle(now, Event::Address { iface, addr: IpAddr::V4(a4), present: true }, &mut fx);
            new.handle(now, Event::Address { iface, addr: IpAddr::V6(a6), present: true }, &mut fx);
            fx.clear();
        }
        let old = core::mem::replace(&mut router.engine, new);
        router.fx = fx;
        router.engine.start_from(&old, now, &mut router.fx);
        self.apply(r);
    }

    /// Drops each packet with probability `ppm` / 1,000,000.
    pub fn set_loss_ppm(&mut self, ppm: u32) {
        self.loss_ppm = ppm;
    }

    /// Reports a check-script result to the router's engine.
    pub fn script_result(&mut self, r: RouterId, tracker: TrackerId, success: bool) {
        self.feed(r, Event::ScriptResult { tracker, success });
    }

    /// Reports an interface state to the router's engine (a tracked
    /// interface other than the LAN one).
    pub fn link(&mut self, r: RouterId, iface: &str, up: bool) {
        if let Some(iface) = self.routers[r.0].engine.iface_by_name(iface) {
            self.feed(r, Event::Link { iface, up });
        }
    }

    /// Deletes an address from the router's interface, as an operator with
    /// `ip addr del` would.
    pub fn delete_address(&mut self, r: RouterId, iface: &str, addr: IpAddr) {
        self.routers[r.0].vips.remove(&(iface.to_owned(), addr));
        if let Some(id) = self.routers[r.0].engine.iface_by_name(iface) {
            self.feed(r, Event::Address { iface: id, addr, present: false });
        }
    }

    pub fn state(&self, r: RouterId, instance: &str) -> State {
        self.routers[r.0].engine.instance_by_name(instance).map_or(State::Init, |i| i.state)
    }

    /// Running routers holding `addr`.
    pub fn holders(&self, addr: IpAddr) -> Vec<RouterId> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].running && self.routers[i].vips.iter().any(|(_, a)| *a == addr))
            .map(RouterId)
            .collect()
    }

    /// Running routers in Master for `instance`.
    pub fn masters(&self, instance: &str) -> Vec<RouterId> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].running)
            .map(RouterId)
            .filter(|&r| self.state(r, instance) == State::Master)
            .collect()
    }

    /// When `r` last entered `to` for `instance`.
    pub fn entered(&self, r: RouterId, instance: &str, to: State) -> Option<Instant> {
        self.transitions.iter().rev().find(|t| t.router == r && t.instance == instance && t.to == to).map(|t| t.at)
    }

    /// Runs until `until`, processing every packet and timer in time order.
    /// At equal times packets go first, then timers.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            let next_packet = self.queue.peek().map(|Reverse((t, _, _))| *t);
            let next_timer = self.routers.iter().filter(|r| r.running).filter_map(|r| r.engine.next_deadline()).min();
            let next = match (next_packet, next_timer) {
                (Some(p), Some(t)) => p.min(t),
                (Some(p), None) => p,
                (None, Some(t)) => t,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if next_packet.is_some_and(|p| p <= next) {
                if let Some(Reverse((_, _, slot))) = self.queue.pop() {
                    if let Some(p) = self.packets[slot].take() {
                        self.deliver(p);
                    }
                }
                continue;
            }
            for i in 0..self.routers.len() {
                let due =
                    self.routers[i].running && self.routers[i].engine.next_deadline().is_some_and(|t| t <= self.now);
                if due {
                    self.feed(RouterId(i), Event::Timer);
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs for `d` from now.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    fn deliver(&mut self, p: Packet) {
        let router = &self.routers[p.to.0];
        if !router.running || !router.cable {
            return;
        }
        let Some(iface) = router.engine.iface_by_name(&p.iface) else {
            return;
        };
        let family = Family::of(&p.src);
        let now = self.now;
        let router = &mut self.routers[p.to.0];
        router.fx.clear();
        match Advert::parse(&p.bytes, p.src, p.dst) {
            Ok((advert, checksum)) => {
                let rx = RxAdvert { iface, src: p.src, dst: p.dst, ttl: 255, advert, checksum };
                router.engine.handle(now, Event::Advert(rx), &mut router.fx);
            }
            Err(error) => {
                let vrid = crate::wire::vrrp::peek_vrid(&p.bytes);
                router.engine.handle(now, Event::RxError { iface, family, vrid, error }, &mut router.fx);
            }
        }
        self.apply(p.to);
    }

    /// Sends `event` to router `r` and carries out what its engine asks.
    pub fn feed(&mut self, r: RouterId, event: Event<'_>) {
        let now = self.now;
        let router = &mut self.routers[r.0];
        router.fx.clear();
        router.engine.handle(now, event, &mut router.fx);
        self.apply(r);
    }

    fn apply(&mut self, r: RouterId) {
        let effects: Vec<Effect> = self.routers[r.0].fx.drain().collect();
        for e in effects {
            self.effects.push((self.now, r, e));
            match e {
                Effect::SendAdvert { inst, priority } => self.send(r, inst, priority),
                Effect::AddVips { inst } => self.set_vips(r, inst, true),
                Effect::RemoveVips { inst } => self.set_vips(r, inst, false),
                Effect::StateChange { inst, from, to, reason, .. } => {
                    let instance = self.instance_name(r, inst);
                    self.transitions.push(Transition { at: self.now, router: r, instance, from, to, reason });
                }
                Effect::RemoveVip { inst, vip } => {
                    let router = &mut self.routers[r.0];
                    let engine = &router.engine;
                    if let Some((v, f)) = engine.instance(inst).and_then(|i| i.vip(vip as usize)) {
                        router.vips.remove(&(engine.ifaces()[usize::from(f.0)].name.clone(), v.addr));
                    }
                }
                Effect::AnnounceAddr { iface, addr } => self.claim(r, iface, addr),
                Effect::Announce { .. }
                | Effect::AnnounceSource { .. }
                | Effect::Notify { .. }
                | Effect::NotifyEvent { .. }
                | Effect::GroupState { .. }
                | Effect::Log(_) => {}
            }
        }
    }

    /// A GARP or NA from `r` for `addr`: every other router on the link
    /// sees `r`'s MAC (02:00:00:00:00:`r`) claim it.
    fn claim(&mut self, r: RouterId, iface: super::IfaceId, addr: IpAddr) {
        let sender = &self.routers[r.0];
        let Some(name) = sender.engine.ifaces().get(usize::from(iface.0)).map(|f| f.name.clone()) else { return };
        if !sender.cable {
            return;
        }
        let segment = sender.segment;
        let hw = [2, 0, 0, 0, 0, r.0 as u8];
        for to in 0..self.routers.len() {
            let peer = &self.routers[to];
            if to == r.0 || !peer.running || !peer.cable || peer.segment != segment {
                continue;
            }
            if let Some(iface) = peer.engine.iface_by_name(&name) {
                self.feed(RouterId(to), Event::AddressClaimed { iface, addr, hw });
            }
        }
    }

    fn instance_name(&self, r: RouterId, inst: InstanceId) -> String {
        self.routers[r.0].engine.instance(inst).map(|i| i.cfg.name.clone()).unwrap_or_default()
    }

    fn set_vips(&mut self, r: RouterId, inst: InstanceId, add: bool) {
        let router = &mut self.routers[r.0];
        let Some(i) = router.engine.instance(inst) else {
            return;
        };
        for (v, f) in i.addresses() {
            let key = (router.engine.ifaces()[usize::from(f.0)].name.clone(), v.addr);
            if add {
                router.vips.insert(key);
            } else {
                router.vips.remove(&key);
            }
        }
    }

    fn send(&mut self, r: RouterId, inst: InstanceId, priority: u8) {
        let router = &self.routers[r.0];
        if !router.cable {
            return;
        }
        let engine = &router.engine;
        let (Some(i), Some(advert), Some(src)) =
            (engine.instance(inst), engine.advert(inst, priority), engine.source_addr(inst))
        else {
            return;
        };
        let dsts: Vec<IpAddr> = if i.cfg.is_unicast() {
            i.cfg.unicast_peers.iter().map(|p| p.addr).collect()
        } else {
            vec![i.group_addr()]
        };
        let iface = i.cfg.interface.clone();
        self.sent.push(Sent { at: self.now, router: r, instance: i.cfg.name.clone(), priority });
        let mut frames = Vec::with_capacity(dsts.len());
        let mut buf = [0u8; 4096];
        for dst in dsts {
            if let Ok(len) = advert.emit(&mut buf, src, dst, self.v3_ipv4_checksum) {
                frames.push((dst, buf[..len].to_vec()));
            }
        }
        let segment = router.segment;
        for (dst, bytes) in frames {
            for to in 0..self.routers.len() {
                let peer = &self.routers[to];
                let addressed = dst.is_multicast() || dst == IpAddr::V4(peer.addr4) || dst == IpAddr::V6(peer.addr6);
                let blocked = self.vrrp_blocked.contains(&(r.0, to));
                if to == r.0 || !addressed || peer.segment != segment || blocked || self.lost() {
                    continue;
                }
                let packet = Packet { to: RouterId(to), iface: iface.clone(), src, dst, bytes: bytes.clone() };
                self.packets.push(Some(packet));
                self.seq += 1;
                self.queue.push(Reverse((self.now + self.latency, self.seq, self.packets.len() - 1)));
            }
        }
    }

    fn lost(&mut self) -> bool {
        if self.loss_ppm == 0 {
            return false;
        }
        // xorshift64*: deterministic, so a failing scenario replays exactly.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x % 1_000_000) < u64::from(self.loss_ppm)
    }

    /// Log events of router `r`, for assertions.
    pub fn logs(&self, r: RouterId) -> Vec<(Instant, LogEvent)> {
        self.effects
            .iter()
            .filter(|(_, who, _)| *who == r)
            .filter_map(|(t, _, e)| if let Effect::Log(l) = e { Some((*t, *l)) } else { None })
            .collect()
    }
}
