//! What the engine asks the drivers to do, and what it wants logged.
//!
//! Effects are plain `Copy` values collected in a buffer the caller owns and
//! reuses, so a steady-state `handle` call allocates nothing. Every protocol
//! decision is already made when an effect is pushed: which address on
//! which interface to announce and when, which notify to run, which address
//! a reload releases. Drivers only carry them out, in order; they must not
//! infer one effect from another (a notify from a log line, say).

use core::net::IpAddr;

use super::conditions::{Cleared, Condition, Evidence};
use super::state::{Reason, State};
use super::{GroupId, IfaceId, InstanceId};
use crate::time::Instant;
use crate::wire::WireError;
use crate::wire::vrrp::ChecksumForm;

/// States reported to notify scripts and the FIFO: the four states plus the
/// pseudo-state STOP (keepalived-reference §3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
}

impl NotifyState {
    pub const fn name(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
        }
    }
}

/// Notifications for events rather than states (keepalived-reference §3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyEvent {
    /// A reload removed the instance and it has `notify_deleted` (without
    /// it, the instance reports STOP).
    Deleted,
    /// A master heard a lower-priority advert (`notify_master_rx_lower_pri`).
    MasterRxLowerPri,
    /// `notify_priority_changes`: the effective priority changed while
    /// master, or while backup (by the state the event left it in).
    MasterPriority,
    BackupPriority,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send one advert (to the group, or one per unicast peer) with this
    /// priority; build it with `Engine::advert`.
    SendAdvert { inst: InstanceId, priority: u8 },
    /// Install the VIPs and excluded VIPs.
    AddVips { inst: InstanceId },
    /// Remove them.
    RemoveVips { inst: InstanceId },
    /// `rounds` rounds of GARP / unsolicited NA over all of the instance's
    /// addresses were queued (drivers log it; nothing else to do): each one
    /// comes as an [`Effect::AnnounceAddr`] when its turn comes.
    Announce { inst: InstanceId, rounds: u8 },
    /// Send one GARP (IPv4) or unsolicited NA (IPv6) for `addr` on `iface`
    /// now: its turn in the engine's queue (spaced by `vrrp_garp_interval`
    /// / `vrrp_gna_interval` per interface and family) has come.
    AnnounceAddr { iface: IfaceId, addr: IpAddr },
    /// Remove one address of the instance: number `vip` of its VIPs then
    /// excluded VIPs, in config order, on [`super::Instance::vip`]'s
    /// interface (a reload dropped it from a master that stays).
    RemoveVip { inst: InstanceId, vip: u32 },
    /// Send one GARP / NA for the instance's own source address (unicast,
    /// leaving Fault; keepalived #1283).
    AnnounceSource { inst: InstanceId },
    /// The instance changed state. Drivers log it and, when `notify`, run
    /// notifies (false for keepalived's silent start-up Fault and for the
    /// shutdown step, whose STOP comes as `Notify`).
    StateChange { inst: InstanceId, from: State, to: State, reason: Reason, notify: bool },
    /// Instance notify without a state change of its own (STOP on shutdown,
    /// or for an instance a reload removes).
    Notify { inst: InstanceId, state: NotifyState },
    /// Instance notify for one of keepalived's events rather than a state.
    NotifyEvent { inst: InstanceId, event: NotifyEvent },
    /// A sync group's shared state changed.
    GroupState { group: GroupId, state: NotifyState },
    /// Something to log.
    Log(LogEvent),
}

