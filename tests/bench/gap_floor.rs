//! The physical floor of the check-script gap rows: how late a bare
//! sender at vipd's scheduling (SCHED_RR 1) gets to send its 10 ms adverts
//! on this machine while the same processes come and go beside it. A
//! thread in R1's namespace sends one VRRPv3 advert every 10 ms, as R1's
//! instance does, and nothing else: no engine, no reactor, no script of its
//! own. Another thread of the bench, at normal scheduling, starts the
//! processes the row's scripts are: 200 `/bin/true` a second, all at once
//! (as 200 scripts of interval 1 s fall due together), or 50 `sleep`s a
//! second, each killed a second later (the hanging checks and their
//! timeout). Its adverts are captured on R1's switch port as the daemons'
//! are; the largest gap there is what the machine alone costs, so vipd's
//! row can be read against it.

use std::fs;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::advert_floor;

/// The processes started beside the sender.
#[derive(Clone, Copy)]
pub enum Churn {
    /// 200 `/bin/true` a second, started together.
    Burst,
    /// 50 `sleep`s a second, each killed a second after it started.
    Hang,
}

/// Runs the sender and the churn, calls `capture` once both have run for
/// a second, and stops them: what `capture` returned.
pub fn with_floor<T>(ns: &Path, net: u8, churn: Churn, capture: impl FnOnce() -> T) -> Result<T, String> {
    let ns = fs::File::open(ns).map_err(|e| format!("{}: {e}", ns.display()))?;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let sender = s.spawn(|| send(&ns, net, &stop));
        let spawner = s.spawn(|| run_churn(churn, &stop));
        std::thread::sleep(Duration::from_secs(1));
        let out = capture();
        stop.store(true, Ordering::Relaxed);
        let sent = sender.join().map_err(|_| "the sender panicked".to_owned())?;
        let churned = spawner.join().map_err(|_| "the spawner panicked".to_owned())?;
        sent.and(churned).map(|()| out)
    })
}

/// One advert every 10 ms at SCHED_RR 1 from R1's eth0 address until
/// `stop`, on the grid of its start (a late send does not move the next).
fn send(ns: &fs::File, net: u8, stop: &AtomicBool) -> Result<(), String> {
    advert_floor::enter(ns)?;
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: pid 0 is the calling thread; `param` outlives the call.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) } != 0 {
        return Err(format!("SCHED_RR: {}", std::io::Error::last_os_error()));
    }
    let src = Ipv4Addr::new(10, net, 0, 1);
    let sock = advert_floor::open(src)?;
    let advert = advert_floor::advert(src, 51, 1, Ipv4Addr::new(10, net, 0, 100));
    let dst = advert_floor::group_addr();
    let tick = Duration::from_millis(10);
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: the advert and the address are alive for the call.
        unsafe {
            libc::sendto(
                sock.as_raw_fd(),
                advert.as_ptr().cast(),
                advert.len(),
                libc::MSG_DONTROUTE,
                (&raw const dst).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        next += tick;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    Ok(())
}

/// The processes of `churn`, once a second until `stop`; all reaped.
fn run_churn(churn: Churn, stop: &AtomicBool) -> Result<(), String> {
    let start = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{program}: {e}"))
    };
    let mut hanging: Vec<Child> = Vec::new();
    let mut next = Instant::now();
    let mut result = Ok(());
    while result.is_ok() && !stop.load(Ordering::Relaxed) {
        match churn {
            Churn::Burst => {
                let started: Result<Vec<Child>, String> = (0..200).map(|_| start("/bin/true", "floor")).collect();
                match started {
                    Ok(children) => children.into_iter().for_each(|mut c| drop(c.wait())),
                    Err(e) => result = Err(e),
                }
            }
            Churn::Hang => {
                for mut c in hanging.drain(..) {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                for _ in 0..50 {
                    match start("/bin/sleep", "30") {
                        Ok(c) => hanging.push(c),
                        Err(e) => result = Err(e),
                    }
                }
            }
        }
        next += Duration::from_secs(1);
        while !stop.load(Ordering::Relaxed) && Instant::now() < next {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    for mut c in hanging {
        let _ = c.kill();
        let _ = c.wait();
    }
    result
}
