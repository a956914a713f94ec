//! `vipd -t` on generated configurations with tens of thousands of
//! addresses (issue 18.6: the checks grew with the square of the address
//! count, 6.7 s for 80,000). The checks must stay linear: ten times the
//! addresses may take at most 40 times as long (quadratic would be 100),
//! and 100,000 addresses are checked within a second on a release build
//! (the figure is printed; a debug build on a loaded machine is only held
//! to the ratio).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn addr(i: usize) -> String {
    format!("10.{}.{}.{}", 1 + ((i >> 16) & 0xff), (i >> 8) & 0xff, i & 0xff)
}

/// One instance with `n` excluded addresses, and two unicast instances
/// sharing a VRID with `n / 2` peers each (disjoint, so the VRID may be
/// shared): the listed-twice check and the duplicate-VRID check.
fn config(n: usize) -> String {
    let mut s = String::from(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n \
         virtual_ipaddress {\n  10.255.0.1/32\n }\n virtual_ipaddress_excluded {\n",
    );
    for i in 0..n {
        let _ = writeln!(s, "  {}/32", addr(i));
    }
    s.push_str(" }\n}\n");
    for k in 0..2 {
        let _ = write!(
            s,
            "vrrp_instance VU_{k} {{\n interface eth0\n virtual_router_id 2\n priority 100\n \
             unicast_src_ip 10.255.1.{}\n unicast_peer {{\n",
            k + 1
        );
        for i in 0..n / 2 {
            let _ = writeln!(s, "  {}", addr(n + k * (n / 2) + i));
        }
        s.push_str(" }\n virtual_ipaddress {\n  10.255.2.1/32\n }\n}\n");
    }
    s
}

/// The fastest of three `vipd -t` runs on the config for `n` addresses.
fn check_time(n: usize) -> Duration {
    let path = std::env::temp_dir().join(format!("vipd-scale-{}-{n}.conf", std::process::id()));
    std::fs::write(&path, config(n)).expect("write the config");
    let _guard = Remove(path.clone());
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t0 = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_vipd")).arg("-t").arg("-f").arg(&path).output().expect("run vipd");
        best = best.min(t0.elapsed());
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "vipd -t on {n} addresses failed: {text}");
    }
    best
}

struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn checking_grows_linearly_with_the_address_count() {
    let small = check_time(10_000);
    let large = check_time(100_000);
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    eprintln!("vipd -t: 10,000 addresses {small:?}, 100,000 addresses {large:?} (×{ratio:.1})");
    assert!(ratio < 40.0, "vipd -t is not linear: {small:?} for 10,000 addresses, {large:?} for 100,000");
}