/// Log lines as values, so tests can assert what gets logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogEvent {
    /// Backup discarded an advert of lower priority (it will preempt).
    LowerPriorityDiscarded { inst: InstanceId, from: IpAddr, priority: u8, ours: u8 },
    /// Master heard a lower-priority advert: "forcing new election".
    MasterRxLowerPriority { inst: InstanceId, from: IpAddr, priority: u8, ours: u8 },
    /// A backup started its `preempt_delay`.
    PreemptDelayStarted { inst: InstanceId, until: Instant },
    /// Effective priority changed.
    PriorityChanged { inst: InstanceId, from: u8, to: u8 },
    /// Two address owners on one VRID; ours is lowered to 254.
    OwnerConflict { inst: InstanceId, from: IpAddr },
    /// An advert carrying our own priority and address: a loop or a clone.
    OwnAdvertSeen { inst: InstanceId, from: IpAddr },
    /// An advert was rejected. `inst` is `None` when no instance matched.
    RxError { inst: Option<InstanceId>, src: Option<IpAddr>, error: WireError },
    /// The first advert from `from`, or one whose checksum form differs from
    /// that peer's previous one.
    ChecksumForm { inst: InstanceId, from: IpAddr, form: ChecksumForm },
    /// A member wanted MASTER but its sync group is not ready.
    SyncGroupWait { inst: InstanceId },
    /// An interface has more addresses than the engine remembers; this one
    /// cannot become an advert source.
    AddressNotTracked { iface: IfaceId, addr: IpAddr },
    /// A VIP this master owns was deleted from the interface.
    VipDeleted { inst: InstanceId, addr: IpAddr },
    /// A check script's verdict changed (before the state changes it
    /// causes, so the log reads in cause-and-effect order).
    ScriptStatus { tracker: crate::config::TrackerId, up: bool },
    /// The instance's adverts failed to go out several times in a row: it
    /// goes to Fault for one Master_Down interval (before the state change,
    /// like `ScriptStatus`).
    SendFailing { inst: InstanceId },
    /// A reload removed this master: it sent priority 0.
    RemovedByReload { inst: InstanceId },
    /// A condition was raised, with the evidence.
    ConditionRaised { inst: InstanceId, condition: Condition, evidence: Evidence },
    /// A raised condition cleared.
    ConditionCleared { inst: InstanceId, condition: Condition, why: Cleared },
}

/// The effect buffer a caller passes to `handle`; reuse it between calls.
///
/// Its capacity is set once from the engine's size
/// (`Engine::effects_capacity`), which bounds what one event can produce, so
/// pushes never reallocate in practice. Should a bound ever be wrong the
/// buffer grows rather than drop an effect: losing a `RemoveVips` would be
/// worse than one allocation. One case grows it by design: a burst of more
/// GARPs/NAs than the announce queue holds is sent at once (see
/// `announce`), once per high-water mark, as the buffer keeps its size.
#[derive(Debug, Default)]
pub struct Effects {
    items: Vec<Effect>,
}

impl Effects {
    pub fn with_capacity(n: usize) -> Effects {
        Effects { items: Vec::with_capacity(n) }
    }

    pub fn push(&mut self, e: Effect) {
        debug_assert!(self.items.len() < self.items.capacity(), "effects capacity bound exceeded");
        self.items.push(e);
    }

    /// An effect whose number only the configuration bounds (announcements
    /// overflowing the queue): the buffer may grow, which is not a bug.
    pub(super) fn push_growing(&mut self, e: Effect) {
        self.items.push(e);
    }

    pub(super) fn get(&self, k: usize) -> Option<Effect> {
        self.items.get(k).copied()
    }

    pub(super) fn set(&mut self, k: usize, e: Effect) {
        if let Some(slot) = self.items.get_mut(k) {
            *slot = e;
        }
    }

    /// Inserts at `k` (in place: the capacity bound covers it).
    pub(super) fn insert(&mut self, k: usize, e: Effect) {
        debug_assert!(self.items.len() < self.items.capacity(), "effects capacity bound exceeded");
        self.items.insert(k.min(self.items.len()), e);
    }

    pub(super) fn remove(&mut self, k: usize) {
        if k < self.items.len() {
            self.items.remove(k);
        }
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn as_slice(&self) -> &[Effect] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> core::slice::Iter<'_, Effect> {
        self.items.iter()
    }

    /// Empties the buffer and returns its memory (address, bytes), all of
    /// it now spare capacity, for a driver that gives the pages back to
    /// the kernel (`sys::mem::discard`). Neither allocates.
    pub fn clear_spare(&mut self) -> (*mut u8, usize) {
        self.items.clear();
        let spare = self.items.spare_capacity_mut();
        (spare.as_mut_ptr().cast(), core::mem::size_of_val(spare))
    }

    /// Moves the effects out, leaving the buffer empty with its capacity.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Effect> {
        self.items.drain(..)
    }
}

impl<'a> IntoIterator for &'a Effects {
    type Item = &'a Effect;
    type IntoIter = core::slice::Iter<'a, Effect>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}
