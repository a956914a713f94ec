//! Section `scale` (issue 17): 1,000 VRRPv3 instances, 4 interfaces × 250
//! VRIDs (eth0 and the extra links vl1..vl3 of `add_links`), at 1 s and at
//! 100 ms adverts, R1 priority 150 and R2 100, vipd and keepalived side by
//! side:
//!
//! - the time from starting both daemons to R1 master and R2 backup of
//!   every instance (their log lines);
//! - CPU of master and backup over the plan's window from 2 s after every
//!   instance settled, which holds the second GARP round of all 1,000
//!   (`garp_master_delay`, 5 s after each became master), and over a
//!   second window right after it (steady: adverts only, the row's target);
//!   resident memory at the end of the second;
//! - a SIGHUP of R1 with instance 1,000 changed (priority 140): the time
//!   to its "Reload finished" line, and the largest gap between the
//!   adverts of each of the 250 instances on eth0 (kernel time stamps on
//!   R1's switch port; the changed instance is on vl3), next to the
//!   largest in the 3 s before the SIGHUP (idle);
//! - R1 SIGKILLed (keepalived: its VRRP child first): the time until R2
//!   holds all 1,000 VIPs (`ip addr` polled every few milliseconds).

use super::*;

const N: usize = 1000;

/// 1,000 instances at `advert` (`thousand_instances`).
fn scale_config(net: u8, advert: &str, priority: u8, master: bool, changed: bool) -> String {
    thousand_instances(net, advert, None, priority, master, changed)
}

pub(super) struct Scale {
    settle: Duration,
    /// % of a core, master and backup: over the first window (with the
    /// election's GARP rounds) and the steady one after it.
    cpu: [f64; 2],
    steady: [f64; 2],
    /// vipd's run: the master's floor (`advert_floor`), % of a core.
    floor: Option<Result<f64, String>>,
    rss_kib: [u64; 2],
    /// SIGHUP to "Reload finished" (None: not logged within 30 s).
    reload: Option<Duration>,
    /// The largest gap of any eth0 instance's adverts over the reload
    /// (a pair of adverts around or after the SIGHUP) and before it (idle,
    /// 3 s), instances seen, capture drops.
    gap: Duration,
    idle_gap: Duration,
    seen: usize,
    drops: u32,
    /// SIGKILL of R1 to R2 holding every VIP (None: not within 30 s).
    failover: Option<Duration>,
    /// Instances R2 took over before the failover (should be 0).
    takeovers: usize,
}

/// (VRID, receive time) of R1's adverts on its eth0 switch port.
fn capture_vrids(b: &Bench, period: Duration) -> (Vec<(u8, Duration)>, u32) {
    vrrp_frames(b, R1, period, 32 << 20, |p, at| {
        let ihl = usize::from(p[0] & 15) * 4;
        p.get(ihl + 1).map(|&vrid| (vrid, at))
    })
}

/// VIPs of this section R2 holds.
fn vips_held(b: &Bench) -> usize {
    let out = b.lab.ip(&["-n", &b.ns("r2"), "-4", "-o", "addr", "show"]);
    let needle = format!("inet 10.{}.20", b.lab.net);
    out.lines().filter(|l| l.contains(&needle)).count()
}

