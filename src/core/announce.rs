//! The announce queue: every GARP (IPv4) and unsolicited NA (IPv6) the
//! engine sends for its addresses, each given its turn when queued and
//! handed out as one [`Effect::AnnounceAddr`] when the turn comes.
//!
//! Turns are spaced per interface and family by `vrrp_garp_interval` /
//! `vrrp_gna_interval` (zero: back to back, so all due at once). An
//! instance's `Effect::Announce { rounds }` is expanded here round by round,
//! over its VIPs then excluded VIPs in config order, as keepalived sends
//! them; addresses an instance released leave the queue, so an address we
//! no longer hold is never announced. Due entries go out with the next
//! `Event::Timer` (`Engine::next_deadline` includes the queue), at most
//! [`DRAIN_MAX`] per call so that one event's effects stay bounded.
//!
//! The queue's storage is allocated at construction and never grows: when
//! it is full, what is due goes out at once, and an entry that still does
//! not fit is sent at once too, losing its spacing rather than its place.
//! It decides nothing about *when* an instance announces; that is the
//! instance's (`instance::timers`, `instance::transitions`, `instance::rx`).

use core::net::IpAddr;
use std::collections::VecDeque;

use super::{Effect, Effects, Engine, IfaceId, InstanceId};
use crate::time::{Duration, Instant};

/// Announcements kept waiting for their turn: at least this many, more
/// when the configuration can queue more at once (addresses × rounds), up
/// to [`QUEUE_LIMIT`]. A burst beyond the queue is sent at once, within
/// the event that caused it: 1,000 masters resumed by a reload, 5 rounds
/// each, were 5,000 sends in one go and held the loop for tens of ms.
pub(super) const QUEUE_MAX: usize = 4096;
pub(super) const QUEUE_LIMIT: usize = 65_536;

/// Announcements handed out per `Event::Timer` at most; the rest stay due
/// and the next deadline is now, so the driver calls again at once.
pub(super) const DRAIN_MAX: usize = 128;

/// One GARP or NA waiting for its turn.
#[derive(Clone, Copy, Debug)]
struct Pending {
    at: Instant,
    iface: IfaceId,
    addr: IpAddr,
}

#[derive(Debug)]
pub(super) struct AnnounceQueue {
    /// `vrrp_garp_interval`, `vrrp_gna_interval`.
    gap: [Duration; 2],
    /// Per interface: the earliest time of its next GARP (v4) and NA (v6).
    next_free: Vec<[Instant; 2]>,
    /// Sorted by time, then by the order queued.
    pending: VecDeque<Pending>,
    /// The most `pending` holds (its capacity, allocated at construction).
    cap: usize,
}

impl AnnounceQueue {
    /// A queue for `ifaces` interfaces holding up to `burst` entries
    /// (clamped to `QUEUE_MAX..=QUEUE_LIMIT`).
    pub(super) fn new(ifaces: usize, garp_interval: Duration, gna_interval: Duration, burst: usize) -> AnnounceQueue {
        let cap = burst.clamp(QUEUE_MAX, QUEUE_LIMIT);
        AnnounceQueue {
            gap: [garp_interval, gna_interval],
            next_free: vec![[Instant::ZERO; 2]; ifaces],
            pending: VecDeque::with_capacity(cap),
            cap,
        }
    }

    /// Gives one announcement of `addr` on `iface` its turn: the interface
    /// and family's next free time, or now.
    pub(super) fn schedule(&mut self, now: Instant, iface: IfaceId, addr: IpAddr, fx: &mut Effects) {
        let fam = usize::from(addr.is_ipv6());
        let Some(slots) = self.next_free.get_mut(usize::from(iface.0)) else { return };
        let at = slots[fam].max(now);
        let gap = self.gap[fam];
        if !gap.is_zero() {
            slots[fam] = at + gap;
        }
        if self.pending.len() >= self.cap {
            // Full: what is due now goes first, so the order holds.
            while self.pending.front().is_some_and(|p| p.at <= now) {
                if let Some(p) = self.pending.pop_front() {
                    fx.push_growing(Effect::AnnounceAddr { iface: p.iface, addr: p.addr });
                }
            }
        }
        if self.pending.len() < self.cap {
            let k = self.pending.partition_point(|p| p.at <= at);
            self.pending.insert(k, Pending { at, iface, addr });
        } else {
            // Still full of later turns: this one goes now, unspaced.
            fx.push_growing(Effect::AnnounceAddr { iface, addr });
        }
    }

