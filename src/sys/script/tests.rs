/// The reactor's block_on; a reactor failure fails the test.
fn block_on<F: core::future::Future>(f: F) -> F::Output {
    crate::sys::reactor::block_on(f).expect("reactor")
}

use super::identity::Identity;
use super::output::{Lines, MAX_LINE, MAX_LINES};
use super::prepare::{can_exec, insecure};
use super::reap::KILLED;
use super::*;
use crate::config::{Config, FileId, Globals, Notify, Script, ScriptUser, Span};
use crate::config::{InstanceConfig, TrackRef, TrackerConfig, TrackerId};
use crate::sys::reactor::Timer;
use crate::wire::vrrp::Version;
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use smol::future;
use std::mem::MaybeUninit;
use std::path::Path;
use std::time::Duration;
use std::time::Instant;

use crate::sys::testkit::TempDir;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A `/bin/sh -c` command run as ourselves. Scripts go through `-c`
/// rather than files: exec'ing a freshly written file races with other
/// test threads forking while it is open for writing (ETXTBSY).
fn sh(script: &str) -> Prepared {
    Prepared {
        argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        user: "test".into(),
    }
}

fn run_for(p: &Prepared, timeout: Option<Duration>) -> (Exit, Duration) {
    let (_tx, rx) = smol::channel::bounded(1);
    let start = Instant::now();
    let exit = block_on(run(p, &[], timeout, &rx, None));
    (exit, start.elapsed())
}

fn run_lines(p: &Prepared, timeout: Option<Duration>) -> (Exit, Vec<String>) {
    let (_tx, rx) = smol::channel::bounded(1);
    let mut lines = Vec::new();
    let mut sink = |l: &str| lines.push(l.to_owned());
    let exit = block_on(run(p, &[], timeout, &rx, Some(&mut sink)));
    (exit, lines)
}

fn read_pid(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path).expect("pid file");
    text.trim().parse().expect("pid")
}

/// State letter and parent pid of `pid`, if it exists.
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// `pid` is neither a live child nor an unreaped zombie of this process.
fn not_our_child(pid: i32) -> bool {
    proc_stat(pid).is_none_or(|(_, ppid)| u32::try_from(ppid).ok() != Some(std::process::id()))
}

/// A process with that pid exists and is not a zombie. (Its name is no
/// help: a background job is `sh` until its fork has exec'd `sleep`.)
fn running(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|(state, _)| state != 'Z')
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

#[test]
fn scripts_start_with_no_signal_blocked() {
    // vipd blocks the signals it reads from a signalfd; a script must not
    // inherit that (it would ignore SIGTERM). On a thread of its own, as
    // the mask is per thread.
    let lines = std::thread::spawn(|| {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: set initialised by sigemptyset before use.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            libc::sigaddset(set.as_mut_ptr(), libc::SIGTERM);
            libc::sigaddset(set.as_mut_ptr(), libc::SIGHUP);
            libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), core::ptr::null_mut());
        }
        // grep itself, not through sh: a shell may reset its own mask.
        let grep = Prepared { argv: ["/bin/grep", "SigBlk", "/proc/self/status"].map(String::from).to_vec(), ..sh("") };
        run_lines(&grep, None).1
    })
    .join()
    .expect("thread");
    assert_eq!(lines, ["SigBlk:\t0000000000000000"]);
}

#[test]
fn exit_codes_and_signals() {
    let dir = TempDir::new("codes");
    let pidfile = dir.join("pid");
    let ok = sh(&format!("echo $$ > {}; exit 0", pidfile.display()));
    let (exit, _) = run_for(&ok, None);
    assert_eq!(exit, Exit::Code(0));
    assert!(exit.success());
    assert!(not_our_child(read_pid(&pidfile)), "leader left unreaped");

    let (exit, _) = run_for(&sh("exit 3"), None);
    assert_eq!(exit, Exit::Code(3));
    assert!(!exit.success());

    let (exit, _) = run_for(&sh(&format!("echo $$ > {}; kill -9 $$", pidfile.display())), None);
    assert_eq!(exit, Exit::Signal(9));
    assert!(!exit.success());
    assert!(not_our_child(read_pid(&pidfile)), "leader left unreaped");
}

