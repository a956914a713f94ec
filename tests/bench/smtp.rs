//! Bench section `smtp`: the largest gap between a v3 10 ms master's
//! adverts while its e-mail alerts go to an SMTP server that accepts the
//! connection and never answers (a listener on C that never accepts: the
//! kernel completes the handshake, nobody speaks). A second instance on the
//! same router is driven in and out of FAULT through a `track_file` every
//! 400 ms, so alerts keep coming (3 per cycle) while each delivery hangs
//! for `smtp_connect_timeout` (5 s): the queue is full and dropping for
//! the whole capture. Only the measured instance's adverts (VRID 51)
//! count. keepalived 2.2.7 with the same configuration.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::lab::{self, Kind};
use super::{Bench, Plan, R1, Report, fmt_ms, kind_name, ms};

/// The SMTP server's port on C.
const PORT: u16 = 2600;

fn config(b: &Bench, dir: &str) -> String {
    let net = b.lab.net;
    format!(
        "global_defs {{\n    router_id bench\n    notification_email {{\n        ops@example.org\n    }}\n    \
         smtp_server 10.{net}.0.10 {PORT}\n    smtp_connect_timeout 5\n    smtp_alert\n    vrrp_version 3\n}}\n\n\
         track_file flap {{\n    file \"{dir}/flap\"\n    weight 0\n}}\n\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority 150\n    \
         advert_int 0.01\n    virtual_ipaddress {{\n        10.{net}.0.100/24\n    }}\n}}\n\n\
         vrrp_instance VI_2 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 52\n    priority 150\n    \
         advert_int 0.01\n    track_file {{\n        flap\n    }}\n    virtual_ipaddress {{\n        10.{net}.0.101/24\n    \
         }}\n}}\n"
    )
}

/// What one run saw.
struct SmtpGap {
    gap: Duration,
    adverts: usize,
}

fn smtp_gap(test: &str, net: u8, kind: Kind, period: Duration) -> SmtpGap {
    let mut b = Bench::new(test, net);
    let dir = b.dir();
    std::fs::write(dir.join("flap"), "0\n").expect("flap file");
    // The stalled server: listening in C's namespace, never accepting.
    let stop = Arc::new(AtomicBool::new(false));
    let (s, ns) = (stop.clone(), b.lab.ns_path("c"));
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let file = std::fs::File::open(&ns).expect("ns");
        // SAFETY: setns on a valid namespace fd affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns");
        let l = std::net::TcpListener::bind(format!("10.{net}.0.10:{PORT}")).expect("bind");
        let _ = tx.send(());
        while !s.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(l);
    });
    rx.recv_timeout(lab::TIMEOUT).expect("stalled server");
    let conf = config(&b, &dir.display().to_string());
    let a = b.start(R1, kind, &conf);
    b.lab.eventually("R1 holds the VIP", lab::TIMEOUT, |l| l.holds_vip(R1));
    // VI_2 in and out of FAULT every 400 ms while the capture runs.
    let (s, flap) = (stop.clone(), dir.join("flap"));
    let flapper = std::thread::spawn(move || {
        let mut v = 0;
        while !s.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(400));
            v ^= 1;
            let _ = std::fs::write(&flap, format!("{v}\n"));
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let adverts: Vec<lab::Advert> = b.lab.capture_adverts(R1, period).into_iter().filter(|a| a.vrid == 51).collect();
    // Both daemons log their SMTP attempts (vipd each failure, keepalived
    // its connection): mail was tried.
    b.lab.eventually("an SMTP attempt logged", lab::TIMEOUT, |l| l.log(a).contains("SMTP"));
    stop.store(true, Ordering::Relaxed);
    let _ = flapper.join();
    let _ = server.join();
    SmtpGap { gap: lab::max_gap(&adverts), adverts: adverts.len() }
}

pub(super) fn rows(plan: &Plan, rep: &mut Report, next_net: &mut dyn FnMut() -> u8) {
    let mut cells = Vec::new();
    let mut met = None;
    for kind in [super::KA, super::VIPD] {
        let test = format!("smtp-{}", &kind_name(kind)[..2]);
        let what = format!("advert gap, stalled SMTP server, {}", kind_name(kind));
        let net = next_net();
        let g = rep.attempt(&what, || smtp_gap(&test, net, kind, plan.capture));
        cells.push(match &g {
            Some(g) => format!("{} ({} adverts)", fmt_ms(ms(g.gap)), g.adverts),
            None => "failed".to_owned(),
        });
        if kind == super::VIPD {
            met = g.map(|g| g.adverts >= 2 && ms(g.gap) <= 12.0);
        }
    }
    let (k, v) = (cells[0].clone(), cells[1].clone());
    rep.row(
        "largest advert gap, v3 10 ms master, alerts to an SMTP server that never answers (another instance \
         flapping, 3 alerts / 800 ms, 5 s each)",
        k,
        v,
        "≤ 12 ms (as with 200 scripts/s)",
        met,
    );
}
