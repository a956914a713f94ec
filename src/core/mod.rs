//! The pure VRRP engine.
//!
//! [`Engine`] holds every instance, interface, tracker and sync group. It is
//! driven by [`Engine::handle`] with the current time and one [`Event`], and
//! answers with [`Effect`]s pushed into a caller-owned buffer; the daemon
//! sleeps until [`Engine::next_deadline`]. The engine never reads a clock,
//! never touches a file descriptor and never allocates after
//! [`Engine::new`]: every per-instance table is sized at construction.
//!
//! Behaviour follows keepalived 2.2.7 where it is on the wire or visible to
//! operators (keepalived-reference §2), and RFC 9568 / RFC 3768 elsewhere;
//! sections are cited where a rule is applied.

pub mod effects;
pub mod events;
pub mod sim;
pub mod state;
pub mod stats;
pub mod timing;
pub mod track;

mod instance;
#[cfg(test)]
mod tests;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use effects::{Effect, Effects, LogEvent, NotifyState};
pub use events::{Event, RxAdvert};
pub use instance::Instance;
pub use state::{Reason, State};
pub use stats::Stats;

use crate::config::{Config, Family, TrackRef, TrackerId, TrackerKind};
use crate::time::{Duration, Instant};
use crate::wire::WireError;
use crate::wire::vrrp::Advert;
use instance::MasterRx;
use track::{Contribution, TrackStatus, Tracker};

/// Index of an instance in the engine (same order as `Config::instances`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub u16);

/// Index of an interface known to the engine; see [`Engine::iface_by_name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfaceId(pub u16);

/// Index of a sync group (same order as `Config::sync_groups`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u16);

/// Why the engine could not be built from a configuration. The config layer
/// validates everything first; these are the checks the engine relies on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    TooMany(&'static str),
    /// A value the engine cannot run with (advert interval 0, AH auth…).
    Invalid {
        instance: String,
        what: &'static str,
    },
    DuplicateVrid {
        first: String,
        second: String,
    },
    BadReference {
        instance: String,
        what: &'static str,
    },
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BuildError::TooMany(what) => write!(f, "too many {what}"),
            BuildError::DuplicateVrid { first, second } => {
                write!(f, "instances {first} and {second} use the same VRID on the same interface and family")
            }
            BuildError::BadReference { instance, what } => write!(f, "{instance}: unknown {what}"),
            BuildError::Invalid { instance, what } => write!(f, "{instance}: {what}"),
        }
    }
}

/// Addresses remembered per interface; more are ignored (the first ones
/// are the primary ones, which is what matters).
const IFACE_ADDRS: usize = 16;

/// What the engine knows of an interface, from driver events.
#[derive(Clone, Debug)]
pub struct Iface {
    pub name: String,
    /// Until the driver reports the link, it counts as down: an instance must
    /// never become master on an interface nobody has seen.
    pub up: bool,
    /// Addresses other than our VIPs, in the order they appeared.
    addrs: heapless::Vec<IpAddr, IFACE_ADDRS>,
}

impl Iface {
    /// The first IPv4 address: the source of IPv4 adverts. When it goes,
    /// the next one takes over, as the kernel promotes secondaries.
    pub fn primary4(&self) -> Option<Ipv4Addr> {
        self.addrs.iter().find_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
    }

    /// The first link-local IPv6 address: the source of IPv6 adverts.
    pub fn link_local6(&self) -> Option<Ipv6Addr> {
        self.addrs.iter().find_map(|a| match a {
            IpAddr::V6(a) if is_link_local(a) => Some(*a),
            _ => None,
        })
    }

    pub fn has_addr(&self, addr: IpAddr) -> bool {
        self.addrs.contains(&addr)
    }

    /// The addresses remembered (not our VIPs), oldest first.
    pub fn addrs(&self) -> &[IpAddr] {
        &self.addrs
    }
}

#[derive(Clone, Debug)]
struct Group {
    members: Vec<InstanceId>,
    /// Last state reported with `Effect::GroupState`.
    reported: Option<NotifyState>,
}

