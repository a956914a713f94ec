//! Thin Linux drivers: the only code that touches file descriptors. No
//! protocol decisions here; the engine makes them.

pub mod clock;
pub mod garp;
pub mod netlink;
pub mod sdnotify;
pub mod sockopt;
pub mod vrrp;
pub mod fifo;
pub mod script;
pub mod trackfile;
