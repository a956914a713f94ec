//! Who a script runs as: the configured user and group, else keepalived's
//! default script user, resolved to ids through the system's passwd and
//! group databases (NSS, reentrant calls only). Nothing here checks files
//! or starts processes.

use std::ffi::{CStr, CString, c_char, c_int};
use std::io;
use std::mem::MaybeUninit;

use crate::config::ScriptUser;

/// keepalived's default script user, used (when it exists) by a root daemon
/// for scripts that name no user.
const DEFAULT_USER: &str = "keepalived_script";

/// Who a script runs as.
pub(super) struct Identity {
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) user: String,
    /// Supplementary groups the script keeps: vipd's own when no switch of
    /// user happens; none otherwise (std clears them when root sets a uid).
    pub(super) groups: Vec<u32>,
}

pub(super) fn identity(user: Option<&ScriptUser>) -> Result<Identity, String> {
    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    let (uid, gid, name) = match user {
        Some(u) => {
            let (uid, gid) = lookup_user(&u.user, u.group.as_deref())?;
            (uid, gid, u.user.clone())
        }
        None if euid != 0 => (euid, egid, user_name(euid)),
        None => match passwd_by_name(DEFAULT_USER)? {
            Some((uid, gid)) => (uid, gid, DEFAULT_USER.to_owned()),
            None => (0, 0, "root".to_owned()),
        },
    };
    let groups = if uid == euid && gid == egid {
        rustix::process::getgroups().map(|gs| gs.into_iter().map(|g| g.as_raw()).collect()).unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(Identity { uid, gid, user: name, groups })
}

/// (uid, gid) of `user`, with the gid of `group` when given and the user's
/// primary group otherwise. Errors name the unknown user or group. Names
/// only, as keepalived: a number is looked up as a name.
pub fn lookup_user(user: &str, group: Option<&str>) -> Result<(u32, u32), String> {
    let (uid, primary) = passwd_by_name(user)?.ok_or_else(|| format!("unknown user `{user}`"))?;
    let gid = match group {
        Some(g) => lookup_group(g)?.ok_or_else(|| format!("unknown group `{g}`"))?,
        None => primary,
    };
    Ok((uid, gid))
}

/// (uid, primary gid) of a user name; `None` when there is no such user.
fn passwd_by_name(name: &str) -> Result<Option<(u32, u32)>, String> {
    let cname = CString::new(name).map_err(|_| format!("user name `{name}` contains a NUL byte"))?;
    nss_lookup(
        // SAFETY: `nss_lookup` passes a writable entry, a buffer of `len`
        // bytes and a writable result pointer; `cname` is NUL-terminated.
        |entry, buf, len, result| unsafe { libc::getpwnam_r(cname.as_ptr(), entry, buf, len, result) },
        |pw: &libc::passwd| (pw.pw_uid, pw.pw_gid),
    )
    .map_err(|e| format!("cannot look up user `{name}`: {e}"))
}

/// gid of a group name; `None` when there is no such group.
fn lookup_group(name: &str) -> Result<Option<u32>, String> {
    let cname = CString::new(name).map_err(|_| format!("group name `{name}` contains a NUL byte"))?;
    nss_lookup(
        // SAFETY: as in `passwd_by_name`.
        |entry, buf, len, result| unsafe { libc::getgrnam_r(cname.as_ptr(), entry, buf, len, result) },
        |gr: &libc::group| gr.gr_gid,
    )
    .map_err(|e| format!("cannot look up group `{name}`: {e}"))
}

/// The name of `uid` for log lines, its number when it has none.
fn user_name(uid: u32) -> String {
    let name = nss_lookup(
        // SAFETY: as in `passwd_by_name`.
        |entry, buf, len, result| unsafe { libc::getpwuid_r(uid, entry, buf, len, result) },
        // SAFETY: on success `pw_name` points to a NUL-terminated string in
        // the buffer `nss_lookup` keeps alive while this runs.
        |pw: &libc::passwd| unsafe { CStr::from_ptr(pw.pw_name) }.to_string_lossy().into_owned(),
    );
    match name {
        Ok(Some(n)) => n,
        _ => uid.to_string(),
    }
}

/// Drives a reentrant passwd/group lookup (`get*_r`), growing its string
/// buffer on ERANGE; `read` sees the entry while the buffer is alive.
fn nss_lookup<T, R>(
    mut call: impl FnMut(*mut T, *mut c_char, usize, *mut *mut T) -> c_int,
    read: impl FnOnce(&T) -> R,
) -> io::Result<Option<R>> {
    const MAX_BUF: usize = 1 << 20;
    let mut buf = vec![0u8; 1024];
    loop {
        let mut entry = MaybeUninit::<T>::uninit();
        let mut result: *mut T = std::ptr::null_mut();
        match call(entry.as_mut_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut result) {
            0 if result.is_null() => return Ok(None),
            // SAFETY: success with a non-null result: the call filled `entry`
            // (which `result` points to) and its strings live in `buf`.
            0 => return Ok(Some(read(unsafe { &*result }))),
            libc::ERANGE if buf.len() < MAX_BUF => buf.resize(buf.len() * 2, 0),
            // getpwnam_r(3) lists these as "not found" on some systems.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}
