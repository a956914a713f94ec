//! Conditions an operator alerts on (design.md, "conditions"): a second
//! master (`split_brain`), a peer whose configuration drifted from ours
//! (`peer_mismatch`), another virtual router on our VRID
//! (`vrid_collision`) and a unicast peer never heard while we are master
//! (`peer_silent`). Each is raised on evidence and clears when the
//! evidence stops for a hold time (or at once when the cause is gone), is
//! logged once each way and counted. This file holds the values and the
//! bookkeeping; the instance decides what counts as evidence (its `rx`
//! and `conditions` files) and the engine routes address claims here.

use core::fmt;
use core::net::IpAddr;

use super::effects::{Effect, Effects, LogEvent};
use super::{Engine, IfaceId, InstanceId, State};
use crate::time::{Duration, Instant};
use crate::wire::vrrp::{ChecksumForm, Version};

/// The conditions, in the order status and metrics list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    SplitBrain,
    PeerMismatch,
    VridCollision,
    PeerSilent,
}

impl Condition {
    pub const ALL: [Condition; 4] =
        [Condition::SplitBrain, Condition::PeerMismatch, Condition::VridCollision, Condition::PeerSilent];

    /// The name in status, metrics and the log.
    pub const fn name(self) -> &'static str {
        match self {
            Condition::SplitBrain => "split_brain",
            Condition::PeerMismatch => "peer_mismatch",
            Condition::VridCollision => "vrid_collision",
            Condition::PeerSilent => "peer_silent",
        }
    }

    pub const fn index(self) -> usize {
        self as usize
    }
}

/// What differs between a peer's adverts and our configuration; `what` is
/// a set of the `Drift::*` bits, the other fields say what the peer sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drift {
    pub what: u8,
    /// The interval the peer advertises.
    pub interval: Duration,
    /// The peer's VRRP version.
    pub version: Option<Version>,
    /// How many addresses the peer lists.
    pub count: u16,
    /// One address the peer lists and we do not.
    pub extra: Option<IpAddr>,
    /// One of our addresses the peer does not list.
    pub missing: Option<IpAddr>,
    /// The peer's VRRPv3/IPv4 checksum form.
    pub form: Option<ChecksumForm>,
}

impl Drift {
    pub const ADDRESSES: u8 = 1;
    pub const INTERVAL: u8 = 2;
    pub const VERSION: u8 = 4;
    pub const AUTH: u8 = 8;
    pub const CHECKSUM: u8 = 16;

    pub const fn is_empty(&self) -> bool {
        self.what == 0
    }

    pub const fn has(&self, bit: u8) -> bool {
        self.what & bit != 0
    }
}

/// Why a condition was raised or cleared: the evidence the log and the
/// status show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// We are master and a lower-priority router keeps advertising: it
    /// does not hear us.
    LowerMaster { from: IpAddr, priority: u8 },
    /// We are backup and adverts come from two masters.
    TwoMasters { first: IpAddr, second: IpAddr },
    /// We are master and another link-layer address claims our address.
    Claimed { addr: IpAddr, hw: [u8; 6] },
    /// A peer's adverts differ from our configuration.
    Mismatch { from: IpAddr, drift: Drift },
    /// A peer advertises our VRID with none of our addresses.
    Collision { from: IpAddr, count: u16, first: Option<IpAddr> },
    /// A unicast peer has not been heard for this long while we are master.
    Silent { peer: IpAddr, quiet: Duration },
}

/// Why a condition cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleared {
    /// No evidence for the hold time.
    Quiet,
    /// The peer's adverts match our configuration again.
    Matches,
    /// We are no longer master (or no longer backup), which ends it.
    StateChanged,
    /// The silent peer was heard.
    Heard,
}