    /// Drops the announcements of addresses that `held` says are released.
    pub(super) fn forget(&mut self, held: impl Fn(IpAddr) -> bool) {
        self.pending.retain(|p| !held(p.addr));
    }

    /// Shutdown: nothing more goes out (the turns of the interfaces are
    /// kept; a restart only announces after them).
    pub(super) fn clear(&mut self) {
        self.pending.clear();
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.pending.front().map(|p| p.at)
    }

    /// Hands out what is due, in turn order, at most [`DRAIN_MAX`].
    pub(super) fn drain_due(&mut self, now: Instant, fx: &mut Effects) {
        for _ in 0..DRAIN_MAX {
            match self.pending.front() {
                Some(p) if p.at <= now => {
                    fx.push(Effect::AnnounceAddr { iface: p.iface, addr: p.addr });
                    self.pending.pop_front();
                }
                _ => return,
            }
        }
    }
}

impl Engine {
    /// Expands an instance's `Effect::Announce` into the queue: `rounds`
    /// rounds, each over its VIPs then excluded VIPs (config order).
    pub(super) fn queue_announce(&mut self, now: Instant, inst: InstanceId, rounds: u8, fx: &mut Effects) {
        let Some(i) = self.instances.get(usize::from(inst.0)) else { return };
        for _ in 0..rounds {
            for (v, iface) in i.addresses() {
                self.announces.schedule(now, iface, v.addr, fx);
            }
        }
    }

