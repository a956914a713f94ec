//! Scheduling: real-time priority, nice value, CPU-time limit and memory
//! locking (`vrrp_rt_priority`, `vrrp_priority`, `vrrp_rlimit_rttime`,
//! `vrrp_no_swap`).
//!
//! Why real-time by default for sub-second adverts: at 10 ms adverts a
//! backup declares the master dead after about 36 ms, and on a loaded
//! machine a normal-priority process can wait that long for a CPU. The
//! benchmark measured 2 to 38 false failovers in 30 s with both cores
//! saturated at normal priority, and none (largest advert gap 10.2 ms) at
//! SCHED_RR 1, the lowest real-time priority. `SCHED_RESET_ON_FORK` keeps
//! scripts out of it, and RLIMIT_RTTIME bounds a runaway loop: past the
//! limit the kernel sends SIGXCPU and the daemon drops back to normal
//! scheduling.

use std::io;

use crate::config::SchedConfig;

/// The raw system call: musl's `sched_setscheduler` is a stub that always
/// fails with ENOSYS (Linux's call is per thread, not what POSIX says), so
/// the static build must not use it.
///
/// # Safety
/// `param` must point to a valid `sched_param`.
unsafe fn setscheduler(policy: libc::c_int, param: &libc::sched_param) -> libc::c_long {
    // SAFETY: the caller passes a valid sched_param; pid 0 is this thread.
    unsafe { libc::syscall(libc::SYS_sched_setscheduler, 0, policy, param as *const libc::sched_param) }
}

/// A `sched_param` with this priority. musl's has more fields than glibc's
/// (sporadic-server ones, unused by Linux): zero them all.
fn param(priority: u8) -> libc::sched_param {
    // SAFETY: sched_param is plain integers; all-zero is a valid value.
    let mut p: libc::sched_param = unsafe { core::mem::zeroed() };
    p.sched_priority = i32::from(priority);
    p
}

/// SCHED_RR at `priority` (1..=99) for this process; children start with
/// normal scheduling.
pub fn set_realtime(priority: u8) -> io::Result<()> {
    let param = param(priority);
    // SAFETY: plain syscall on this process with a valid sched_param.
    let rc = unsafe { setscheduler(libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param) };
    if rc != 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Back to normal (SCHED_OTHER) scheduling.
pub fn set_normal() -> io::Result<()> {
    let param = param(0);
    // SAFETY: as above.
    let rc = unsafe { setscheduler(libc::SCHED_OTHER | libc::SCHED_RESET_ON_FORK, &param) };
    if rc != 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Whether this process now runs at a real-time priority.
pub fn is_realtime() -> bool {
    // SAFETY: no arguments beyond the pid.
    let policy = unsafe { libc::syscall(libc::SYS_sched_getscheduler, 0) };
    policy >= 0 && policy & !libc::c_long::from(libc::SCHED_RESET_ON_FORK) == libc::c_long::from(libc::SCHED_RR)
}

/// The real-time priority `cfg` asks for, given the fastest advert
/// interval configured (`None` = no real-time scheduling).
pub fn wanted_rt(cfg: &SchedConfig, fastest_advert: Option<crate::time::Duration>) -> Option<u8> {
    match cfg.rt_priority {
        Some(0) => None,
        Some(p) => Some(p),
        None => fastest_advert.filter(|d| d.as_micros() < 1_000_000).map(|_| 1),
    }
}

/// Applies `cfg`; returns one line per setting, for the log (what was set,
/// or why it could not be).
pub fn apply(cfg: &SchedConfig, fastest_advert: Option<crate::time::Duration>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = cfg.nice {
        // SAFETY: plain syscall on this process.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, libc::c_int::from(n)) };
        if rc != 0 {
            out.push(format!("vrrp_priority {n}: cannot set the nice value: {}", io::Error::last_os_error()));
        }
    }
    if cfg.no_swap {
        // SAFETY: plain syscall; flags are valid.
        let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
        if rc != 0 {
            out.push(format!("vrrp_no_swap: cannot lock memory: {}", io::Error::last_os_error()));
        }
    }
    match wanted_rt(cfg, fastest_advert) {
        None => {
            if is_realtime() {
                let _ = set_normal();
            }
        }
        Some(p) => {
            let limit =
                libc::rlimit { rlim_cur: libc::rlim_t::from(cfg.rlimit_rttime_us), rlim_max: libc::RLIM_INFINITY };
            let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: valid pointers to rlimit structs.
            let ok = unsafe {
                libc::getrlimit(libc::RLIMIT_RTTIME, &mut old) == 0 && {
                    let capped = libc::rlimit { rlim_max: old.rlim_max, ..limit };
                    libc::setrlimit(libc::RLIMIT_RTTIME, &capped) == 0
                }
            };
            if !ok {
                // Without the limit a runaway loop at real-time priority
                // could hold a CPU: stay at normal priority.
                out.push(format!(
                    "cannot set RLIMIT_RTTIME ({}); staying at normal priority",
                    io::Error::last_os_error()
                ));
                return out;
            }
            match set_realtime(p) {
                Ok(()) => out.push(format!("running at real-time priority (SCHED_RR {p})")),
                Err(e) => out.push(format!(
                    "cannot use real-time priority SCHED_RR {p} ({e}; needs CAP_SYS_NICE): adverts may be \
                     late on a loaded machine"
                )),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    #[test]
    fn real_time_by_default_only_for_sub_second_adverts() {
        let auto = SchedConfig::default();
        assert_eq!(wanted_rt(&auto, Some(Duration::from_millis(10))), Some(1));
        assert_eq!(wanted_rt(&auto, Some(Duration::from_secs(1))), None);
        assert_eq!(wanted_rt(&auto, None), None);
        let off = SchedConfig { rt_priority: Some(0), ..auto };
        assert_eq!(wanted_rt(&off, Some(Duration::from_millis(10))), None);
        let set = SchedConfig { rt_priority: Some(20), ..auto };
        assert_eq!(wanted_rt(&set, Some(Duration::from_secs(3))), Some(20));
    }

    #[test]
    fn children_do_not_inherit_real_time() {
        // On Linux sched_setscheduler(0) changes the calling thread only:
        // a thread of its own keeps the other tests at normal priority.
        if !rustix::process::geteuid().is_root() {
            crate::sys::testkit::skip("needs CAP_SYS_NICE");
            return;
        }
        let child_policy = std::thread::spawn(|| {
            set_realtime(1).expect("SCHED_RR 1");
            assert!(is_realtime());
            let out = std::process::Command::new("/bin/sh")
                // Field 41 of stat is the scheduling policy (`cut` reads
                // its own, a grandchild's, which is just as telling).
                .args(["-c", "cut -d' ' -f41 /proc/self/stat | tr -dc 0-9"])
                .output()
                .expect("sh");
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .join()
        .expect("thread");
        assert_eq!(child_policy, "0", "a script must run with SCHED_OTHER (policy 0)");
    }
}