#[test]
fn extra_args_are_appended() {
    let p = sh("echo \"$0|$1|$2\"");
    let (_tx, rx) = smol::channel::bounded(1);
    let mut lines = Vec::new();
    let mut sink = |l: &str| lines.push(l.to_owned());
    let exit = block_on(run(&p, &["INSTANCE", "VI 1"], None, &rx, Some(&mut sink)));
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(lines, ["INSTANCE|VI 1|"]);
}

/// A file without `#!` runs with /bin/sh, as keepalived runs it, with its
/// arguments.
#[test]
fn a_script_without_a_shebang_runs_with_sh() {
    let dir = crate::sys::testkit::TempDir::new("noshebang");
    let path = dir.path("bare");
    std::fs::write(&path, "echo \"bare|$0|$1\"\nexit 3\n").unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = path.display().to_string();
    let p = Prepared { argv: vec![file.clone(), "one".into()], ..sh("") };
    // Another test thread forking while the file was open for writing can
    // make exec fail with ETXTBSY for a moment.
    for _ in 0..50 {
        let (exit, lines) = run_lines(&p, Some(Duration::from_secs(5)));
        if matches!(&exit, Exit::SpawnFailed(m) if m.contains("busy")) {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        assert_eq!((exit, lines), (Exit::Code(3), vec![format!("bare|{file}|one")]));
        return;
    }
    panic!("{file} stayed busy");
}

#[test]
fn spawn_failure_names_the_program() {
    let p = Prepared { argv: vec!["/nonexistent/vipd-check".into()], ..sh("") };
    match run_for(&p, None).0 {
        Exit::SpawnFailed(msg) => assert!(msg.contains("/nonexistent/vipd-check"), "{msg}"),
        other => panic!("expected SpawnFailed, got {other:?}"),
    }
    let empty = Prepared { argv: Vec::new(), ..p };
    assert!(matches!(run_for(&empty, None).0, Exit::SpawnFailed(_)));
}

/// Only the child's report makes a start failure: a script that exits 127
/// by itself (a shell's "command not found") keeps its status.
#[test]
fn exit_127_of_the_script_itself_is_its_status() {
    assert_eq!(run_for(&sh("exit 127"), None).0, Exit::Code(127));
}

/// A file the kernel will not execute (no x bit, even for root): the
/// child's exec fails after the spawn returned, and the run says why.
#[test]
fn a_failed_exec_is_reported_with_its_reason() {
    let dir = TempDir::new("noexec");
    let file = dir.file("plain.sh", "#!/bin/sh\nexit 0\n", 0o644).display().to_string();
    let p = Prepared { argv: vec![file.clone()], ..sh("") };
    match run_for(&p, Some(Duration::from_secs(5))).0 {
        Exit::SpawnFailed(msg) => {
            assert!(msg.contains(&file) && msg.contains("Permission denied"), "{msg}");
        }
        other => panic!("expected SpawnFailed, got {other:?}"),
    }
}

/// std ignores SIGPIPE in vipd (and in this test binary), and an ignored
/// signal stays ignored across exec: a script must get the default back.
#[test]
fn scripts_start_with_sigpipe_at_its_default() {
    let sigpipe = 1u64 << (libc::SIGPIPE - 1);
    let ignored = |status: &str| {
        let line = status.lines().find_map(|l| l.strip_prefix("SigIgn:")).expect("SigIgn line");
        u64::from_str_radix(line.trim(), 16).expect("hex mask")
    };
    let own = std::fs::read_to_string("/proc/self/status").expect("own status");
    assert_ne!(ignored(&own) & sigpipe, 0, "this test binary ignores SIGPIPE (else the test proves nothing)");
    let grep = Prepared { argv: ["/bin/grep", "SigIgn", "/proc/self/status"].map(String::from).to_vec(), ..sh("") };
    let (exit, lines) = run_lines(&grep, None);
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(ignored(&lines.join("\n")) & sigpipe, 0, "{lines:?}");
}

/// SCHED_RR without SCHED_RESET_ON_FORK and a negative nice value, as
/// `chrt -r 1 nice -n -5 vipd` starts vipd: its scripts still run at
/// SCHED_OTHER, nice 0.
#[test]
fn scripts_run_at_normal_priority_whatever_vipd_runs_at() {
    if !is_root() {
        crate::sys::testkit::skip("needs CAP_SYS_NICE");
        return;
    }
    // On a thread of its own: scheduling and nice are per thread on Linux.
    let lines = std::thread::spawn(|| {
        set_scheduler(libc::SCHED_RR);
        rustix::process::setpriority_process(None, -5).expect("nice -5");
        // Field 19 of stat is the nice value, 41 the policy.
        let cut = ["/usr/bin/cut", "-d", " ", "-f19,41", "/proc/self/stat"];
        let p = Prepared { argv: cut.map(String::from).to_vec(), ..sh("") };
        run_lines(&p, Some(Duration::from_secs(5))).1
    })
    .join()
    .expect("thread");
    assert_eq!(lines, ["0 0"], "nice and policy of a script");
}

/// `policy` at priority 1 for the calling thread (raw: musl's wrapper is a
/// stub).
fn set_scheduler(policy: libc::c_int) {
    // SAFETY: a zeroed sched_param is valid; pid 0 is this thread.
    let rc = unsafe {
        let mut p: libc::sched_param = core::mem::zeroed();
        p.sched_priority = i32::from(policy & !libc::SCHED_RESET_ON_FORK != libc::SCHED_OTHER);
        libc::syscall(libc::SYS_sched_setscheduler, 0, policy, &raw const p)
    };
    assert_eq!(rc, 0, "sched_setscheduler({policy}): {}", std::io::Error::last_os_error());
}

/// The spawn returns without waiting for the child to run at all: on a
/// thread alone at SCHED_FIFO on one CPU (SCHED_RESET_ON_FORK), the child,
/// SCHED_OTHER and bound to the same CPU, cannot run before this thread
/// blocks. std's `Command::spawn` blocks until the exec, which lets it run.
#[test]
fn spawn_returns_before_the_child_has_run() {
    if !is_root() {
        crate::sys::testkit::skip("needs CAP_SYS_NICE");
        return;
    }
    let (exe, code) = std::thread::spawn(|| {
        // SAFETY: cpu_set_t is a plain bit set, all-zero valid; the calls
        // read and write only it, for this thread (pid 0).
        unsafe {
            let mut set: libc::cpu_set_t = core::mem::zeroed();
            let cpu = usize::try_from(libc::sched_getcpu()).expect("a CPU");
            libc::CPU_SET(cpu, &mut set);
            assert_eq!(libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set), 0, "pin");
        }
        set_scheduler(libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK);
        let spawned = super::spawn::spawn(&sh("exit 7"), &[], false).expect("spawn");
        let exe = std::fs::read_link(format!("/proc/{}/exe", spawned.pid.as_raw_nonzero()));
        set_scheduler(libc::SCHED_OTHER);
        let status = rustix::process::waitid(WaitId::Pid(spawned.pid), WaitIdOptions::EXITED);
        (exe.expect("the child's exe"), status.expect("waitid").and_then(|s| s.exit_status()))
    })
    .join()
    .expect("thread");
    assert_eq!(exe, std::fs::read_link("/proc/self/exe").expect("own exe"), "the child had exec'd already");
    assert_eq!(code, Some(7), "the child did run afterwards");
}

