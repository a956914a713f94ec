//! Real-network tests: vipd against vipd and against keepalived 2.2, in both
//! roles, in network namespaces (the lab is in `tests/netns/lab.rs`). They
//! need root; otherwise each prints why it skips and passes.
//!
//! In every test R1 is the router with the higher priority (150, or equal
//! where the test says so) and R2 the other (100); `vk` means vipd on R1 and
//! keepalived on R2, `kv` the reverse. The tests assert behaviour: who is
//! master, who holds the VIP, that the client gets its VIP back. The one
//! timing they check is the client's ping outage on every failover, against
//! a generous bound: twice the protocol's takeover time plus 200 ms, where
//! the takeover is the backup's skew after a priority-0 advert (graceful
//! stop, preemption) and 3 adverts + skew after the master fell silent
//! (cable pulled, SIGKILL). Exact timings belong to benchmarks.
//!
//! Run them with `cargo test --test netns -- --test-threads=2 --nocapture`
//! to see the outages they measure. A failing test prints both routers'
//! addresses and the end of every daemon's log, and keeps its configs and
//! logs in `$TMPDIR/vipd-netns-<pid>-<test>/`; `VIPD_NETNS_KEEP=1` keeps
//! them for passing tests too. `VIPD_NETNS_KEEPALIVED_ONLY=1` runs
//! keepalived wherever a test asks for vipd, to tell a broken lab from a
//! vipd bug.

#[path = "netns/lab.rs"]
mod lab;

use std::time::{Duration, SystemTime};

use lab::Kind::{Keepalived as KA, Vipd as VIPD};
use lab::Router::{R1, R2};
use lab::{Daemon, Kind, Lab, Router, Vrrp};

const MASTER: &str = "Entering MASTER STATE";
const BACKUP: &str = "Entering BACKUP STATE";
const INIT: &str = "Entering BACKUP STATE (init)";
const FAULT: &str = "Entering FAULT STATE";

/// VRRPv2 unicast (`unicast_src_ip` / `unicast_peer`), a /32 VIP.
const V2_UNICAST: Vrrp = Vrrp { unicast: true, vip_prefix: 32, ..Vrrp::V2 };

/// How long "exactly one router holds the VIP" must stay true to count as
/// converged: a few adverts.
fn settle(v: &Vrrp) -> Duration {
    (v.advert * 3 / 2).max(Duration::from_millis(500))
}

fn high(v: Vrrp) -> Vrrp {
    Vrrp { priority: 150, master: true, ..v }
}

fn low(v: Vrrp) -> Vrrp {
    Vrrp { priority: 100, master: false, ..v }
}

/// Starts `kind` on `r` and waits until it is up (BACKUP, listening).
fn start(lab: &mut Lab, r: Router, kind: Kind, v: &Vrrp) -> Daemon {
    let d = lab.start(r, kind, v);
    lab.wait_for(d, INIT);
    d
}

/// SIGTERM; vipd must exit 0 and say it stopped.
fn stop(lab: &mut Lab, d: Daemon) {
    let code = lab.term(d);
    if d.kind == VIPD {
        assert_eq!(code, Some(0), "vipd's exit status after SIGTERM\n{}", lab.status());
        assert!(lab.log(d).contains("(VI_1) Stopped"), "vipd did not log `(VI_1) Stopped`\n{}", lab.status());
    }
}

/// Stops `master` gracefully while the client pings; `backup` must take
/// over within the bound, and the stopped router must hold no VIP.
fn graceful_handover(lab: &mut Lab, what: &str, master: Daemon, backup: Daemon, backup_cfg: &Vrrp, settle: Duration) {
    let ping = lab.start_ping();
    let t0 = SystemTime::now();
    stop(lab, master);
    if backup.kind == KA {
        // keepalived as the witness that the stopped master sent priority 0.
        lab.wait_for(backup, "Backup received priority 0 advertisement");
    }
    lab.wait_for(backup, MASTER);
    let outage = lab.stop_ping(ping, t0);
    lab.check_outage(what, outage, backup_cfg.takeover_prio0());
    lab.converges_on(backup.router, settle);
}

