//! The instance's state machine: the one place states change, with the
//! exit and entry actions of Master and Backup in keepalived's order,
//! shutdown, and carrying a state over a reload without a change. Timers
//! are armed here but run in `timers`; deciding *when* to change state
//! belongs to the callers (received adverts, timers, the engine).

use core::net::IpAddr;

use super::Instance;
use crate::config::Family;
use crate::core::effects::{Effect, Effects, NotifyState};
use crate::core::state::{Reason, State};
use crate::time::Instant;

impl Instance {
    /// The one place states change. Runs the exit actions of `self.state`,
    /// then the entry actions of `to`, and reports the change.
    pub(in crate::core) fn transition(
        &mut self,
        now: Instant,
        to: State,
        reason: Reason,
        notify: bool,
        fx: &mut Effects,
    ) {
        let from = self.state;
        if from == to {
            return;
        }
        if from == State::Master {
            self.leave_master(reason, true, fx);
        }
        self.conditions_left(from, fx);
        self.state = to;
        self.reason = reason;
        self.since = now;
        match to {
            State::Master => self.enter_master(now, fx),
            State::Backup => self.enter_backup(now, from, reason, fx),
            State::Fault | State::Init => self.stop_timers(),
        }
        // Last, so notify scripts run once the addresses are in place (or
        // gone), in keepalived's order.
        fx.push(Effect::StateChange { inst: self.id, from, to, reason, notify });
    }

    /// Leaving Master: priority 0 only when releasing (§2.5), never when
    /// yielding to a better master. `release` false (`-V` on shutdown)
    /// keeps the addresses and so sends no priority 0 either: a peer taking
    /// over would hold them too.
    fn leave_master(&mut self, reason: Reason, release: bool, fx: &mut Effects) {
        if release {
            if reason.releases_with_priority_zero() {
                self.send_advert(0, fx);
            }
            fx.push(Effect::RemoveVips { inst: self.id });
        }
        self.stats.release_master += 1;
        self.advert_at = None;
        self.garp_second_at = None;
        self.garp_refresh_at = None;
        self.garp_lower_at = None;
    }

    /// RFC 9568 §6.4.1/§6.4.2 "transition to Active", in keepalived's order:
    /// advert, addresses, GARP burst, delayed burst and refresh armed.
    fn enter_master(&mut self, now: Instant, fx: &mut Effects) {
        self.master_adver_int = self.cfg.advert_int;
        self.master = None;
        self.down_at = None;
        self.preempt_until = None;
        self.stats.master_transitions += 1;
        self.send_advert(self.effective_priority, fx);
        fx.push(Effect::AddVips { inst: self.id });
        let garp = self.cfg.garp;
        if garp.master_repeat > 0 {
            fx.push(Effect::Announce { inst: self.id, rounds: garp.master_repeat });
        }
        self.garp_second_at = (!garp.master_delay.is_zero() && garp.master_repeat > 0).then(|| now + garp.master_delay);
        self.garp_refresh_at = (!garp.master_refresh.is_zero()).then(|| now + garp.master_refresh);
        self.advert_at = Some(now + self.cfg.advert_int);
    }

    /// What identifies the virtual router across a reload: keepalived
    /// matches on VRID, family, interface, unicast or not, source and
    /// group — not on the name. Ordered, for binary search.
    pub(in crate::core) fn router_key(&self) -> (u8, Family, &str, bool, Option<IpAddr>, IpAddr) {
        let c = &self.cfg;
        (c.vrid, c.family, c.interface.as_str(), c.is_unicast(), c.src_addr, self.group_addr())
    }

