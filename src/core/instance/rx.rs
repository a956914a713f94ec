//! A received advert at the instance: the instance checks of
//! keepalived-reference §2.7 (source, TTL, version, authentication,
//! interval, address list), counters and the once-per-peer checksum-form
//! log, and the Backup and Master answers of RFC 9568 §6.4 with keepalived's
//! preemption and lower-priority rules. Finding the instance and sync-group
//! consequences belong to the engine.

use core::net::IpAddr;

use super::{FORM_PEERS, Instance};
use crate::core::conditions::{Drift, Evidence};
use crate::core::effects::{Effect, Effects, LogEvent};
use crate::core::events::RxAdvert;
use crate::core::state::{Reason, State};
use crate::time::{Centis, Duration, Instant, Secs};
use crate::wire::WireError;
use crate::wire::vrrp::{Addrs, Advert, Auth, ChecksumForm, Interval, Version};

/// New peers' checksum forms are logged at most this often per instance.
const FORM_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// What the instance checks make of an advert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::core) enum Verdict {
    /// Elect with it; what differs from our configuration (empty: nothing).
    Accept(Drift),
    /// Drop and count it.
    Drop(WireError),
    /// Drop and count it; the peer's configuration drifted from ours.
    DropDrift(WireError, Drift),
    /// Another virtual router on our VRID (no address in common): drop,
    /// count as an address-list error.
    Collision { count: u16, first: Option<IpAddr> },
}

/// What a master did with a valid advert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::core) enum MasterRx {
    /// Stayed master (priority 0 answered, or our own advert).
    Stay,
    /// Stayed master over a lower-priority sender (and announced).
    Lower,
    /// Yielded to a better master.
    Yield,
}

impl Instance {
    /// The instance checks of keepalived-reference §2.7, in its order, after
    /// the wire checks have passed. Unlike keepalived, an advert whose
    /// address list overlaps ours is the same virtual router with drifted
    /// configuration: it takes part in the election (ignoring it is how
    /// keepalived ends up with two masters) and only raises
    /// `peer_mismatch`, as does a different interval, version or checksum
    /// form. A list disjoint from ours is another virtual router on our
    /// VRID: ignored, as keepalived does, raising `vrid_collision`. An
    /// authentication mismatch stays a drop (rejecting such adverts is the
    /// whole point of `auth_pass`) but raises `peer_mismatch` too.
    pub(in crate::core) fn validate(&self, rx: &RxAdvert<'_>) -> Verdict {
        let adv = &rx.advert;
        let multicast = rx.dst.is_multicast();
        // Step 9: multicast adverts for multicast instances, unicast for unicast.
        if multicast == self.cfg.is_unicast() {
            return Verdict::Drop(WireError::Source);
        }
        // Step 3 and 11: TTL 255 on multicast; unicast peers by their range.
        if multicast {
            if rx.ttl != 255 {
                return Verdict::Drop(WireError::IpTtl);
            }
        } else {
            let peer = self.cfg.unicast_peers.iter().find(|p| p.addr == rx.src);
            let ranged = self.cfg.unicast_peers.iter().any(|p| p.min_ttl != 0 || p.max_ttl != 255);
            match peer {
                // keepalived accepts any source unless told to check; vipd
                // checks by default, since unicast loses multicast's TTL-255
                // guard and anyone who can reach the address could send.
                None if !self.cfg.accept_any_unicast_src || self.cfg.check_unicast_src || ranged => {
                    return Verdict::Drop(WireError::Source);
                }
                Some(p) if rx.ttl < p.min_ttl || rx.ttl > p.max_ttl => {
                    return Verdict::Drop(WireError::IpTtl);
                }
                _ => {}
            }
        }
        // Steps 6 and 10: the address list, order-free. Backups may skip it
        // for the master they already follow (`skip_check_adv_addr`).
        let skip = self.state == State::Backup
            && self.cfg.skip_check_adv_addr
            && self.master.is_some_and(|(a, _)| a == rx.src);
        let mut drift = Drift::default();
        if !skip {
            let (common, extra, missing, count) = self.compare_addresses(&adv.addrs);
            if extra.is_some() || missing.is_some() {
                if common == 0 && count > 0 && !self.cfg.vips.is_empty() {
                    return Verdict::Collision { count, first: extra };
                }
                drift.what |= Drift::ADDRESSES;
                drift.count = count;
                drift.extra = extra;
                drift.missing = missing;
            }
        }
        // Step 4: version, v2 authentication and interval.
        if adv.version != self.cfg.version {
            drift.what |= Drift::VERSION;
            drift.version = Some(adv.version);
        }
        if self.cfg.version == Version::V2 || adv.version == Version::V2 {
            let auth = match (&self.cfg.auth, &adv.auth) {
                (Auth::None, Auth::None) => None,
                (ours @ Auth::Simple(_), theirs @ Auth::Simple(_)) => {
                    (!ours.matches(theirs)).then_some(WireError::AuthFailure)
                }
                _ => Some(WireError::AuthTypeMismatch),
            };
            if let Some(error) = auth {
                drift.what |= Drift::AUTH;
                return Verdict::DropDrift(error, drift);
            }
        }
        let theirs = Self::advert_interval(adv);
        if theirs != self.own_wire_interval() {
            drift.what |= Drift::INTERVAL;
            drift.interval = theirs;
        }
        if adv.version == Version::V3 && self.cfg.version == Version::V3 && rx.src.is_ipv4() {
            let ours = self.cfg.v3_ipv4_checksum;
            if rx.checksum.v3_ipv4() != ours {
                drift.what |= Drift::CHECKSUM;
                drift.form = Some(rx.checksum);
            }
        }
        Verdict::Accept(drift)
    }

