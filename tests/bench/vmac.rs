//! Section `vmac`: the client's outage when the master's cable is pulled,
//! VRRPv3 10 ms, without and with `use_vmac` on both routers (the VIP on a
//! macvlan with 00:00:5e:00:01:VRID, so the client's ARP entry never
//! changes), keepalived and vipd.

use super::*;

/// The lab's configuration for `v`, with `use_vmac` if asked.
fn config(b: &Bench, r: Router, v: &Vrrp, vmac: bool) -> String {
    let conf = b.lab.config(r, v);
    if vmac { conf.replace("    virtual_ipaddress", "    use_vmac\n    virtual_ipaddress") } else { conf }
}

/// A pair of `kind` (R1 150, R2 100), `trials` times: R1's cable pulled,
/// the outage measured, the cable plugged back (R1 preempts).
fn cable_outages(test: &str, net: u8, kind: Kind, vmac: bool, trials: usize) -> Vec<Duration> {
    let mut b = Bench::new(test, net);
    let (hi, lo) = (high(V3_10MS), low(V3_10MS));
    let settle = Duration::from_millis(300);
    let conf = config(&b, R1, &hi, vmac);
    let a = b.start(R1, kind, &conf);
    b.lab.wait_for(a, INIT);
    let conf = config(&b, R2, &lo, vmac);
    let c = b.start(R2, kind, &conf);
    b.lab.wait_for(c, INIT);
    b.lab.wait_for(a, MASTER);
    // With use_vmac the VIP is on vrrp.51, not eth0: wait on the states.
    std::thread::sleep(settle);
    let mut out = Vec::new();
    for n in 0..trials {
        out.push(cable_trial(&mut b, a, c, n, test, n));
        std::thread::sleep(settle);
    }
    out
}

/// Two rows: cable-pull outage without and with `use_vmac`.
pub(super) fn run(rep: &mut Report, plan: &Plan, next_net: &mut dyn FnMut() -> u8) {
    let lo = low(V3_10MS);
    let silent = ms(lo.takeover_silent());
    let target = format!("≤ {} (3 adverts + skew {} + 5 ms)", fmt_ms(silent + 5.0), fmt_ms(silent));
    for vmac in [false, true] {
        let mut res = Vec::new();
        for kind in [KA, VIPD] {
            let test = format!("vmac{}-{}", u8::from(vmac), &kind_name(kind)[..2]);
            let what =
                format!("cable pull v3 10 ms, use_vmac {}, {} pair", if vmac { "on" } else { "off" }, kind_name(kind));
            let net = next_net();
            res.push(rep.attempt(&what, || cable_outages(&test, net, kind, vmac, plan.trials_v3)));
        }
        let label = format!(
            "failover outage, cable pulled, v3 10 ms, {}",
            if vmac { "with use_vmac" } else { "without use_vmac" }
        );
        let met = median_within(&res[1], silent + 5.0);
        rep.row(&label, fmt_trials(&res[0]), fmt_trials(&res[1]), &target, met);
    }
}
