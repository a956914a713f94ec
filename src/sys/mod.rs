//! Thin Linux drivers: the only code that touches file descriptors. No
//! protocol decisions here; the engine makes them.

pub mod claims;
pub mod clock;
pub mod cnproc;
pub mod control;
pub mod dumpfile;
pub mod fifo;
pub mod garp;
pub mod inherit;
pub mod mem;
pub mod netlink;
pub mod probe;
pub mod reactor;
pub mod sched;
pub mod script;
pub mod sdnotify;
pub mod signals;
pub mod smtp;
pub mod sockopt;
pub mod sysctl;
pub mod syslog;
#[cfg(test)]
pub(crate) mod testkit;
pub mod trackfile;
pub mod vrrp;
pub mod worker;