    /// The instance released its addresses: none of them is announced.
    pub(super) fn forget_announces(&mut self, inst: InstanceId) {
        // Through the interfaces' address tables, not the instance's list:
        // a queue of thousands times an instance of thousands was a second
        // at real-time priority.
        let ifaces = &self.ifaces;
        self.announces.forget(|a| ifaces.iter().any(|f| f.vips_of(a).iter().any(|v| v.inst == inst)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    fn a4(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn a6(n: u16) -> IpAddr {
        IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, n])
    }

    /// Drains everything due at `now` (several calls if needed).
    fn due(q: &mut AnnounceQueue, now: Instant) -> Vec<(IfaceId, IpAddr)> {
        let mut out = Vec::new();
        loop {
            let mut fx = Effects::with_capacity(DRAIN_MAX);
            q.drain_due(now, &mut fx);
            if fx.is_empty() {
                return out;
            }
            out.extend(fx.iter().map(|e| match *e {
                Effect::AnnounceAddr { iface, addr } => (iface, addr),
                _ => unreachable!(),
            }));
        }
    }

    #[test]
    fn zero_gap_is_all_due_at_once_in_order() {
        let mut q = AnnounceQueue::new(1, Duration::ZERO, Duration::ZERO, 0);
        let mut fx = Effects::with_capacity(4);
        for n in 1..=3 {
            q.schedule(ms(5), IfaceId(0), a4(n), &mut fx);
        }
        assert!(fx.is_empty(), "handed out by the timer, not when queued");
        assert_eq!(q.next_deadline(), Some(ms(5)));
        assert_eq!(due(&mut q, ms(5)), vec![(IfaceId(0), a4(1)), (IfaceId(0), a4(2)), (IfaceId(0), a4(3))]);
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn spacing_is_per_interface_and_family() {
        let mut q = AnnounceQueue::new(2, Duration::from_millis(10), Duration::from_millis(30), 0);
        let mut fx = Effects::with_capacity(4);
        for addr in [a4(1), a6(1), a4(2), a6(2)] {
            q.schedule(ms(100), IfaceId(0), addr, &mut fx);
        }
        q.schedule(ms(100), IfaceId(1), a4(3), &mut fx);
        assert!(fx.is_empty());
        // First of each interface and family at once.
        assert_eq!(due(&mut q, ms(100)), vec![(IfaceId(0), a4(1)), (IfaceId(0), a6(1)), (IfaceId(1), a4(3))]);
        assert_eq!(q.next_deadline(), Some(ms(110)));
        assert_eq!(due(&mut q, ms(110)), vec![(IfaceId(0), a4(2))]);
        assert_eq!(q.next_deadline(), Some(ms(130)));
        assert_eq!(due(&mut q, ms(130)), vec![(IfaceId(0), a6(2))]);
        // The interface stays busy until its last turn plus the gap.
        q.schedule(ms(115), IfaceId(0), a4(4), &mut fx);
        assert_eq!(q.next_deadline(), Some(ms(120)));
        // A late wakeup hands out what is due in turn order.
        q.schedule(ms(115), IfaceId(0), a4(5), &mut fx);
        assert_eq!(due(&mut q, ms(200)), vec![(IfaceId(0), a4(4)), (IfaceId(0), a4(5))]);
    }

    #[test]
    fn released_addresses_leave_the_queue() {
        let mut q = AnnounceQueue::new(1, Duration::from_millis(10), Duration::ZERO, 0);
        let mut fx = Effects::with_capacity(4);
        for n in [1, 2, 1, 2] {
            q.schedule(ms(0), IfaceId(0), a4(n), &mut fx);
        }
        q.forget(|a| a == a4(1));
        assert_eq!(due(&mut q, ms(100)), vec![(IfaceId(0), a4(2)), (IfaceId(0), a4(2))]);
    }

    #[test]
    fn a_draining_call_hands_out_a_bounded_number() {
        let mut q = AnnounceQueue::new(1, Duration::ZERO, Duration::ZERO, 0);
        let mut fx = Effects::with_capacity(DRAIN_MAX);
        for n in 0..(DRAIN_MAX + 5) {
            q.schedule(ms(1), IfaceId(0), a6(n as u16), &mut fx);
        }
        q.drain_due(ms(1), &mut fx);
        assert_eq!(fx.len(), DRAIN_MAX);
        assert_eq!(q.next_deadline(), Some(ms(1)), "the rest is still due");
    }

    #[test]
    fn a_full_queue_sends_at_once_keeping_the_order() {
        let mut q = AnnounceQueue::new(2, Duration::from_secs(1), Duration::ZERO, 0);
        let mut fx = Effects::with_capacity(8);
        // Due now on eth1 (first turn), then the queue filled with later
        // turns on eth0 (its first one is due now as well).
        q.schedule(ms(0), IfaceId(1), a4(200), &mut fx);
        for n in 0..QUEUE_MAX - 1 {
            q.schedule(ms(0), IfaceId(0), a4((n % 200) as u8), &mut fx);
        }
        assert!(fx.is_empty());
        // Full: the two due entries go first, then the newcomer finds room.
        q.schedule(ms(0), IfaceId(1), a4(201), &mut fx);
        assert_eq!(
            fx.as_slice(),
            &[
                Effect::AnnounceAddr { iface: IfaceId(1), addr: a4(200) },
                Effect::AnnounceAddr { iface: IfaceId(0), addr: a4(0) },
            ]
        );
        // Full again with later turns only: the next one is sent unspaced.
        fx.clear();
        q.schedule(ms(0), IfaceId(0), a4(250), &mut fx);
        q.schedule(ms(0), IfaceId(0), a4(251), &mut fx);
        assert_eq!(fx.as_slice(), &[Effect::AnnounceAddr { iface: IfaceId(0), addr: a4(251) }]);
    }
}
