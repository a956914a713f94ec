//! Socket options rustix 1.1 does not have (platform-notes Q2), through
//! libc's `setsockopt`: the only `unsafe` of the drivers.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

pub const SOL_SOCKET: i32 = 1;
pub const SO_BINDTODEVICE: i32 = 25;
pub const SO_RCVBUF: i32 = 8;
pub const IPPROTO_IP: i32 = 0;
pub const IP_HDRINCL: i32 = 3;
pub const IP_PKTINFO: i32 = 8;
pub const IPPROTO_IPV6: i32 = 41;
pub const IPV6_CHECKSUM: i32 = 7;
pub const IPV6_RECVPKTINFO: i32 = 49;
pub const IPV6_PKTINFO: i32 = 50;
pub const IPV6_RECVHOPLIMIT: i32 = 51;
pub const IPV6_HOPLIMIT: i32 = 52;

/// `setsockopt(fd, level, name, value)` with the value as raw bytes.
pub fn set_bytes(fd: impl AsFd, level: i32, name: i32, value: &[u8]) -> io::Result<()> {
    let len = u32::try_from(value.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `value` is a live slice of `len` bytes for the whole call and
    // the kernel only reads it; the fd is borrowed, so it stays open.
    let rc = unsafe { libc::setsockopt(fd.as_fd().as_raw_fd(), level, name, value.as_ptr().cast(), len) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// An `int` option.
pub fn set_int(fd: impl AsFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    set_bytes(fd, level, name, &value.to_ne_bytes())
}

/// SO_BINDTODEVICE: the socket sends and receives on this interface only.
pub fn bind_to_device(fd: impl AsFd, ifname: &str) -> io::Result<()> {
    set_bytes(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.as_bytes())
}
