//! The engine's driving surface: [`Engine::handle`] dispatches one event,
//! [`Engine::next_deadline`] says when to call it again, and read-only
//! queries serve the daemon's status and packet building. Dispatch only
//! routes to the files that own each behaviour, then `settle` completes
//! what the event's effects imply for the engine itself (announcements
//! queued or dropped, priority notifies given the final state); it never
//! reads a clock and never allocates.

use core::net::IpAddr;

use super::announce::DRAIN_MAX;
use super::rx::count;
use super::track::TrackStatus;
use super::{Effect, Effects, Engine, Event, Iface, IfaceId, Instance, InstanceId, LogEvent, NotifyEvent, State};
use crate::config::TrackerId;
use crate::time::Instant;
use crate::wire::WireError;
use crate::wire::vrrp::Advert;

/// Effects one instance can emit in one `handle` call, with margin.
const EFFECTS_PER_INSTANCE: usize = 32;

/// `Effect::SendAdvert`s one instance can ask for in one `handle` call
/// (entering or leaving Master, an answer, the schedule), with margin.
const SENDS_PER_INSTANCE: usize = 4;

impl Engine {
    /// Capacity an [`Effects`] buffer needs so that no `handle` call grows it
    /// (but see `announce` for bursts beyond its queue).
    pub fn effects_capacity(&self) -> usize {
        EFFECTS_PER_INSTANCE * self.instances.len() + 4 * self.groups.len() + 16 + DRAIN_MAX
    }

