//! Preparing a script at config load: which file it is (`$PATH` search,
//! canonical path, exec permission for the user it runs as) and whether a
//! non-root user could change what a root-run script executes
//! (keepalived-reference §3.7), plus [`check_config`], which reports those
//! problems per configured place. Nothing here starts a process; who the
//! script runs as is [`super::identity`]'s to resolve.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Prepared;
use super::identity::{Identity, identity};
use crate::config::{Config, Globals, Notify, Script, Span};

/// `$PATH` when the environment has none (keepalived's and most shells' list).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How bad a problem found by [`prepare`] is; [`check_config`] ranks
/// notify-script problems by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Unknown user or group, empty command: the configuration is wrong.
    Config,
    /// Missing, not a regular file, not executable: the disk is wrong, and
    /// may be fixed without touching the configuration.
    File,
    /// Insecure while `enable_script_security` is on.
    Insecure,
}

struct Problem {
    kind: Kind,
    msg: String,
}

/// Resolves `script.user`, else `globals.script_user`, else the default user:
/// `keepalived_script` if that user exists, else root (keepalived's rule).
/// A vipd that does not run as root cannot switch users, so there the
/// default is vipd's own user and group.
///
/// `argv[0]` without a `/` is searched in `$PATH` (a built-in list when
/// `$PATH` is unset), then canonicalised. Errors name the path or user: an
/// unknown user or group, a missing file, not a regular file, not executable
/// by the resolved uid/gid.
///
/// When the script runs as root, or the file is setuid/setgid root, every
/// component of its path must be unchangeable by non-root users; a finding
/// is an error with `globals.enable_script_security` and the returned
/// warning otherwise.
pub fn prepare(script: &Script, globals: &Globals) -> Result<(Prepared, Option<String>), String> {
    prepare_kind(script, globals).map_err(|p| p.msg)
}

fn prepare_kind(script: &Script, globals: &Globals) -> Result<(Prepared, Option<String>), Problem> {
    let Some((cmd, args)) = script.argv.split_first() else {
        return Err(Problem { kind: Kind::Config, msg: "the command is empty".to_owned() });
    };
    let id = identity(script.user.as_ref().or(globals.script_user.as_ref()))
        .map_err(|msg| Problem { kind: Kind::Config, msg })?;
    let (path, meta) = locate(cmd, &id).map_err(|msg| Problem { kind: Kind::File, msg })?;
    let mut warning = None;
    if let Some(finding) = security(&path, &meta, id.uid) {
        if globals.enable_script_security {
            return Err(Problem { kind: Kind::Insecure, msg: finding });
        }
        warning = Some(finding);
    }
    let program = path
        .into_os_string()
        .into_string()
        .map_err(|p| Problem { kind: Kind::File, msg: format!("`{}` is not valid UTF-8", p.display()) })?;
    let mut argv = Vec::with_capacity(script.argv.len());
    argv.push(program);
    argv.extend(args.iter().cloned());
    Ok((Prepared { argv, uid: id.uid, gid: id.gid, user: id.user }, warning))
}

/// Prepares every script the configuration will run and returns the
/// problems found, as `(is_error, where the script is named, message)`;
/// each message starts with where
/// the script is configured: "vrrp_script \`chk\`: …", "vrrp_instance
/// \`VI_1\` notify_master: …", "vrrp_sync_group \`G\` notify: …",
/// "global_defs notify_fifo_script: …".
///
/// Check scripts count only when an instance tracks them; a missing or
/// non-executable one is an error, because it decides elections. A missing
/// or non-executable notify script is a warning (it can appear on disk
/// later). An insecure script of either kind is an error only with
/// `enable_script_security`; an unknown user or group is always an error.
/// A file without a `#!` line (nor an ELF header) is a warning.
pub fn check_config(cfg: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    let g = &cfg.globals;
    for (keyword, script) in
        [("notify_fifo_script", &g.notify_fifo_script), ("vrrp_notify_fifo_script", &g.vrrp_notify_fifo_script)]
    {
        if let Some(s) = script {
            report(&mut out, &format!("global_defs {keyword}"), s, g, false);
        }
    }
    let mut tracked = vec![false; cfg.trackers.len()];
    for r in cfg.instances.iter().flat_map(|i| &i.track) {
        if let Some(t) = tracked.get_mut(usize::from(r.tracker.0)) {
            *t = true;
        }
    }
    for (tracker, _) in cfg.trackers.iter().zip(&tracked).filter(|(_, t)| **t) {
        if let Some(check) = &tracker.script {
            report(&mut out, &format!("vrrp_script `{}`", tracker.name), &check.script, g, true);
        }
    }
    for inst in &cfg.instances {
        report_notify(&mut out, &format!("vrrp_instance `{}`", inst.name), &inst.notify, g);
    }
    for group in &cfg.sync_groups {
        report_notify(&mut out, &format!("vrrp_sync_group `{}`", group.name), &group.notify, g);
    }
    out
}

/// One problem [`check_config`] found: whether it is an error, the span of
/// the keyword that named the script, and the message.
pub type Finding = (bool, Option<Span>, String);

fn report_notify(out: &mut Vec<Finding>, place: &str, n: &Notify, g: &Globals) {
    let scripts = [
        ("notify_master", &n.master),
        ("notify_backup", &n.backup),
        ("notify_fault", &n.fault),
        ("notify_stop", &n.stop),
        ("notify_deleted", &n.deleted),
        ("notify", &n.generic),
        ("notify_master_rx_lower_pri", &n.master_rx_lower_pri),
    ];
    for (keyword, script) in scripts {
        if let Some(s) = script {
            report(out, &format!("{place} {keyword}"), s, g, false);
        }
    }
}

