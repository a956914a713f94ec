//! `vipd status` and keepalived's dump files: the snapshot of the daemon
//! ([`model`]) and the renderers that turn it into text ([`text`], [`json`],
//! [`prometheus`]). Nothing here runs unless somebody asks; nothing here
//! changes the daemon's state.

mod build;
pub mod json;
pub mod model;
pub mod prometheus;
pub mod text;

#[cfg(test)]
mod fixtures;

pub use build::Record;
pub use model::*;