/// An instance's conditions: which are raised, since when, the evidence,
/// how often each was raised, and the timers of the evidence rules.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    active: u8,
    since: [Option<Instant>; 4],
    /// The latest evidence for each condition (kept after it clears, for
    /// status).
    evidence: [Option<Evidence>; 4],
    raised: [u64; 4],
    /// When each raised condition clears unless more evidence comes.
    clear_at: [Option<Instant>; 4],
    /// Split brain needs evidence in a row: how many, and when the last
    /// one counted.
    pub(super) chain: u8,
    pub(super) chain_at: Option<Instant>,
    /// An address claim waiting to see whether we are still master a
    /// moment later (a preempting master's advert would have arrived).
    pub(super) claim: Option<(Instant, IpAddr, [u8; 6])>,
    /// When a backup next reports its own configuration to a master whose
    /// adverts mismatch it, or its presence to unicast peers.
    pub(super) report_at: Option<Instant>,
    /// When each unicast peer (in configuration order) was last heard.
    pub(super) heard: Vec<Option<Instant>>,
    /// Never raise `SplitBrain` (dry run: our adverts never leave, so a
    /// lower-priority master keeps advertising and is no second master).
    pub(super) blind_split: bool,
}

impl Conditions {
    pub(super) fn new(peers: usize) -> Conditions {
        Conditions { heard: vec![None; peers], ..Conditions::default() }
    }

    pub fn is_active(&self, c: Condition) -> bool {
        self.active & (1 << c.index()) != 0
    }

    /// Since when `c` is raised.
    pub fn since(&self, c: Condition) -> Option<Instant> {
        if self.is_active(c) { self.since[c.index()] } else { None }
    }

    /// The latest evidence for `c`, raised or not.
    pub fn evidence(&self, c: Condition) -> Option<Evidence> {
        self.evidence[c.index()]
    }

    /// Times `c` was raised.
    pub fn raised(&self, c: Condition) -> u64 {
        self.raised[c.index()]
    }

    /// Raises `c` (logging it the first time) or refreshes it; it clears
    /// `hold` after this evidence unless more comes (`None`: only when its
    /// cause is seen gone).
    pub(super) fn raise(
        &mut self,
        inst: InstanceId,
        c: Condition,
        now: Instant,
        evidence: Evidence,
        hold: Option<Duration>,
        fx: &mut Effects,
    ) {
        if self.blind_split && c == Condition::SplitBrain {
            return;
        }
        let k = c.index();
        self.evidence[k] = Some(evidence);
        self.clear_at[k] = hold.map(|h| now + h);
        if self.is_active(c) {
            return;
        }
        self.active |= 1 << k;
        self.since[k] = Some(now);
        self.raised[k] = self.raised[k].saturating_add(1);
        fx.push(Effect::Log(LogEvent::ConditionRaised { inst, condition: c, evidence }));
    }

    /// Clears `c` if raised; says whether it was.
    pub(super) fn clear(&mut self, inst: InstanceId, c: Condition, why: Cleared, fx: &mut Effects) -> bool {
        let k = c.index();
        self.clear_at[k] = None;
        if !self.is_active(c) {
            return false;
        }
        self.active &= !(1 << k);
        self.since[k] = None;
        fx.push(Effect::Log(LogEvent::ConditionCleared { inst, condition: c, why }));
        true
    }

    /// The conditions whose hold ran out at `now`.
    pub(super) fn expired(&self, now: Instant) -> impl Iterator<Item = Condition> + '_ {
        Condition::ALL.into_iter().filter(move |c| self.clear_at[c.index()].is_some_and(|t| t <= now))
    }

    /// The earliest of the condition timers (holds, a pending claim, the
    /// next report); peer silence is the instance's to compute.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        // Every instance on every wakeup: nothing raised and nothing
        // pending is the usual case and costs one test.
        if self.active == 0 && self.claim.is_none() && self.report_at.is_none() {
            return None;
        }
        let claim = self.claim.map(|(t, _, _)| t);
        self.clear_at.iter().copied().chain([claim, self.report_at]).flatten().min()
    }

    /// After a reload: what the instance of the old configuration knew.
    pub(super) fn carry_over(&mut self, old: &Conditions) {
        let heard = core::mem::take(&mut self.heard);
        *self = Conditions { heard, ..old.clone() };
        // Peers are matched by position only when the list is unchanged in
        // length; otherwise they count from now, as new peers.
        if self.heard.len() == old.heard.len() {
            self.heard.clone_from(&old.heard);
        }
    }
}

