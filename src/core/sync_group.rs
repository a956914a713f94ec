//! Sync groups (keepalived-reference §2.11): members go Master only
//! together, follow each other to Backup, share faults and lower-priority
//! GARP bursts, and the group's shared state is reported when it changes.
//! Instance behaviour outside a group does not belong here.

use super::{Effect, Effects, Engine, GroupId, InstanceId, LogEvent, NotifyState, Reason, State};
use crate::time::Instant;

#[derive(Clone, Debug)]
pub(super) struct Group {
    pub(super) members: Vec<InstanceId>,
    /// Last state reported with `Effect::GroupState`.
    pub(super) reported: Option<NotifyState>,
}

impl Engine {
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

    /// Becomes master unless a sync group holds us back
    /// (keepalived-reference §2.11: master only when every member wants it).
    pub(super) fn try_master(&mut self, i: usize, now: Instant, reason: Reason, fx: &mut Effects) {
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
    pub(super) fn group_follow_backup(&mut self, i: usize, now: Instant, fx: &mut Effects) {
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

    pub(super) fn report_groups(&mut self, fx: &mut Effects) {
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

    /// Like [`Self::evaluate`], but a fault of any sync-group member faults
    /// the whole group (keepalived-reference §2.11).
    pub(super) fn evaluate_with_group(&self, i: usize) -> (bool, bool, u8) {
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

    /// keepalived answers a lower-priority advert with GARPs from every
    /// master of the sync group, not only the one that heard it.
    pub(super) fn group_lower_prio_burst(&mut self, i: usize, now: Instant, fx: &mut Effects) {
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