#[test]
fn timeout_kills_the_whole_group() {
    let dir = TempDir::new("timeout");
    let (bg, leader) = (dir.join("bg"), dir.join("leader"));
    let p = sh(&format!("echo $$ > {}; sleep 30 & echo $! > {}; sleep 30", leader.display(), bg.display()));
    let (exit, took) = run_for(&p, Some(Duration::from_millis(300)));
    assert_eq!(exit, Exit::TimedOut);
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(2), "took {took:?}");
    assert!(not_our_child(read_pid(&leader)), "leader left unreaped");
    let bg = read_pid(&bg);
    assert!(wait_until(Duration::from_secs(2), || !running(bg)), "background sleep {bg} survived");
}

#[test]
fn descendants_ignoring_term_die_with_the_leader() {
    let dir = TempDir::new("straggler");
    let bg = dir.join("bg");
    let p = sh(&format!("(trap '' TERM; exec sleep 30) & echo $! > {}; sleep 30", bg.display()));
    let (exit, took) = run_for(&p, Some(Duration::from_millis(300)));
    assert_eq!(exit, Exit::TimedOut);
    // The leader died of the TERM: no waiting out the grace for the rest.
    assert!(took < Duration::from_millis(300) + KILL_GRACE, "took {took:?}");
    let bg = read_pid(&bg);
    assert!(wait_until(Duration::from_secs(2), || !running(bg)), "TERM-proof sleep {bg} survived");
}

