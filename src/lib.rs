//! vipd: a small VRRP daemon that reads keepalived.conf.
//!
//! Data flows one way:
//!
//! ```text
//! keepalived.conf ─► config ─► Config ─► core::Engine::new
//! Event ─► core::Engine::handle(now, event, &mut Effects) ─► Effects ─► sys drivers
//!            core::Engine::next_deadline() ─► the daemon's one timer
//! ```
//!
//! - [`wire`]: packet formats, no I/O, no allocation.
//! - [`core`]: the pure VRRP engine; time is an argument, never read.
//! - [`config`]: the validated configuration the engine is built from.
//! - [`time`]: units, converted in one place.
//! - [`sort`]: small sorts that keep the static binary small.

pub mod config;
pub mod core;
pub mod daemon;
pub mod sort;
pub mod sys;
pub mod time;
pub mod wire;
