//! `vipd --dry-run`: the one filter between the engine's effects and the
//! syscalls. The engine runs unchanged and believes what it asked for was
//! done (its adverts are reported sent), so its state is what vipd would
//! do; here every effect that would reach the network or the system is
//! dropped: adverts, GARPs/NAs, address changes, notify scripts and FIFO
//! lines. Each transition is logged as `(VI_1) would enter MASTER: ...`.
//! Called from `apply` only; like it, nothing here allocates.

use core::net::IpAddr;

use super::Daemon;
use super::apply::SendOutcome;
use super::scripts::Plan;
use crate::core::{Effect, InstanceId, LogEvent, Reason, State};

/// Per instance: the last lower-priority master whose adverts we discarded
/// (address, priority), to say whom a preemption would displace.
#[derive(Debug, Default)]
pub(super) struct DryRun {
    lower: Vec<Option<(IpAddr, u8)>>,
}

impl DryRun {
    pub(super) fn new(instances: usize) -> DryRun {
        DryRun { lower: vec![None; instances] }
    }
}

/// A dry run's copy of `cfg` without `use_vmac` (`None`: none to strip).
/// It creates no macvlan and sets no sysctl; its engine homes those VIPs on
/// the base interface, which changes no election (the addresses are never
/// set anyway). Start and reload only.
pub(super) fn without_vmacs(cfg: &crate::config::Config) -> Option<crate::config::Config> {
    if cfg.instances.iter().all(|i| i.vmac.is_none()) {
        return None;
    }
    let mut c = cfg.clone();
    for i in &mut c.instances {
        i.vmac = None;
    }
    Some(c)
}

/// The static addresses, routes and rules to install: none in a dry run.
pub(super) fn statics(cfg: &crate::config::Config, dry: bool) -> super::routes::Statics {
    if dry { super::routes::Statics::default() } else { super::routes::Statics::of(cfg) }
}

/// What a dry run keeps of a configuration's scripts: check scripts,
/// probes and tracked files run as usual (they feed priority), but no
/// notify FIFO is opened (that would create or write the live daemon's),
/// no `notify_fifo_script` started and no `init_file` written.
pub(super) fn dry_plan(mut plan: Plan) -> Plan {
    plan.fifos.clear();
    plan.fifo_readers.clear();
    for f in &mut plan.files {
        f.2 = None;
    }
    plan
}

impl Daemon {
    /// The state line of a transition in dry run, in place of
    /// `log_state`'s.
    pub(super) fn log_would(&self, inst: InstanceId, from: State, to: State, reason: Reason) {
        let name = self.name(inst);
        if to == State::Init {
            return;
        }
        let ours = self.engine.instance(inst).map_or(0, |i| i.effective_priority);
        let lower = self.dry.as_ref().and_then(|d| d.lower.get(usize::from(inst.0)).copied().flatten());
        match (reason, lower) {
            (Reason::Preempt, Some((from, prio))) => {
                log!(self.log, "({name}) would enter {to}: higher priority than {from} ({ours} > {prio})")
            }
            (Reason::HigherPriority { from, priority }, _) => {
                log!(self.log, "({name}) would enter {to}: lower priority than {from} ({ours} < {priority})")
            }
            _ => log!(self.log, "({name}) would enter {to}: {reason} (was {from})"),
        }
    }

    /// Remembers what a later state line needs, before it is logged.
    pub(super) fn dry_note(&mut self, e: &Effect) {
        if let Effect::Log(LogEvent::LowerPriorityDiscarded { inst, from, priority, .. }) = *e {
            if let Some(slot) = self.dry.as_mut().and_then(|d| d.lower.get_mut(usize::from(inst.0))) {
                *slot = Some((from, priority));
            }
        }
    }

    /// Carries out `e` the dry-run way; false when it is carried out as
    /// usual (log lines). Adverts are recorded as sent so the engine
    /// judges no send failure.
    pub(super) fn dry_effect(&mut self, e: &Effect) -> bool {
        match *e {
            Effect::SendAdvert { inst, priority } => {
                match self.sent.last_mut() {
                    Some(s) if s.inst == inst && s.priority == priority && s.ok && s.count < u16::MAX => s.count += 1,
                    _ => self.sent.push(SendOutcome { inst, priority, ok: true, count: 1 }),
                }
                true
            }
            Effect::StateChange { inst, to: State::Init, .. } => {
                log!(self.log, "({}) Stopped", self.name(inst));
                true
            }
            Effect::Log(_) => false,
            Effect::AddVips { .. }
            | Effect::RemoveVips { .. }
            | Effect::RemoveVip { .. }
            | Effect::Announce { .. }
            | Effect::AnnounceAddr { .. }
            | Effect::AnnounceSource { .. }
            | Effect::StateChange { .. }
            | Effect::Notify { .. }
            | Effect::NotifyEvent { .. }
            | Effect::GroupState { .. } => true,
        }
    }
}
