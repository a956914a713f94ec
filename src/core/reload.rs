//! A reload, between the engine of the previous configuration and the new
//! one (keepalived-reference §3.4). First the old engine says what it must
//! release ([`Engine::release_for`]: masters that go send priority 0,
//! addresses a master no longer has are removed, removed instances report
//! STOP or DELETED), and the driver carries that out with the old
//! engine's view; then the new engine takes over ([`Engine::start_from`]):
//! same virtual routers keep their state, check-script verdicts carry over
//! by name. Both only read the other engine; neither changes it.

use super::{Effect, Effects, Engine, Instance, InstanceId, LogEvent, NotifyEvent, NotifyState, State};
use core::net::IpAddr;
use std::collections::HashMap;

use crate::config::VipConfig;
use crate::time::Instant;

impl Engine {
    /// Starts this engine, built from a reloaded configuration, in place of
    /// `old` (keepalived-reference §3.4): an instance that is the same
    /// virtual router as one of `old` keeps its state — a master stays
    /// master and advertises at once — and check-script results carry over
    /// by name; other instances start as at boot. The caller has already
    /// released what `old` held and this engine does not (see
    /// [`Engine::release_for`]) and reported links and addresses.
    pub fn start_from(&mut self, old: &Engine, now: Instant, fx: &mut Effects) {
        if self.started {
            return;
        }
        let start = fx.len();
        self.started = true;
        for (t, cfg_name) in self.trackers.iter_mut().zip(self.tracker_names.iter()) {
            let prev = old.tracker_names.iter().position(|n| n == cfg_name).and_then(|i| old.trackers.get(i));
            if let Some(prev) = prev {
                t.carry_over(prev);
            }
        }
        for i in 0..self.instances.len() {
            let (fault, _, prio) = self.evaluate_with_group(i);
            self.instances[i].effective_priority = prio;
            let prev = old.reload_match(&self.instances[i]).and_then(|k| old.instance(k));
            match prev {
                Some(o) if !fault && matches!(o.state, State::Master | State::Backup) => {
                    self.instances[i].resume(now, o, fx);
                }
                _ => {
                    match prev {
                        None => fx.push(Effect::RemoveVips { inst: self.instances[i].id }),
                        // A master that cannot carry on (a new tracker or
                        // group member is down) releases as when entering
                        // Fault: priority 0 and its addresses.
                        Some(o) if o.state == State::Master => self.instances[i].release(fx),
                        Some(_) => {}
                    }
                    self.start_instance(i, now, fx);
                }
            }
        }
        self.reevaluate(now, fx);
        self.settle(now, start, fx);
        self.stale_all = true;
        self.refresh_deadlines();
    }

    /// What this engine, about to be replaced by `new`, must release first
    /// (keepalived-reference §3.4), to be carried out with this engine's
    /// view (its instance numbers, addresses and scripts): every instance
    /// `new` does not have reports STOP, or DELETED with `notify_deleted`;
    /// then each master `new` does not have sends priority 0, and each
    /// master's addresses that `new`'s same router does not have, all of
    /// them for a master that goes, are removed. Room needed in `fx`:
    /// [`Engine::release_capacity`].
    pub fn release_for(&self, new: &Engine, fx: &mut Effects) {
        for o in &self.instances {
            if new.reload_match(o).is_none() {
                fx.push(if o.cfg.notify.report_deleted {
                    Effect::NotifyEvent { inst: o.id, event: NotifyEvent::Deleted }
                } else {
                    Effect::Notify { inst: o.id, state: NotifyState::Stop }
                });
            }
        }
        for o in self.instances.iter().filter(|o| o.state == State::Master) {
            let keep = new.reload_match(o).and_then(|k| new.instance(k));
            if keep.is_none() {
                fx.push(Effect::SendAdvert { inst: o.id, priority: 0 });
                fx.push(Effect::Log(LogEvent::RemovedByReload { inst: o.id }));
            }
            // A map, not a scan of the new list for each old address:
            // excluded addresses are unbounded, and 40,000 of them took
            // 3.8 s compared pairwise while the loop sent no adverts (issue
            // 12). Keyed by the address, whose hashing the binary already
            // has (the static binary is at its 1 MiB budget); an address
            // is listed once per instance (validation). Allocating is fine
            // here: a reload, not a packet.
            let kept: HashMap<IpAddr, &VipConfig> =
                keep.map(|n| n.addresses().map(|(w, _)| (w.addr, w)).collect()).unwrap_or_default();
            for (k, (v, _)) in o.addresses().enumerate() {
                if kept.get(&v.addr).is_none_or(|w| *w != v) {
                    fx.push(Effect::RemoveVip { inst: o.id, vip: k as u32 });
                }
            }
        }
    }

