//! What counts as evidence for the instance's conditions, and their
//! timers: split brain from lower-priority adverts in a row (master), from
//! two masters alternating (backup) or from another link-layer address
//! claiming a VIP (master); peer mismatch and VRID collision from what
//! `rx` found in an advert; peer silence from the unicast peers' last
//! packets. Also the backup's reports: an advert of its own, at a priority
//! below the master's, so a master whose adverts drifted from the backup's
//! configuration (or a unicast master waiting to hear its peer) learns of
//! it — VRRP gives a backup no other voice.

use core::net::IpAddr;

use super::Instance;
use crate::core::conditions::{Cleared, Condition, Drift, Evidence};
use crate::core::effects::{Effect, Effects};
use crate::core::state::State;
use crate::core::timing;
use crate::time::{Duration, Instant};

/// Split-brain evidence needed in a row: a start or a preemption gives
/// one (the old master may send once more before it hears the new one).
const SPLIT_CHAIN: u8 = 3;

/// How long split brain raised by an address claim lasts without another:
/// claims come in GARP rounds, repeated after `garp_lower_prio_delay` and
/// `garp_master_delay` (5 s each by default).
const CLAIM_HOLD: Duration = Duration::from_secs(11);

/// Peer mismatch and VRID collision clear after this many Master_Down
/// intervals without evidence (and not before `DRIFT_HOLD_MIN`); a backup
/// reports every `REPORT_MD` intervals but at most once per `REPORT_MIN`
/// (presence reports: three per `peer_silent_after`, opted into for vipd
/// peers).
/// The report period is at least twice the split-brain hold, so reports
/// never chain into split-brain evidence at the master, and the floor
/// keeps a keepalived master, which logs every advert it drops, from
/// logging many lines a second at short intervals.
const DRIFT_HOLD_MD: u64 = 6;
const DRIFT_HOLD_MIN: Duration = Duration::from_millis(3500);
const REPORT_MD: u64 = 2;
const REPORT_MIN: Duration = Duration::from_secs(1);

/// The shortest `peer_silent_after`, in Master_Down intervals: more than
/// three report periods.
const SILENT_MIN_MD: u64 = 8;

impl Instance {
    /// Master_Down at our own interval and priority: the unit of the
    /// condition holds.
    fn own_master_down(&self) -> Duration {
        self.master_down_at(self.cfg.advert_int)
    }

    fn master_down_at(&self, int: Duration) -> Duration {
        timing::master_down(self.cfg.version, self.effective_priority, int, self.cfg.down_timer_adverts)
    }

    /// The timers of the conditions: holds, a pending claim, reports, and
    /// a unicast peer's silence.
    pub(in crate::core) fn condition_deadline(&self) -> Option<Instant> {
        [self.conditions.next_deadline(), self.silence_deadline()].into_iter().flatten().min()
    }

    /// One piece of evidence of a second master, from an advert with
    /// `interval`. Raised after [`SPLIT_CHAIN`] pieces, each within a
    /// Master_Down of the one before and counted at most once per half
    /// interval.
    pub(in crate::core) fn split_evidence(
        &mut self,
        now: Instant,
        evidence: Evidence,
        interval: Duration,
        fx: &mut Effects,
    ) {
        let int = self.cfg.advert_int.max(interval);
        let hold = self.master_down_at(int);
        let half = Duration::from_micros(int.as_micros() / 2);
        let c = &mut self.conditions;
        match c.chain_at {
            Some(t) if now < t + hold => {
                if now >= t + half {
                    c.chain = c.chain.saturating_add(1);
                    c.chain_at = Some(now);
                }
            }
            _ => {
                c.chain = 1;
                c.chain_at = Some(now);
            }
        }
        if c.chain >= SPLIT_CHAIN || c.is_active(Condition::SplitBrain) {
            c.raise(self.id, Condition::SplitBrain, now, evidence, Some(hold), fx);
        }
    }