#[test]
fn term_ignored_means_kill_after_grace() {
    let p = sh("trap '' TERM; sleep 30; exit 0");
    let (exit, took) = run_for(&p, Some(Duration::from_millis(300)));
    assert_eq!(exit, Exit::TimedOut);
    let expected = Duration::from_millis(300) + KILL_GRACE;
    assert!(took >= expected && took < expected + Duration::from_secs(1), "took {took:?}");
}

#[test]
fn dropping_the_sender_cancels() {
    let (tx, rx) = smol::channel::bounded::<()>(1);
    let start = Instant::now();
    let exit = block_on(future::or(run(&sh("sleep 30"), &[], None, &rx, None), async move {
        Timer::after(Duration::from_millis(200)).await;
        drop(tx);
        future::pending().await
    }));
    assert_eq!(exit, Exit::Cancelled);
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
}

#[test]
fn a_message_cancels_and_a_signalled_cancel_never_starts() {
    let (tx, rx) = smol::channel::bounded::<()>(1);
    let p = sh("sleep 30");
    let ex = smol::LocalExecutor::new();
    let start = Instant::now();
    let exit = block_on(ex.run(async {
        let task = ex.spawn(run(&p, &[], Some(Duration::from_secs(20)), &rx, None));
        Timer::after(Duration::from_millis(100)).await;
        let _ = tx.send(()).await;
        task.await
    }));
    assert_eq!(exit, Exit::Cancelled);
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());

    let dir = TempDir::new("precancel");
    let marker = dir.join("ran");
    let _ = tx.try_send(());
    let p = sh(&format!("touch {}", marker.display()));
    assert_eq!(block_on(run(&p, &[], None, &rx, None)), Exit::Cancelled);
    drop(tx);
    assert_eq!(block_on(run(&p, &[], None, &rx, None)), Exit::Cancelled);
    assert!(!marker.exists(), "a cancelled run started");
}

#[test]
fn dropped_run_kills_and_reaps() {
    let dir = TempDir::new("dropped");
    let (leader, bg) = (dir.join("leader"), dir.join("bg"));
    let p = sh(&format!("echo $$ > {}; sleep 30 & echo $! > {}; wait", leader.display(), bg.display()));
    let (_tx, rx) = smol::channel::bounded(1);
    let exit = block_on(future::or(run(&p, &[], None, &rx, None), async {
        // Until the script has written both pids.
        while std::fs::read_to_string(&bg).map_or(true, |s| !s.ends_with('\n')) {
            Timer::after(Duration::from_millis(10)).await;
        }
        Exit::Code(-100)
    }));
    assert_eq!(exit, Exit::Code(-100));
    // The drop reaped synchronously: nothing to wait for.
    assert!(not_our_child(read_pid(&leader)), "dropped run left its leader");
    let bg = read_pid(&bg);
    assert!(wait_until(Duration::from_secs(2), || !running(bg)), "background sleep {bg} survived");
}

/// A leader that outlived the bounded wait (stands for one in
/// uninterruptible sleep, which a test cannot make): reaped by a later
/// sweep, never waited for.
#[test]
// The reap under test is the wait.
#[allow(clippy::zombie_processes)]
fn killed_leaders_are_reaped_later() {
    let child = std::process::Command::new("sleep").arg("30").spawn().expect("spawn sleep");
    let pid = Pid::from_raw(child.id() as i32).expect("a pid");
    KILLED.with(|k| k.borrow_mut().push(pid.as_raw_nonzero().get()));
    assert_eq!(reap_killed(), 1, "alive, so still listed");
    let _ = rustix::process::kill_process(pid, Signal::KILL);
    assert!(wait_until(Duration::from_secs(2), || reap_killed() == 0), "the killed leader was not reaped");
    assert!(not_our_child(pid.as_raw_nonzero().get()), "left a zombie");
}