    /// Effects [`Engine::release_for`] can push at most.
    pub fn release_capacity(&self) -> usize {
        self.instances.iter().map(|i| 3 + i.cfg.vips.len() + i.cfg.excluded_vips.len()).sum()
    }

    /// The instance of this engine that is the same virtual router as
    /// `old_inst` of the engine it replaces, if any.
    pub fn reload_match(&self, old_inst: &Instance) -> Option<InstanceId> {
        let key = old_inst.router_key();
        let at = |k: usize| self.by_router.get(k).and_then(|&i| self.instances.get(usize::from(i)));
        // The first in configuration order among equal keys (unicast
        // instances told apart by their peers share one), as a scan finds.
        let start = self.by_router.partition_point(|&i| self.instances[usize::from(i)].router_key() < key);
        (start..self.by_router.len())
            .map_while(|k| at(k).filter(|n| n.router_key() == key))
            .min_by_key(|n| n.id)
            .map(|n| n.id)
    }
}

/// One instance as an upgrade hands it to the next binary: plain values in
/// a fixed record (no padding, no pointer), so the bytes layer copies it
/// whole. Times are µs of CLOCK_MONOTONIC (which an `execve` does not
/// reset), 0 for none; addresses a tag (0 none, 4, 6) and 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct InstanceSnapshot {
    /// since, master_adver_int, master_seen, down_at, advert_at,
    /// garp_refresh_at.
    pub times: [u64; 6],
    /// The nine counters of `Stats`, then one per receive error, with room
    /// for error kinds a later binary adds.
    pub counters: [u64; COUNTERS],
    /// Addresses on their interface (VIPs then excluded VIPs) when taken;
    /// informative: the next binary asks the kernel again.
    pub vips_held: u32,
    /// The router key: VRID, family (4, 6), unicast, then `src` and
    /// `group` below and the NUL-padded interface name.
    pub vrid: u8,
    pub family: u8,
    pub unicast: u8,
    /// 0 Init, 1 Backup, 2 Master, 3 Fault.
    pub state: u8,
    /// Index in `REASONS`, 255 for an advert of higher priority from
    /// `reason_from` with `reason_priority`.
    pub reason: u8,
    pub reason_priority: u8,
    pub base_priority: u8,
    pub master_priority: u8,
    pub src: [u8; 17],
    pub group: [u8; 17],
    pub master: [u8; 17],
    pub reason_from: [u8; 17],
    pub interface: [u8; 16],
}

/// Counters an [`InstanceSnapshot`] has room for.
pub const COUNTERS: usize = 9 + 16;

/// A tracker's verdict, carried by name (its FNV-1a hash) as a reload
/// carries it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct TrackerSnapshot {
    pub name_hash: u64,
    /// 0 unknown, 1 up, 2 down.
    pub status: u8,
    pub pad: [u8; 7],
}

/// The engine's state as an upgrade hands it over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub instances: Vec<InstanceSnapshot>,
    pub trackers: Vec<TrackerSnapshot>,
}

/// The state numbering of [`InstanceSnapshot::state`].
pub(super) const STATES: [State; 4] = [State::Init, State::Backup, State::Master, State::Fault];
/// The reason numbering of [`InstanceSnapshot::reason`].
pub(super) const REASONS: [super::Reason; 10] = {
    use super::Reason::*;
    [Startup, Owner, MasterDown, PriorityZero, Preempt, SyncGroup, TrackerFault, FaultCleared, VipDeleted, Shutdown]
};
const TRACKS: [super::TrackStatus; 3] = [super::TrackStatus::Unknown, super::TrackStatus::Up, super::TrackStatus::Down];

/// An address in a snapshot's form.
pub fn ip17(a: Option<IpAddr>) -> [u8; 17] {
    let mut b = [0u8; 17];
    match a {
        Some(IpAddr::V4(a)) => {
            b[0] = 4;
            b[1..5].copy_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            b[0] = 6;
            b[1..].copy_from_slice(&a.octets());
        }
        None => {}
    }
    b
}

/// An address from a snapshot; `None` for none or an unknown tag.
pub fn from17(b: &[u8; 17]) -> Option<IpAddr> {
    let mut v6 = [0u8; 16];
    v6.copy_from_slice(&b[1..]);
    match b[0] {
        4 => Some(IpAddr::from([b[1], b[2], b[3], b[4]])),
        6 => Some(IpAddr::from(v6)),
        _ => None,
    }
}