    /// The interval our own adverts carry, in their wire unit.
    fn own_wire_interval(&self) -> Duration {
        match self.cfg.version {
            Version::V2 => Secs::from_duration_clamped(self.cfg.advert_int).to_duration(),
            Version::V3 => Centis::from_duration_clamped(self.cfg.advert_int).to_duration(),
        }
    }

    /// How an advert's address list compares with ours: addresses in
    /// common, one of theirs we lack, one of ours they lack, and how many
    /// they list.
    fn compare_addresses(&self, addrs: &Addrs<'_>) -> (usize, Option<IpAddr>, Option<IpAddr>, u16) {
        fn cmp<const N: usize>(ours: &[[u8; N]], theirs: &[[u8; N]]) -> (usize, Option<[u8; N]>, Option<[u8; N]>) {
            let common = theirs.iter().filter(|a| ours.contains(a)).count();
            let extra = theirs.iter().find(|a| !ours.contains(a)).copied();
            let missing = ours.iter().find(|a| !theirs.contains(a)).copied();
            (common, extra, missing)
        }
        match addrs {
            Addrs::V4(a) => {
                let (c, e, m) = cmp(&self.addrs4, a);
                let ip = |x: [u8; 4]| IpAddr::from(x);
                (c, e.map(ip), m.map(ip), a.len() as u16)
            }
            Addrs::V6(a) => {
                let (c, e, m) = cmp(&self.addrs6, a);
                let ip = |x: [u8; 16]| IpAddr::from(x);
                (c, e.map(ip), m.map(ip), a.len() as u16)
            }
        }
    }

    /// Counters and the once-per-peer checksum-form log of an accepted advert.
    pub(in crate::core) fn note_accepted(&mut self, now: Instant, rx: &RxAdvert<'_>, fx: &mut Effects) {
        self.stats.adverts_rcvd += 1;
        if rx.advert.priority == 0 {
            self.stats.pri_zero_rcvd += 1;
        }
        if rx.advert.version == Version::V3 && rx.src.is_ipv4() {
            self.stats.count_checksum_form(rx.checksum);
            self.note_form(now, rx.src, rx.checksum, fx);
        }
    }

    /// Logs a peer's checksum form the first time it is seen (or when it
    /// changes), for up to [`FORM_PEERS`] peers at once and at most once a
    /// second: alternating sources must not turn it into a line per packet.
    fn note_form(&mut self, now: Instant, src: IpAddr, form: ChecksumForm, fx: &mut Effects) {
        if self.forms.contains(&Some((src, form))) {
            return;
        }
        if self.form_logged_at.is_some_and(|t| now < t + FORM_LOG_INTERVAL) {
            return;
        }
        self.form_logged_at = Some(now);
        // Replace this source's old form, else the oldest entry.
        let slot = self.forms.iter().position(|f| f.is_some_and(|(a, _)| a == src)).unwrap_or(FORM_PEERS - 1);
        self.forms[..=slot].rotate_right(1);
        self.forms[0] = Some((src, form));
        fx.push(Effect::Log(LogEvent::ChecksumForm { inst: self.id, from: src, form }));
    }

    /// Whether the master may answer a received advert with one of its own
    /// now: once per advert interval at most (keepalived answers every
    /// packet, which turns a flood into a flood of our adverts and GARPs).
    fn may_answer(&mut self, now: Instant) -> bool {
        if self.answered_at.is_some_and(|t| now < t + self.cfg.advert_int) {
            return false;
        }
        self.answered_at = Some(now);
        true
    }