    /// After a reload: carry on as `old` was, without a state change (no
    /// notify). A master advertises and announces at once, and installs
    /// its addresses (those already present stay; the caller removed the
    /// ones the new configuration dropped); a backup keeps its timer and
    /// the master it follows.
    pub(in crate::core) fn resume(&mut self, now: Instant, old: &Instance, fx: &mut Effects) {
        self.stats = old.stats;
        self.conditions.carry_over(&old.conditions);
        self.since = old.since;
        self.reason = old.reason;
        match old.state {
            State::Master => {
                self.state = State::Master;
                self.enter_master(now, fx);
                self.stats.master_transitions = old.stats.master_transitions;
            }
            State::Backup => {
                self.state = State::Backup;
                self.master = old.master;
                self.master_adver_int = old.master_adver_int;
                self.down_cause = old.down_cause;
                self.down_at = Some(old.down_at.unwrap_or(now + self.master_down()));
            }
            State::Fault | State::Init => {}
        }
    }

    /// This instance as an upgrade hands it over (`Engine::export`).
    pub(in crate::core) fn export(&self) -> crate::core::reload::InstanceSnapshot {
        use crate::core::reload::{COUNTERS, REASONS, STATES, ip17};
        let (vrid, family, interface, unicast, src, group) = self.router_key();
        let mut name = [0u8; 16];
        let n = interface.len().min(16);
        name[..n].copy_from_slice(&interface.as_bytes()[..n]);
        let (reason, reason_from, reason_priority) = match self.reason {
            Reason::HigherPriority { from, priority } => (255, Some(from), priority),
            r => (REASONS.iter().position(|x| *x == r).unwrap_or(0) as u8, None, 0),
        };
        // 0 is never a time: CLOCK_MONOTONIC is past boot.
        let t = |t: Option<Instant>| t.map_or(0, |t| t.as_micros().max(1));
        let s = &self.stats;
        let mut counters = [0u64; COUNTERS];
        let named = [
            s.master_transitions,
            s.adverts_rcvd,
            s.adverts_sent,
            s.pri_zero_rcvd,
            s.pri_zero_sent,
            s.send_failures,
            s.release_master,
            s.rcvd_pseudo_header_csum,
            s.rcvd_rfc9568_csum,
        ];
        for (c, v) in counters.iter_mut().zip(named.into_iter().chain(s.errors)) {
            *c = v;
        }
        crate::core::reload::InstanceSnapshot {
            times: [
                self.since.as_micros(),
                self.master_adver_int.as_micros(),
                t(self.master_seen),
                t(self.down_at),
                t(self.advert_at),
                t(self.garp_refresh_at),
            ],
            counters,
            vips_held: (0..self.vip_ifaces.len()).filter(|&k| self.vip_present(k)).count() as u32,
            vrid,
            family: if family == Family::V4 { 4 } else { 6 },
            unicast: u8::from(unicast),
            state: STATES.iter().position(|x| *x == self.state).unwrap_or(0) as u8,
            reason,
            reason_priority,
            base_priority: self.base_priority,
            master_priority: self.master.map_or(0, |m| m.1),
            src: ip17(src),
            group: ip17(Some(group)),
            master: ip17(self.master.map(|m| m.0)),
            reason_from: ip17(reason_from),
            interface: name,
        }
    }