/// Election, graceful handover, the old master returning, and nothing left
/// behind after SIGTERM, for one protocol set-up and one pair of daemons:
///
/// 1. R1 (150, `state MASTER`) becomes master; only R1 holds the VIP; R2
///    is BACKUP.
/// 2. SIGTERM R1 (priority 0): R2 takes over (outage bounded by its skew);
///    R1 exits holding no VIP.
/// 3. R1 comes back and preempts (outage bounded); R2 is BACKUP again and
///    only R1 holds the VIP.
/// 4. SIGTERM R1 again: R2 takes over (bounded); SIGTERM R2: no router
///    holds the VIP.
fn failover_cycle(test: &str, net: u8, pair: (Kind, Kind), proto: Vrrp) {
    let Some(mut lab) = Lab::new(test, net) else { return };
    let (hi, lo, settle) = (high(proto), low(proto), settle(&proto));
    let a = start(&mut lab, R1, pair.0, &hi);
    let b = start(&mut lab, R2, pair.1, &lo);

    lab.wait_for(a, MASTER);
    lab.converges_on(R1, settle);
    assert_eq!(lab.state(b).as_deref(), Some("BACKUP"), "R2 after the election\n{}", lab.status());

    graceful_handover(&mut lab, "SIGTERM master R1, R2 takes over", a, b, &lo, settle);

    let ping = lab.start_ping();
    let t0 = SystemTime::now();
    let a = lab.start(R1, pair.0, &hi);
    lab.wait_for(a, MASTER);
    lab.wait_for(b, BACKUP);
    let outage = lab.stop_ping(ping, t0);
    lab.check_outage("R1 returns and preempts", outage, hi.takeover_prio0());
    lab.converges_on(R1, settle);
    assert_eq!(lab.state(b).as_deref(), Some("BACKUP"), "R2 after R1 returned\n{}", lab.status());

    graceful_handover(&mut lab, "SIGTERM master R1 again", a, b, &lo, settle);
    stop(&mut lab, b);
    assert!(!lab.holds_vip(R1) && !lab.holds_vip(R2), "a VIP was left behind after SIGTERM\n{}", lab.status());
}

#[test]
fn v2_multicast_vipd_vipd() {
    failover_cycle("v2mc-vv", 11, (VIPD, VIPD), Vrrp::V2);
}

#[test]
fn v2_multicast_vipd_master_keepalived_backup() {
    failover_cycle("v2mc-vk", 12, (VIPD, KA), Vrrp::V2);
}

#[test]
fn v2_multicast_keepalived_master_vipd_backup() {
    failover_cycle("v2mc-kv", 13, (KA, VIPD), Vrrp::V2);
}

#[test]
fn v2_unicast_vipd_vipd() {
    failover_cycle("v2uc-vv", 21, (VIPD, VIPD), V2_UNICAST);
}

#[test]
fn v2_unicast_vipd_master_keepalived_backup() {
    failover_cycle("v2uc-vk", 22, (VIPD, KA), V2_UNICAST);
}

#[test]
fn v2_unicast_keepalived_master_vipd_backup() {
    failover_cycle("v2uc-kv", 23, (KA, VIPD), V2_UNICAST);
}

#[test]
fn v3_100ms_vipd_vipd() {
    failover_cycle("v3mc-vv", 31, (VIPD, VIPD), Vrrp::V3);
}

#[test]
fn v3_100ms_vipd_master_keepalived_backup() {
    failover_cycle("v3mc-vk", 32, (VIPD, KA), Vrrp::V3);
}

#[test]
fn v3_100ms_keepalived_master_vipd_backup() {
    failover_cycle("v3mc-kv", 33, (KA, VIPD), Vrrp::V3);
}

/// The harness itself, with keepalived on both routers: if this fails, the
/// lab is broken, not vipd.
#[test]
fn harness_keepalived_keepalived() {
    failover_cycle("kk", 90, (KA, KA), Vrrp::V3);
}

