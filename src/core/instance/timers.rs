//! The instance's clocks: Master_Down_Timer and Skew, the master's advert
//! schedule (with the coalescing that lets de-phased masters share
//! wakeups), GARP repeats and refreshes, the run of failed sends and the
//! send-failure fault window it opens, and how a priority change moves a
//! running down timer (and asks for its notify). It computes deadlines
//! from `now` only and never changes state itself.

use super::Instance;
use crate::core::effects::{Effect, Effects, LogEvent, NotifyEvent};
use crate::core::state::{Reason, State};
use crate::core::timing;
use crate::time::{Duration, Instant};

impl Instance {
    pub(in crate::core) fn next_deadline(&self) -> Option<Instant> {
        [
            self.down_at,
            self.advert_at,
            self.garp_second_at,
            self.garp_refresh_at,
            self.garp_lower_at.map(|(t, _)| t),
            self.send_fault_until,
            self.condition_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(super) fn master_down(&self) -> Duration {
        timing::master_down(
            self.cfg.version,
            self.effective_priority,
            self.master_adver_int,
            self.cfg.down_timer_adverts,
        )
    }

    pub(super) fn skew(&self) -> Duration {
        timing::skew(self.cfg.version, self.effective_priority, self.master_adver_int)
    }

    /// Counts `count` sends in a row that went out (`ok`) or failed, and
    /// says whether the failures just reached [`SEND_FAILURES`] in a row.
    /// A send that went out ends the run; priority 0 goes out while leaving
    /// anyway, so its failures do not count.
    pub(in crate::core) fn note_sent(&mut self, priority: u8, ok: bool, count: u16) -> bool {
        if ok {
            self.send_streak = 0;
            return false;
        }
        // Priority 0 goes out while leaving; failures reported while the
        // send-failure Fault runs belong to the run that started it.
        if priority == 0 || self.send_fault_until.is_some() {
            return false;
        }
        let before = self.send_streak;
        self.send_streak = before.saturating_add(u8::try_from(count).unwrap_or(u8::MAX));
        before < SEND_FAILURES && self.send_streak >= SEND_FAILURES
    }

    /// Starts a send-failure Fault of one Master_Down interval.
    pub(in crate::core) fn send_failed(&mut self, now: Instant) {
        self.stats.send_failures = self.stats.send_failures.saturating_add(1);
        // A new run starts after the Fault: sends failing again once back
        // as master must count to three again and fault again, not leave a
        // master nobody hears.
        self.send_streak = 0;
        self.send_fault_until = Some(now + self.master_down());
    }

    /// Takes the Master_Down_Timer if it has fired, returning why.
    pub(in crate::core) fn take_due_down_timer(&mut self, now: Instant) -> Option<Reason> {
        if self.state != State::Backup || self.down_at.is_none_or(|t| t > now) {
            return None;
        }
        self.down_at = None;
        Some(self.down_cause)
    }

    /// `vrrp_startup_delay`: a fresh Backup's first timer moves back by
    /// `delay` (keepalived 2.2 starts instances at once and only delays
    /// their timers); an owner that would have gone master at once waits
    /// exactly the delay.
    pub(in crate::core) fn delay_first_timer(&mut self, now: Instant, delay: Duration, owner: bool) {
        if self.state == State::Backup {
            self.down_at = Some(if owner { now + delay } else { self.down_at.unwrap_or(now) + delay });
        }
    }

    /// A sync group held us in Backup: wait a full interval again.
    pub(in crate::core) fn restart_down_timer(&mut self, now: Instant) {
        if self.state == State::Backup {
            self.down_at = Some(now + self.master_down());
        }
    }

    /// A master's advert, if due within `early` (its coalescing window, or
    /// a whole interval: now).
    pub(in crate::core) fn advert_timer(&mut self, now: Instant, early: Duration, fx: &mut Effects) {
        if self.state != State::Master {
            return;
        }
        let int = self.cfg.advert_int;
        if let Some(t) = self.advert_at.filter(|&t| t <= now + early) {
            self.send_advert(self.effective_priority, fx);
            self.advert_at = Some(if t > now {
                // Due soon: sent with this wakeup, and from now on in its
                // phase. Instances that became master at different times
                // then share wakeups instead of each costing its own (50
                // instances at 10 ms: at most 4 wakeups per interval rather
                // than 50). Early is harmless: a backup only needs an advert
                // at least every interval.
                now + int
            } else {
                // Keep the phase; if the loop fell behind by a whole
                // interval, restart from now rather than burst to catch up.
                let next = t + int;
                if next > now { next } else { now + int }
            });
        }
    }

    /// Adverts and GARP schedules of a master.
    pub(in crate::core) fn master_timers(&mut self, now: Instant, fx: &mut Effects) {
        if self.state != State::Master {
            return;
        }
        self.advert_timer(now, advert_coalesce(self.cfg.advert_int), fx);
        if self.garp_second_at.is_some_and(|t| t <= now) {
            self.garp_second_at = None;
            fx.push(Effect::Announce { inst: self.id, rounds: self.cfg.garp.master_repeat });
        }
        if let Some(t) = self.garp_refresh_at.filter(|&t| t <= now) {
            let rounds = self.cfg.garp.master_refresh_repeat;
            if rounds > 0 {
                fx.push(Effect::Announce { inst: self.id, rounds });
            }
            let next = t + self.cfg.garp.master_refresh;
            self.garp_refresh_at = Some(if next > now { next } else { now + self.cfg.garp.master_refresh });
        }
        if let Some((_, rounds)) = self.garp_lower_at.filter(|&(t, _)| t <= now) {
            self.garp_lower_at = None;
            fx.push(Effect::Announce { inst: self.id, rounds });
        }
    }

    /// Applies a new effective priority. A running backup down timer moves
    /// by the change in Skew (keepalived-reference §2.2); a master's next
    /// advert carries the new value.
    pub(in crate::core) fn set_effective_priority(&mut self, prio: u8, fx: &mut Effects) {
        let old = self.effective_priority;
        if old == prio {
            return;
        }
        let old_skew = self.skew();
        self.effective_priority = prio;
        let new_skew = self.skew();
        if let Some(t) = self.down_at {
            self.down_at = Some(if new_skew >= old_skew {
                t + new_skew.saturating_sub(old_skew)
            } else {
                t - old_skew.saturating_sub(new_skew)
            });
        }
        if self.cfg.notify.priority_changes {
            // Before the log line, as drivers run it. MASTER_PRIORITY or
            // BACKUP_PRIORITY by the state the whole event leaves us in,
            // which `Engine::settle` writes in (or drops the notify when
            // that is neither).
            fx.push(Effect::NotifyEvent { inst: self.id, event: NotifyEvent::BackupPriority });
        }
        fx.push(Effect::Log(LogEvent::PriorityChanged { inst: self.id, from: old, to: prio }));
    }
}

/// Advert sends failing in a row before a master is taken out of the
/// election: a lost packet or two is no reason, a blocked path is.
pub(in crate::core) const SEND_FAILURES: u8 = 3;

/// How early a master's advert may go out to share a wakeup with other
/// timers: a quarter of its interval, so timers at least that far apart
/// keep their own wakeups and no gap ever exceeds the interval.
pub(in crate::core) const fn advert_coalesce(int: Duration) -> Duration {
    Duration::from_micros(int.as_micros() / 4)
}
