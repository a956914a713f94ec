//! One VRRP instance: the RFC 9568 §6 state machine with keepalived's
//! extensions. Everything that crosses instances (sync groups, trackers,
//! demultiplexing) lives in the engine.
//!
//! This file holds the instance's data, its construction and what it
//! answers about itself, including which interface holds each of its
//! addresses (fixed at build, so drivers never look one up by name);
//! `transitions` changes its state, `timers` runs its Master_Down and
//! advert schedules and counts failed sends, and `rx` applies a received
//! advert.

use core::net::IpAddr;

use super::conditions::Conditions;
use super::effects::{Effect, Effects};
use super::state::{Reason, State};
use super::stats::Stats;
use super::{GroupId, IfaceId, InstanceId};
use crate::config::{Family, InstanceConfig, VipConfig};
use crate::time::{Centis, Duration, Instant, Secs};
use crate::wire::vrrp::{Addrs, Advert, Auth, ChecksumForm, Interval, Version};

mod conditions;
mod rx;
mod timers;
mod transitions;

pub(super) use rx::{MasterRx, Verdict};
pub(super) use timers::advert_coalesce;

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
    /// Split brain, peer mismatch, VRID collision, peer silence.
    pub conditions: Conditions,

    pub(super) want_master: bool,
    pub(super) track_ifaces: Vec<(IfaceId, i32, bool)>,
    /// Interface of each VIP then each excluded VIP, in config order.
    vip_ifaces: Vec<IfaceId>,
    /// Whether each of them is on its interface, as netlink last said.
    vip_present: Vec<bool>,
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
    /// Sources and checksum forms of recent peers, so a peer's form is
    /// logged once rather than per packet, also when several peers (or a
    /// spoofer) alternate; the oldest entry makes room.
    forms: [Option<(IpAddr, ChecksumForm)>; FORM_PEERS],
    /// When the master we follow was last heard (an accepted advert).
    pub(super) master_seen: Option<Instant>,
    /// When a checksum-form line was last logged: new peers are reported
    /// at most once per second.
    form_logged_at: Option<Instant>,
    /// When the master last answered a lower-priority or priority-0
    /// advert: at most once per advert interval, so a flood is not
    /// amplified.
    answered_at: Option<Instant>,
    /// When the master last announced its addresses after a lower-priority
    /// advert: at most once per `garp_lower_prio_delay` (or interval).
    lower_round_at: Option<Instant>,
    /// Advert sends that failed in a row (priority 0 aside).
    send_streak: u8,
    /// Whether a script or FIFO hears MASTER_RX_LOWER_PRI: without one, a
    /// flood of lower-priority adverts costs no notify effects.
    pub(super) notify_rx_lower: bool,
}

/// Peers whose checksum form an instance remembers.
const FORM_PEERS: usize = 4;

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
            conditions: Conditions::new(cfg.unicast_peers.len()),
            want_master: false,
            track_ifaces,
            vip_present: vec![false; vip_ifaces.len()],
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
            forms: [None; FORM_PEERS],
            form_logged_at: None,
            master_seen: None,
            answered_at: None,
            lower_round_at: None,
            send_streak: 0,
            notify_rx_lower: false,
            cfg,
        }
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Tracked interfaces: interface, weight, reverse (the VIPs' other
    /// interfaces follow with weight 0).
    pub fn tracked_ifaces(&self) -> &[(IfaceId, i32, bool)] {
        &self.track_ifaces
    }

    /// When the master we follow was last heard.
    pub fn master_seen(&self) -> Option<Instant> {
        self.master_seen
    }

    /// The VRRPv3/IPv4 checksum form `addr` was last seen using, if it is
    /// among the peers remembered.
    pub fn peer_form(&self, addr: IpAddr) -> Option<ChecksumForm> {
        self.forms.iter().flatten().find(|(a, _)| *a == addr).map(|&(_, f)| f)
    }

    /// The interface of the `k`-th address (VIPs, then excluded VIPs).
    pub fn vip_iface(&self, k: usize) -> Option<IfaceId> {
        self.vip_ifaces.get(k).copied()
    }

    /// When the Master_Down_Timer fires, if running.
    pub fn down_deadline(&self) -> Option<Instant> {
        self.down_at
    }

    /// When the next advert is due, if master.
    pub fn advert_deadline(&self) -> Option<Instant> {
        self.advert_at
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

    /// Every address of the instance with the interface that holds it:
    /// VIPs then excluded VIPs, in config order (the numbering of
    /// [`Instance::vip`] and `Effect::RemoveVip`).
    pub fn addresses(&self) -> impl Iterator<Item = (&VipConfig, IfaceId)> {
        self.cfg.vips.iter().chain(&self.cfg.excluded_vips).zip(self.vip_ifaces.iter().copied())
    }

    /// Address number `k` of [`Instance::addresses`] and its interface.
    pub fn vip(&self, k: usize) -> Option<(&VipConfig, IfaceId)> {
        let n = self.cfg.vips.len();
        let v = if k < n { self.cfg.vips.get(k) } else { self.cfg.excluded_vips.get(k - n) };
        Some((v?, *self.vip_ifaces.get(k)?))
    }

    /// Netlink reported address `k` (VIPs, then excluded VIPs) added to or
    /// removed from its interface; the engine's table found it.
    pub(in crate::core) fn note_vip(&mut self, k: usize, present: bool) {
        if let Some(held) = self.vip_present.get_mut(k) {
            *held = present;
        }
    }

    /// Whether the `k`-th address (VIPs, then excluded VIPs) is on its
    /// interface now.
    pub fn vip_present(&self, k: usize) -> bool {
        self.vip_present.get(k).copied().unwrap_or(false)
    }

    /// The multicast group of the instance's adverts (RFC 9568 §5.1.1.2,
    /// §5.1.2.2 unless `mcast_dst_ip` says otherwise).
    pub fn group_addr(&self) -> IpAddr {
        self.cfg.group_addr()
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
}