/// The master's cable is pulled (its bridge port down): it goes FAULT and
/// drops the VIP, R2 takes over (outage bounded by 3 adverts + skew); the
/// cable goes back in: R1 preempts, only R1 holds the VIP.
fn cable_pull(test: &str, net: u8, pair: (Kind, Kind)) {
    let Some(mut lab) = Lab::new(test, net) else { return };
    let (hi, lo, settle) = (high(Vrrp::V3), low(Vrrp::V3), settle(&Vrrp::V3));
    let a = start(&mut lab, R1, pair.0, &hi);
    let b = start(&mut lab, R2, pair.1, &lo);
    lab.wait_for(a, MASTER);
    lab.converges_on(R1, settle);

    let ping = lab.start_ping();
    let t0 = SystemTime::now();
    lab.cable(R1, false);
    lab.wait_for(a, FAULT);
    lab.wait_for(b, MASTER);
    let outage = lab.stop_ping(ping, t0);
    lab.check_outage("cable pulled from master R1", outage, lo.takeover_silent());
    lab.converges_on(R2, settle);

    let ping = lab.start_ping();
    let t0 = SystemTime::now();
    lab.cable(R1, true);
    lab.wait_for(a, MASTER);
    lab.wait_for(b, BACKUP);
    let outage = lab.stop_ping(ping, t0);
    lab.check_outage("cable back in, R1 preempts", outage, hi.takeover_prio0());
    lab.converges_on(R1, settle);
}

#[test]
fn cable_pull_vipd_vipd() {
    cable_pull("cable-vv", 41, (VIPD, VIPD));
}

#[test]
fn cable_pull_vipd_master_keepalived_backup() {
    cable_pull("cable-vk", 42, (VIPD, KA));
}

#[test]
fn cable_pull_keepalived_master_vipd_backup() {
    cable_pull("cable-kv", 43, (KA, VIPD));
}

/// `nopreempt` on the higher-priority router (150, `state BACKUP`): it
/// becomes master when alone; stopped, R2 takes over; back, it stays BACKUP
/// behind the lower-priority master for many Master_Down intervals; it only
/// takes over on R2's priority-0 advert.
fn nopreempt(test: &str, net: u8, pair: (Kind, Kind)) {
    let Some(mut lab) = Lab::new(test, net) else { return };
    let hi = Vrrp { priority: 150, master: false, nopreempt: true, ..Vrrp::V3 };
    let (lo, settle) = (low(Vrrp::V3), settle(&Vrrp::V3));
    let a = start(&mut lab, R1, pair.0, &hi);
    lab.wait_for(a, MASTER);
    let b = start(&mut lab, R2, pair.1, &lo);
    lab.converges_on(R1, settle);
    assert_eq!(lab.state(b).as_deref(), Some("BACKUP"), "R2 behind the nopreempt master\n{}", lab.status());

    graceful_handover(&mut lab, "SIGTERM nopreempt master R1, R2 takes over", a, b, &lo, settle);

    let a = start(&mut lab, R1, pair.0, &hi);
    let hold = (hi.master_down() * 5).max(Duration::from_secs(2));
    lab.stays("R2 the only holder while R1 (nopreempt) is back", hold, |l| l.holds_vip(R2) && !l.holds_vip(R1));
    assert!(!lab.log(a).contains(MASTER), "R1 with nopreempt preempted\n{}", lab.status());
    assert_eq!(lab.state(b).as_deref(), Some("MASTER"), "R2 while R1 is back\n{}", lab.status());

    graceful_handover(&mut lab, "SIGTERM master R2, nopreempt R1 takes over", b, a, &hi, settle);
}

#[test]
fn nopreempt_vipd_vipd() {
    nopreempt("nopre-vv", 51, (VIPD, VIPD));
}

#[test]
fn nopreempt_vipd_high_keepalived_low() {
    nopreempt("nopre-vk", 52, (VIPD, KA));
}

#[test]
fn nopreempt_keepalived_high_vipd_low() {
    nopreempt("nopre-kv", 53, (KA, VIPD));
}