/// FNV-1a: tracker names are matched by hash, so records stay fixed.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl Engine {
    /// What a started engine hands to the binary that replaces it.
    pub fn export(&self) -> Snapshot {
        Snapshot {
            instances: self.instances.iter().map(Instance::export).collect(),
            trackers: self
                .tracker_names
                .iter()
                .zip(&self.trackers)
                .map(|(n, t)| TrackerSnapshot {
                    name_hash: name_hash(n),
                    status: TRACKS.iter().position(|s| *s == t.status).unwrap_or(0) as u8,
                    pad: [0; 7],
                })
                .collect(),
        }
    }

    /// Starts this engine in place of the one that exported `snap` (an
    /// upgrade), the way [`Engine::start_from`] starts after a reload: the
    /// same virtual router keeps its state (a master stays master and
    /// advertises at once, without a new GARP burst; a backup keeps the
    /// master it follows), check-script verdicts carry over by name, and
    /// what has no match, or a state it cannot resume, starts as a reload
    /// starts a new instance. A master that cannot carry on (a fault)
    /// releases as a reload does. The caller has reported links,
    /// addresses and tracked files.
    pub fn start_from_snapshot(&mut self, snap: &Snapshot, now: Instant, fx: &mut Effects) {
        if self.started {
            return;
        }
        let start = fx.len();
        self.started = true;
        for (t, name) in self.trackers.iter_mut().zip(self.tracker_names.iter()) {
            let h = name_hash(name);
            if let Some(p) = snap.trackers.iter().find(|p| p.name_hash == h) {
                let mut prev = *t;
                prev.status = *TRACKS.get(usize::from(p.status)).unwrap_or(&super::TrackStatus::Unknown);
                t.carry_over(&prev);
            }
        }
        for i in 0..self.instances.len() {
            let (fault, _, prio) = self.evaluate_with_group(i);
            self.instances[i].effective_priority = prio;
            let key = self.instances[i].export();
            let same = |s: &&InstanceSnapshot| {
                (s.vrid, s.family, s.unicast, s.src, s.group, s.interface)
                    == (key.vrid, key.family, key.unicast, key.src, key.group, key.interface)
            };
            // Among equal keys (unicast instances told apart by their
            // peers), the n-th of the snapshot for the n-th of this engine.
            let rank = self.instances[..i].iter().filter(|o| o.router_key() == self.instances[i].router_key()).count();
            let prev = snap.instances.iter().filter(same).nth(rank);
            let state = prev.and_then(|o| STATES.get(usize::from(o.state)).copied());
            match (prev, state) {
                (Some(o), Some(State::Master | State::Backup)) if !fault => {
                    self.instances[i].resume_snapshot(now, o, fx);
                }
                _ => {
                    match state {
                        None => fx.push(Effect::RemoveVips { inst: self.instances[i].id }),
                        Some(State::Master) => self.instances[i].release(fx),
                        Some(_) => {}
                    }
                    self.start_instance(i, now, fx);
                }
            }
        }
        self.reevaluate(now, fx);
        self.settle(now, start, fx);
        self.stale_all = true;
        self.refresh_deadlines();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, InstanceConfig, TrackInterface};
    use crate::core::{Event, IfaceId};
    use crate::wire::vrrp::{Addrs, Advert, Auth, ChecksumForm, Interval, Version};

    const VIP: [u8; 4] = [10, 0, 0, 100];
    static ONE_VIP: [[u8; 4]; 1] = [VIP];

    fn secs(n: u64) -> Instant {
        Instant::from_micros(n * 1_000_000)
    }

    fn cfg(prio: u8, track_eth1: bool) -> Config {
        let mut i = InstanceConfig::new("VI_1", "eth0", 51, Version::V2, &[IpAddr::from(VIP)]);
        i.priority = prio;
        if track_eth1 {
            i.track_interfaces.push(TrackInterface { interface: "eth1".into(), weight: 0, reverse: false });
        }
        Config { instances: vec![i], ..Config::default() }
    }

    /// eth0 up and addressed, eth1 (if configured) down; not started.
    fn reported(cfg: &Config) -> (Engine, Effects) {
        let mut e = Engine::new(cfg).unwrap();
        let mut fx = Effects::with_capacity(e.effects_capacity());
        e.handle(Instant::ZERO, Event::Link { iface: IfaceId(0), up: true }, &mut fx);
        let addr = IpAddr::from([10, 0, 0, 1]);
        e.handle(Instant::ZERO, Event::Address { iface: IfaceId(0), addr, present: true }, &mut fx);
        if let Some(eth1) = e.iface_by_name("eth1") {
            e.handle(Instant::ZERO, Event::Link { iface: eth1, up: false }, &mut fx);
        }
        fx.clear();
        (e, fx)
    }

    fn master() -> Engine {
        let (mut e, mut fx) = reported(&cfg(150, false));
        e.handle(Instant::ZERO, Event::Start, &mut fx);
        e.handle(secs(4), Event::Timer, &mut fx);
        assert_eq!(e.instances()[0].state, State::Master);
        e
    }

    #[test]
    fn a_master_stays_master_without_a_garp_burst_or_a_notify() {
        let snap = master().export();
        assert_eq!(snap.instances[0].state, 2);
        let (mut new, mut fx) = reported(&cfg(150, false));
        new.start_from_snapshot(&snap, secs(5), &mut fx);
        let i = &new.instances()[0];
        assert_eq!(i.state, State::Master);
        assert_eq!(i.stats.master_transitions, 1, "counters carry over");
        assert_eq!(i.advert_deadline(), Some(secs(6)));
        assert!(fx.iter().any(|f| *f == Effect::SendAdvert { inst: i.id, priority: 150 }));
        assert!(fx.iter().any(|f| *f == Effect::AddVips { inst: i.id }));
        let bad = |f: &Effect| {
            matches!(
                f,
                Effect::StateChange { .. }
                    | Effect::Notify { .. }
                    | Effect::Announce { .. }
                    | Effect::RemoveVips { .. }
                    | Effect::RemoveVip { .. }
                    | Effect::SendAdvert { priority: 0, .. }
            )
        };
        assert!(!fx.iter().any(bad), "{:?}", fx.iter().collect::<Vec<_>>());
    }

    #[test]
    fn a_backup_keeps_its_master_and_waits_a_full_interval() {
        let (mut old, mut fx) = reported(&cfg(100, false));
        old.handle(Instant::ZERO, Event::Start, &mut fx);
        let advert = Advert {
            version: Version::V2,
            vrid: 51,
            priority: 200,
            interval: Interval::V2(crate::time::Secs::new(1)),
            auth: Auth::None,
            addrs: Addrs::V4(&ONE_VIP),
        };
        let peer = IpAddr::from([10, 0, 0, 2]);
        let rx = crate::core::RxAdvert {
            iface: IfaceId(0),
            src: peer,
            dst: IpAddr::V4(crate::core::sim::MCAST4),
            ttl: 255,
            advert,
            checksum: ChecksumForm::V2,
        };
        old.handle(secs(1), Event::Advert(rx), &mut fx);
        let snap = old.export();
        assert_eq!((from17(&snap.instances[0].master), snap.instances[0].master_priority), (Some(peer), 200));
        // Taken over late (the exec took long): the old deadline has passed,
        // yet the new engine waits a whole Master_Down_Interval.
        let (mut new, mut fx) = reported(&cfg(100, false));
        new.start_from_snapshot(&snap, secs(10), &mut fx);
        let i = &new.instances()[0];
        assert_eq!(i.state, State::Backup);
        assert_eq!(i.master, Some((peer, 200)));
        assert!(i.down_deadline().is_some_and(|t| t >= secs(13)));
        assert!(!fx.iter().any(|f| matches!(f, Effect::StateChange { .. } | Effect::AddVips { .. })));
    }

    #[test]
    fn what_cannot_be_used_is_treated_as_a_reload_would() {
        // No snapshot entry: a new instance, as at boot.
        let (mut new, mut fx) = reported(&cfg(150, false));
        new.start_from_snapshot(&Snapshot::default(), secs(5), &mut fx);
        assert_eq!(new.instances()[0].state, State::Backup);
        assert!(fx.iter().any(|f| matches!(f, Effect::RemoveVips { .. })));
        // A master whose tracked interface is now down releases.
        let snap = master().export();
        let (mut new, mut fx) = reported(&cfg(150, true));
        new.start_from_snapshot(&snap, secs(5), &mut fx);
        assert_eq!(new.instances()[0].state, State::Fault);
        assert!(fx.iter().any(|f| matches!(f, Effect::SendAdvert { priority: 0, .. })));
        // Another VRID is another router.
        let mut other = cfg(150, false);
        other.instances[0].vrid = 52;
        let (mut new, mut fx) = reported(&other);
        new.start_from_snapshot(&snap, secs(5), &mut fx);
        assert_eq!(new.instances()[0].state, State::Backup);
    }
}