    /// Another link-layer address claimed `addr` while we are master:
    /// checked two intervals later.
    pub(in crate::core) fn note_claim(&mut self, now: Instant, addr: IpAddr, hw: [u8; 6]) {
        if self.conditions.claim.is_none() {
            let at = now + self.cfg.advert_int.saturating_mul(2);
            self.conditions.claim = Some((at, addr, hw));
        }
    }

    fn drift_hold(&self) -> Duration {
        self.own_master_down().saturating_mul(DRIFT_HOLD_MD).max(DRIFT_HOLD_MIN)
    }

    /// A peer's adverts differ from our configuration.
    pub(in crate::core) fn drift_evidence(&mut self, now: Instant, from: IpAddr, drift: Drift, fx: &mut Effects) {
        let hold = self.drift_hold();
        let ev = Evidence::Mismatch { from, drift };
        self.conditions.raise(self.id, Condition::PeerMismatch, now, ev, Some(hold), fx);
        // A backup tells the master at once, then every report period.
        if self.state == State::Backup && self.conditions.report_at.is_none() {
            self.conditions.report_at = Some(now);
        }
    }

    /// A backup accepted its master's advert: with `peer_silent_after` in
    /// unicast, the master must hear from us, first at once.
    pub(in crate::core) fn master_heard(&mut self, now: Instant) {
        let presence = self.cfg.is_unicast() && !self.cfg.peer_silent_after.is_zero();
        if presence && self.state == State::Backup && self.conditions.report_at.is_none() {
            self.conditions.report_at = Some(now);
        }
    }

    /// An advert from `from` matches our configuration: a mismatch it
    /// raised is over.
    pub(in crate::core) fn drift_gone(&mut self, from: IpAddr, fx: &mut Effects) {
        let c = &mut self.conditions;
        if matches!(c.evidence(Condition::PeerMismatch), Some(Evidence::Mismatch { from: f, .. }) if f == from) {
            c.clear(self.id, Condition::PeerMismatch, Cleared::Matches, fx);
        }
    }

    /// A peer advertises our VRID with none of our addresses.
    pub(in crate::core) fn collision_evidence(&mut self, now: Instant, ev: Evidence, fx: &mut Effects) {
        let hold = self.drift_hold();
        self.conditions.raise(self.id, Condition::VridCollision, now, ev, Some(hold), fx);
    }

    /// A packet came from `src`: if it is a unicast peer, it is not silent.
    pub(in crate::core) fn heard_from(&mut self, now: Instant, src: IpAddr, fx: &mut Effects) {
        let Some(k) = self.cfg.unicast_peers.iter().position(|p| p.addr == src) else { return };
        if let Some(h) = self.conditions.heard.get_mut(k) {
            *h = Some(now);
        }
        let c = &mut self.conditions;
        if matches!(c.evidence(Condition::PeerSilent), Some(Evidence::Silent { peer, .. }) if peer == src) {
            c.clear(self.id, Condition::PeerSilent, Cleared::Heard, fx);
        }
    }

    /// A state change ends the evidence of the state left: split brain
    /// (ours to see only as master or backup), silence (a master's), a
    /// pending claim and a backup's reports.
    pub(in crate::core) fn conditions_left(&mut self, from: State, fx: &mut Effects) {
        let c = &mut self.conditions;
        c.clear(self.id, Condition::SplitBrain, Cleared::StateChanged, fx);
        c.chain = 0;
        c.chain_at = None;
        c.claim = None;
        if from == State::Master {
            c.clear(self.id, Condition::PeerSilent, Cleared::StateChanged, fx);
        }
        if from == State::Backup {
            c.report_at = None;
        }
    }