    fn advert_interval(adv: &Advert<'_>) -> Duration {
        match adv.interval {
            Interval::V2(s) => s.to_duration(),
            Interval::V3(c) => c.to_duration(),
        }
    }

    /// RFC 9568 §6.4.2 (Backup) with keepalived's `nopreempt` and
    /// `preempt_delay` (keepalived-reference §2.3–2.4).
    pub(in crate::core) fn backup_rx(&mut self, now: Instant, rx: &RxAdvert<'_>, fx: &mut Effects) {
        let prio = rx.advert.priority;
        if prio == 0 {
            // The master is leaving: take over after Skew alone.
            self.down_at = Some(now + self.skew());
            self.down_cause = Reason::PriorityZero;
            return;
        }
        // A second router advertising while the master we follow still
        // does: two masters (a start or a preemption gives one such advert;
        // `split_evidence` wants several in a row).
        if let Some((m, _)) = self.master {
            let fresh = self.master_seen.is_some_and(|t| now < t + self.master_down());
            if m != rx.src && fresh {
                let ev = Evidence::TwoMasters { first: m, second: rx.src };
                self.split_evidence(now, ev, Self::advert_interval(&rx.advert), fx);
            }
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
            // v3 adopts the master's interval (RFC 9568 §6.4.2); vipd does
            // in v2 too, where it can only differ from ours when the
            // configurations drifted: timing out between a slower master's
            // adverts would make a second master.
            self.master_adver_int = Self::advert_interval(&rx.advert);
            self.master = Some((rx.src, prio));
            self.master_seen = Some(now);
            self.master_heard(now);
            self.down_at = Some(now + self.master_down());
            self.down_cause = Reason::MasterDown;
            self.want_master = false;
        } else {
            // Lower priority and we may preempt: discard, leave the timer
            // running, take over when it fires.
            self.down_cause = Reason::Preempt;
            // But no later than one Master_Down of the interval this sender
            // uses: the timer may run on an interval adopted from an earlier
            // advert (a spoofed one claiming 40 s would hold us back for
            // two minutes) while a lower priority is what is sent now.
            let int =
                if self.cfg.version == Version::V3 { Self::advert_interval(&rx.advert) } else { self.cfg.advert_int };
            let cap = now + crate::core::timing::master_down(self.cfg.version, ours, int, self.cfg.down_timer_adverts);
            if self.down_at.is_none_or(|d| d > cap) {
                self.down_at = Some(cap);
            }
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
    pub(in crate::core) fn master_rx(
        &mut self,
        now: Instant,
        rx: &RxAdvert<'_>,
        ours_addr: Option<IpAddr>,
        fx: &mut Effects,
    ) -> MasterRx {
        let prio = rx.advert.priority;
        if prio == 0 {
            if self.may_answer(now) {
                self.send_advert(self.effective_priority, fx);
                self.advert_at = Some(now + self.cfg.advert_int);
            }
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
            // A router that should be our backup advertises: it does not
            // hear us (or it is a backup's report; those never come in a
            // row).
            let ev = Evidence::LowerMaster { from: rx.src, priority: prio };
            self.split_evidence(now, ev, Self::advert_interval(&rx.advert), fx);
            // Answered (log line, notify, advert, GARPs) once per interval;
            // the packets between change nothing we would say or do.
            if !self.may_answer(now) {
                return MasterRx::Stay;
            }
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
        self.master_adver_int = Self::advert_interval(&rx.advert);
        self.master = Some((rx.src, prio));
        self.master_seen = Some(now);
        self.transition(now, State::Backup, Reason::HigherPriority { from: rx.src, priority: prio }, true, fx);
        MasterRx::Yield
    }

    /// GARPs after hearing a lower-priority advert: a burst now and one more
    /// after `garp_lower_prio_delay`, so a backup that briefly became master
    /// does not leave stale ARP entries behind.
    /// At most one such burst per `garp_lower_prio_delay` (one advert
    /// interval when that is 0), however many lower-priority adverts come.
    pub(in crate::core) fn announce_lower_prio(&mut self, now: Instant, rounds: u8, fx: &mut Effects) {
        if rounds == 0 {
            return;
        }
        let spacing = self.cfg.garp.lower_prio_delay.max(self.cfg.advert_int);
        if self.lower_round_at.is_some_and(|t| now < t + spacing) {
            return;
        }
        self.lower_round_at = Some(now);
        fx.push(Effect::Announce { inst: self.id, rounds });
        let delay = self.cfg.garp.lower_prio_delay;
        if !delay.is_zero() {
            self.garp_lower_at = Some((now + delay, rounds));
        }
    }
}
