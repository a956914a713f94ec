//! The pure VRRP engine.
//!
//! [`Engine`] holds every instance, interface, tracker and sync group. It is
//! driven by [`Engine::handle`] with the current time and one [`Event`], and
//! answers with [`Effect`]s pushed into a caller-owned buffer; the daemon
//! sleeps until [`Engine::next_deadline`]. The engine never reads a clock,
//! never touches a file descriptor and never allocates after
//! [`Engine::new`]: every per-instance table is sized at construction.
//!
//! Behaviour follows keepalived 2.2.7 where it is on the wire or visible to
//! operators (keepalived-reference §2), and RFC 9568 / RFC 3768 elsewhere;
//! sections are cited where a rule is applied.
//!
//! Where things live: [`Engine`] and the identifiers are declared here;
//! `build` turns a `Config` into an engine, `engine` dispatches events and
//! answers queries, `lifecycle` starts and stops instances, `reload` hands
//! over from a previous engine (and releases what it leaves behind), `rx`
//! routes received adverts to their instance, `iface` keeps what is known
//! of interfaces and their addresses, `announce` spaces GARPs and NAs per
//! interface, `conditions` keeps the alerts on split brain and drifted
//! peers, `health` turns trackers, links and failed sends into faults
//! and priorities, and `sync_group` applies the rules that bind instances
//! of a group. What one instance does on its own is in `instance`. The
//! daemon decides nothing of this: it carries out effects and reports what
//! happened (including whether its sends went out).

pub mod conditions;
pub mod effects;
pub mod events;
pub mod sim;
pub mod state;
pub mod stats;
pub mod timing;
pub mod track;

mod announce;
mod build;
mod deadlines;
mod engine;
mod health;
mod iface;
mod instance;
mod lifecycle;
mod reload;
mod rx;
mod sync_group;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_conditions;

pub use build::BuildError;
pub use conditions::{Cleared, Condition, Drift, Evidence};
pub use effects::{Effect, Effects, LogEvent, NotifyEvent, NotifyState};
pub use events::{Event, RxAdvert};
pub use iface::Iface;
pub use instance::Instance;
pub use reload::{InstanceSnapshot, Snapshot, TrackerSnapshot, from17 as reload_from17, ip17 as reload_ip17};
pub use state::{Reason, State};
pub use stats::Stats;
pub use track::TrackStatus;

use crate::config::Family;
use crate::time::Duration;
use crate::wire::WireError;
use announce::AnnounceQueue;
use deadlines::Deadlines;
use sync_group::Group;
use track::Tracker;

/// Index of an instance in the engine (same order as `Config::instances`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub u16);

/// Index of an interface known to the engine; see [`Engine::iface_by_name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfaceId(pub u16);

/// Index of a sync group (same order as `Config::sync_groups`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u16);

/// Every VRRP instance of the daemon and their shared inputs.
/// Where adverts for an instance arrive: interface, family and VRID.
/// Ordered by those, then by instance, so one binary search finds every
/// instance sharing a VRID (told apart by group or peers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    iface: IfaceId,
    family: Family,
    vrid: u8,
    inst: InstanceId,
}

impl Route {
    fn key(&self) -> (IfaceId, Family, u8) {
        (self.iface, self.family, self.vrid)
    }
}

#[derive(Debug)]
pub struct Engine {
    instances: Vec<Instance>,
    ifaces: Vec<Iface>,
    trackers: Vec<Tracker>,
    groups: Vec<Group>,
    startup_delay: Duration,
    started: bool,
    /// Sorted by where adverts arrive, for binary search.
    demux: Vec<Route>,
    /// Instance indices sorted by `Instance::router_key`, for reloads.
    by_router: Vec<u16>,
    /// Tracker names, to carry results over a reload.
    tracker_names: Vec<String>,
    /// Errors of adverts no instance could be charged with (router-level
    /// `checksum-errors`, `version-errors`, `vrid-errors` of ietf-vrrp).
    global_errors: [u64; WireError::ALL.len()],
    /// GARPs and NAs waiting for their turn.
    announces: AnnounceQueue,
    /// Every instance's `Instance::next_deadline`, kept current at the
    /// end of each `handle` for the instances it may have changed.
    deadlines: Deadlines,
    /// Instances whose deadline may have changed during this call
    /// (capacity: every instance; past it, `stale_all`).
    stale: Vec<u16>,
    /// Every deadline may have changed (start, trackers, links, ...).
    stale_all: bool,
    /// Instances a timer wakeup visits (capacity: every instance).
    due: Vec<u16>,
    /// The widest advert coalescing window of any instance: a timer
    /// wakeup visits the instances due within it.
    coalesce: Duration,
}