#[test]
fn output_is_bounded() {
    let (exit, lines) = run_lines(&sh("i=1; while [ $i -le 100 ]; do echo line $i; i=$((i+1)); done"), None);
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(lines.len(), MAX_LINES + 1, "{lines:?}");
    assert_eq!(lines[0], "line 1");
    assert_eq!(lines[63], "line 64");
    // Lines 65..=99 are 8 bytes each with the newline, "line 100\n" 9.
    assert_eq!(lines[64], "[output cut: 289 more bytes dropped]");
}

#[test]
fn a_megabyte_of_output_does_not_deadlock() {
    let p = sh("head -c 1048576 /dev/zero | tr '\\0' x; echo; echo err >&2");
    let (exit, lines) = run_lines(&p, Some(Duration::from_secs(10)));
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(lines.len(), 3, "{:?}", lines.iter().map(|l| l.len()).collect::<Vec<_>>());
    assert_eq!(lines[0], "x".repeat(MAX_LINE));
    assert_eq!(lines[1], "err");
    assert_eq!(lines[2], format!("[output cut: {} more bytes dropped]", 1_048_576 - MAX_LINE));
    // Without a reader the same output goes to /dev/null.
    assert_eq!(run_for(&p, Some(Duration::from_secs(10))).0, Exit::Code(0));
}

#[test]
fn background_child_holding_the_pipe_does_not_delay_the_end() {
    let dir = TempDir::new("holder");
    let bg = dir.join("bg");
    let p = sh(&format!("echo hi; sleep 30 & echo $! > {}; exit 4", bg.display()));
    let start = Instant::now();
    let (exit, lines) = run_lines(&p, Some(Duration::from_secs(10)));
    let took = start.elapsed();
    let bg = read_pid(&bg);
    let survived = running(bg);
    if survived {
        let _ = rustix::process::kill_process(rustix::process::Pid::from_raw(bg).expect("pid"), Signal::KILL);
    }
    assert_eq!(exit, Exit::Code(4));
    assert_eq!(lines, ["hi"]);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // A script ending by itself leaves its background work alone.
    assert!(survived, "background sleep was killed");
}

#[test]
fn runs_as_the_prepared_user() {
    if !is_root() {
        crate::sys::testkit::skip("switching users needs root");
        return;
    }
    let script = Script {
        argv: vec!["id".into(), "-u".into()],
        user: Some(ScriptUser { user: "nobody".into(), group: None }),
        span: None,
    };
    let Ok((p, _)) = prepare(&script, &Globals::default()) else {
        crate::sys::testkit::skip("no usable user `nobody`");
        return;
    };
    assert_ne!(p.uid, 0);
    let (exit, lines) = run_lines(&p, Some(Duration::from_secs(5)));
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(lines, [p.uid.to_string()]);
}

#[test]
fn lines_cut_long_lines_and_keep_a_last_partial_one() {
    let mut got = Vec::new();
    let mut sink = |l: &str| got.push(l.to_owned());
    let mut lines = Lines::new(&mut sink);
    let long = vec![b'a'; 1000];
    lines.feed(&long);
    lines.feed(b"\r\nshort\r\n\xff\xfe\nno newline");
    lines.finish();
    assert_eq!(
        got,
        [
            "a".repeat(512),
            "short".to_owned(),
            "\u{fffd}\u{fffd}".to_owned(),
            "no newline".to_owned(),
            "[output cut: 489 more bytes dropped]".to_owned()
        ]
    );
}

#[test]
fn path_search_gives_a_canonical_absolute_path() {
    let script = Script { argv: vec!["sh".into(), "-c".into(), "true".into()], user: None, span: None };
    let (p, _) = prepare(&script, &Globals::default()).expect("sh on PATH");
    let path = Path::new(&p.argv[0]);
    assert!(path.is_absolute(), "{}", p.argv[0]);
    assert_eq!(std::fs::canonicalize(path).expect("exists"), path);
    assert_eq!(p.argv[1..], ["-c", "true"]);
    if !is_root() {
        assert_eq!(p.uid, rustix::process::geteuid().as_raw());
    }
    let missing = Script { argv: vec!["vipd-no-such-command-7f3a".into()], user: None, span: None };
    let err = prepare(&missing, &Globals::default()).expect_err("not on PATH");
    assert!(err.contains("vipd-no-such-command-7f3a") && err.contains("PATH"), "{err}");
}