impl Engine {
    /// An ARP or NA sender claimed `addr` on `iface` with another
    /// link-layer address. Each master holding `addr` there checks a
    /// moment later whether it is still master (a preempting master's
    /// advert arrives with its GARPs, and may be read after them); if so,
    /// it is a second master.
    pub(super) fn address_claimed(
        &mut self,
        now: Instant,
        iface: IfaceId,
        addr: IpAddr,
        hw: [u8; 6],
        _fx: &mut Effects,
    ) {
        for inst in self.instances.iter_mut().filter(|i| i.state == State::Master) {
            if inst.addresses().any(|(v, f)| v.addr == addr && f == iface) {
                inst.note_claim(now, addr, hw);
            }
        }
    }
}

/// The evidence in words, with our side of a mismatch from `inst`'s
/// configuration: what the log line and the status show.
pub struct Described<'a> {
    pub evidence: Evidence,
    pub inst: &'a super::Instance,
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cfg = &self.inst.cfg;
        match self.evidence {
            Evidence::LowerMaster { from, priority } => write!(
                f,
                "{from} keeps advertising at priority {priority} while we are master at {}: it does not hear us",
                self.inst.effective_priority
            ),
            Evidence::TwoMasters { first, second } => write!(f, "adverts from two masters, {first} and {second}"),
            Evidence::Claimed { addr, hw } => {
                write!(f, "{addr} is claimed by ")?;
                for (k, b) in hw.iter().enumerate() {
                    write!(f, "{}{b:02x}", if k == 0 { "" } else { ":" })?;
                }
                f.write_str(" while we are master")
            }
            Evidence::Mismatch { from, drift } => {
                write!(f, "adverts from {from} differ from our configuration:")?;
                let mut sep = " ";
                if drift.has(Drift::ADDRESSES) {
                    let ours = cfg.vips.len();
                    write!(f, "{sep}addresses ours {ours}, theirs {}", drift.count)?;
                    if let Some(a) = drift.extra {
                        write!(f, " (they list {a})")?;
                    }
                    if let Some(a) = drift.missing {
                        write!(f, " (they lack {a})")?;
                    }
                    sep = "; ";
                }
                if drift.has(Drift::INTERVAL) {
                    write!(f, "{sep}interval ours {}, theirs {}", cfg.advert_int, drift.interval)?;
                    sep = "; ";
                }
                if let (true, Some(v)) = (drift.has(Drift::VERSION), drift.version) {
                    write!(f, "{sep}version ours {}, theirs {}", version(cfg.version), version(v))?;
                    sep = "; ";
                }
                if drift.has(Drift::AUTH) {
                    write!(f, "{sep}authentication differs (their adverts are dropped)")?;
                    sep = "; ";
                }
                if let (true, Some(form)) = (drift.has(Drift::CHECKSUM), drift.form) {
                    let name = |no_pseudo: bool| if no_pseudo { "RFC 9568" } else { "pseudo-header" };
                    let ours = cfg.v3_ipv4_checksum == crate::wire::vrrp::V3Ipv4Checksum::NoPseudoHeader;
                    write!(
                        f,
                        "{sep}checksum ours {}, theirs {}",
                        name(ours),
                        name(form == ChecksumForm::NoPseudoHeader)
                    )?;
                }
                Ok(())
            }
            Evidence::Collision { from, count, first } => {
                write!(f, "{from} advertises our VRID with {count} address(es), none of ours")?;
                if let Some(a) = first {
                    write!(f, " ({a}")?;
                    f.write_str(if count > 1 { ", ...)" } else { ")" })?;
                }
                f.write_str(": another virtual router uses this VRID on the link")
            }
            Evidence::Silent { peer, quiet } => {
                write!(f, "unicast peer {peer} has sent nothing for {quiet} while we are master")
            }
        }
    }
}

const fn version(v: Version) -> u8 {
    match v {
        Version::V2 => 2,
        Version::V3 => 3,
    }
}

impl fmt::Display for Cleared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cleared::Quiet => "no more evidence",
            Cleared::Matches => "the peer's adverts match our configuration",
            Cleared::StateChanged => "state changed",
            Cleared::Heard => "the peer was heard",
        })
    }
}
