//! One VRRP instance: the RFC 9568 §6 state machine with keepalived's
//! extensions. Everything that crosses instances (sync groups, trackers,
//! demultiplexing) lives in the engine.

use core::net::IpAddr;

use super::effects::{Effect, Effects, LogEvent, NotifyState};
use super::events::RxAdvert;
use super::state::{Reason, State};
use super::stats::Stats;
use super::{GroupId, IfaceId, InstanceId, timing};
use crate::config::{Family, InstanceConfig};
use crate::time::{Centis, Duration, Instant, Secs};
use crate::wire::WireError;
use crate::wire::vrrp::{Addrs, Advert, Auth, ChecksumForm, Interval, Version};

/// What a master did with a valid advert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MasterRx {
    /// Stayed master (priority 0 answered, or our own advert).
    Stay,
    /// Stayed master over a lower-priority sender (and announced).
    Lower,
    /// Yielded to a better master.
    Yield,
}

#[derive(Debug)]
pub struct Instance {
    pub id: InstanceId,
    pub cfg: InstanceConfig,
    pub iface: IfaceId,
    pub group: Option<GroupId>,
    pub state: State,
    /// Why the current state was entered.
    pub reason: Reason,
    pub since: Instant,
    /// Configured priority; an owner is lowered to 254 when a second owner
    /// shows up (keepalived-reference §2.3).
    pub base_priority: u8,
    pub effective_priority: u8,
    /// RFC 9568 Master_Adver_Interval: adopted from the master's adverts in
    /// v3, our own `advert_int` otherwise.
    pub master_adver_int: Duration,
    /// Address and priority of the master whose adverts we last accepted.
    pub master: Option<(IpAddr, u8)>,
    pub stats: Stats,

    pub(super) want_master: bool,
    pub(super) track_ifaces: Vec<(IfaceId, i32, bool)>,
    /// Interface of each VIP then each excluded VIP, in config order.
    vip_ifaces: Vec<IfaceId>,
    addrs4: Vec<[u8; 4]>,
    addrs6: Vec<[u8; 16]>,
    down_at: Option<Instant>,
    /// The reason recorded if the down timer fires.
    down_cause: Reason,
    advert_at: Option<Instant>,
    preempt_until: Option<Instant>,
    garp_second_at: Option<Instant>,
    garp_refresh_at: Option<Instant>,
    garp_lower_at: Option<(Instant, u8)>,
    /// Fault until then: our adverts could not be sent.
    pub(super) send_fault_until: Option<Instant>,
    /// Started, but held in Init until its unweighted check scripts report
    /// (keepalived's `num_script_init`): no state, no notify, no group state.
    pub(super) awaiting_trackers: bool,
    /// Source and checksum form of the last accepted advert, so a change of
    /// peer or form is logged once rather than per packet.
    last_form: Option<(IpAddr, ChecksumForm)>,
}

