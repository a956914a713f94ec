//! What `scripts/package` ships, checked the way a user meets it:
//! - the Debian package: lintian reports no error or warning; `dpkg -i`
//!   beside the installed keepalived puts every file in place, enables the
//!   unit only when keepalived's is not enabled and starts nothing;
//!   `systemd-analyze verify` accepts the installed unit (its man pages
//!   included), `man -l` renders the installed pages, `vipd -t` accepts the
//!   installed sample on a host with the interface it names; `dpkg -r`
//!   keeps the configuration, `dpkg --purge` leaves no path naming vipd that
//!   was not there before, and keepalived is exactly as it was;
//! - the tarballs: their file lists, binaries within 1 MiB, the aarch64
//!   one run under qemu-user (`-v`, `-t` on the sample).
//!
//! Needs root, dpkg, lintian, man-db, systemd-analyze and qemu-user
//! (scripts/test installs them); skipped otherwise. The machine may be
//! shared: the .deb test refuses to run over an installed vipd, holds a
//! lock against a parallel run, and purges the package on any failure.

#[path = "../src/sys/testkit.rs"]
#[allow(dead_code)]
mod testkit;

use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use testkit::{NetNs, TempDir, skip};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const MAX_BINARY: u64 = 1024 * 1024;

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Runs scripts/package once per test binary (both tests need its output)
/// and returns target/package; None after a skip when it cannot run here.
fn package() -> Option<PathBuf> {
    static BUILT: Mutex<Option<bool>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.is_none() {
        let missing: Vec<&str> = ["rustup", "dpkg-deb", "gzip", "tar"].into_iter().filter(|p| !have(p)).collect();
        if !missing.is_empty() {
            skip(&format!("scripts/package needs {}", missing.join(", ")));
            return None;
        }
        if !have("qemu-aarch64-static") && !have("qemu-aarch64") && !rustix::process::geteuid().is_root() {
            skip("scripts/package needs qemu-user (installed by scripts/test as root)");
            return None;
        }
        let out = run(&format!("{ROOT}/scripts/package"), &[]);
        assert!(out.status.success(), "scripts/package: {}\n{}{}", out.status, text(&out.stdout), text(&out.stderr));
        *built = Some(true);
    }
    Some(PathBuf::from(ROOT).join("target/package"))
}

/// Every path under `dirs` whose name contains "vipd" (symlinks not
/// followed): what installing the package can add.
fn vipd_paths(dirs: &[&str]) -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, into: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let path = e.path();
            if e.file_name().to_string_lossy().contains("vipd") {
                into.insert(path.clone());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&path, into);
            }
        }
    }
    let mut set = BTreeSet::new();
    for d in dirs {
        walk(Path::new(d), &mut set);
    }
    set
}

/// keepalived as dpkg and systemd see it: status, changed files, enable
/// links, and its configuration files' contents.
fn keepalived_state() -> String {
    let mut s = text(&run("dpkg-query", &["-W", "-f=${Status} ${Version}\n", "keepalived"]).stdout);
    s += &text(&run("dpkg", &["--verify", "keepalived"]).stdout);
    for p in keepalived_links() {
        s += &format!("{}\n", p.display());
    }
    for f in ["/etc/default/keepalived", "/etc/keepalived/keepalived.conf"] {
        s += &format!("{f}: {:?}\n", std::fs::read(f).ok());
    }
    s
}

fn keepalived_links() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(dirs) = std::fs::read_dir("/etc/systemd/system") {
        for d in dirs.flatten() {
            let link = d.path().join("keepalived.service");
            if link.symlink_metadata().is_ok() {
                v.push(link);
            }
        }
    }
    v.sort();
    v
}

fn enabled_links(unit: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(dirs) = std::fs::read_dir("/etc/systemd/system") {
        for d in dirs.flatten() {
            let link = d.path().join(unit);
            if d.file_name().to_string_lossy().ends_with(".wants") && link.symlink_metadata().is_ok() {
                v.push(link);
            }
        }
    }
    v
}

