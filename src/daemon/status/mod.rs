//! `vipd status` and keepalived's dump files: the snapshot of the daemon
//! ([`model`]) and the renderers that turn it into text. Nothing here runs
//! unless somebody asks; nothing here changes the daemon's state.

mod build;
pub mod keepalived;
pub mod model;

pub use build::Record;
pub use model::*;