    /// When a unicast peer becomes silent for `peer_silent_after` while we
    /// are master (not while already raised: only hearing it clears it).
    fn silence_deadline(&self) -> Option<Instant> {
        // Cheap tests first: this runs for every instance on every wakeup.
        if self.cfg.peer_silent_after.is_zero()
            || self.state != State::Master
            || self.conditions.is_active(Condition::PeerSilent)
        {
            return None;
        }
        let after = self.silent_after();
        let heard = self.conditions.heard.iter();
        heard.map(|h| h.map_or(self.since, |t| t.max(self.since)) + after).min()
    }

    /// `peer_silent_after`, but at least [`SILENT_MIN_MD`] Master_Down
    /// intervals, so a backup's presence reports (every third of it, at
    /// least `REPORT_MD` intervals apart) always arrive in time; 0 = off.
    fn silent_after(&self) -> Duration {
        let after = self.cfg.peer_silent_after;
        if after.is_zero() { after } else { after.max(self.own_master_down().saturating_mul(SILENT_MIN_MD)) }
    }

    /// Runs the condition timers due at `now`.
    pub(in crate::core) fn condition_timers(&mut self, now: Instant, fx: &mut Effects) {
        for cond in Condition::ALL {
            if !self.conditions.expired(now).any(|c| c == cond) {
                continue;
            }
            let was = self.conditions.clear(self.id, cond, Cleared::Quiet, fx);
            // The second master is gone and we stayed: clients and
            // switches may still point at it, so announce at once.
            if was && cond == Condition::SplitBrain && self.state == State::Master {
                fx.push(Effect::Announce { inst: self.id, rounds: self.cfg.garp.master_repeat.max(1) });
            }
        }
        if let Some((_, addr, hw)) = self.conditions.claim.filter(|&(t, _, _)| t <= now) {
            self.conditions.claim = None;
            if self.state == State::Master {
                let hold = CLAIM_HOLD.max(self.own_master_down());
                let ev = Evidence::Claimed { addr, hw };
                self.conditions.raise(self.id, Condition::SplitBrain, now, ev, Some(hold), fx);
            }
        }
        if self.conditions.report_at.is_some_and(|t| t <= now) {
            self.report(now, fx);
        }
        if self.silence_deadline().is_some_and(|t| t <= now) {
            let since = self.since;
            let quiet = |h: &Option<Instant>| now.saturating_since(h.map_or(since, |t| t.max(since)));
            let after = self.silent_after();
            let peers = self.cfg.unicast_peers.iter().zip(&self.conditions.heard);
            if let Some((p, q)) = peers.map(|(p, h)| (p.addr, quiet(h))).find(|&(_, q)| q >= after) {
                let ev = Evidence::Silent { peer: p, quiet: q };
                self.conditions.raise(self.id, Condition::PeerSilent, now, ev, None, fx);
            }
        }
    }

    /// A backup's report: its own advert, at a priority below the master's
    /// so it can never take over or preempt, sent while its configuration
    /// and the master's adverts differ, or (unicast, with
    /// `peer_silent_after`) so the master hears its peer at all.
    fn report(&mut self, now: Instant, fx: &mut Effects) {
        let mismatch = self.conditions.is_active(Condition::PeerMismatch);
        let presence = self.cfg.is_unicast() && !self.cfg.peer_silent_after.is_zero();
        let (State::Backup, Some((_, master_prio))) = (self.state, self.master) else {
            self.conditions.report_at = None;
            return;
        };
        if !mismatch && !presence {
            self.conditions.report_at = None;
            return;
        }
        let prio = self.effective_priority.min(master_prio.saturating_sub(1));
        if prio > 0 {
            self.send_advert(prio, fx);
        }
        let md = self.own_master_down();
        let every = if presence {
            // Three reports per silence period (a vipd peer's: no floor).
            md.saturating_mul(REPORT_MD).max(Duration::from_micros(self.silent_after().as_micros() / 3))
        } else {
            md.saturating_mul(REPORT_MD).max(REPORT_MIN)
        };
        self.conditions.report_at = Some(now + every);
    }
}