pub(super) fn scale_run(test: &str, net: u8, kind: Kind, advert: &str, window: Duration) -> Scale {
    let mut b = Bench::new(test, net);
    add_links(&b, 3);
    let t0 = Instant::now();
    let a = b.start(R1, kind, &scale_config(net, advert, 150, true, false));
    let c = b.start(R2, kind, &scale_config(net, advert, 100, false, false));
    loop {
        let (m, k) = (b.lab.log(a).matches(MASTER).count(), b.lab.log(c).matches(BACKUP).count());
        if m >= N && k >= N {
            break;
        }
        assert!(t0.elapsed() < STARTUP, "{test}: {m} masters on r1, {k} backups on r2 within {STARTUP:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let settle = t0.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    // For profiling the settled daemons (perf, strace) from outside.
    if let Some(secs) = std::env::var("VIPD_BENCH_PAUSE").ok().and_then(|s| s.parse::<u64>().ok()) {
        eprintln!("bench: {test}: settled; paused {secs} s: r1 pids {:?}, r2 pids {:?}", b.pids(R1), b.pids(R2));
        std::thread::sleep(Duration::from_secs(secs));
    }
    let masters_before = b.lab.log(c).matches(MASTER).count();

    let pids = [b.pids(R1), b.pids(R2)];
    let ticks = || pids.each_ref().map(|p| p.iter().map(|&p| cpu_ticks(p)).sum::<u64>());
    let over = || {
        let (w0, c0) = (Instant::now(), ticks());
        std::thread::sleep(window);
        let (elapsed, c1) = (w0.elapsed().as_secs_f64(), ticks());
        [0, 1].map(|i| (c1[i] - c0[i]) as f64 / clock_ticks() / elapsed * 100.0)
    };
    let (cpu, steady) = (over(), over());
    let rss_kib = pids.each_ref().map(|p| p.iter().map(|&p| rss_kib(p)).sum::<u64>());

    // The reload: HUP 3 s into an 8 s capture (the first 3 s show the
    // idle gaps), its end line polled.
    let conf = b.dir().join(format!("r1-{}-1.conf", kind_name(kind)));
    assert!(conf.exists(), "{test}: no {}", conf.display());
    fs::write(&conf, scale_config(net, advert, 150, true, true)).expect("write the configuration");
    b.lab.skip_log(a);
    let before = b.lab.log(a).len();
    let pid = b.pids(R1)[0];
    let cap = {
        let tap_b = &b;
        std::thread::scope(|s| {
            let cap = s.spawn(|| capture_vrids(tap_b, Duration::from_secs(8)));
            std::thread::sleep(Duration::from_secs(3));
            let hup = Instant::now();
            let hup_at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            signal(pid, libc::SIGHUP);
            let mut reload = None;
            while hup.elapsed() < Duration::from_secs(30) {
                if tap_b.lab.log(a).get(before..).is_some_and(|l| l.contains("Reload finished")) {
                    reload = Some(hup.elapsed());
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            (cap.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), reload, hup_at)
        })
    };
    let ((adverts, drops), reload, hup_at) = cap;
    let mut last: [Option<Duration>; 256] = [None; 256];
    let (mut gap, mut idle_gap) = (Duration::ZERO, Duration::ZERO);
    for (vrid, at) in adverts {
        if let Some(prev) = last[usize::from(vrid)] {
            let g = at.saturating_sub(prev);
            if at < hup_at {
                idle_gap = idle_gap.max(g);
            } else {
                gap = gap.max(g);
            }
        }
        last[usize::from(vrid)] = Some(at);
    }
    let seen = last.iter().flatten().count();
    let takeovers = b.lab.log(c).matches(MASTER).count() - masters_before;

    // Every instance fails over at once.
    std::thread::sleep(Duration::from_secs(2));
    let killed = Instant::now();
    b.lab.kill(a);
    let mut failover = None;
    while killed.elapsed() < Duration::from_secs(30) {
        if vips_held(&b) >= N {
            failover = Some(killed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // vipd's run only: the bare sender of the same adverts in R1's place
    // (the backup, master now, goes back to backup on them).
    let floor = (kind == VIPD).then(|| {
        let interval = Duration::from_secs_f64(advert.parse().unwrap_or(1.0));
        super::advert_floor::measure(&b.lab.ns_path("r1"), &super::advert_floor::thousand(net), interval, window)
    });
    Scale { settle, cpu, steady, rss_kib, reload, gap, idle_gap, seen, drops, failover, takeovers, floor }
}

/// Runs the section and adds its rows.
pub(super) fn scale(plan: &Plan, rep: &mut Report, next_net: &mut dyn FnMut() -> u8) {
    for (advert, int, label) in [("1", Duration::from_secs(1), "1 s"), ("0.1", Duration::from_millis(100), "100 ms")] {
        let mut res = Vec::new();
        for kind in [KA, VIPD] {
            let test = format!("sc{}-{}", int.as_millis(), &kind_name(kind)[..2]);
            let what = format!("1,000 instances × {label}, {}", kind_name(kind));
            let net = next_net();
            let r = rep.attempt(&what, || scale_run(&test, net, kind, advert, plan.window));
            if let Some(r) = &r {
                if r.takeovers > 0 {
                    eprintln!("bench: {what}: the backup took over {} instances", r.takeovers);
                }
            }
            res.push(r);
        }
        let cell = |i: usize, f: &dyn Fn(&Scale) -> String| res[i].as_ref().map_or("failed".to_owned(), f);
        let vipd = res[1].as_ref();
        let lab = format!("1,000 instances × {label} (4 links × 250 VRIDs)");

        let settle = |s: &Scale| fmt_ms(ms(s.settle));
        rep.row(&format!("{lab}: start → every instance settled"), cell(0, &settle), cell(1, &settle), "—", None);

        let cpu = |s: &Scale| {
            let floor = match &s.floor {
                Some(Ok(f)) => format!("; master's floor, a bare raw-socket sender of the same adverts: {f:.1} %"),
                Some(Err(e)) => format!("; floor failed: {e}"),
                None => String::new(),
            };
            format!("{:.1} % / {:.1} %{floor}", s.steady[0], s.steady[1])
        };
        let (t_cpu, met_cpu) = if int >= Duration::from_secs(1) {
            ("≤ 1 %", vipd.map(|s| s.steady.iter().all(|&c| c <= 1.0)))
        } else {
            ("—", None)
        };
        let w = plan.window.as_secs();
        rep.row(
            &format!("CPU % of a core, {lab}, master / backup, steady ({}–{} s after settled)", 2 + w, 2 + 2 * w),
            cell(0, &cpu),
            cell(1, &cpu),
            t_cpu,
            met_cpu,
        );
        let first = |s: &Scale| format!("{:.1} % / {:.1} %", s.cpu[0], s.cpu[1]);
        rep.row(
            &format!("CPU % of a core, {lab}, master / backup, 2–{} s after settled (with the second GARP round of all 1,000)", 2 + w),
            cell(0, &first),
            cell(1, &first),
            "—",
            None,
        );

        let rss = |s: &Scale| format!("{} / {}", mib(s.rss_kib[0]), mib(s.rss_kib[1]));
        let met_rss = vipd.map(|s| s.rss_kib.iter().all(|&k| k <= 4096));
        rep.row(&format!("resident memory, {lab}, master / backup"), cell(0, &rss), cell(1, &rss), "≤ 4 MiB", met_rss);

        let reload = |s: &Scale| {
            let took = s.reload.map_or("not logged".to_owned(), |d| fmt_ms(ms(d)));
            let mut t = format!("{took} / {} (idle {})", fmt_ms(ms(s.gap)), fmt_ms(ms(s.idle_gap)));
            if s.seen < 250 {
                let _ = write!(t, " ({} of 250 heard)", s.seen);
            }
            if s.drops > 0 {
                let _ = write!(t, " ({} capture drops)", s.drops);
            }
            t
        };
        let met = vipd.map(|s| s.gap <= int && s.seen == 250 && s.drops == 0 && s.takeovers == 0);
        rep.row(
            &format!("SIGHUP, {lab}, one changed: reload time / largest advert gap of the others"),
            cell(0, &reload),
            cell(1, &reload),
            &format!("gap ≤ {label}"),
            met,
        );

        let takeover = low(Vrrp { advert: int, ..Vrrp::V3 }).takeover_silent();
        let bound = ms(takeover) + 50.0;
        let fo = |s: &Scale| s.failover.map_or("not within 30 s".to_owned(), |d| fmt_ms(ms(d)));
        let met = vipd.map(|s| s.failover.is_some_and(|d| ms(d) <= bound));
        rep.row(
            &format!("failover of {lab} (master SIGKILLed): until the backup holds every VIP"),
            cell(0, &fo),
            cell(1, &fo),
            &format!("≤ {} (takeover {} + 50 ms)", fmt_ms(bound), fmt_ms(ms(takeover))),
            met,
        );
    }
}