    /// After an upgrade: carry on as the previous binary's instance `s`
    /// was, without a state change (no notify). Unlike a reload's resume,
    /// a master sends no new GARP burst (nothing moved: the addresses never
    /// left) but advertises at once and re-adds its addresses (present ones
    /// stay). A backup keeps the master it follows; its Master_Down timer
    /// runs at least a full interval from now, since the adverts that came
    /// during the `execve` wait unread in the inherited socket.
    pub(in crate::core) fn resume_snapshot(
        &mut self,
        now: Instant,
        s: &crate::core::reload::InstanceSnapshot,
        fx: &mut Effects,
    ) {
        use crate::core::reload::{REASONS, STATES, from17};
        let t = |v: u64| (v != 0).then(|| Instant::from_micros(v));
        let [since, adver_int, seen, down, _, refresh] = s.times;
        let mut values = s.counters.into_iter();
        let st = &mut self.stats;
        for c in [
            &mut st.master_transitions,
            &mut st.adverts_rcvd,
            &mut st.adverts_sent,
            &mut st.pri_zero_rcvd,
            &mut st.pri_zero_sent,
            &mut st.send_failures,
            &mut st.release_master,
            &mut st.rcvd_pseudo_header_csum,
            &mut st.rcvd_rfc9568_csum,
        ] {
            *c = values.next().unwrap_or(0);
        }
        for (e, v) in st.errors.iter_mut().zip(values) {
            *e = v;
        }
        self.since = Instant::from_micros(since);
        self.reason = match (s.reason, from17(&s.reason_from)) {
            (255, Some(from)) => Reason::HigherPriority { from, priority: s.reason_priority },
            (r, _) => *REASONS.get(usize::from(r)).unwrap_or(&Reason::Startup),
        };
        self.base_priority = s.base_priority;
        match STATES.get(usize::from(s.state)) {
            Some(State::Master) => {
                self.state = State::Master;
                self.master_adver_int = self.cfg.advert_int;
                self.master = None;
                self.down_at = None;
                self.preempt_until = None;
                self.send_advert(self.effective_priority, fx);
                fx.push(Effect::AddVips { inst: self.id });
                let every = self.cfg.garp.master_refresh;
                self.garp_refresh_at = (!every.is_zero()).then(|| t(refresh).unwrap_or(now + every));
                self.advert_at = Some(now + self.cfg.advert_int);
            }
            Some(State::Backup) => {
                self.state = State::Backup;
                self.master = from17(&s.master).map(|a| (a, s.master_priority));
                self.master_seen = t(seen);
                self.master_adver_int = crate::time::Duration::from_micros(adver_int);
                let fresh = now + self.master_down();
                self.down_at = Some(t(down).filter(|&t| t > fresh).unwrap_or(fresh));
            }
            _ => {}
        }
    }

    /// Priority 0 and addresses removed, for a master replaced by a reload
    /// that cannot carry on.
    pub(in crate::core) fn release(&mut self, fx: &mut Effects) {
        self.send_advert(0, fx);
        fx.push(Effect::RemoveVips { inst: self.id });
    }

    fn enter_backup(&mut self, now: Instant, from: State, reason: Reason, fx: &mut Effects) {
        self.preempt_until = None;
        self.want_master = false;
        if matches!(from, State::Init | State::Fault) {
            self.master_adver_int = self.cfg.advert_int;
            self.master = None;
        }
        let wait = match reason {
            // Re-take the VIP after Skew unless a peer wins (§2.3).
            Reason::VipDeleted => self.skew(),
            // An owner leaving Fault waits one advert plus Skew (§2.3).
            Reason::FaultCleared if self.effective_priority == 255 => self.cfg.advert_int + self.skew(),
            _ => self.master_down(),
        };
        self.down_at = Some(now + wait);
        self.down_cause = Reason::MasterDown;
        if from == State::Fault && self.cfg.is_unicast() && self.cfg.unicast_fault_announce {
            fx.push(Effect::AnnounceSource { inst: self.id });
        }
    }

    fn stop_timers(&mut self) {
        self.down_at = None;
        self.advert_at = None;
        self.preempt_until = None;
        self.garp_second_at = None;
        self.garp_refresh_at = None;
        self.garp_lower_at = None;
        self.want_master = false;
        self.master = None;
    }

    /// Shutdown: a master sends priority 0 and releases its addresses; every
    /// instance reports STOP.
    pub(in crate::core) fn stop(&mut self, now: Instant, release_vips: bool, fx: &mut Effects) {
        let from = self.state;
        if from == State::Master {
            self.leave_master(Reason::Shutdown, release_vips, fx);
        }
        self.awaiting_trackers = false;
        self.state = State::Init;
        self.reason = Reason::Shutdown;
        self.send_fault_until = None;
        self.since = now;
        self.stop_timers();
        if from != State::Init {
            fx.push(Effect::StateChange {
                inst: self.id,
                from,
                to: State::Init,
                reason: Reason::Shutdown,
                notify: false,
            });
            fx.push(Effect::Notify { inst: self.id, state: NotifyState::Stop });
        }
    }
}
