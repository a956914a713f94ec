//! Start-up and shutdown of the engine's instances: crash-left addresses
//! removed before the election, owners going Master at once, the start-up
//! delay, check scripts awaited in Init, and STOP reported on shutdown
//! (keepalived-reference §2.3, §2.10), with nothing announced once
//! stopped. It arms each instance's first state and leaves what follows to
//! the instance's own timers; taking over from a previous engine is in
//! `reload`.

use super::{Effect, Effects, Engine, GroupId, Instance, NotifyState, Reason, State};
use crate::time::Instant;

impl Engine {
    pub(super) fn start(&mut self, now: Instant, fx: &mut Effects) {
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
    pub(super) fn start_instance(&mut self, i: usize, now: Instant, fx: &mut Effects) {
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

    pub(super) fn shutdown(&mut self, now: Instant, release_vips: bool, fx: &mut Effects) {
        for inst in &mut self.instances {
            inst.stop(now, release_vips, fx);
        }
        for (g, group) in self.groups.iter_mut().enumerate() {
            // Only groups that reported a state report STOP, once.
            if group.reported.take().is_some() {
                fx.push(Effect::GroupState { group: GroupId(g as u16), state: NotifyState::Stop });
            }
        }
        self.announces.clear();
        self.started = false;
    }
}
