//! Instance states and the reasons for entering them.

use core::fmt;
use core::net::IpAddr;

/// RFC 9568 §6.4 states plus Fault (keepalived-reference §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
}

impl State {
    /// keepalived's spelling, used in logs, notifies and the FIFO.
    pub const fn name(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an instance entered its current state; kept for status output and
/// ietf-vrrp's `new-master-reason` / `last-event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Start-up into Backup (or a silent Fault while unweighted checks have
    /// not reported yet).
    Startup,
    /// Priority 255 with `state MASTER` (or no state): master at once.
    Owner,
    /// Master_Down_Timer expired: no advert from a live master.
    MasterDown,
    /// Master_Down_Timer expired after the master sent priority 0.
    PriorityZero,
    /// Master_Down_Timer expired while we discarded a lower-priority master's
    /// adverts (preemption).
    Preempt,
    /// A higher-priority advert, or an equal one from a higher address.
    HigherPriority { from: IpAddr, priority: u8 },
    /// A member of our sync group changed state and took us along.
    SyncGroup,
    /// A tracker or the interface failed.
    TrackerFault,
    /// All faults cleared.
    FaultCleared,
    /// A VIP was deleted from the interface by someone else while master.
    VipDeleted,
    /// The daemon is stopping.
    Shutdown,
}

impl Reason {
    /// Whether leaving Master for this reason sends a priority-0 advert
    /// (keepalived-reference §2.5): yes on shutdown, fault and VIP loss; not
    /// when yielding to a better master.
    pub const fn releases_with_priority_zero(self) -> bool {
        matches!(self, Reason::TrackerFault | Reason::VipDeleted | Reason::Shutdown)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Startup => f.write_str("start-up"),
            Reason::Owner => f.write_str("address owner"),
            Reason::MasterDown => f.write_str("master down timer expired"),
            Reason::PriorityZero => f.write_str("master released with priority 0"),
            Reason::Preempt => f.write_str("preempted a lower-priority master"),
            Reason::HigherPriority { from, priority } => {
                write!(f, "advert from {from} with priority {priority}")
            }
            Reason::SyncGroup => f.write_str("sync group"),
            Reason::TrackerFault => f.write_str("tracker or interface fault"),
            Reason::FaultCleared => f.write_str("fault cleared"),
            Reason::VipDeleted => f.write_str("virtual address deleted"),
            Reason::Shutdown => f.write_str("shutdown"),
        }
    }
}
