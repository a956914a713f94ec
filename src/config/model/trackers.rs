//! The trackers' part of the `Config` types: check scripts, probes,
//! tracked files and processes, and the references instances and sync
//! groups make to them.

use std::path::PathBuf;

use super::*;
use crate::time::Duration;

/// Index into `Config::trackers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackerId(pub u16);

/// A named tracker whose results arrive as events.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    pub name: String,
    pub kind: TrackerKind,
    /// Weight used by references that do not give their own.
    pub weight: i32,
    pub reverse: bool,
    /// `vrrp_script` details.
    pub script: Option<CheckScript>,
    /// `track_file` details.
    pub file: Option<TrackFile>,
    /// `vrrp_probe` details (a vipd extension); its kind is `Script`, so
    /// rise, fall and weight work as for a check script.
    pub probe: Option<Probe>,
    /// `vrrp_track_process` details.
    pub process: Option<TrackProcess>,
}

impl TrackerConfig {
    /// A check script tracker with keepalived's defaults (1 s, rise/fall 1).
    pub fn script(name: &str, argv: &[&str]) -> TrackerConfig {
        TrackerConfig {
            name: name.to_owned(),
            kind: TrackerKind::Script { rise: 1, fall: 1, init_fail: false },
            weight: 0,
            reverse: false,
            script: Some(CheckScript {
                script: Script { argv: argv.iter().map(|s| (*s).to_owned()).collect(), user: None, span: None },
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
            }),
            file: None,
            probe: None,
            process: None,
        }
    }
}

/// `vrrp_script` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckScript {
    pub script: Script,
    pub interval: Duration,
    /// Killed and counted as failed after this long.
    pub timeout: Duration,
}

/// `vrrp_probe` settings: a TCP connect or an HTTP GET run in the event
/// loop. Addresses only: resolving a name would block the loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// As the file gives it: `http http://…` or `tcp ADDRESS:PORT`.
    pub target: String,
    pub addr: core::net::SocketAddr,
    /// HTTP: the status that counts as success; `None`: any 2xx.
    pub expect: Option<u16>,
    pub interval: Duration,
    /// Cancelled and counted as failed after this long.
    pub timeout: Duration,
}

impl Probe {
    /// The URL of an `http` probe.
    pub fn url(&self) -> Option<&str> {
        self.target.strip_prefix("http ")
    }
}

/// `track_file` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackFile {
    pub path: PathBuf,
    /// `init_file [VAL]`: create the file with this value if missing.
    pub init: Option<i64>,
    /// `init_file … overwrite`: write it even if it exists.
    pub overwrite: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackerKind {
    /// `vrrp_script`: Up after `rise` consecutive successes, Down after
    /// `fall` consecutive failures; `init_fail` starts Down.
    Script { rise: u32, fall: u32, init_fail: bool },
    /// `track_file`: an integer read from a file.
    File,
    /// `vrrp_track_process`: Up while the number of matching processes is
    /// within `quorum..=quorum_max`.
    Process,
}

/// How `vrrp_track_process` compares the configured parameters with a
/// process's (keepalived's `param_match`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamMatch {
    /// No parameters configured and no `param_match`: they are not compared.
    None,
    /// The parameters must be exactly those configured.
    Exact,
    /// The configured ones, then possibly more.
    Partial,
    /// As `Partial`, and the last configured one may be a prefix.
    Initial,
}

/// `vrrp_track_process` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackProcess {
    /// Compared with the process's name (`/proc/PID/comm`) or, with
    /// `full_command`, with its `argv[0]`.
    pub process: String,
    /// Configured parameters, each followed by a NUL, as the kernel lays out
    /// `/proc/PID/cmdline`.
    pub params: Vec<u8>,
    pub param_match: ParamMatch,
    pub full_command: bool,
    pub quorum: u32,
    pub quorum_max: u32,
    pub fork_delay: Duration,
    pub terminate_delay: Duration,
}

/// A reference from an instance or group to a tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackRef {
    pub tracker: TrackerId,
    /// 0 = failure means Fault; otherwise added to the priority
    /// (positive while up, negative while down).
    pub weight: i32,
    pub reverse: bool,
}

/// One `track_interface` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackInterface {
    pub interface: String,
    pub weight: i32,
    pub reverse: bool,
}