#[test]
fn file_problems_name_the_path() {
    let dir = TempDir::new("files");
    let g = Globals::default();
    let missing = dir.join("missing.sh");
    let err = prepare(&Script { argv: vec![missing.display().to_string()], user: None, span: None }, &g)
        .expect_err("missing");
    assert!(err.contains(&missing.display().to_string()) && err.contains("does not exist"), "{err}");

    let plain = dir.file("plain.sh", "#!/bin/sh\n", 0o644);
    let err =
        prepare(&Script { argv: vec![plain.display().to_string()], user: None, span: None }, &g).expect_err("not exec");
    assert!(err.contains("plain.sh") && err.contains("not executable"), "{err}");

    let err =
        prepare(&Script { argv: vec![dir.0.display().to_string()], user: None, span: None }, &g).expect_err("a dir");
    assert!(err.contains("not a regular file"), "{err}");

    let unknown = Some(ScriptUser { user: "vipd-no-such-user-7f3a".into(), group: None });
    let good = dir.file("good.sh", "#!/bin/sh\n", 0o755);
    let err =
        prepare(&Script { argv: vec![good.display().to_string()], user: unknown, span: None }, &g).expect_err("user");
    assert!(err.contains("vipd-no-such-user-7f3a"), "{err}");
    let bad_group = Some(ScriptUser { user: "root".into(), group: Some("vipd-no-such-group-7f3a".into()) });
    let err = prepare(&Script { argv: vec![good.display().to_string()], user: bad_group, span: None }, &g)
        .expect_err("group");
    assert!(err.contains("vipd-no-such-group-7f3a"), "{err}");
    let empty = prepare(&Script { argv: Vec::new(), user: None, span: None }, &g);
    assert!(empty.is_err());
}

#[test]
fn world_writable_root_script_is_insecure() {
    let dir = TempDir::new("insecure");
    let path = dir.file("open.sh", "#!/bin/sh\n", 0o777);
    let script = Script { argv: vec![path.display().to_string()], user: None, span: None };
    let root = Some(ScriptUser { user: "root".into(), group: None });
    if !is_root() {
        // As ourselves (not root) the check does not apply.
        let (_, warning) = prepare(&script, &Globals::default()).expect("runs as us");
        assert_eq!(warning, None);
        crate::sys::testkit::skip("scripts run as root only when vipd is root");
        return;
    }
    let script = Script { user: root, ..script };
    let (p, warning) = prepare(&script, &Globals::default()).expect("a warning only");
    assert_eq!(p.uid, 0);
    let warning = warning.expect("insecure");
    assert!(warning.contains("insecure") && warning.contains("open.sh"), "{warning}");
    let strict = Globals { enable_script_security: true, ..Globals::default() };
    let err = prepare(&script, &strict).expect_err("refused");
    assert!(err.contains("open.sh"), "{err}");
    // A root-owned system shell passes the same check.
    let shell = Script { argv: vec!["/bin/sh".into()], user: script.user.clone(), span: None };
    let (_, warning) = prepare(&shell, &strict).expect("/bin/sh is secure");
    assert_eq!(warning, None);
}

#[test]
fn insecure_components() {
    assert_eq!(insecure(0, 0, 0o100755), None);
    assert_eq!(insecure(0, 0, 0o040775), None, "root's group may write");
    assert!(insecure(1000, 0, 0o100500).is_some(), "a non-root owner can chmod");
    assert!(insecure(0, 100, 0o100775).is_some());
    assert_eq!(insecure(0, 100, 0o100755), None);
    assert!(insecure(0, 0, 0o100757).is_some());
    assert_eq!(insecure(0, 0, 0o041777), None, "a sticky directory like /tmp");
    assert!(insecure(0, 0, 0o040777).is_some(), "world-writable without the sticky bit");
    assert!(insecure(0, 0, 0o101777).is_some(), "the sticky bit means nothing on a file");
}

