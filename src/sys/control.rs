//! The control socket's file-system side: a Unix stream listener at a
//! path (default `/run/vipd/vipd.sock`) created 0660 in a directory created
//! 0750, owned by the daemon's user and optionally a group allowed to
//! read; the peer's credentials of each connection (SO_PEERCRED); removal
//! on drop, only of the socket this process created; and the client's
//! connect. It decides nothing about requests or who may ask what (the
//! daemon's control module does) and never blocks: the listener and every
//! accepted stream are non-blocking.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use rustix::fs::{Gid, Mode, Uid};

/// Where the daemon listens and `vipd status` connects when not told.
pub const DEFAULT_PATH: &str = "/run/vipd/vipd.sock";

/// Who is on the other end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// The listening socket; the socket file goes with it.
#[derive(Debug)]
pub struct ControlListener {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of the socket file we created: on drop, a file that
    /// someone replaced meanwhile is left alone.
    ident: (u64, u64),
}

impl ControlListener {
    /// Binds `path`. A missing directory is created 0750 (owned by us, and
    /// `group` when given). A socket file left by a dead daemon is
    /// replaced; one a live daemon answers on is an error, as is any other
    /// kind of file there.
    pub fn bind(path: &Path, group: Option<u32>) -> io::Result<ControlListener> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::DirBuilder::new().mode(0o750).create(dir)?;
                // The umask may have taken bits away (or, in a test binary,
                // another thread may be holding a different one).
                rustix::fs::chmod(dir, Mode::from_raw_mode(0o750))?;
                if let Some(g) = group {
                    rustix::fs::chown(dir, None, Some(Gid::from_raw(g)))?;
                }
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() => match UnixStream::connect(path) {
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("another daemon answers on {}", path.display()),
                    ));
                }
                Err(_) => std::fs::remove_file(path)?,
            },
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // The socket file is created with the umask's complement: 0660 from
        // the start, never briefly world-writable. One thread, so the
        // process-wide umask is ours for these two calls.
        let old = rustix::process::umask(Mode::from_raw_mode(0o117));
        let bound = UnixListener::bind(path);
        rustix::process::umask(old);
        let listener = bound?;
        // And explicitly, whatever the umask was (another thread of a test
        // binary may have changed it meanwhile).
        rustix::fs::chmod(path, Mode::from_raw_mode(0o660))?;
        if let Some(g) = group {
            rustix::fs::chown(path, None, Some(Gid::from_raw(g)))?;
        }
        listener.set_nonblocking(true)?;
        let m = std::fs::symlink_metadata(path)?;
        Ok(ControlListener { listener, path: path.to_path_buf(), ident: (m.dev(), m.ino()) })
    }

    /// The listener the image before an upgrade bound at `path`.
    pub fn adopt(fd: std::os::fd::OwnedFd, path: &Path) -> io::Result<ControlListener> {
        let listener = UnixListener::from(fd);
        listener.set_nonblocking(true)?;
        let m = std::fs::symlink_metadata(path)?;
        Ok(ControlListener { listener, path: path.to_path_buf(), ident: (m.dev(), m.ino()) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The peer's credentials (SO_PEERCRED). The pid is 0 for a peer outside
/// our PID namespace (vipd as process 1 of its own, the peer outside),
/// which rustix's `socket_peercred` refuses as an invalid `Pid`; uid and
/// gid are what access is decided on.
fn peer_of(stream: &UnixStream) -> io::Result<Peer> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = core::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the size passed;
    // the fd is open for the duration of the call (borrowed `stream`).
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast::<libc::c_void>(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Peer { pid: cred.pid, uid: cred.uid, gid: cred.gid })
}

impl ControlListener {
    /// The next waiting connection, non-blocking, with its peer's
    /// credentials; `None` when nobody is waiting.
    pub fn accept(&self) -> io::Result<Option<(UnixStream, Peer)>> {
        match self.listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(true)?;
                let peer = peer_of(&stream)?;
                Ok(Some((stream, peer)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            // The client gave up between the wakeup and accept().
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl AsFd for ControlListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl Drop for ControlListener {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.ident);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The group named `name`'s id, from /etc/group (what `control_group`
/// and `--control-group` name).
pub fn group_id(name: &str) -> io::Result<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(n);
    }
    let text = std::fs::read_to_string("/etc/group")?;
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let (n, _, id) = (f.next()?, f.next()?, f.next()?);
            (n == name).then(|| id.parse::<u32>().ok()).flatten()
        })
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no group `{name}` in /etc/group")))
}

/// Whether `peer` may read: root, the daemon's own user, or a member of the
/// socket's group by its primary group (the file mode already keeps
/// everyone else out; this is the second lock).
pub fn may_read(peer: &Peer, group: Option<u32>) -> bool {
    let me = rustix::process::geteuid();
    peer.uid == 0 || Uid::from_raw(peer.uid) == me || group.is_some_and(|g| g == peer.gid) || member_of(peer, group)
}

/// Supplementary membership of the peer's uid in `group`, read from
/// /etc/group by user name (best effort: NSS groups are not seen).
fn member_of(peer: &Peer, group: Option<u32>) -> bool {
    let Some(g) = group else { return false };
    let Ok(passwd) = std::fs::read_to_string("/etc/passwd") else { return false };
    let user = passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let (name, _, uid) = (f.next()?, f.next()?, f.next()?);
        (uid.parse::<u32>().ok()? == peer.uid).then(|| name.to_owned())
    });
    let Some(user) = user else { return false };
    let Ok(groups) = std::fs::read_to_string("/etc/group") else { return false };
    groups.lines().any(|l| {
        let f: Vec<&str> = l.split(':').collect();
        f.len() >= 4 && f[2].parse::<u32>().ok() == Some(g) && f[3].split(',').any(|m| m == user)
    })
}

