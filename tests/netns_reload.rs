//! Issue 12: a reload must never stop the master's adverts. A SIGHUP with a
//! pathological configuration (40,000 `virtual_ipaddress` lines, refused
//! because an advert carries at most 255; or 40,000 excluded addresses on
//! an instance that stays a backup, accepted) once kept the master's loop
//! busy for about 8 s, and the backup took over meanwhile; later, reading
//! and checking alone still took 60 ms (release) to 215 ms (debug) on the
//! loop, until a worker thread took them over. Here the
//! master's adverts are captured on its switch port through the whole
//! reload, and the backup's addresses are watched with `ip monitor`: the
//! backup must never add the VIP nor log MASTER, and the largest advert
//! gap must stay under a generous 3 intervals (the tight figure is the
//! benchmark's, `VIPD_BENCH_ONLY=reload scripts/bench`). Root only;
//! otherwise each test prints why it skips and passes.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::fmt::Write as _;
use std::time::Duration;

use lab::Kind::Vipd as VIPD;
use lab::Router::{R1, R2};
use lab::{Lab, Vrrp};

const MASTER: &str = "Entering MASTER STATE";
const HIGH: Vrrp = Vrrp { priority: 150, master: true, ..Vrrp::V3 };
const LOW: Vrrp = Vrrp { priority: 100, master: false, ..Vrrp::V3 };

/// 10.(1+k/65536).(k/256).(k%256): `n` distinct addresses off the lab's
/// subnet.
fn many(n: usize) -> String {
    let mut s = String::new();
    for k in 0..n {
        let _ = writeln!(s, "        10.{}.{}.{}/32", 200 + ((k >> 16) & 0x3f), (k >> 8) & 0xff, k & 0xff);
    }
    s
}

/// The lab's configuration for R1 with `n` more addresses: in VI_1's
/// `virtual_ipaddress` (invalid: more than 255), or as the excluded
/// addresses of a second instance that stays a backup (valid: its
/// 40 s adverts make its master-down time longer than the test).
fn pathological(lab: &Lab, n: usize, valid: bool) -> String {
    let base = lab.config(R1, &HIGH);
    let vip = format!("        {}/24\n", lab.vip());
    if !valid {
        return base.replacen(&vip, &format!("{vip}{}", many(n)), 1);
    }
    format!(
        "{base}vrrp_instance VI_2 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 52\n    \
         priority 100\n    advert_int 40\n    virtual_ipaddress {{\n        10.{}.0.101/24\n    }}\n    \
         virtual_ipaddress_excluded {{\n{}    }}\n}}\n",
        lab.net,
        many(n)
    )
}

fn reload_keeps_adverts(test: &str, net: u8, valid: bool) {
    let Some(mut lab) = Lab::new(test, net) else { return };
    let a = lab.start(R1, VIPD, &HIGH);
    lab.wait_for(a, MASTER);
    let b = lab.start(R2, VIPD, &LOW);
    lab.wait_for(b, "Entering BACKUP STATE");
    lab.converges_on(R1, Duration::from_millis(500));
    // R1's configuration is the lab's first: rewritten in place, so the
    // SIGHUP reads the pathological one.
    let conf = lab.dir().join("r1-vipd-1.conf");
    assert!(conf.exists(), "no {}", conf.display());
    std::fs::write(&conf, pathological(&lab, 40_000, valid)).expect("write the configuration");
    let monitor = lab.start_monitor(R2);
    lab.skip_log(a);
    let pid: i32 = std::fs::read_to_string(lab.pid_file(R1, VIPD))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .expect("R1's pid file");
    // The capture runs on this thread; the SIGHUP goes out 300 ms into it.
    let hup = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill(2) with a pid read from the daemon's pid file.
        unsafe { libc::kill(pid, libc::SIGHUP) };
    });
    let adverts = lab.capture_adverts(R1, Duration::from_secs(3));
    let _ = hup.join();
    let done = if valid { "Reload finished" } else { "keeping the running one" };
    let line = lab.wait_for(a, done);
    let events = lab.stop_monitor(monitor);
    let gap = lab::max_gap(&adverts);
    eprintln!("{test}: {} adverts in 3 s around the reload, largest gap {gap:?}; R1: {line}", adverts.len());
    assert!(adverts.len() >= 20, "{test}: R1 sent {} adverts in 3 s\n{}", adverts.len(), lab.status());
    assert!(!events.contains(&true), "{test}: R2 added the VIP during R1's reload\n{}", lab.status());
    assert!(!lab.log(b).contains(MASTER), "{test}: R2 became master during R1's reload\n{}", lab.status());
    let bound = HIGH.advert * 3;
    assert!(gap <= bound, "{test}: R1's adverts stopped for {gap:?} (bound {bound:?})\n{}", lab.status());
    assert_eq!(
        lab.instance_state(a, "VI_1").as_deref(),
        Some("MASTER"),
        "{test}: R1 lost mastership\n{}",
        lab.status()
    );
    lab.converges_on(R1, Duration::from_millis(300));
}

#[test]
fn reload_of_40000_invalid_addresses_keeps_adverts() {
    reload_keeps_adverts("hupbad", 138, false);
}

/// The new backup's start removes its 40,000 addresses on the loop, by the
/// batch (`Netlink::queue_addr`): gaps of 150-174 ms in the debug build
/// with the other tests of this file alongside (218-287 ms one request at
/// a time, when this test was ignored).
#[test]
fn reload_of_40000_excluded_addresses_keeps_adverts() {
    reload_keeps_adverts("hupbig", 139, true);
}

/// A second SIGHUP while the first one's configuration is being read: no
/// second reader, the first read is thrown away unapplied and the file
/// read again, so the configuration running at the end is the file as the
/// last SIGHUP found it, applied once.
#[test]
fn a_sighup_during_a_read_reads_again() {
    let Some(mut lab) = Lab::new("hupagain", 140) else { return };
    let a = lab.start(R1, VIPD, &HIGH);
    lab.wait_for(a, MASTER);
    let conf = lab.dir().join("r1-vipd-1.conf");
    let first = pathological(&lab, 40_000, true);
    std::fs::write(&conf, &first).expect("write the configuration");
    let pid: i32 = std::fs::read_to_string(lab.pid_file(R1, VIPD))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .expect("R1's pid file");
    // SAFETY: kill(2) with a pid read from the daemon's pid file.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    // Reading 40,000 lines takes 60 ms or more: the second SIGHUP comes
    // while the worker reads, and the file it must find names VI_3.
    std::thread::sleep(Duration::from_millis(10));
    std::fs::write(&conf, first.replace("VI_2", "VI_3")).expect("write the configuration");
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    lab.wait_for(a, "Reload finished");
    // What a second application would log, given time to.
    std::thread::sleep(Duration::from_millis(500));
    let log = lab.log(a);
    assert!(log.contains("reading it again when this read ends"), "no second read\n{log}");
    assert_eq!(log.matches("Reloading ").count(), 1, "one reload\n{log}");
    assert_eq!(log.matches("Reload finished").count(), 1, "applied once\n{log}");
    assert_eq!(lab.instance_state(a, "VI_3").as_deref(), Some("BACKUP"), "the last file is running\n{log}");
    assert_eq!(lab.instance_state(a, "VI_2"), None, "the superseded read was applied\n{log}");
    assert_eq!(lab.instance_state(a, "VI_1").as_deref(), Some("MASTER"), "{log}");
}