#[test]
fn exec_permission_follows_the_classes() {
    let user = Identity { uid: 1000, gid: 1000, user: "u".into(), groups: vec![27] };
    assert!(can_exec(&user, 1000, 5, 0o744));
    assert!(!can_exec(&user, 1000, 1000, 0o677), "the owner class decides for the owner");
    assert!(can_exec(&user, 0, 1000, 0o750));
    assert!(can_exec(&user, 0, 27, 0o750), "a supplementary group");
    assert!(!can_exec(&user, 0, 5, 0o750));
    assert!(can_exec(&user, 0, 5, 0o701));
    let root = Identity { uid: 0, gid: 0, user: "root".into(), groups: Vec::new() };
    assert!(can_exec(&root, 5, 5, 0o001));
    assert!(!can_exec(&root, 0, 0, 0o644));
}

#[test]
fn check_config_names_the_place() {
    let dir = TempDir::new("cfg");
    let missing = dir.join("missing.sh").display().to_string();
    let mut cfg = Config::default();
    cfg.trackers.push(TrackerConfig::script("chk", &[&missing]));
    cfg.trackers.push(TrackerConfig::script("unused", &[&missing]));
    let mut inst = InstanceConfig::new("VI_1", "eth0", 1, Version::V2, &[]);
    inst.track.push(TrackRef { tracker: TrackerId(0), weight: 0, reverse: false });
    let at = Span { file: FileId(0), line: 7, col: 3 };
    inst.notify.master = Some(Box::new(Script { argv: vec![missing.clone()], user: None, span: Some(at) }));
    cfg.instances.push(inst);
    cfg.globals.notify_fifo_script = Some(Script { argv: vec![missing.clone()], user: None, span: None });
    cfg.sync_groups.push(crate::config::SyncGroupConfig {
        name: "G".into(),
        members: vec![0],
        notify: Notify {
            generic: Some(Box::new(Script {
                argv: vec!["/bin/sh".into()],
                user: Some(ScriptUser { user: "vipd-no-such-user-7f3a".into(), group: None }),
                span: None,
            })),
            ..Notify::default()
        },
    });
    let found = check_config(&cfg);
    let has = |error: bool, prefix: &str| found.iter().any(|(e, _, m)| *e == error && m.starts_with(prefix));
    assert!(has(true, "vrrp_script `chk`: "), "{found:?}");
    assert!(has(false, "vrrp_instance `VI_1` notify_master: "), "{found:?}");
    assert!(has(false, "global_defs notify_fifo_script: "), "{found:?}");
    assert!(has(true, "vrrp_sync_group `G` notify: "), "{found:?}");
    assert!(!found.iter().any(|(_, _, m)| m.contains("unused")), "{found:?}");
    assert_eq!(found.len(), 4, "{found:?}");
    // Each finding is reported at the keyword that named the script.
    let master = found.iter().find(|(_, _, m)| m.contains("notify_master"));
    assert_eq!(master.map(|f| f.1), Some(Some(at)), "{found:?}");
}

#[test]
fn check_config_warns_about_a_file_without_a_shebang() {
    let dir = TempDir::new("shebang");
    let bare = dir.file("bare.sh", "echo hi\n", 0o755);
    let good = dir.file("good.sh", "#!/bin/sh\necho hi\n", 0o755);
    let mut cfg = Config::default();
    let mut inst = InstanceConfig::new("VI_1", "eth0", 1, Version::V2, &[]);
    inst.notify.master = Some(Box::new(Script { argv: vec![bare.display().to_string()], user: None, span: None }));
    inst.notify.backup = Some(Box::new(Script { argv: vec![good.display().to_string()], user: None, span: None }));
    // An ELF binary found on PATH.
    inst.notify.fault = Some(Box::new(Script { argv: vec!["true".into()], user: None, span: None }));
    cfg.instances.push(inst);
    let found = check_config(&cfg);
    let shebang: Vec<_> = found.iter().filter(|(_, _, m)| m.contains("has no `#!` line")).collect();
    assert_eq!(shebang.len(), 1, "{found:?}");
    assert!(!shebang[0].0 && shebang[0].2.starts_with("vrrp_instance `VI_1` notify_master: "), "{found:?}");
    assert!(shebang[0].2.contains("bare.sh"), "{found:?}");
}