/// Every VRRP instance of the daemon and their shared inputs.
#[derive(Debug)]
pub struct Engine {
    instances: Vec<Instance>,
    ifaces: Vec<Iface>,
    trackers: Vec<Tracker>,
    groups: Vec<Group>,
    startup_delay: Duration,
    started: bool,
    /// (iface, family, vrid) → instance, sorted for binary search.
    demux: Vec<(IfaceId, Family, u8, InstanceId)>,
    /// Tracker names, to carry results over a reload.
    tracker_names: Vec<String>,
    /// Errors of adverts no instance could be charged with (router-level
    /// `checksum-errors`, `version-errors`, `vrid-errors` of ietf-vrrp).
    global_errors: [u64; WireError::ALL.len()],
}

/// Effects one instance can emit in one `handle` call, with margin.
const EFFECTS_PER_INSTANCE: usize = 24;

impl Engine {
    /// Builds the engine. All allocation happens here.
    pub fn new(cfg: &Config) -> Result<Engine, BuildError> {
        if cfg.instances.len() > usize::from(u16::MAX) || cfg.trackers.len() > usize::from(u16::MAX) {
            return Err(BuildError::TooMany("instances or trackers"));
        }
        let mut ifaces: Vec<Iface> = Vec::new();
        let mut intern = |name: &str| -> Result<IfaceId, BuildError> {
            if let Some(i) = ifaces.iter().position(|f| f.name == name) {
                return Ok(IfaceId(i as u16));
            }
            if ifaces.len() >= usize::from(u16::MAX) {
                return Err(BuildError::TooMany("interfaces"));
            }
            ifaces.push(Iface { name: name.to_owned(), up: false, addrs: heapless::Vec::new() });
            Ok(IfaceId((ifaces.len() - 1) as u16))
        };

        let mut instances = Vec::with_capacity(cfg.instances.len());
        for (n, ic) in cfg.instances.iter().enumerate() {
            let invalid = |what| Err(BuildError::Invalid { instance: ic.name.clone(), what });
            if ic.advert_int.is_zero() {
                return invalid("advert interval 0");
            }
            if ic.auth == crate::wire::vrrp::Auth::Ah {
                // Every peer's advert would be rejected: a second master.
                return invalid("AH authentication is not implemented");
            }
            let iface = intern(&ic.interface)?;
            let mut track_ifaces = Vec::with_capacity(ic.track_interfaces.len() + ic.vips.len());
            for t in &ic.track_interfaces {
                track_ifaces.push((intern(&t.interface)?, t.weight, t.reverse));
            }
            // A VIP on another interface makes that interface a tracked one
            // (keepalived-reference §2.6), unless the VIP is `no_track`.
            for v in ic.vips.iter().chain(&ic.excluded_vips) {
                if let (Some(dev), false) = (&v.dev, v.no_track) {
                    let id = intern(dev)?;
                    if id != iface && !track_ifaces.iter().any(|t| t.0 == id) {
                        track_ifaces.push((id, 0, false));
                    }
                }
            }
            let mut vip_ifaces = Vec::with_capacity(ic.vips.len() + ic.excluded_vips.len());
            for v in ic.vips.iter().chain(&ic.excluded_vips) {
                vip_ifaces.push(match &v.dev {
                    Some(dev) => intern(dev)?,
                    None => iface,
                });
            }
            for t in &ic.track {
                if usize::from(t.tracker.0) >= cfg.trackers.len() {
                    return Err(BuildError::BadReference { instance: ic.name.clone(), what: "tracker" });
                }
            }
            instances.push(Instance::new(InstanceId(n as u16), ic.clone(), iface, track_ifaces, vip_ifaces));
        }

        if cfg.sync_groups.len() > usize::from(u16::MAX) {
            return Err(BuildError::TooMany("sync groups"));
        }
        let mut groups = Vec::with_capacity(cfg.sync_groups.len());
        for (g, gc) in cfg.sync_groups.iter().enumerate() {
            let mut members = Vec::with_capacity(gc.members.len());
            for &m in &gc.members {
                if instances.get(m).is_some_and(|i: &Instance| i.group.is_some()) {
                    return Err(BuildError::Invalid {
                        instance: gc.name.clone(),
                        what: "an instance is in two sync groups",
                    });
                }
                let Some(inst) = instances.get_mut(m) else {
                    return Err(BuildError::BadReference { instance: gc.name.clone(), what: "group member" });
                };
                inst.group = Some(GroupId(g as u16));
                members.push(InstanceId(m as u16));
            }
            groups.push(Group { members, reported: None });
        }

        let mut demux: Vec<_> = instances.iter().map(|i| (i.iface, i.cfg.family, i.cfg.vrid, i.id)).collect();
        demux.sort();
        for w in demux.windows(2) {
            let (a, b) = (&instances[usize::from(w[0].3.0)], &instances[usize::from(w[1].3.0)]);
            if w[0].0 == w[1].0 && w[0].1 == w[1].1 && w[0].2 == w[1].2 && !separable(a, b) {
                return Err(BuildError::DuplicateVrid { first: a.cfg.name.clone(), second: b.cfg.name.clone() });
            }
        }

        let trackers = cfg.trackers.iter().map(Tracker::new).collect();
        let mut engine = Engine {
            instances,
            ifaces,
            trackers,
            groups,
            startup_delay: cfg.startup_delay,
            started: false,
            demux,
            tracker_names: cfg.trackers.iter().map(|t| t.name.clone()).collect(),
            global_errors: [0; WireError::ALL.len()],
        };
        for i in 0..engine.instances.len() {
            let (_, _, prio) = engine.evaluate(i);
            engine.instances[i].effective_priority = prio;
        }
        Ok(engine)
    }

