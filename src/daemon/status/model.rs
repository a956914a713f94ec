//! What `vipd status` and the keepalived-style dump files report: a
//! snapshot of the daemon taken when asked, as plain owned data. Built by
//! `Daemon::snapshot` (the only code that reads the engine and the script
//! plan for it); the renderers (text, JSON, Prometheus, keepalived's data
//! and stats files) read only this, so they can be tested without a daemon.
//! Taking a snapshot allocates; it happens only on request, never on the
//! advert path.

use core::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{InstanceConfig, TrackerKind};
use crate::core::{Condition, NotifyState, State, Stats, TrackStatus};
use crate::wire::WireError;
use crate::wire::vrrp::ChecksumForm;

/// The whole daemon at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// `CARGO_PKG_VERSION`.
    pub version: &'static str,
    pub pid: u32,
    /// Since the daemon started.
    pub uptime: Duration,
    /// Seconds since the Unix epoch when the snapshot was taken (for the
    /// keepalived files' time stamps).
    pub taken_unix: u64,
    /// Microseconds past `taken_unix` (keepalived's time stamps have them).
    pub taken_subsec_us: u32,
    /// The local time zone's offset from UTC at `taken_unix`, seconds east
    /// (keepalived prints local times).
    pub utc_offset_s: i32,
    pub instances: Vec<InstanceStatus>,
    pub groups: Vec<GroupStatus>,
    /// Every configured tracker (`vrrp_script`, `track_file`); instances
    /// refer to them by index.
    pub trackers: Vec<TrackerStatus>,
    /// Receive errors no instance could be charged with (an unknown VRID,
    /// a packet too short to name one), by cause.
    pub global_errors: Vec<(WireError, u64)>,
    /// E-mail alerts since start.
    pub smtp_alerts: SmtpAlerts,
    /// `vipd --dry-run`: states are what vipd would do; nothing is held.
    pub dry_run: bool,
}

/// What became of the e-mail alerts: delivered, failed (logged each), or
/// dropped unsent from a full queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmtpAlerts {
    pub sent: u64,
    pub failed: u64,
    pub dropped: u64,
    /// The instances and sync groups that mail their states (keepalived's
    /// dump says `Using smtp notification = yes` for them).
    pub instances: Vec<String>,
    pub groups: Vec<String>,
}

/// One `vrrp_instance`.
#[derive(Clone, Debug)]
pub struct InstanceStatus {
    /// The instance's configuration as running (name, interface, vrid,
    /// family, version, advert_int, unicast peers, garp settings, ...).
    pub cfg: InstanceConfig,
    pub state: State,
    /// How long it has been in `state`.
    pub in_state: Duration,
    /// Why it entered `state`, as the log line says it (e.g. "master down
    /// timer expired").
    pub reason: String,
    /// Configured priority (254 after an owner conflict lowered it).
    pub base_priority: u8,
    /// Priority with trackers applied: what the adverts carry.
    pub effective_priority: u8,
    /// The current master: ourselves when MASTER, the router we follow when
    /// BACKUP, none in INIT/FAULT or before any advert was heard.
    pub master: Option<MasterStatus>,
    /// The address adverts are sent from, if the interface has one.
    pub source: Option<IpAddr>,
    /// The kernel's index of the instance's interface (0: not present).
    pub ifindex: u32,
    /// Until the instance's timer fires: a backup's Master_Down timer, a
    /// master's next advert (keepalived's "Read timeout"); `None` when
    /// neither runs (INIT, FAULT).
    pub next_timer: Option<Duration>,
    /// `virtual_ipaddress` entries, then `virtual_ipaddress_excluded`.
    pub vips: Vec<VipStatus>,
    /// `track_script` / `track_file` references.
    pub tracks: Vec<TrackUse>,
    /// `track_interface` entries and the instance's own interface.
    pub interfaces: Vec<InterfaceStatus>,
    /// The sync group's name, if in one.
    pub group: Option<String>,
    pub counters: Stats,
    /// Every condition (`Condition::ALL` order), raised or not.
    pub conditions: Vec<ConditionStatus>,
}

