//! systemd's readiness protocol (sd_notify(3)), written by hand: one
//! datagram per state to the socket named by `$NOTIFY_SOCKET`.

use std::os::fd::OwnedFd;

use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};

/// The service manager's notification socket, when there is one.
pub struct SdNotify {
    fd: OwnedFd,
    addr: SocketAddrUnix,
}

impl SdNotify {
    /// From `$NOTIFY_SOCKET`: a path, or an abstract name starting with `@`.
    /// `None` when unset or unusable (vipd then runs as without systemd).
    pub fn from_env() -> Option<SdNotify> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
        let addr = match bytes.split_first() {
            Some((b'@', name)) => SocketAddrUnix::new_abstract_name(name).ok()?,
            Some(_) => SocketAddrUnix::new(bytes).ok()?,
            None => return None,
        };
        let fd = rustix::net::socket_with(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::CLOEXEC, None).ok()?;
        Some(SdNotify { fd, addr })
    }

    /// Sends `state` (e.g. `READY=1`). Failures are ignored: the manager
    /// going away must not stop the daemon.
    pub fn send(&self, state: &str) {
        let _ = rustix::net::sendto(&self.fd, state.as_bytes(), SendFlags::DONTWAIT, &self.addr);
    }
}