/// The cloud HA-VIP set-up: equal priority, both `state BACKUP` with
/// `nopreempt`, unicast, `garp_master_delay 1`, `garp_master_refresh 5`,
/// started together. They converge to exactly one master holding the VIP;
/// stopping it hands over (bounded); the stopped one comes back as BACKUP
/// and the VIP stays where it is.
fn havip(test: &str, net: u8, pair: (Kind, Kind)) {
    let Some(mut lab) = Lab::new(test, net) else { return };
    let v = Vrrp { unicast: true, nopreempt: true, havip_garp: true, vip_prefix: 32, ..Vrrp::V3 };
    let settle = Duration::from_secs(1);
    let d1 = lab.start(R1, pair.0, &v);
    let d2 = lab.start(R2, pair.1, &v);
    let one = |l: &Lab| l.holds_vip(R1) != l.holds_vip(R2);
    lab.eventually("exactly one router holding the VIP", lab::TIMEOUT, one);
    lab.stays("exactly one router holding the VIP", settle, one);
    let (m, s) = if lab.holds_vip(R1) { (d1, d2) } else { (d2, d1) };
    assert_eq!(lab.state(m).as_deref(), Some("MASTER"), "the VIP holder\n{}", lab.status());
    assert_eq!(lab.state(s).as_deref(), Some("BACKUP"), "the other router\n{}", lab.status());
    println!("{test}: converged on {:?} ({:?})", m.router, m.kind);

    lab.skip_log(s);
    graceful_handover(&mut lab, "HA-VIP: SIGTERM the master, the other takes over", m, s, &v, settle);

    let m = start(&mut lab, m.router, m.kind, &v);
    lab.stays("the VIP staying on the new master", settle * 2, |l| l.holds_vip(s.router) && !l.holds_vip(m.router));
    assert!(!lab.log(m).contains(MASTER), "the returning router preempted\n{}", lab.status());
}

#[test]
fn havip_equal_priority_vipd_vipd() {
    havip("havip-vv", 61, (VIPD, VIPD));
}

#[test]
fn havip_equal_priority_vipd_keepalived() {
    havip("havip-vk", 62, (VIPD, KA));
}

#[test]
fn havip_equal_priority_keepalived_vipd() {
    havip("havip-kv", 63, (KA, VIPD));
}

/// vipd on R1 is SIGKILLed as master: the VIP stays on R1 (stale) and R2
/// takes over (the client barely notices: R1's kernel still answers for the
/// stale VIP until R2's gratuitous ARPs move it). vipd restarted on R1 (same configuration and pid file) must
/// delete the stale VIP at start, before anything else touches it; then
/// the election proceeds: R1 preempts and is the only holder.
fn stale_vip(test: &str, net: u8, peer: Kind) {
    let Some(mut lab) = Lab::new(test, net) else { return };
    let (hi, lo, settle) = (high(Vrrp::V3), low(Vrrp::V3), settle(&Vrrp::V3));
    let a = start(&mut lab, R1, VIPD, &hi);
    let b = start(&mut lab, R2, peer, &lo);
    lab.wait_for(a, MASTER);
    lab.converges_on(R1, settle);

    let ping = lab.start_ping();
    let t0 = SystemTime::now();
    lab.kill(a);
    lab.wait_for(b, MASTER);
    let outage = lab.stop_ping(ping, t0);
    lab.check_outage("SIGKILL master R1, R2 takes over", outage, lo.takeover_silent());
    assert!(lab.holds_vip(R1) && lab.holds_vip(R2), "premise: the SIGKILLed vipd left its VIP\n{}", lab.status());

    let monitor = lab.start_monitor(R1);
    let a = start(&mut lab, R1, VIPD, &hi);
    lab.wait_for(a, MASTER);
    lab.wait_for(b, BACKUP);
    lab.converges_on(R1, settle);
    let events = lab.stop_monitor(monitor);
    let shown: Vec<&str> = events.iter().map(|&added| if added { "added" } else { "deleted" }).collect();
    assert_eq!(
        events,
        [false, true],
        "R1's VIP after the restart: expected deleted at start, then added as master; saw {shown:?}\n{}",
        lab.status()
    );
}

#[test]
fn stale_vip_after_sigkill_vipd_vipd() {
    stale_vip("stale-vv", 71, VIPD);
}

#[test]
fn stale_vip_after_sigkill_vipd_keepalived() {
    stale_vip("stale-vk", 72, KA);
}

/// `-V` (`--dont-release-vrrp`): SIGTERM makes vipd exit 0 leaving its VIP
/// in place and sending no priority 0; the keepalived backup takes over when
/// its Master_Down timer expires and never hears a priority-0 advert.
#[test]
fn dont_release_vrrp_vipd_master_keepalived_backup() {
    let Some(mut lab) = Lab::new("keepvip-vk", 75) else { return };
    let (hi, lo, settle) = (high(Vrrp::V3), low(Vrrp::V3), settle(&Vrrp::V3));
    let conf = lab.config(R1, &hi);
    let a = lab.start_conf(R1, VIPD, &conf, &["-V"]);
    lab.wait_for(a, INIT);
    let b = start(&mut lab, R2, KA, &lo);
    lab.wait_for(a, MASTER);
    lab.converges_on(R1, settle);

    assert_eq!(lab.term(a), Some(0), "vipd -V's exit status after SIGTERM\n{}", lab.status());
    assert!(lab.holds_vip(R1), "vipd -V removed its VIP on exit\n{}", lab.status());
    lab.wait_for(b, MASTER);
    assert!(!lab.log(b).contains("priority 0"), "vipd -V sent priority 0\n{}", lab.status());
    assert!(lab.holds_vip(R1) && lab.holds_vip(R2), "the VIP left by vipd -V\n{}", lab.status());
}