/// dpkg, retried while another dpkg or apt holds its lock (the machine is
/// shared).
fn dpkg(args: &[&str]) -> Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let out = run("dpkg", args);
        let locked = !out.status.success() && text(&out.stderr).contains("lock");
        if !locked || std::time::Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// Purges vipd when dropped, so a failed assertion leaves nothing installed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let out = dpkg(&["--purge", "vipd"]);
        if !out.status.success() {
            eprintln!("dpkg --purge vipd: {}{}", text(&out.stdout), text(&out.stderr));
        }
    }
}

#[test]
fn deb_installs_beside_keepalived_and_purges_clean() {
    if !rustix::process::geteuid().is_root() {
        skip("needs root to install the package");
        return;
    }
    let missing: Vec<&str> =
        ["dpkg", "lintian", "man", "systemd-analyze", "keepalived"].into_iter().filter(|p| !have(p)).collect();
    if !missing.is_empty() {
        skip(&format!("needs {} (scripts/test installs them)", missing.join(", ")));
        return;
    }
    // One run at a time on this machine, across worktrees.
    let lock = std::fs::File::create("/run/lock/vipd-package-test.lock").unwrap();
    rustix::fs::flock(lock.as_fd(), rustix::fs::FlockOperation::LockExclusive).unwrap();
    let listed = run("dpkg-query", &["-W", "-f=${db:Status-Status}", "vipd"]);
    let state = text(&listed.stdout);
    assert!(
        !listed.status.success() || state.is_empty() || state == "not-installed",
        "vipd is already installed here ({state}); not touching it"
    );
    assert!(!Path::new("/usr/sbin/vipd").exists(), "/usr/sbin/vipd exists outside the package; not touching it");

    let Some(out) = package() else { return };
    let deb = out.join(format!("vipd_{VERSION}_amd64.deb"));
    let deb_s = deb.to_string_lossy().into_owned();

    let lint = run("lintian", &["--pedantic", &deb_s]);
    let report = text(&lint.stdout);
    let bad: Vec<&str> = report.lines().filter(|l| l.starts_with("E: ") || l.starts_with("W: ")).collect();
    assert!(bad.is_empty(), "lintian:\n{report}{}", text(&lint.stderr));
    println!("lintian --pedantic: {} lines, no errors or warnings\n{report}", report.lines().count());

    let dirs = ["/etc", "/usr", "/var/lib"];
    let before = vipd_paths(&dirs);
    let keepalived_before = keepalived_state();
    let keepalived_enabled = !enabled_links("keepalived.service").is_empty();

    let install = dpkg(&["-i", &deb_s]);
    let guard = Installed;
    assert!(install.status.success(), "dpkg -i: {}{}", text(&install.stdout), text(&install.stderr));
    println!("dpkg -i: {}", text(&install.stderr).trim());

    let installed: Vec<_> = vipd_paths(&dirs).difference(&before).cloned().collect();
    println!("dpkg -i added {} paths naming vipd: {installed:?}", installed.len());

    let files = text(&dpkg(&["-L", "vipd"]).stdout);
    for f in [
        "/usr/sbin/vipd",
        "/usr/share/man/man8/vipd.8.gz",
        "/usr/share/man/man5/vipd.conf.5.gz",
        "/usr/lib/systemd/system/vipd.service",
        "/etc/vipd/vipd.conf",
        "/etc/default/vipd",
        "/usr/share/doc/vipd/copyright",
        "/usr/share/doc/vipd/changelog.gz",
    ] {
        assert!(files.lines().any(|l| l == f), "dpkg -L vipd lacks {f}:\n{files}");
        assert!(Path::new(f).is_file(), "{f} not installed");
    }
    let size = std::fs::metadata("/usr/sbin/vipd").unwrap().len();
    assert!(size <= MAX_BINARY, "/usr/sbin/vipd is {size} bytes");
    let conffiles = text(&run("dpkg-query", &["-W", "-f=${Conffiles}", "vipd"]).stdout);
    for f in ["/etc/vipd/vipd.conf", "/etc/default/vipd"] {
        assert!(conffiles.lines().any(|l| l.trim().starts_with(&format!("{f} "))), "{f} not a conffile:\n{conffiles}");
    }

    // Enabled unless keepalived is; started never.
    let links = enabled_links("vipd.service");
    if keepalived_enabled {
        assert!(links.is_empty(), "vipd.service enabled beside an enabled keepalived: {links:?}");
    } else {
        assert!(!links.is_empty(), "vipd.service not enabled on installation");
    }
    assert!(!Path::new("/run/vipd.pid").exists(), "vipd was started on installation");

    // With man pages installed, verify also resolves Documentation=man:...
    let verify = run("systemd-analyze", &["verify", "/usr/lib/systemd/system/vipd.service"]);
    assert!(
        verify.status.success() && text(&verify.stderr).trim().is_empty(),
        "systemd-analyze verify: {}\n{}",
        verify.status,
        text(&verify.stderr)
    );
    for (page, want) in
        [("/usr/share/man/man8/vipd.8.gz", "SERVICE MANAGERS"), ("/usr/share/man/man5/vipd.conf.5.gz", "vrrp_instance")]
    {
        let man = Command::new("man").args(["-l", page]).env("MANWIDTH", "80").output().unwrap();
        let rendered = text(&man.stdout);
        assert!(
            man.status.success() && rendered.contains(want),
            "man -l {page}: {}\n{}",
            man.status,
            text(&man.stderr)
        );
        assert!(text(&man.stderr).trim().is_empty(), "man -l {page} warns:\n{}", text(&man.stderr));
    }

    // The installed sample, read from its default path: offline here, and
    // for real on a host that has the interface it names.
    let offline = run("/usr/sbin/vipd", &["-t", "--offline"]);
    assert!(offline.status.success(), "vipd -t --offline on the installed sample: {}", text(&offline.stderr));
    if let Some(ns) = NetNs::new("pkg") {
        ns.ip(&["link", "add", "vipd-sample0", "type", "veth", "peer", "name", "peer0"]);
        ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "vipd-sample0"]);
        ns.ip(&["link", "set", "vipd-sample0", "up"]);
        ns.ip(&["link", "set", "peer0", "up"]);
        let t = run("ip", &["netns", "exec", ns.name(), "/usr/sbin/vipd", "-t"]);
        assert!(t.status.success(), "vipd -t on the installed sample with its interface: {}", text(&t.stderr));
        println!("vipd -t, installed sample: {}", text(&t.stderr).trim());
    }
    // The unit's flags come from /etc/default/vipd and start empty.
    let args = run("sh", &["-c", ". /etc/default/vipd && printf '[%s]' \"$VIPD_ARGS\""]);
    assert_eq!(text(&args.stdout), "[]");

    // Remove keeps the configuration; purge drops everything.
    let remove = dpkg(&["-r", "vipd"]);
    assert!(remove.status.success(), "dpkg -r: {}", text(&remove.stderr));
    assert!(!Path::new("/usr/sbin/vipd").exists(), "dpkg -r left the binary");
    for f in ["/etc/vipd/vipd.conf", "/etc/default/vipd"] {
        assert!(Path::new(f).is_file(), "dpkg -r removed the conffile {f}");
    }
    // Masked, so an enable link left behind cannot start a missing binary.
    if have("deb-systemd-helper") {
        let mask = std::fs::read_link("/etc/systemd/system/vipd.service");
        assert_eq!(mask.ok(), Some(PathBuf::from("/dev/null")), "vipd.service not masked after dpkg -r");
    }
    drop(guard);

    // Where keepalived is not enabled, installing enables vipd.service (and
    // purging removes the link): run in a private mount namespace whose
    // multi-user.target.wants is an empty tmpfs, so keepalived's link is
    // hidden from the scripts without being touched.
    if have("unshare") && have("deb-systemd-helper") {
        let guard = Installed;
        let script = format!(
            "set -e
            d() {{ n=0; until dpkg \"$@\" >/dev/null 2>\"$err\"; do grep -q lock \"$err\" && [ $n -lt 120 ] || {{ cat \"$err\" >&2; return 1; }}; n=$((n+1)); sleep 1; done; }}
            err=$(mktemp)
            mount -t tmpfs vipd-test /etc/systemd/system/multi-user.target.wants
            d -i {deb_s}
            link=$(readlink /etc/systemd/system/multi-user.target.wants/vipd.service)
            d --purge vipd
            rm -f \"$err\"
            test ! -e /etc/systemd/system/multi-user.target.wants/vipd.service || {{ echo 'purge left the link' >&2; exit 1; }}
            echo \"$link\""
        );
        let out = run("unshare", &["--mount", "--propagation", "private", "sh", "-c", &script]);
        drop(guard);
        assert!(out.status.success(), "install without keepalived enabled: {}", text(&out.stderr));
        // deb-systemd-helper links to /lib/..., which is /usr/lib/... on a
        // merged-/usr system.
        let link = text(&out.stdout).trim().to_owned();
        assert!(
            link == "/usr/lib/systemd/system/vipd.service" || link == "/lib/systemd/system/vipd.service",
            "multi-user.target.wants/vipd.service -> {link}"
        );
        println!("without keepalived enabled: multi-user.target.wants/vipd.service -> {}", text(&out.stdout).trim());
    }
    let after = vipd_paths(&dirs);
    let added: Vec<_> = after.difference(&before).collect();
    let removed: Vec<_> = before.difference(&after).collect();
    assert!(added.is_empty() && removed.is_empty(), "after purge, new paths: {added:?}; gone: {removed:?}");
    let listed = text(&run("dpkg-query", &["-W", "-f=${db:Status-Status}", "vipd"]).stdout);
    assert!(listed.is_empty() || listed == "not-installed", "vipd still known to dpkg: {listed}");
    assert_eq!(keepalived_state(), keepalived_before, "keepalived changed");
    println!("purge: {} paths naming vipd before and after", before.len());
}

#[test]
fn tarballs_hold_the_service_files_and_run() {
    let Some(out) = package() else { return };
    for arch in ["x86_64", "aarch64"] {
        let name = format!("vipd-{VERSION}-{arch}-linux-musl");
        let tarball = out.join(format!("{name}.tar.gz"));
        let dir = TempDir::new(&format!("tar-{arch}"));
        let x = run("tar", &["-xzf", &tarball.to_string_lossy(), "-C", &dir.0.to_string_lossy()]);
        assert!(x.status.success(), "tar -xzf {}: {}", tarball.display(), text(&x.stderr));
        let top = dir.join(&name);
        let mut found = BTreeSet::new();
        fn list(base: &Path, dir: &Path, into: &mut BTreeSet<String>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    list(base, &p, into);
                } else {
                    into.insert(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        list(&top, &top, &mut found);
        let want: BTreeSet<String> = [
            "vipd",
            "vipd.conf",
            "default/vipd",
            "man/vipd.8",
            "man/vipd.conf.5",
            "systemd/vipd.service",
            "runit/vipd/run",
            "runit/vipd/finish",
            "runit/vipd/conf",
            "runit/vipd/log/run",
            "README.md",
            "LICENSE-MIT",
            "LICENSE-APACHE",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(found, want, "{name}.tar.gz");
        let bin = top.join("vipd");
        let size = std::fs::metadata(&bin).unwrap().len();
        assert!(size <= MAX_BINARY, "{arch} binary: {size} bytes");

        // The aarch64 binary runs under qemu-user; x86_64 directly.
        let mut cmd: Vec<String> = Vec::new();
        if arch == "aarch64" {
            let qemu = ["qemu-aarch64-static", "qemu-aarch64"].into_iter().find(|q| have(q));
            let Some(qemu) = qemu else {
                skip("needs qemu-user for the aarch64 binary (apt-get install qemu-user-static)");
                return;
            };
            cmd.push(qemu.to_owned());
        }
        cmd.push(bin.to_string_lossy().into_owned());
        let sample = top.join("vipd.conf").to_string_lossy().into_owned();
        let vipd = |args: &[&str]| {
            let all: Vec<&str> = cmd.iter().map(String::as_str).chain(args.iter().copied()).collect();
            run(all[0], &all[1..])
        };
        let v = vipd(&["-v"]);
        assert!(text(&v.stdout).starts_with(&format!("vipd {VERSION} ")), "{arch} vipd -v: {}", text(&v.stdout));
        let t = vipd(&["-t", "--offline", "-f", &sample]);
        assert!(t.status.success(), "{arch} vipd -t --offline on the sample: {}", text(&t.stderr));
        assert!(text(&t.stderr).contains("0 errors"), "{arch}: {}", text(&t.stderr));
        // Without --offline the interface the sample names must exist.
        let t = vipd(&["-t", "-f", &sample]);
        assert_eq!(t.status.code(), Some(1), "{arch} vipd -t without vipd-sample0: {}", text(&t.stderr));
        assert!(text(&t.stderr).contains("`vipd-sample0` does not exist"), "{arch}: {}", text(&t.stderr));
        println!("{arch}: {} bytes, {}", size, text(&v.stdout).trim());
    }
}

/// The unit, runit's service, /etc/default/vipd and the daemon's own help
/// name one pid file, and the unit hands VIPD_ARGS to every vipd command,
/// checking the configuration before a start and before the reload signal.
#[test]
fn one_pid_path_and_the_unit_passes_vipd_args() {
    let files = [
        "scripts/systemd/vipd.service",
        "scripts/runit/vipd/run",
        "scripts/runit/vipd/finish",
        "scripts/runit/vipd/conf",
        "packaging/default",
        "packaging/README.Debian",
        "packaging/debian/postrm",
    ];
    let mut paths = BTreeSet::new();
    for f in files {
        let body = std::fs::read_to_string(format!("{ROOT}/{f}")).unwrap();
        for (i, _) in body.match_indices("vipd.pid") {
            let start = body[..i].rfind(|c: char| c.is_whitespace() || c == '=' || c == ',').map_or(0, |s| s + 1);
            paths.insert((body[start..i + "vipd.pid".len()].to_owned(), f));
        }
    }
    let help = text(&run(env!("CARGO_BIN_EXE_vipd"), &["--help"]).stdout);
    assert!(help.contains("pid file (default /run/vipd.pid)"), "vipd --help:\n{help}");
    let other: Vec<_> = paths.iter().filter(|(p, _)| p != "/run/vipd.pid").collect();
    assert!(other.is_empty(), "pid paths other than /run/vipd.pid: {other:?}");
    for f in ["scripts/systemd/vipd.service", "scripts/runit/vipd/conf", "packaging/default"] {
        assert!(paths.iter().any(|(_, g)| *g == f), "{f} does not name the pid file");
    }

    let unit = std::fs::read_to_string(format!("{ROOT}/scripts/systemd/vipd.service")).unwrap();
    let lines: Vec<&str> = unit.lines().collect();
    let pos = |l: &str| lines.iter().position(|x| *x == l).unwrap_or_else(|| panic!("the unit lacks `{l}`"));
    pos("EnvironmentFile=-/etc/default/vipd");
    pos("ExecStartPre=/usr/sbin/vipd -t $VIPD_ARGS");
    pos("ExecStart=/usr/sbin/vipd $VIPD_ARGS");
    assert!(
        pos("ExecReload=/usr/sbin/vipd -t $VIPD_ARGS") < pos("ExecReload=/bin/kill -HUP $MAINPID"),
        "the reload must check before it signals"
    );
    assert!(unit.contains("exec /usr/sbin/vipd $$VIPD_ARGS cleanup"), "ExecStopPost= without VIPD_ARGS");
}