impl Instance {
    pub(super) fn new(
        id: InstanceId,
        cfg: InstanceConfig,
        iface: IfaceId,
        track_ifaces: Vec<(IfaceId, i32, bool)>,
        vip_ifaces: Vec<IfaceId>,
    ) -> Instance {
        let mut addrs4 = Vec::new();
        let mut addrs6 = Vec::new();
        for v in &cfg.vips {
            match v.addr {
                IpAddr::V4(a) if cfg.family == Family::V4 => addrs4.push(a.octets()),
                IpAddr::V6(a) if cfg.family == Family::V6 => addrs6.push(a.octets()),
                // Mixed families are a config error; the wrong-family entry
                // simply is not advertised.
                _ => {}
            }
        }
        Instance {
            id,
            iface,
            group: None,
            state: State::Init,
            reason: Reason::Startup,
            since: Instant::ZERO,
            base_priority: cfg.priority,
            effective_priority: cfg.priority,
            master_adver_int: cfg.advert_int,
            master: None,
            stats: Stats::default(),
            want_master: false,
            track_ifaces,
            vip_ifaces,
            addrs4,
            addrs6,
            down_at: None,
            down_cause: Reason::MasterDown,
            advert_at: None,
            preempt_until: None,
            garp_second_at: None,
            garp_refresh_at: None,
            garp_lower_at: None,
            send_fault_until: None,
            awaiting_trackers: false,
            last_form: None,
            cfg,
        }
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// When the Master_Down_Timer fires, if running.
    pub fn down_deadline(&self) -> Option<Instant> {
        self.down_at
    }

    /// When the next advert is due, if master.
    pub fn advert_deadline(&self) -> Option<Instant> {
        self.advert_at
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        [
            self.down_at,
            self.advert_at,
            self.garp_second_at,
            self.garp_refresh_at,
            self.garp_lower_at.map(|(t, _)| t),
            self.send_fault_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(super) fn advert(&self, priority: u8) -> Advert<'_> {
        let (interval, auth) = match self.cfg.version {
            Version::V2 => (Interval::V2(Secs::from_duration_clamped(self.cfg.advert_int)), self.cfg.auth),
            Version::V3 => (Interval::V3(Centis::from_duration_clamped(self.cfg.advert_int)), Auth::None),
        };
        let addrs = match self.cfg.family {
            Family::V4 => Addrs::V4(&self.addrs4),
            Family::V6 => Addrs::V6(&self.addrs6),
        };
        Advert { version: self.cfg.version, vrid: self.cfg.vrid, priority, interval, auth, addrs }
    }

    pub(super) fn owns_vip(&self, addr: IpAddr) -> bool {
        self.cfg.vips.iter().chain(&self.cfg.excluded_vips).any(|v| v.addr == addr)
    }

    /// Whether deleting `addr` from `iface` must make this master step down.
    pub(super) fn tracks_vip(&self, iface: IfaceId, addr: IpAddr) -> bool {
        self.cfg
            .vips
            .iter()
            .chain(&self.cfg.excluded_vips)
            .zip(&self.vip_ifaces)
            .any(|(v, &f)| v.addr == addr && f == iface && !v.no_track)
    }

    /// The multicast group of the instance's adverts (RFC 9568 §5.1.1.2,
    /// §5.1.2.2 unless `mcast_dst_ip` says otherwise).
    pub fn group_addr(&self) -> IpAddr {
        self.cfg.mcast_group.unwrap_or(match self.cfg.family {
            Family::V4 => IpAddr::V4(crate::wire::vrrp::MULTICAST_V4),
            Family::V6 => IpAddr::V6(crate::wire::vrrp::MULTICAST_V6),
        })
    }

    pub(super) fn has_peer(&self, addr: IpAddr) -> bool {
        self.cfg.unicast_peers.iter().any(|p| p.addr == addr)
    }

    fn send_advert(&mut self, priority: u8, fx: &mut Effects) {
        self.stats.adverts_sent += 1;
        if priority == 0 {
            self.stats.pri_zero_sent += 1;
        }
        fx.push(Effect::SendAdvert { inst: self.id, priority });
    }

    fn master_down(&self) -> Duration {
        timing::master_down(
            self.cfg.version,
            self.effective_priority,
            self.master_adver_int,
            self.cfg.down_timer_adverts,
        )
    }

    fn skew(&self) -> Duration {
        timing::skew(self.cfg.version, self.effective_priority, self.master_adver_int)
    }

    /// The one place states change. Runs the exit actions of `self.state`,
    /// then the entry actions of `to`, and reports the change.
    pub(super) fn transition(&mut self, now: Instant, to: State, reason: Reason, notify: bool, fx: &mut Effects) {
        let from = self.state;
        if from == to {
            return;
        }
        if from == State::Master {
            self.leave_master(reason, true, fx);
        }
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

    /// Whether `other` (from the configuration before a reload) is the same
    /// virtual router: keepalived matches on VRID, family, interface,
    /// unicast or not, source and group — not on the name.
    pub(super) fn same_router(&self, other: &Instance) -> bool {
        let (a, b) = (&self.cfg, &other.cfg);
        a.vrid == b.vrid
            && a.family == b.family
            && a.interface == b.interface
            && a.is_unicast() == b.is_unicast()
            && a.src_addr == b.src_addr
            && self.group_addr() == other.group_addr()
    }

    /// After a reload: carry on as `old` was, without a state change (no
    /// notify). A master advertises and announces at once, and installs
    /// its addresses (those already present stay; the caller removed the
    /// ones the new configuration dropped); a backup keeps its timer and
    /// the master it follows.
    pub(super) fn resume(&mut self, now: Instant, old: &Instance, fx: &mut Effects) {
        self.stats = old.stats;
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
                self.master_adver_int =
                    if self.cfg.version == Version::V3 { old.master_adver_int } else { self.cfg.advert_int };
                self.down_cause = old.down_cause;
                self.down_at = Some(old.down_at.unwrap_or(now + self.master_down()));
            }
            State::Fault | State::Init => {}
        }
    }

    /// Starts a send-failure Fault of one Master_Down interval.
    pub(super) fn send_failed(&mut self, now: Instant) {
        self.stats.send_failures = self.stats.send_failures.saturating_add(1);
        self.send_fault_until = Some(now + self.master_down());
    }

    /// Priority 0 and addresses removed, for a master replaced by a reload
    /// that cannot carry on.
    pub(super) fn release(&mut self, fx: &mut Effects) {
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
    pub(super) fn stop(&mut self, now: Instant, release_vips: bool, fx: &mut Effects) {
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

    /// Takes the Master_Down_Timer if it has fired, returning why.
    pub(super) fn take_due_down_timer(&mut self, now: Instant) -> Option<Reason> {
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
    pub(super) fn delay_first_timer(&mut self, now: Instant, delay: Duration, owner: bool) {
        if self.state == State::Backup {
            self.down_at = Some(if owner { now + delay } else { self.down_at.unwrap_or(now) + delay });
        }
    }

    /// A sync group held us in Backup: wait a full interval again.
    pub(super) fn restart_down_timer(&mut self, now: Instant) {
        if self.state == State::Backup {
            self.down_at = Some(now + self.master_down());
        }
    }

    /// Adverts and GARP schedules of a master.
    pub(super) fn master_timers(&mut self, now: Instant, fx: &mut Effects) {
        if self.state != State::Master {
            return;
        }
        let int = self.cfg.advert_int;
        if let Some(t) = self.advert_at.filter(|&t| t <= now + advert_coalesce(int)) {
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
    pub(super) fn set_effective_priority(&mut self, prio: u8, fx: &mut Effects) {
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
        fx.push(Effect::Log(LogEvent::PriorityChanged { inst: self.id, from: old, to: prio }));
    }

    /// The instance checks of keepalived-reference §2.7, in its order, after
    /// the wire checks have passed.
    pub(super) fn validate(&self, rx: &RxAdvert<'_>) -> Result<(), WireError> {
        let adv = &rx.advert;
        let multicast = rx.dst.is_multicast();
        // Step 9: multicast adverts for multicast instances, unicast for unicast.
        if multicast == self.cfg.is_unicast() {
            return Err(WireError::Source);
        }
        // Step 3 and 11: TTL 255 on multicast; unicast peers by their range.
        if multicast {
            if rx.ttl != 255 {
                return Err(WireError::IpTtl);
            }
        } else {
            let peer = self.cfg.unicast_peers.iter().find(|p| p.addr == rx.src);
            let ranged = self.cfg.unicast_peers.iter().any(|p| p.min_ttl != 0 || p.max_ttl != 255);
            match peer {
                None if self.cfg.check_unicast_src || ranged => return Err(WireError::Source),
                Some(p) if rx.ttl < p.min_ttl || rx.ttl > p.max_ttl => {
                    return Err(WireError::IpTtl);
                }
                _ => {}
            }
        }
        // Step 4: version, v2 authentication and interval.
        if adv.version != self.cfg.version {
            return Err(WireError::Version);
        }
        if self.cfg.version == Version::V2 {
            match (&self.cfg.auth, &adv.auth) {
                (Auth::None, Auth::None) => {}
                (ours @ Auth::Simple(_), theirs @ Auth::Simple(_)) => {
                    if !ours.matches(theirs) {
                        return Err(WireError::AuthFailure);
                    }
                }
                _ => return Err(WireError::AuthTypeMismatch),
            }
            // RFC 3768 §7.1: a v2 interval differing from ours is an error.
            // keepalived drops it without counting; vipd counts and logs it,
            // because the usual outcome is a second master.
            if let Interval::V2(s) = adv.interval {
                if s.to_duration() != self.cfg.advert_int {
                    return Err(WireError::Interval);
                }
            }
        }
        // Steps 6 and 10: the address list, order-free. Backups may skip it
        // for the master they already follow (`skip_check_adv_addr`).
        let skip = self.state == State::Backup
            && self.cfg.skip_check_adv_addr
            && self.master.is_some_and(|(a, _)| a == rx.src);
        if !skip && !self.same_addresses(&adv.addrs) {
            return Err(WireError::AddressList);
        }
        Ok(())
    }

    fn same_addresses(&self, addrs: &Addrs<'_>) -> bool {
        match addrs {
            Addrs::V4(a) => a.len() == self.addrs4.len() && self.addrs4.iter().all(|x| a.contains(x)),
            Addrs::V6(a) => a.len() == self.addrs6.len() && self.addrs6.iter().all(|x| a.contains(x)),
        }
    }

    /// Counters and the once-per-peer checksum-form log of an accepted advert.
    pub(super) fn note_accepted(&mut self, rx: &RxAdvert<'_>, fx: &mut Effects) {
        self.stats.adverts_rcvd += 1;
        if rx.advert.priority == 0 {
            self.stats.pri_zero_rcvd += 1;
        }
        if rx.advert.version == Version::V3 && rx.src.is_ipv4() {
            self.stats.count_checksum_form(rx.checksum);
            if self.last_form != Some((rx.src, rx.checksum)) {
                self.last_form = Some((rx.src, rx.checksum));
                fx.push(Effect::Log(LogEvent::ChecksumForm { inst: self.id, from: rx.src, form: rx.checksum }));
            }
        }
    }

    fn advert_interval(adv: &Advert<'_>) -> Duration {
        match adv.interval {
            Interval::V2(s) => s.to_duration(),
            Interval::V3(c) => c.to_duration(),
        }
    }

    /// RFC 9568 §6.4.2 (Backup) with keepalived's `nopreempt` and
    /// `preempt_delay` (keepalived-reference §2.3–2.4).
    pub(super) fn backup_rx(&mut self, now: Instant, rx: &RxAdvert<'_>, fx: &mut Effects) {
        let prio = rx.advert.priority;
        if prio == 0 {
            // The master is leaving: take over after Skew alone.
            self.down_at = Some(now + self.skew());
            self.down_cause = Reason::PriorityZero;
            return;
        }
        let ours = self.effective_priority;
        let mut accept = !self.cfg.preempt || prio >= ours;
        if prio >= ours {
            self.preempt_until = None;
        } else if self.cfg.preempt && !self.cfg.preempt_delay.is_zero() {
            let until = *self.preempt_until.get_or_insert_with(|| {
                let until = now + self.cfg.preempt_delay;
                fx.push(Effect::Log(LogEvent::PreemptDelayStarted { inst: self.id, until }));
                until
            });
            accept = now < until;
        }
        if accept {
            if self.cfg.version == Version::V3 {
                self.master_adver_int = Self::advert_interval(&rx.advert);
            }
            self.master = Some((rx.src, prio));
            self.down_at = Some(now + self.master_down());
            self.down_cause = Reason::MasterDown;
            self.want_master = false;
        } else {
            // Lower priority and we may preempt: discard, leave the timer
            // running, take over when it fires.
            self.down_cause = Reason::Preempt;
            fx.push(Effect::Log(LogEvent::LowerPriorityDiscarded {
                inst: self.id,
                from: rx.src,
                priority: prio,
                ours,
            }));
        }
    }

    /// RFC 9568 §6.4.3 (Active) with keepalived's answers to lower-priority
    /// adverts and owner conflicts (keepalived-reference §2.3).
    pub(super) fn master_rx(
        &mut self,
        now: Instant,
        rx: &RxAdvert<'_>,
        ours_addr: Option<IpAddr>,
        fx: &mut Effects,
    ) -> MasterRx {
        let prio = rx.advert.priority;
        if prio == 0 {
            self.send_advert(self.effective_priority, fx);
            self.advert_at = Some(now + self.cfg.advert_int);
            return MasterRx::Stay;
        }
        let ours_addr = ours_addr.unwrap_or(match rx.src {
            IpAddr::V4(_) => IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED),
        });
        if prio == self.effective_priority && rx.src == ours_addr {
            fx.push(Effect::Log(LogEvent::OwnAdvertSeen { inst: self.id, from: rx.src }));
            return MasterRx::Stay;
        }
        if prio == 255 && self.effective_priority == 255 {
            fx.push(Effect::Log(LogEvent::OwnerConflict { inst: self.id, from: rx.src }));
            self.base_priority = 254;
            self.set_effective_priority(254, fx);
        }
        let ours = self.effective_priority;
        if prio < ours || (prio == ours && rx.src < ours_addr) {
            fx.push(Effect::Log(LogEvent::MasterRxLowerPriority { inst: self.id, from: rx.src, priority: prio, ours }));
            if !self.cfg.lower_prio_no_advert {
                self.send_advert(ours, fx);
                self.advert_at = Some(now + self.cfg.advert_int);
            }
            let rounds = self.cfg.garp.lower_prio_repeat;
            self.announce_lower_prio(now, rounds, fx);
            return MasterRx::Lower;
        }
        if self.cfg.higher_prio_send_advert {
            self.send_advert(ours, fx);
        }
        if self.cfg.version == Version::V3 {
            self.master_adver_int = Self::advert_interval(&rx.advert);
        }
        self.master = Some((rx.src, prio));
        self.transition(now, State::Backup, Reason::HigherPriority { from: rx.src, priority: prio }, true, fx);
        MasterRx::Yield
    }

    /// GARPs after hearing a lower-priority advert: a burst now and one more
    /// after `garp_lower_prio_delay`, so a backup that briefly became master
    /// does not leave stale ARP entries behind.
    pub(super) fn announce_lower_prio(&mut self, now: Instant, rounds: u8, fx: &mut Effects) {
        if rounds == 0 {
            return;
        }
        fx.push(Effect::Announce { inst: self.id, rounds });
        let delay = self.cfg.garp.lower_prio_delay;
        if !delay.is_zero() {
            self.garp_lower_at = Some((now + delay, rounds));
        }
    }
}

/// How early a master's advert may go out to share a wakeup with other
/// timers: a quarter of its interval, so timers at least that far apart
/// keep their own wakeups and no gap ever exceeds the interval.
const fn advert_coalesce(int: Duration) -> Duration {
    Duration::from_micros(int.as_micros() / 4)
}