/// SIGINT stops vipd like SIGTERM: a vipd master alone on the LAN exits 0
/// and leaves no VIP.
#[test]
fn sigint_releases_the_vip() {
    let Some(mut lab) = Lab::new("sigint", 76) else { return };
    let a = start(&mut lab, R1, VIPD, &high(Vrrp::V3));
    lab.wait_for(a, MASTER);
    lab.eventually("R1 holding the VIP", lab::TIMEOUT, |l| l.holds_vip(R1));
    assert_eq!(lab.stop_with(a, "INT"), Some(0), "vipd's exit status after SIGINT\n{}", lab.status());
    assert!(!lab.holds_vip(R1), "a VIP was left behind after SIGINT\n{}", lab.status());
}

/// vipd's exit statuses (vipd(8)) where a lab makes them deterministic.
/// 2: the configuration has errors; nothing is touched.
#[test]
fn exit_status_config_error() {
    let Some(mut lab) = Lab::new("exit2", 81) else { return };
    let conf = lab.config(R1, &high(Vrrp::V3)).replace("priority", "priorty");
    let (code, out) = lab.run_vipd(R1, &conf, &[]);
    assert_eq!(code, Some(2), "vipd with a configuration error:\n{out}");
}

/// 1: a configured interface does not exist.
#[test]
fn exit_status_missing_interface() {
    let Some(mut lab) = Lab::new("exit1if", 82) else { return };
    let conf = lab.config(R1, &high(Vrrp::V3)).replace("interface eth0", "interface eth9");
    let (code, out) = lab.run_vipd(R1, &conf, &[]);
    // A missing interface is a configuration error (vipd -t reports it too).
    assert_eq!(code, Some(2), "vipd with a missing interface:\n{out}");
    assert!(out.contains("interface `eth9` does not exist"), "{out}");
}

/// 4: CAP_NET_RAW and CAP_NET_ADMIN dropped (root without them); nothing
/// is touched.
#[test]
fn exit_status_missing_capabilities() {
    let Some(mut lab) = Lab::new("exit4", 83) else { return };
    let conf = lab.config(R1, &high(Vrrp::V3));
    let drop_caps = ["setpriv", "--inh-caps=-net_raw,-net_admin", "--bounding-set=-net_raw,-net_admin"];
    let (code, out) = lab.run_vipd(R1, &conf, &drop_caps);
    assert_eq!(code, Some(4), "vipd without CAP_NET_RAW and CAP_NET_ADMIN:\n{out}");
    assert!(!lab.holds_vip(R1), "a vipd that could not start touched the VIP\n{}", lab.status());
}

/// 1: the pid file belongs to a running vipd, which carries on and becomes
/// master.
#[test]
fn exit_status_pid_file_held() {
    let Some(mut lab) = Lab::new("exit1pid", 84) else { return };
    let v = high(Vrrp::V3);
    let running = start(&mut lab, R1, VIPD, &v);
    let conf = lab.config(R1, &v);
    let (code, out) = lab.run_vipd(R1, &conf, &[]);
    assert_eq!(code, Some(1), "a second vipd with the same pid file:\n{out}");
    assert!(lab.is_running(running), "the second vipd stopped the first\n{}", lab.status());
    lab.wait_for(running, MASTER);
    assert!(lab.holds_vip(R1), "the first vipd, alone, holds the VIP\n{}", lab.status());
}

