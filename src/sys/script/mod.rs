//! Scripts: check scripts (`vrrp_script`) and notify scripts.
//!
//! Two halves. [`prepare()`] runs at config load: it resolves who a script runs
//! as and which file it is, and finds files a non-root user could change under
//! a root-run script (keepalived-reference §3.7). [`run`] starts a prepared
//! script and supervises it from the single-threaded executor without ever
//! blocking it: the exit is watched through a pidfd, the output through a
//! non-blocking pipe, and a timeout or a cancellation stops the script's whole
//! process group (TERM, then KILL after [`KILL_GRACE`]). Every child is
//! reaped, also when a `run` future is dropped half-way.
//!
//! The files: `prepare.rs` (which file, how safe) and `identity.rs` (as
//! whom) at config load; `spawn.rs` (clone/exec), `supervise.rs` (the run
//! loop), `output.rs` (bounded lines) and `reap.rs` (group signals,
//! reaping) at run time. This file holds only the types they share and the
//! public paths the daemon uses; behaviour belongs in those files.

mod identity;
mod output;
mod prepare;
mod reap;
mod spawn;
mod supervise;

use std::time::Duration;

pub use identity::lookup_user;
pub use prepare::{Finding, check_config, prepare};
pub use reap::{adopts_orphans, reap_killed, reap_orphans};
pub use supervise::run;

/// A script ready to run: `argv[0]` an absolute, canonical path; identity resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The command; `argv[0]` is the canonical path of the file.
    pub argv: Vec<String>,
    /// User and group the script runs as.
    pub uid: u32,
    pub gid: u32,
    /// Name of that user, for log lines.
    pub user: String,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited by itself with this status.
    Code(i32),
    /// Killed by this signal (not sent by the supervisor).
    Signal(i32),
    /// Stopped by the supervisor at the timeout.
    TimedOut,
    /// Stopped by the supervisor on request.
    Cancelled,
    /// Never ran, or its fate could not be watched; the reason.
    SpawnFailed(String),
}

impl Exit {
    /// Exit status 0, nothing else.
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }
}

/// Grace between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests;