    /// How many advert sends (one per destination) one `handle` call can
    /// ask for at most: what a driver that reports them with
    /// [`Event::Sent`] needs room for.
    pub fn sends_capacity(&self) -> usize {
        let dests = |i: &Instance| i.cfg.unicast_peers.len().max(1);
        SENDS_PER_INSTANCE * self.instances.iter().map(dests).sum::<usize>()
    }

    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// Dry run (vipd --dry-run): our adverts never leave, so a real master
    /// below us keeps advertising; that is expected, not a second master,
    /// and `split_brain` is never raised.
    pub fn ignore_split_brain(&mut self) {
        for i in &mut self.instances {
            i.conditions.blind_split = true;
        }
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

    /// Every tracker's name, in configuration order.
    pub fn tracker_names(&self) -> &[String] {
        &self.tracker_names
    }

    /// Every tracker's runtime state, in configuration order (for status).
    pub fn trackers(&self) -> &[super::track::Tracker] {
        &self.trackers
    }

    /// Router-level error counters for adverts no instance matched.
    pub fn global_error(&self, e: WireError) -> u64 {
        self.global_errors[e.index()]
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

    /// The earliest time `handle(now, Event::Timer)` has work to do: an
    /// instance's timer or a queued announcement.
    /// O(1): the instances' deadlines are kept in a heap (`deadlines`).
    pub fn next_deadline(&self) -> Option<Instant> {
        let queued = self.announces.next_deadline();
        let own = self.deadlines.peek().map(|(t, _)| t);
        // The heap must agree with a scan; checked where a scan is cheap.
        debug_assert!(
            self.instances.len() > 64 || own == self.instances.iter().filter_map(Instance::next_deadline).min(),
            "deadline heap out of date"
        );
        own.into_iter().chain(queued).min()
    }

    /// Instance `i` (and its sync group, whose members it may move) may
    /// have a new deadline once this call ends.
    pub(super) fn touch(&mut self, i: usize) {
        let group = self.instances.get(i).and_then(|x| x.group);
        let members = group.and_then(|g| self.groups.get(usize::from(g.0))).map_or(&[][..], |g| &g.members[..]);
        if self.stale.len() + 1 + members.len() > self.stale.capacity() {
            // More than a full pass would cost: redo them all, no growth.
            self.stale_all = true;
            return;
        }
        self.stale.push(i as u16);
        self.stale.extend(members.iter().map(|m| m.0));
    }

    /// Brings the heap up to date for what this call touched.
    pub(super) fn refresh_deadlines(&mut self) {
        if core::mem::take(&mut self.stale_all) {
            for i in 0..self.instances.len() {
                self.deadlines.set(i, self.instances[i].next_deadline());
            }
        } else {
            for k in 0..self.stale.len() {
                let i = usize::from(self.stale[k]);
                self.deadlines.set(i, self.instances[i].next_deadline());
            }
        }
        self.stale.clear();
    }

    /// Which interface holds address number `k` of the instance (see
    /// [`Instance::vip`]).
    pub fn vip_iface(&self, inst: InstanceId, k: usize) -> Option<IfaceId> {
        self.instance(inst)?.vip(k).map(|(_, f)| f)
    }

    /// Every master sends its advert now and goes on in that phase, before
    /// work that keeps the loop from its timer (a reload's swap, tens of
    /// milliseconds for 1,000 instances): an advert due meanwhile would go
    /// out late, and the gap exceed the interval. Early is harmless (a
    /// backup needs one at least every interval); nothing else runs early.
    /// O(instances), once per reload.
    pub fn advertise_early(&mut self, now: Instant, fx: &mut Effects) {
        for i in 0..self.instances.len() {
            let int = self.instances[i].cfg.advert_int;
            self.instances[i].advert_timer(now, int, fx);
        }
        self.stale_all = true;
        self.refresh_deadlines();
    }

    /// Takes off the heap, into `due` in index order, the instances due
    /// within the widest coalescing window after `now`; `touch` puts them
    /// back.
    fn take_due(&mut self, now: Instant) {
        let horizon = now + self.coalesce;
        self.due.clear();
        while let Some((_, i)) = self.deadlines.peek().filter(|&(t, _)| t <= horizon) {
            self.deadlines.set(i, None);
            self.due.push(i as u16);
        }
        // In index order, as when every instance was visited.
        crate::sort::heap_sort(&mut self.due);
    }

    /// Processes one event at `now`, pushing what must happen into `fx`.
    pub fn handle(&mut self, now: Instant, event: Event<'_>, fx: &mut Effects) {
        let start = fx.len();
        // The frequent events mark the instances they change themselves;
        // the rare ones may change any, and refresh them all.
        if !matches!(
            event,
            Event::Timer | Event::Advert(_) | Event::RxError { .. } | Event::Address { .. } | Event::Sent { .. }
        ) {
            self.stale_all = true;
        }
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
            Event::Sent { inst, priority, ok, count } => {
                let Some(i) = self.instances.get_mut(usize::from(inst.0)) else { return };
                // Once per run: an instance already out for it stays out.
                if !i.note_sent(priority, ok, count) || i.send_fault_until.is_some() {
                    // The common case, on every advert: nothing changed.
                    return;
                }
                fx.push(Effect::Log(LogEvent::SendFailing { inst }));
                if matches!(i.state, State::Master | State::Backup) {
                    i.send_failed(now);
                    self.reevaluate(now, fx);
                }
                self.touch(usize::from(inst.0));
            }
            Event::AddressClaimed { iface, addr, hw } => self.address_claimed(now, iface, addr, hw, fx),
            Event::Shutdown { release_vips } => self.shutdown(now, release_vips, fx),
        }
        self.report_groups(fx);
        self.settle(now, start, fx);
        self.refresh_deadlines();
    }

    /// What the effects pushed from `start` on imply for the engine itself,
    /// in their order: announcements queued, those of released addresses
    /// dropped, and priority notifies given the state the event left their
    /// instance in (keepalived's MASTER_PRIORITY / BACKUP_PRIORITY; none in
    /// Fault or Init).
    pub(super) fn settle(&mut self, now: Instant, start: usize, fx: &mut Effects) {
        let mut k = start;
        while let Some(e) = fx.get(k) {
            match e {
                Effect::Announce { inst, rounds } => self.queue_announce(now, inst, rounds, fx),
                Effect::RemoveVips { inst } => self.forget_announces(inst),
                Effect::NotifyEvent { inst, event: NotifyEvent::MasterPriority | NotifyEvent::BackupPriority } => {
                    let event = match self.instance(inst).map(|i| i.state) {
                        Some(State::Master) => NotifyEvent::MasterPriority,
                        Some(State::Backup) => NotifyEvent::BackupPriority,
                        _ => {
                            fx.remove(k);
                            continue;
                        }
                    };
                    fx.set(k, Effect::NotifyEvent { inst, event });
                }
                _ => {}
            }
            k += 1;
        }
    }

    fn timers(&mut self, now: Instant, fx: &mut Effects) {
        // Announcements first, as their turn came before this wakeup's
        // timers ran.
        self.announces.drain_due(now, fx);
        // A wakeup for announcements alone must not run the instances'
        // timers: an advert due soon would go out early (coalescing).
        if self.deadlines.peek().is_none_or(|(t, _)| t > now) {
            return;
        }
        // Only instances due within the widest coalescing window can act
        // (an advert up to a quarter interval early, everything else when
        // due): taken off the heap, visited, and put back by `touch`.
        self.take_due(now);
        for k in 0..self.due.len() {
            let i = usize::from(self.due[k]);
            self.touch(i);
            // RFC 9568 §6.4.2: Master_Down_Timer fired in Backup.
            if let Some(cause) = self.instances[i].take_due_down_timer(now) {
                self.instances[i].want_master = true;
                self.try_master(i, now, cause, fx);
            }
            self.instances[i].master_timers(now, fx);
            self.instances[i].condition_timers(now, fx);
            if self.instances[i].send_fault_until.is_some_and(|t| t <= now) {
                self.instances[i].send_fault_until = None;
                self.reevaluate(now, fx);
            }
        }
    }
}