/// As a non-root user with only CAP_NET_RAW and CAP_NET_ADMIN (ambient,
/// through setpriv), vipd elects, holds the VIP, and hands over on SIGTERM.
#[test]
fn non_root_with_two_capabilities() {
    let Some(mut lab) = Lab::new("nonroot", 86) else { return };
    let conf = lab.config(R1, &high(Vrrp::V3));
    let caps = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all,+net_raw,+net_admin",
        "--ambient-caps=-all,+net_raw,+net_admin",
        "--bounding-set=-all,+net_raw,+net_admin",
    ];
    let r1 = lab.start_vipd_wrapped(R1, &conf, &caps);
    lab.wait_for(r1, INIT);
    let r2 = start(&mut lab, R2, VIPD, &low(Vrrp::V3));
    lab.wait_for(r1, MASTER);
    lab.converges_on(R1, Duration::from_millis(500));
    stop(&mut lab, r1);
    lab.wait_for(r2, MASTER);
    assert!(!lab.holds_vip(R1), "the non-root vipd left its VIP\n{}", lab.status());
    stop(&mut lab, r2);
}

/// `v3_checksum_as_v2`: R1 sends the RFC 9568 checksum (no pseudo-header),
/// R2 the keepalived 2.2 form; each must accept the other's. R2 starts alone
/// and becomes master, so R1 hears R2's form first; R1 then preempts, so R2
/// hears R1's form and steps down; on SIGTERM R2 takes over again. (Starting
/// both together leaves it to start-up timing which one is master first.)
#[test]
fn v3_rfc9568_checksum_sender_and_pseudo_header_peer_vipd_vipd() {
    let Some(mut lab) = Lab::new("csum9568", 41) else { return };
    let v1 = high(Vrrp::V3);
    let v2 = low(Vrrp::V3);
    let conf1 = lab.config(R1, &v1).replace("    interface eth0\n", "    interface eth0\n    v3_checksum_as_v2\n");
    assert!(conf1.contains("v3_checksum_as_v2"), "the lab's config format changed");
    let b = start(&mut lab, R2, VIPD, &v2);
    lab.wait_for(b, MASTER);
    lab.converges_on(R2, settle(&v2));
    let a = lab.start_conf(R1, VIPD, &conf1, &[]);
    lab.wait_for(a, "10.41.0.2 sends VRRPv3 checksums in the pseudo-header form");
    lab.wait_for(a, MASTER);
    lab.wait_for(b, BACKUP);
    lab.wait_for(b, "10.41.0.1 sends VRRPv3 checksums in the RFC 9568 form");
    lab.converges_on(R1, settle(&v1));
    let log_a = lab.log(a);
    assert_eq!(log_a.matches(MASTER).count(), 1, "R1 left mastership\n{}", lab.status());
    for (r, log) in [("R1", &log_a), ("R2", &lab.log(b))] {
        assert!(!log.contains("bad checksum"), "{r} refused its peer's checksum form\n{}", lab.status());
    }
    stop(&mut lab, a);
    lab.wait_for(b, MASTER);
    lab.converges_on(R2, settle(&v2));
    stop(&mut lab, b);
}

/// SIGHUP to the backup, three times, then to the master: both keep their
/// roles and nobody releases or takes the VIP. (A reload reopens the
/// receive sockets; they must be listened to at once, or the backup's
/// down timer fires on adverts it never read.)
#[test]
fn reload_keeps_roles_vipd_vipd() {
    let Some(mut lab) = Lab::new("reload", 42) else { return };
    let (v1, v2) = (high(Vrrp::V3), low(Vrrp::V3));
    // R1 first: with R2 first, R2 may be master before R1 is up, which
    // is start-up timing, not a reload effect.
    let a = start(&mut lab, R1, VIPD, &v1);
    lab.wait_for(a, MASTER);
    let b = start(&mut lab, R2, VIPD, &v2);
    lab.converges_on(R1, settle(&v1));
    for _ in 0..3 {
        lab.hup(b);
        lab.wait_for(b, "Reload finished");
        lab.stays("R1 alone holds the VIP after a backup reload", Duration::from_millis(700), |l| {
            l.holds_vip(R1) && !l.holds_vip(R2)
        });
    }
    lab.hup(a);
    lab.wait_for(a, "Reload finished");
    lab.stays("R1 alone holds the VIP after its own reload", Duration::from_millis(700), |l| {
        l.holds_vip(R1) && !l.holds_vip(R2)
    });
    let log_b = lab.log(b);
    assert!(!log_b.contains(MASTER), "the backup took over during a reload\n{}", lab.status());
    assert_eq!(lab.log(a).matches(MASTER).count(), 1, "the master left and came back\n{}", lab.status());
    stop(&mut lab, a);
    stop(&mut lab, b);
}