/// The client's side: a blocking connection to the daemon at `path`.
pub fn connect(path: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::testkit::TempDir;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn binds_0660_in_a_new_0750_directory_and_removes_its_socket() {
        let dir = TempDir::new("control");
        let path = dir.path("sub/vipd.sock");
        let l = ControlListener::bind(&path, None).expect("bind");
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode(&path), 0o660);
        assert_eq!(mode(&dir.path("sub")), 0o750);
        let c = connect(&path).expect("connect");
        let (_s, peer) = l.accept().expect("accept").expect("a waiting client");
        assert_eq!(peer.uid, rustix::process::geteuid().as_raw());
        assert_eq!(peer.pid as u32, std::process::id());
        assert!(may_read(&peer, None));
        drop(c);
        drop(l);
        assert!(!path.exists(), "socket left behind");
    }

    #[test]
    fn a_live_daemon_is_not_displaced_and_a_stale_socket_is() {
        let dir = TempDir::new("control2");
        let path = dir.path("vipd.sock");
        let first = ControlListener::bind(&path, None).expect("bind");
        let err = ControlListener::bind(&path, None).expect_err("second bind while the first listens");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // A dead daemon's socket: the file without a listener. Bound and
        // never listening, rather than a listener dropped: another test
        // thread's spawn may clone our fd table while a listener is open,
        // and its child keeps the listener (and our connect succeeding)
        // until it execs.
        std::mem::forget(first);
        let stale = rustix::net::socket_with(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .expect("socket");
        let addr = rustix::net::SocketAddrUnix::new(dir.path("other.sock")).expect("address");
        rustix::net::bind(&stale, &addr).expect("bind other");
        drop(stale);
        ControlListener::bind(&dir.path("other.sock"), None).expect("a stale socket is replaced");
        std::fs::write(dir.path("file"), "x").expect("write");
        let err = ControlListener::bind(&dir.path("file"), None).expect_err("a regular file is kept");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn strangers_may_not_read_unless_in_the_group() {
        let me = rustix::process::geteuid().as_raw();
        // A uid that is neither root, nor us, nor in /etc/passwd.
        let stranger = Peer { pid: 1, uid: 3_999_999_999u32.max(me.wrapping_add(1)), gid: 3_999_999_998 };
        assert!(!may_read(&stranger, None));
        assert!(!may_read(&stranger, Some(3_999_999_997)));
        assert!(may_read(&stranger, Some(3_999_999_998)), "the socket's group may read");
        assert!(may_read(&Peer { uid: 0, ..stranger }, None), "root may read");
    }
}
