//! File descriptors an `execve` of ourselves keeps (`vipd upgrade`): the
//! memfd that carries the snapshot, the close-on-exec flag of exactly the
//! fds handed over, adopting them again in the new image, and the
//! `execve` itself. No decision about which fds or what they hold.

use std::ffi::CString;
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// An anonymous in-memory file (close-on-exec until [`set_inherit`]).
pub fn memfd(name: &str) -> io::Result<OwnedFd> {
    Ok(rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)?)
}

/// Writes all of `bytes` at the start of `fd`.
pub fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    let mut at = 0u64;
    while !bytes.is_empty() {
        let n = rustix::io::pwrite(fd, bytes, at)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
        at += n as u64;
    }
    Ok(())
}

/// The whole content of `fd` from its start, refused beyond `max` bytes.
pub fn read_all(fd: BorrowedFd<'_>, max: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = rustix::io::pread(fd, &mut chunk, out.len() as u64)?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > max {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "too large"));
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Whether fd number `fd` survives an `execve` (clears or sets
/// FD_CLOEXEC; the only fd flag there is).
pub fn set_inherit(fd: i32, inherit: bool) -> io::Result<()> {
    // SAFETY: fcntl(F_SETFD) on a number changes nothing but that flag,
    // and fails with EBADF when the number is not open.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, if inherit { 0 } else { libc::FD_CLOEXEC }) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Takes ownership of an fd number the previous image passed on, if it is
/// open, and makes it close-on-exec again (scripts must not inherit it).
pub fn adopt(raw: i32) -> Option<OwnedFd> {
    if raw < 3 {
        return None;
    }
    // SAFETY: fcntl on any number is harmless; it fails with EBADF when
    // the number is not open.
    let open = unsafe { libc::fcntl(raw, libc::F_GETFD) } >= 0;
    if !open {
        return None;
    }
    // SAFETY: the number is open and, by the handover's contract, nothing
    // else in this image owns it: it was created before this image started.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_inherit(raw, false).ok()?;
    Some(fd)
}

/// Closes `fds` on the short-lived worker thread: closing a packet
/// socket waits for an RCU grace period (10-20 ms), which the loop must
/// not. Inline if no thread can be started.
pub fn close_aside(fds: Vec<OwnedFd>) {
    if !fds.is_empty() {
        // On failure the closure, and the fds with it, are dropped here.
        let _ = super::worker::spawn(move || drop(fds));
    }
}

unsafe extern "C" {
    /// The C library's environment (the libc crate has it for glibc only).
    static environ: *const *const libc::c_char;
}

/// Replaces this process's image with `path` run with `argv`, this
/// process's environment but for variable `key`, and `key=value`; keeps
/// the pid, the signal mask and the fds without FD_CLOEXEC. Returns only
/// on failure.
pub fn exec(path: &Path, argv: &[CString], key: &str, value: &str) -> io::Error {
    let Ok(prog) = CString::new(path.as_os_str().as_bytes()) else { return io::ErrorKind::InvalidInput.into() };
    let Ok(ours) = CString::new(format!("{key}={value}")) else { return io::ErrorKind::InvalidInput.into() };
    let mut argp: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argp.push(core::ptr::null());
    let mut envp: Vec<*const libc::c_char> = Vec::new();
    // SAFETY: `environ` is the C library's NULL-terminated array of
    // NUL-terminated strings; only this thread changes the environment
    // (the loop's, at start), and nothing here changes it.
    unsafe {
        let mut at = environ;
        while !at.is_null() && !(*at).is_null() {
            let var = core::ffi::CStr::from_ptr(*at).to_bytes();
            if !(var.starts_with(key.as_bytes()) && var.get(key.len()) == Some(&b'=')) {
                envp.push(*at);
            }
            at = at.add(1);
        }
    }
    envp.push(ours.as_ptr());
    envp.push(core::ptr::null());
    // SAFETY: every pointer is to a NUL-terminated string alive until the
    // call returns, and both arrays end with a null pointer.
    unsafe { libc::execve(prog.as_ptr(), argp.as_ptr(), envp.as_ptr()) };
    io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::io::FdFlags;
    use std::os::fd::AsFd;

    #[test]
    fn memfd_round_trips_and_flags_toggle() {
        let fd = memfd("vipd-test").unwrap();
        write_all(fd.as_fd(), b"hello").unwrap();
        assert_eq!(read_all(fd.as_fd(), 100).unwrap(), b"hello");
        assert!(read_all(fd.as_fd(), 3).is_err());
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        set_inherit(raw, true).unwrap();
        assert!(!rustix::io::fcntl_getfd(&fd).unwrap().contains(FdFlags::CLOEXEC));
        set_inherit(raw, false).unwrap();
        assert!(rustix::io::fcntl_getfd(&fd).unwrap().contains(FdFlags::CLOEXEC));
        assert!(adopt(-1).is_none() && adopt(1).is_none());
    }
}
