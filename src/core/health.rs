//! An instance's health: fault (loud or silent) and effective priority,
//! from its interfaces, advert source, send failures and trackers
//! (keepalived-reference §2.6), and re-applying them after any input
//! changes. Tracker state itself lives in `track`; spreading a fault over a
//! sync group lives in `sync_group`.

use super::track::{self, Contribution, TrackStatus};
use super::{Effects, Engine, IfaceId, Reason, State};
use crate::config::{TrackRef, TrackerKind};
use crate::time::Instant;

impl Engine {
    /// (fault, silent, effective priority) of instance `i` from its own
    /// trackers and interfaces (keepalived-reference §2.6).
    pub(super) fn evaluate(&self, i: usize) -> (bool, bool, u8) {
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
            TrackerKind::Script { .. } | TrackerKind::Process => {
                track::updown_contribution(t.status, r.weight, r.reverse)
            }
            TrackerKind::File => track::file_contribution(t.value, r.weight, r.reverse),
        }
    }

    /// Re-applies trackers to every instance after an input changed.
    pub(super) fn reevaluate(&mut self, now: Instant, fx: &mut Effects) {
        self.stale_all = true;
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
}