    /// Capacity an [`Effects`] buffer needs so that no `handle` call grows it.
    pub fn effects_capacity(&self) -> usize {
        EFFECTS_PER_INSTANCE * self.instances.len() + 4 * self.groups.len() + 16
    }

    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    pub fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.instances.get(usize::from(id.0))
    }

    pub fn instance_by_name(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.cfg.name == name)
    }

    pub fn ifaces(&self) -> &[Iface] {
        &self.ifaces
    }

    pub fn iface_by_name(&self, name: &str) -> Option<IfaceId> {
        self.ifaces.iter().position(|f| f.name == name).map(|i| IfaceId(i as u16))
    }

    pub fn tracker_status(&self, id: TrackerId) -> Option<TrackStatus> {
        self.trackers.get(usize::from(id.0)).map(|t| t.status)
    }

    /// Router-level error counters for adverts no instance matched.
    pub fn global_error(&self, e: WireError) -> u64 {
        self.global_errors[e.index()]
    }

    /// State shared by a sync group: Fault if any member is, Master if all
    /// are, Backup otherwise; `None` before start.
    pub fn group_state(&self, id: GroupId) -> Option<NotifyState> {
        let g = self.groups.get(usize::from(id.0))?;
        let states = || g.members.iter().map(|m| self.instances[usize::from(m.0)].state);
        if states().any(|s| s == State::Init) {
            None
        } else if states().any(|s| s == State::Fault) {
            Some(NotifyState::Fault)
        } else if states().all(|s| s == State::Master) {
            Some(NotifyState::Master)
        } else {
            Some(NotifyState::Backup)
        }
    }

    /// The advert an instance sends with `priority`, borrowing its address
    /// list (RFC 9568 §5.2).
    pub fn advert(&self, id: InstanceId, priority: u8) -> Option<Advert<'_>> {
        self.instance(id).map(|i| i.advert(priority))
    }

    /// Source address of the instance's adverts: `unicast_src_ip` /
    /// `mcast_src_ip`, else the interface's primary IPv4 or link-local IPv6.
    pub fn source_addr(&self, id: InstanceId) -> Option<IpAddr> {
        let inst = self.instance(id)?;
        self.source_of(inst)
    }

    fn source_of(&self, inst: &Instance) -> Option<IpAddr> {
        if let Some(a) = inst.cfg.src_addr {
            return Some(a);
        }
        let f = self.ifaces.get(usize::from(inst.iface.0))?;
        match inst.cfg.family {
            Family::V4 => f.primary4().map(IpAddr::V4),
            Family::V6 => f.link_local6().map(IpAddr::V6),
        }
    }

    /// The earliest time `handle(now, Event::Timer)` has work to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.instances.iter().filter_map(Instance::next_deadline).min()
    }

    /// Processes one event at `now`, pushing what must happen into `fx`.
    pub fn handle(&mut self, now: Instant, event: Event<'_>, fx: &mut Effects) {
        match event {
            Event::Start => self.start(now, fx),
            Event::Timer => self.timers(now, fx),
            Event::Advert(rx) => self.rx_advert(now, &rx, fx),
            Event::RxError { iface, family, vrid, error } => {
                match vrid.and_then(|v| self.lookup(iface, family, v, None)) {
                    Some(i) => self.instances[i].stats.count_error(error),
                    None => count(&mut self.global_errors[error.index()]),
                }
            }
            Event::Link { iface, up } => {
                if let Some(f) = self.ifaces.get_mut(usize::from(iface.0)) {
                    f.up = up;
                    self.reevaluate(now, fx);
                }
            }
            Event::Address { iface, addr, present } => self.address(now, iface, addr, present, fx),
            Event::ScriptResult { tracker, success } => {
                if let Some(t) = self.trackers.get_mut(usize::from(tracker.0)) {
                    if t.script_result(success) {
                        let up = t.status == TrackStatus::Up;
                        fx.push(Effect::Log(LogEvent::ScriptStatus { tracker, up }));
                        self.reevaluate(now, fx);
                    }
                }
            }
            Event::FileValue { tracker, value } => {
                if let Some(t) = self.trackers.get_mut(usize::from(tracker.0)) {
                    if t.file_value(value) {
                        self.reevaluate(now, fx);
                    }
                }
            }
            Event::SendFailed { inst } => {
                if let Some(i) = self.instances.get_mut(usize::from(inst.0)) {
                    if matches!(i.state, State::Master | State::Backup) {
                        i.send_failed(now);
                        self.reevaluate(now, fx);
                    }
                }
            }
            Event::Shutdown { release_vips } => self.shutdown(now, release_vips, fx),
        }
        self.report_groups(fx);
    }

    // ----- start-up and shutdown -------------------------------------------------

    /// Starts this engine, built from a reloaded configuration, in place of
    /// `old` (keepalived-reference §3.4): an instance that is the same
    /// virtual router as one of `old` keeps its state — a master stays
    /// master and advertises at once — and check-script results carry over
    /// by name; other instances start as at boot. The caller has already
    /// released what `old` held and this engine does not (see
    /// [`Engine::reload_match`]) and reported links and addresses.
    pub fn start_from(&mut self, old: &Engine, now: Instant, fx: &mut Effects) {
        if self.started {
            return;
        }
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
            let prev = old.instances.iter().find(|o| self.instances[i].same_router(o));
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
    }

    /// What `old` must release before this engine takes over after a
    /// reload: for each of its masters, whether it survives (`Some` new
    /// instance) or goes (`None`: priority 0 and all addresses removed).
    pub fn reload_match(&self, old_inst: &Instance) -> Option<InstanceId> {
        self.instances.iter().find(|n| n.same_router(old_inst)).map(|n| n.id)
    }

    fn start(&mut self, now: Instant, fx: &mut Effects) {
        if self.started {
            return;
        }
        self.started = true;
        for i in 0..self.instances.len() {
            // keepalived-reference §2.10: addresses left by a crash are
            // removed before the election, so they are never used as a
            // source and never held by two routers.
            fx.push(Effect::RemoveVips { inst: self.instances[i].id });
            self.start_instance(i, now, fx);
        }
    }

    /// Whether instance `i` goes Master at start: an owner (255) whose state
    /// is not BACKUP, and, in a sync group, only when every member is one
    /// (keepalived's `vrrp_complete_init`); otherwise it starts as a backup.
    fn starts_as_owner(&self, i: usize) -> bool {
        let owner = |inst: &Instance| {
            inst.base_priority == 255 && inst.cfg.initial_state == crate::config::InitialState::Master
        };
        match self.instances[i].group {
            None => owner(&self.instances[i]),
            Some(g) => self.groups[usize::from(g.0)].members.iter().all(|m| owner(&self.instances[usize::from(m.0)])),
        }
    }

    /// keepalived-reference §2.3: every instance starts in Backup or Fault;
    /// only an owner goes Master at once. `vrrp_startup_delay` pushes the
    /// first timer back without holding the instance out of Backup.
    fn start_instance(&mut self, i: usize, now: Instant, fx: &mut Effects) {
        let (fault, silent, prio) = self.evaluate_with_group(i);
        self.instances[i].effective_priority = prio;
        // Only check scripts that have not reported yet: wait in Init, as
        // keepalived does, rather than pass through a FAULT nobody caused.
        self.instances[i].awaiting_trackers = fault && silent;
        if fault && silent {
            return;
        }
        if fault {
            self.instances[i].transition(now, State::Fault, Reason::Startup, true, fx);
            return;
        }
        let owner = self.starts_as_owner(i);
        if owner && self.startup_delay.is_zero() {
            self.instances[i].want_master = true;
            self.instances[i].transition(now, State::Master, Reason::Owner, true, fx);
        } else {
            self.instances[i].transition(now, State::Backup, Reason::Startup, true, fx);
            if !self.startup_delay.is_zero() {
                self.instances[i].delay_first_timer(now, self.startup_delay, owner);
            }
        }
    }

    fn shutdown(&mut self, now: Instant, release_vips: bool, fx: &mut Effects) {
        for inst in &mut self.instances {
            inst.stop(now, release_vips, fx);
        }
        for (g, group) in self.groups.iter_mut().enumerate() {
            // Only groups that reported a state report STOP, once.
            if group.reported.take().is_some() {
                fx.push(Effect::GroupState { group: GroupId(g as u16), state: NotifyState::Stop });
            }
        }
        self.started = false;
    }

    // ----- timers ----------------------------------------------------------------

    fn timers(&mut self, now: Instant, fx: &mut Effects) {
        for i in 0..self.instances.len() {
            // RFC 9568 §6.4.2: Master_Down_Timer fired in Backup.
            if let Some(cause) = self.instances[i].take_due_down_timer(now) {
                self.instances[i].want_master = true;
                self.try_master(i, now, cause, fx);
            }
            self.instances[i].master_timers(now, fx);
            if self.instances[i].send_fault_until.is_some_and(|t| t <= now) {
                self.instances[i].send_fault_until = None;
                self.reevaluate(now, fx);
            }
        }
    }

    /// Becomes master unless a sync group holds us back
    /// (keepalived-reference §2.11: master only when every member wants it).
    fn try_master(&mut self, i: usize, now: Instant, reason: Reason, fx: &mut Effects) {
        let Some(g) = self.instances[i].group else {
            self.instances[i].transition(now, State::Master, reason, true, fx);
            return;
        };
        let members = &self.groups[usize::from(g.0)].members;
        let ready = members.iter().all(|m| {
            let s = &self.instances[usize::from(m.0)];
            s.want_master || s.state == State::Master
        });
        if !ready {
            fx.push(Effect::Log(LogEvent::SyncGroupWait { inst: self.instances[i].id }));
            self.instances[i].restart_down_timer(now);
            return;
        }
        self.instances[i].transition(now, State::Master, reason, true, fx);
        for k in 0..members.len() {
            let m = usize::from(self.groups[usize::from(g.0)].members[k].0);
            if m != i && self.instances[m].state == State::Backup {
                self.instances[m].transition(now, State::Master, Reason::SyncGroup, true, fx);
            }
        }
    }

    /// A member left Master for Backup: the group's other masters follow.
    fn group_follow_backup(&mut self, i: usize, now: Instant, fx: &mut Effects) {
        let Some(g) = self.instances[i].group else {
            return;
        };
        for k in 0..self.groups[usize::from(g.0)].members.len() {
            let m = usize::from(self.groups[usize::from(g.0)].members[k].0);
            if m != i && self.instances[m].state == State::Master {
                self.instances[m].transition(now, State::Backup, Reason::SyncGroup, true, fx);
            }
        }
    }

    fn report_groups(&mut self, fx: &mut Effects) {
        for g in 0..self.groups.len() {
            let state = self.group_state(GroupId(g as u16));
            if state.is_some() && state != self.groups[g].reported {
                self.groups[g].reported = state;
                if let Some(state) = state {
                    fx.push(Effect::GroupState { group: GroupId(g as u16), state });
                }
            }
        }
    }

    // ----- trackers and faults ---------------------------------------------------

    /// (fault, silent, effective priority) of instance `i` from its own
    /// trackers and interfaces (keepalived-reference §2.6).
    fn evaluate(&self, i: usize) -> (bool, bool, u8) {
        let inst = &self.instances[i];
        let mut sum: i64 = 0;
        let mut fault = false;
        let mut loud = false;
        let mut add = |c: Contribution| match c {
            Contribution::Weight(w) => sum = sum.saturating_add(w),
            Contribution::Fault { silent } => {
                fault = true;
                loud |= !silent;
            }
        };
        let up = |id: IfaceId| self.ifaces.get(usize::from(id.0)).is_some_and(|f| f.up);
        if !inst.cfg.dont_track_primary && !up(inst.iface) {
            add(Contribution::Fault { silent: false });
        }
        // No address to send adverts from: a master would go silent while
        // holding its VIPs, so this is a fault.
        if self.source_of(inst).is_none() {
            add(Contribution::Fault { silent: false });
        }
        if inst.send_fault_until.is_some() {
            add(Contribution::Fault { silent: false });
        }
        if let (true, Some(src)) = (inst.cfg.track_src_ip, inst.cfg.src_addr) {
            if !self.ifaces.get(usize::from(inst.iface.0)).is_some_and(|f| f.has_addr(src)) {
                add(Contribution::Fault { silent: false });
            }
        }
        for &(id, weight, reverse) in &inst.track_ifaces {
            let status = if up(id) { TrackStatus::Up } else { TrackStatus::Down };
            add(track::updown_contribution(status, weight, reverse));
        }
        for r in &inst.cfg.track {
            add(self.contribution(r));
        }
        // An owner's priority never moves, so weights are ignored; faults
        // still apply.
        (fault, fault && !loud, track::effective_priority(inst.base_priority, sum))
    }

    fn contribution(&self, r: &TrackRef) -> Contribution {
        let Some(t) = self.trackers.get(usize::from(r.tracker.0)) else {
            return Contribution::Weight(0);
        };
        match t.kind {
            TrackerKind::Script { .. } => track::updown_contribution(t.status, r.weight, r.reverse),
            TrackerKind::File => track::file_contribution(t.value, r.weight, r.reverse),
        }
    }

    /// Like [`Self::evaluate`], but a fault of any sync-group member faults
    /// the whole group (keepalived-reference §2.11).
    fn evaluate_with_group(&self, i: usize) -> (bool, bool, u8) {
        let (mut fault, mut silent, prio) = self.evaluate(i);
        if let Some(g) = self.instances[i].group {
            for m in &self.groups[usize::from(g.0)].members {
                let m = usize::from(m.0);
                if m != i {
                    let (f, s, _) = self.evaluate(m);
                    if f {
                        silent = if fault { silent && s } else { s };
                        fault = true;
                    }
                }
            }
        }
        (fault, silent, prio)
    }

    /// Re-applies trackers to every instance after an input changed.
    fn reevaluate(&mut self, now: Instant, fx: &mut Effects) {
        for i in 0..self.instances.len() {
            let (fault, silent, prio) = self.evaluate_with_group(i);
            self.instances[i].set_effective_priority(prio, fx);
            if !self.started {
                continue;
            }
            let state = self.instances[i].state;
            match (state, fault) {
                // The first results are in: start now.
                (State::Init, _) if self.instances[i].awaiting_trackers && !(fault && silent) => {
                    self.start_instance(i, now, fx);
                }
                (State::Init, _) => {}
                (State::Fault, false) => {
                    self.instances[i].transition(now, State::Backup, Reason::FaultCleared, true, fx);
                }
                (State::Fault, true) => {}
                (_, true) => {
                    let notify = !silent;
                    self.instances[i].transition(now, State::Fault, Reason::TrackerFault, notify, fx);
                }
                (_, false) => {}
            }
        }
    }

    // ----- addresses -------------------------------------------------------------

    fn address(&mut self, now: Instant, iface: IfaceId, addr: IpAddr, present: bool, fx: &mut Effects) {
        let Some(f) = self.ifaces.get_mut(usize::from(iface.0)) else {
            return;
        };
        let is_vip = self.instances.iter().any(|i| i.owns_vip(addr));
        if !is_vip {
            // VIPs are never remembered, so a VIP left behind by a crash
            // cannot become our advert source.
            let known = f.addrs.iter().position(|a| *a == addr);
            match (present, known) {
                (true, None) => {
                    if let Err(addr) = f.addrs.push(addr) {
                        // Full: the first addresses are the primary ones and
                        // stay, but an interface must not lose its only
                        // link-local address (the IPv6 source) to a crowd of
                        // IPv4 ones.
                        let ll = |a: &IpAddr| matches!(a, IpAddr::V6(v) if is_link_local(v));
                        let evict = f.addrs.iter().rposition(|a| !ll(a));
                        match evict {
                            Some(i) if ll(&addr) && !f.addrs.iter().any(ll) => f.addrs[i] = addr,
                            _ => {
                                fx.push(Effect::Log(LogEvent::AddressNotTracked { iface, addr }));
                                return;
                            }
                        }
                    }
                }
                (false, Some(i)) => {
                    f.addrs.remove(i);
                }
                _ => return,
            }
            // The source address may have changed or gone (track_src_ip,
            // no address to advertise from).
            self.reevaluate(now, fx);
            return;
        }
        if present {
            return;
        }
        // keepalived-reference §2.3: a tracked VIP deleted by hand while
        // master: release with priority 0, take over again after Skew unless
        // a peer wins.
        for i in 0..self.instances.len() {
            let inst = &self.instances[i];
            if inst.state == State::Master && inst.tracks_vip(iface, addr) {
                fx.push(Effect::Log(LogEvent::VipDeleted { inst: inst.id, addr }));
                self.instances[i].transition(now, State::Backup, Reason::VipDeleted, true, fx);
                self.group_follow_backup(i, now, fx);
            }
        }
    }

    // ----- receive ---------------------------------------------------------------

    /// The instance an advert is for: same interface, family and VRID;
    /// among instances sharing those, a multicast advert goes to the one
    /// listening on its group and a unicast one to the one that has the
    /// sender as a peer. When none fits, the first instance gets it (and
    /// counts the mismatch).
    fn lookup(&self, iface: IfaceId, family: Family, vrid: u8, rx: Option<(IpAddr, IpAddr)>) -> Option<usize> {
        let start = self.demux.partition_point(|e| (e.0, e.1, e.2) < (iface, family, vrid));
        let mut first = None;
        for e in &self.demux[start..] {
            if (e.0, e.1, e.2) != (iface, family, vrid) {
                break;
            }
            let i = usize::from(e.3.0);
            let inst = &self.instances[i];
            let fits = rx.is_none_or(|(src, dst)| {
                if dst.is_multicast() { !inst.cfg.is_unicast() && inst.group_addr() == dst } else { inst.has_peer(src) }
            });
            if fits {
                return Some(i);
            }
            first.get_or_insert(i);
        }
        first
    }

    fn rx_advert(&mut self, now: Instant, rx: &RxAdvert<'_>, fx: &mut Effects) {
        let family = Family::of(&rx.src);
        let Some(i) = self.lookup(rx.iface, family, rx.advert.vrid, Some((rx.src, rx.dst))) else {
            count(&mut self.global_errors[WireError::VrId.index()]);
            fx.push(Effect::Log(LogEvent::RxError { inst: None, src: Some(rx.src), error: WireError::VrId }));
            return;
        };
        // RFC 9568 §6.4: adverts are ignored in Initialize; keepalived also
        // ignores them in Fault.
        if matches!(self.instances[i].state, State::Init | State::Fault) {
            return;
        }
        let ours = self.source_of(&self.instances[i]);
        let inst = &mut self.instances[i];
        if let Err(error) = inst.validate(rx) {
            inst.stats.count_error(error);
            fx.push(Effect::Log(LogEvent::RxError { inst: Some(inst.id), src: Some(rx.src), error }));
            return;
        }
        inst.note_accepted(rx, fx);
        match inst.state {
            State::Backup => inst.backup_rx(now, rx, fx),
            State::Master => match inst.master_rx(now, rx, ours, fx) {
                MasterRx::Yield => self.group_follow_backup(i, now, fx),
                MasterRx::Lower => self.group_lower_prio_burst(i, now, fx),
                MasterRx::Stay => {}
            },
            State::Init | State::Fault => {}
        }
    }

    /// keepalived answers a lower-priority advert with GARPs from every
    /// master of the sync group, not only the one that heard it.
    fn group_lower_prio_burst(&mut self, i: usize, now: Instant, fx: &mut Effects) {
        let Some(g) = self.instances[i].group else {
            return;
        };
        for k in 0..self.groups[usize::from(g.0)].members.len() {
            let m = usize::from(self.groups[usize::from(g.0)].members[k].0);
            if m != i && self.instances[m].state == State::Master {
                let rounds = self.instances[m].cfg.garp.lower_prio_repeat;
                self.instances[m].announce_lower_prio(now, rounds, fx);
            }
        }
    }
}

fn count(c: &mut u64) {
    *c = c.saturating_add(1);
}

fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// Two instances may share a VRID on one interface and family when
/// adverts can tell them apart (keepalived-reference §1.3): one unicast and
/// one multicast, different multicast groups, or unicast peer sets that do
/// not overlap.
fn separable(a: &Instance, b: &Instance) -> bool {
    match (a.cfg.is_unicast(), b.cfg.is_unicast()) {
        (true, true) => !a.cfg.unicast_peers.iter().any(|p| b.cfg.unicast_peers.iter().any(|q| q.addr == p.addr)),
        (false, false) => a.group_addr() != b.group_addr(),
        _ => true,
    }
}
