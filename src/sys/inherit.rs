//! File descriptors an `execve` of ourselves keeps (`vipd upgrade`): the
//! memfd that carries the snapshot, the close-on-exec flag of exactly the
//! fds handed over, adopting them again in the new image, and the
//! `execve` itself. No decision about which fds or what they hold.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::io::FdFlags;

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

/// Whether `fd` survives an `execve` (clears or sets FD_CLOEXEC).
pub fn set_inherit(fd: BorrowedFd<'_>, inherit: bool) -> io::Result<()> {
    let flags = rustix::io::fcntl_getfd(fd)?;
    let flags = if inherit { flags - FdFlags::CLOEXEC } else { flags | FdFlags::CLOEXEC };
    Ok(rustix::io::fcntl_setfd(fd, flags)?)
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
    set_inherit(fd.as_fd(), false).ok()?;
    Some(fd)
}

/// A socket's type, to check that an adopted number is what it should be.
pub fn is_socket(fd: BorrowedFd<'_>, kind: rustix::net::SocketType) -> bool {
    rustix::net::sockopt::socket_type(fd).is_ok_and(|t| t == kind)
}

/// Closes `fds` on a short-lived thread: closing a packet socket waits
/// for an RCU grace period (10-20 ms), which the loop must not. Inline if
/// no thread can be started.
pub fn close_aside(fds: Vec<OwnedFd>) {
    if fds.is_empty() {
        return;
    }
    let shared = std::sync::Arc::new(std::sync::Mutex::new(Some(fds)));
    let theirs = shared.clone();
    let spawned = std::thread::Builder::new().name("vipd-close".into()).spawn(move || {
        drop(theirs.lock().map(|mut g| g.take()));
    });
    if spawned.is_err() {
        drop(shared.lock().map(|mut g| g.take()));
    }
}

/// Replaces this process's image with `path`, keeping its pid, its signal
/// mask and the fds without FD_CLOEXEC. Returns only on failure.
pub fn exec(path: &Path, argv: &[OsString], env: &[(OsString, OsString)]) -> io::Error {
    let c = |b: &[u8]| CString::new(b).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let build = || -> io::Result<(CString, Vec<CString>, Vec<CString>)> {
        let prog = c(path.as_os_str().as_bytes())?;
        let args = argv.iter().map(|a| c(a.as_bytes())).collect::<io::Result<Vec<_>>>()?;
        let mut vars = Vec::with_capacity(env.len());
        for (k, v) in env {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            vars.push(c(&kv)?);
        }
        Ok((prog, args, vars))
    };
    let (prog, args, vars) = match build() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut argp: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argp.push(core::ptr::null());
    let mut envp: Vec<*const libc::c_char> = vars.iter().map(|a| a.as_ptr()).collect();
    envp.push(core::ptr::null());
    // SAFETY: every pointer is to a NUL-terminated string alive until the
    // call returns, and both arrays end with a null pointer.
    unsafe { libc::execve(prog.as_ptr(), argp.as_ptr(), envp.as_ptr()) };
    io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memfd_round_trips_and_flags_toggle() {
        let fd = memfd("vipd-test").unwrap();
        write_all(fd.as_fd(), b"hello").unwrap();
        assert_eq!(read_all(fd.as_fd(), 100).unwrap(), b"hello");
        assert!(read_all(fd.as_fd(), 3).is_err());
        set_inherit(fd.as_fd(), true).unwrap();
        assert!(!rustix::io::fcntl_getfd(&fd).unwrap().contains(FdFlags::CLOEXEC));
        set_inherit(fd.as_fd(), false).unwrap();
        assert!(rustix::io::fcntl_getfd(&fd).unwrap().contains(FdFlags::CLOEXEC));
        assert!(adopt(-1).is_none() && adopt(1).is_none());
    }
}