/// One condition of an instance (vipd.conf(5) CONDITIONS).
#[derive(Clone, Debug)]
pub struct ConditionStatus {
    pub condition: Condition,
    /// How long it has been raised; `None` when it is not.
    pub since: Option<Duration>,
    /// Times it was raised since the daemon started.
    pub raised: u64,
    /// The evidence, as the log line gives it (of the last time it was
    /// raised, also once cleared).
    pub evidence: Option<String>,
}

/// The master as an instance sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterStatus {
    pub address: IpAddr,
    pub priority: u8,
    /// The master's advert interval (ours when we are master; the adopted
    /// one for VRRPv3 backups).
    pub advert_int: Duration,
    /// Since its last accepted advert; `None` when we are the master.
    pub last_seen: Option<Duration>,
    /// The VRRPv3/IPv4 checksum form its adverts use, when known.
    pub checksum: Option<ChecksumForm>,
    /// We are the master.
    pub is_self: bool,
}

/// One virtual address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipStatus {
    pub addr: IpAddr,
    pub prefix: u8,
    /// The interface it is added to (`dev`, else the instance's).
    pub interface: String,
    /// From `virtual_ipaddress_excluded` (not in adverts).
    pub excluded: bool,
    /// Added by vipd: the instance is MASTER (it adds every address on
    /// entering MASTER and removes them on leaving; keepalived's `set`).
    pub held: bool,
}

/// An instance's reference to a tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackUse {
    /// Index into [`Snapshot::trackers`].
    pub tracker: usize,
    /// 0: down means FAULT; otherwise added to the priority.
    pub weight: i32,
    pub reverse: bool,
}

/// `track_interface` (and the instance's own interface, weight 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceStatus {
    pub name: String,
    pub weight: i32,
    pub up: bool,
}

/// One `vrrp_script`, `vrrp_probe` or `track_file`.
#[derive(Clone, Debug)]
pub struct TrackerStatus {
    pub name: String,
    /// Script (with rise/fall) or file.
    pub kind: TrackerKind,
    pub status: TrackStatus,
    /// `track_file`: the value last read.
    pub value: i64,
    /// Consecutive results against the current status (rise/fall
    /// progress), scripts only.
    pub streak: u32,
    /// Scripts: the last finished run, if any.
    pub last_run: Option<ScriptRun>,
    /// Scripts: a run is under way.
    pub running: bool,
    /// Scripts some instance tracks: what runs and how often.
    pub check: Option<CheckInfo>,
    /// Files some instance tracks: the file read.
    pub path: Option<PathBuf>,
    /// `vrrp_probe`s some instance tracks (kind `Script`, no `check`).
    pub probe: Option<ProbeInfo>,
    /// `vrrp_track_process`es: what is matched and the watcher's view.
    pub process: Option<ProcessInfo>,
}

/// A `vrrp_track_process` as it is watched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub cfg: crate::config::TrackProcess,
    /// Matching processes now.
    pub count: u32,
    /// The count is within the quorum (after the delays).
    pub quorum: bool,
    /// A `fork_delay` / `terminate_delay` is running.
    pub fork_timer: bool,
    pub terminate_timer: bool,
}

/// A `vrrp_probe` as it is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeInfo {
    /// `http http://…` or `tcp ADDR:PORT`.
    pub target: String,
    pub interval: Duration,
    pub timeout: Duration,
}

/// A check script as it is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckInfo {
    /// The command; `argv[0]` is the script's canonical path.
    pub argv: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    pub interval: Duration,
    pub timeout: Duration,
}

/// How a check script's last run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptRun {
    /// As the log says it: "exit status 0", "timed out", "killed by signal 9".
    pub result: String,
    /// The exit status when the script exited by itself.
    pub exit_code: Option<i32>,
    pub success: bool,
    pub duration: Duration,
    /// Since it ended.
    pub ago: Duration,
}

/// One `vrrp_sync_group`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupStatus {
    pub name: String,
    /// The state last reported for the group, if any yet.
    pub state: Option<NotifyState>,
    pub members: Vec<String>,
}
