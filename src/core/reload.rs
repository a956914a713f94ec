//! Taking over from the engine of the previous configuration after a
//! reload (keepalived-reference §3.4): same virtual routers keep their
//! state, check-script verdicts carry over by name. The caller releases
//! what the old engine held; this file must not touch the old engine.

use super::{Effect, Effects, Engine, Instance, InstanceId, State};
use crate::time::Instant;

impl Engine {
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
        self.settle(start, fx);
    }

    /// What `old` must release before this engine takes over after a
    /// reload: for each of its masters, whether it survives (`Some` new
    /// instance) or goes (`None`: priority 0 and all addresses removed).
    pub fn reload_match(&self, old_inst: &Instance) -> Option<InstanceId> {
        self.instances.iter().find(|n| n.same_router(old_inst)).map(|n| n.id)
    }
}