fn report(out: &mut Vec<Finding>, place: &str, script: &Script, g: &Globals, check: bool) {
    let at = script.span;
    match prepare_kind(script, g) {
        Ok((prepared, warning)) => {
            // The issue and keepalived agree: without enable_script_security
            // an insecure script runs, with a warning.
            if let Some(warning) = warning {
                out.push((false, at, format!("{place}: {warning}")));
            }
            if let Some(program) = prepared.argv.first().filter(|p| !starts_like_a_program(Path::new(p))) {
                out.push((
                    false,
                    at,
                    format!(
                        "{place}: `{program}` has no `#!` line: it runs with /bin/sh, as keepalived does; add `#!/bin/sh` (or the interpreter it needs) as its first line"
                    ),
                ));
            }
        }
        Err(p) => out.push((check || p.kind != Kind::File, at, format!("{place}: {}", p.msg))),
    }
}

/// Whether the file opens with `#!` or an ELF header, the two forms the
/// kernel runs on every system (binfmt_misc formats are left alone: a file
/// that cannot be read is not reported either).
fn starts_like_a_program(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    let Ok(mut f) = std::fs::File::open(path) else { return true };
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
    head.starts_with(b"#!") || head == *b"\x7fELF"
}

/// The canonical path of the file `cmd` names, and its metadata, once it is
/// a regular file `id` may execute.
fn locate(cmd: &str, id: &Identity) -> Result<(PathBuf, Metadata), String> {
    let found = if cmd.contains('/') { PathBuf::from(cmd) } else { search_path(cmd, id)? };
    let path = std::fs::canonicalize(&found).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => format!("`{}` does not exist", found.display()),
        _ => format!("cannot resolve `{}`: {e}", found.display()),
    })?;
    let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("`{}` is not a regular file", path.display()));
    }
    if !can_exec(id, meta.uid(), meta.gid(), meta.mode()) {
        return Err(format!(
            "`{}` is not executable by user `{}` (uid {}, gid {})",
            path.display(),
            id.user,
            id.uid,
            id.gid
        ));
    }
    Ok((path, meta))
}

/// The first executable `dir/cmd` along `$PATH`, else the first regular file
/// of that name (so the error says "not executable" rather than "not found").
fn search_path(cmd: &str, id: &Identity) -> Result<PathBuf, String> {
    let var = std::env::var_os("PATH");
    let dirs = var.as_deref().unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut first_file = None;
    for dir in std::env::split_paths(dirs) {
        // Empty and relative entries would resolve against vipd's working
        // directory, which is no place to pick scripts up from.
        if dir.is_relative() {
            continue;
        }
        let candidate = dir.join(cmd);
        let Ok(meta) = std::fs::metadata(&candidate) else { continue };
        if !meta.is_file() {
            continue;
        }
        if can_exec(id, meta.uid(), meta.gid(), meta.mode()) {
            return Ok(candidate);
        }
        first_file.get_or_insert(candidate);
    }
    first_file.ok_or_else(|| format!("`{cmd}` not found in PATH ({})", dirs.display()))
}

/// The kernel's permission rule on mode bits: root needs any x bit; others
/// get the owner's bits if they own the file, else the group's if they are
/// in its group, else the others' bits. ACLs are not consulted.
pub(super) fn can_exec(id: &Identity, owner: u32, group: u32, mode: u32) -> bool {
    if id.uid == 0 {
        return mode & 0o111 != 0;
    }
    let bit = if owner == id.uid {
        0o100
    } else if group == id.gid || id.groups.contains(&group) {
        0o010
    } else {
        0o001
    };
    mode & bit != 0
}

/// A finding when a script that runs with root rights sits on a path a
/// non-root user could change.
fn security(path: &Path, meta: &Metadata, uid: u32) -> Option<String> {
    let mode = meta.mode();
    let setid_root = (mode & libc::S_ISUID != 0 && meta.uid() == 0) || (mode & libc::S_ISGID != 0 && meta.gid() == 0);
    if uid != 0 && !setid_root {
        return None;
    }
    let how = if uid == 0 { "runs as root" } else { "is setuid/setgid root" };
    path.ancestors().find_map(|component| {
        let why = match std::fs::metadata(component) {
            Ok(m) => insecure(m.uid(), m.gid(), m.mode())?,
            // Fail closed: what cannot be inspected cannot be trusted.
            Err(e) => format!("cannot be checked ({e})"),
        };
        Some(format!("insecure: `{}` {how}, but `{}` {why}", path.display(), component.display()))
    })
}

/// Why a path component (the file or one of its directories) lets a non-root
/// user change what runs, if it does.
///
/// Stricter than counting write bits alone: a non-root owner can always
/// `chmod` the component writable, so any non-root owner is a finding. A
/// group- or world-writable directory with the sticky bit (`/tmp`) is not
/// one, as in keepalived: others may add entries there but cannot rename or
/// remove the root-owned entry below it, which is checked in its own right.
pub(super) fn insecure(owner: u32, group: u32, mode: u32) -> Option<String> {
    let sticky_dir = mode & libc::S_IFMT == libc::S_IFDIR && mode & libc::S_ISVTX != 0;
    if owner != 0 {
        Some(format!("is owned by uid {owner}"))
    } else if sticky_dir {
        None
    } else if group != 0 && mode & 0o020 != 0 {
        Some(format!("is writable by group {group}"))
    } else if mode & 0o002 != 0 {
        Some("is writable by everyone".to_owned())
    } else {
        None
    }
}
