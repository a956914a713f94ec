//! What the engine knows of interfaces: link state from the driver, the
//! addresses seen on them (never our own VIPs), the advert source they
//! give an instance, and what follows when an address comes or goes,
//! including a tracked VIP deleted by hand. It must not decide states
//! itself; it re-evaluates health or hands over to the instance.
//!
//! Which instances hold an address on an interface is a table sorted at
//! build: an address event costs a binary search, not a walk over every
//! configured address (40,000 addresses reported one by one at start or
//! after a reload once took long enough at real-time priority to reach
//! RLIMIT_RTTIME).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Effect, Effects, Engine, IfaceId, Instance, InstanceId, LogEvent, Reason, State};
use crate::config::Family;
use crate::time::Instant;

/// Addresses remembered per interface; more are ignored (the first ones
/// are the primary ones, which is what matters).
const IFACE_ADDRS: usize = 16;

/// What the engine knows of an interface, from driver events.
#[derive(Clone, Debug)]
pub struct Iface {
    pub name: String,
    /// Until the driver reports the link, it counts as down: an instance must
    /// never become master on an interface nobody has seen.
    pub up: bool,
    /// Addresses other than our VIPs, in the order they appeared.
    pub(super) addrs: heapless::Vec<IpAddr, IFACE_ADDRS>,
    /// Every instance's addresses on this interface, sorted (built once).
    pub(super) vips: Vec<VipAt>,
}

/// Address `k` of an instance (VIPs, then excluded VIPs), on the interface
/// whose table holds it. Ordered by address first, for binary search; then
/// by instance, the order the engine visits instances in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct VipAt {
    pub(super) addr: IpAddr,
    pub(super) inst: InstanceId,
    pub(super) k: u32,
}

impl Iface {
    /// The first IPv4 address: the source of IPv4 adverts. When it goes,
    /// the next one takes over, as the kernel promotes secondaries.
    pub fn primary4(&self) -> Option<Ipv4Addr> {
        self.addrs.iter().find_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
    }

    /// The first link-local IPv6 address: the source of IPv6 adverts.
    pub fn link_local6(&self) -> Option<Ipv6Addr> {
        self.addrs.iter().find_map(|a| match a {
            IpAddr::V6(a) if is_link_local(a) => Some(*a),
            _ => None,
        })
    }

    pub fn has_addr(&self, addr: IpAddr) -> bool {
        self.addrs.contains(&addr)
    }

    /// The addresses remembered (not our VIPs), oldest first.
    pub fn addrs(&self) -> &[IpAddr] {
        &self.addrs
    }

    /// The instances' addresses `addr` on this interface.
    pub(super) fn vips_of(&self, addr: IpAddr) -> &[VipAt] {
        let lo = self.vips.partition_point(|v| v.addr < addr);
        let hi = self.vips.partition_point(|v| v.addr <= addr);
        &self.vips[lo..hi]
    }
}

impl Engine {
    pub(super) fn source_of(&self, inst: &Instance) -> Option<IpAddr> {
        if let Some(a) = inst.cfg.src_addr {
            return Some(a);
        }
        let f = self.ifaces.get(usize::from(inst.iface.0))?;
        match inst.cfg.family {
            Family::V4 => f.primary4().map(IpAddr::V4),
            Family::V6 => f.link_local6().map(IpAddr::V6),
        }
    }

    pub(super) fn address(&mut self, now: Instant, iface: IfaceId, addr: IpAddr, present: bool, fx: &mut Effects) {
        // Our VIPs on any interface: one left on another by a crash must
        // not become an advert source either.
        let is_vip = self.ifaces.iter().any(|f| !f.vips_of(addr).is_empty());
        let Some(f) = self.ifaces.get_mut(usize::from(iface.0)) else {
            return;
        };
        if !is_vip {
            // VIPs are never remembered, so a VIP left behind by a crash
            // cannot become our advert source.
            let known = f.addrs.iter().position(|a| *a == addr);
            match (present, known) {
                (true, None) => {
                    if let Err(addr) = f.addrs.push(addr) {
                        // Full: the first addresses are the primary ones and
                        // stay, but an interface must not lose its only
                        // link-local address (the IPv6 source) to a crowd of
                        // IPv4 ones.
                        let ll = |a: &IpAddr| matches!(a, IpAddr::V6(v) if is_link_local(v));
                        let evict = f.addrs.iter().rposition(|a| !ll(a));
                        match evict {
                            Some(i) if ll(&addr) && !f.addrs.iter().any(ll) => f.addrs[i] = addr,
                            _ => {
                                fx.push(Effect::Log(LogEvent::AddressNotTracked { iface, addr }));
                                return;
                            }
                        }
                    }
                }
                (false, Some(i)) => {
                    f.addrs.remove(i);
                }
                _ => return,
            }
            // The source address may have changed or gone (track_src_ip,
            // no address to advertise from).
            self.reevaluate(now, fx);
            return;
        }
        let held = f.vips_of(addr);
        for v in held {
            if let Some(inst) = self.instances.get_mut(usize::from(v.inst.0)) {
                inst.note_vip(v.k as usize, present);
            }
        }
        if present {
            return;
        }
        // keepalived-reference §2.3: a tracked VIP deleted by hand while
        // master: release with priority 0, take over again after Skew unless
        // a peer wins. Entries are copied one at a time: the table does not
        // change, but the transitions borrow the engine.
        for j in 0..held.len() {
            let Some(v) = self.ifaces.get(usize::from(iface.0)).and_then(|f| f.vips_of(addr).get(j).copied()) else {
                break;
            };
            let i = usize::from(v.inst.0);
            let Some(inst) = self.instances.get(i) else { continue };
            let tracked = inst.vip(v.k as usize).is_some_and(|(c, _)| !c.no_track);
            if inst.state == State::Master && tracked {
                fx.push(Effect::Log(LogEvent::VipDeleted { inst: inst.id, addr }));
                self.touch(i);
                self.instances[i].transition(now, State::Backup, Reason::VipDeleted, true, fx);
                self.group_follow_backup(i, now, fx);
            }
        }
    }
}

fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}
