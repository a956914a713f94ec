//! Golden tests for the configuration reader: every rule of vipd.conf(5)
//! with the exact diagnostics it produces, keepalived's sample files, and
//! `vipd -t` / `vipd check` exit codes and output.

#[path = "../src/sys/testkit.rs"]
#[allow(dead_code)]
mod testkit;
use testkit::TempDir;

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use vipd::config::{self, Config, InitialState, Loaded, Severity, TrackerKind};
use vipd::time::Duration;
use vipd::wire::vrrp::{Auth, Version};

/// Interfaces that "exist" for these tests.
fn fake_ifaces(name: &str) -> bool {
    matches!(name, "eth0" | "eth1" | "eth2" | "eth3" | "eth0.1")
}

fn load(text: &str) -> Loaded {
    config::load_with(Path::new("/test/k.conf"), Some(text), "alpha", &fake_ifaces)
}

/// Diagnostics as `line:col: severity: message [| hint]`.
fn diags(text: &str) -> Vec<String> {
    show(&load(text))
}

fn show(l: &Loaded) -> Vec<String> {
    l.diagnostics
        .iter()
        .map(|d| {
            let at = d.span.map_or("-".to_owned(), |s| format!("{}:{}", s.line, s.col));
            let hint = d.hint.as_ref().map_or(String::new(), |h| format!(" | {h}"));
            format!("{at}: {}: {}{hint}", d.severity.name(), d.message)
        })
        .collect()
}

fn ok(text: &str) -> Config {
    let l = load(text);
    let errors: Vec<_> = l.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    l.config
}

const MINIMAL: &str =
    "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.100\n }\n}\n";

#[test]
fn defaults_are_keepalived_defaults() {
    let c = ok(MINIMAL);
    let i = &c.instances[0];
    assert_eq!((i.name.as_str(), i.interface.as_str(), i.vrid), ("VI_1", "eth0", 51));
    assert_eq!(i.priority, 100);
    assert_eq!(i.initial_state, InitialState::Backup);
    assert_eq!(i.version, Version::V2);
    assert_eq!(i.advert_int, Duration::from_secs(1));
    assert!(i.preempt);
    assert_eq!(i.garp.master_delay, Duration::from_secs(5));
    assert_eq!(i.garp.master_repeat, 5);
    assert_eq!(i.garp.lower_prio_delay, Duration::from_secs(5));
    assert_eq!(i.garp.lower_prio_repeat, 5);
    assert_eq!(i.down_timer_adverts, 3);
    assert_eq!(i.mcast_group, Some("224.0.0.18".parse().unwrap()));
    assert_eq!(i.vips.len(), 1);
    assert_eq!(i.vips[0].prefix, 32);
    assert!(i.accept);
}

#[test]
fn grammar_forms() {
    // `{` on the next line, a whole block on one line, text after `{`,
    // quotes with comment characters, `!` comments.
    let c = ok(r#"
global_defs
{
  router_id "lb#1!x"   ! a comment
}
vrrp_instance VI_1 { interface eth0
  virtual_router_id 51   # trailing comment
  virtual_ipaddress { 10.0.0.100/24 }
  notify_master "/bin/echo 'a b' c"
}
"#);
    assert_eq!(c.globals.router_id.as_deref(), Some("lb#1!x"));
    let i = &c.instances[0];
    assert_eq!(i.interface, "eth0");
    assert_eq!(i.vips[0].prefix, 24);
    assert_eq!(i.notify.master.as_ref().unwrap().argv, ["/bin/echo", "a b", "c"]);

    let c = ok("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress { 10.0.0.1/24 }\n}");
    assert_eq!(c.instances[0].vips[0].prefix, 24);
}

#[test]
fn vip_line_grammar() {
    let c = ok(r#"
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  virtual_ipaddress {
    10.0.0.100/24 dev eth1 brd + scope link label eth1:vip
    10.0.0.101/24 brd 10.0.0.200 scope 7 no_track
    10.0.0.102/30 brd -
  }
  virtual_ipaddress_excluded {
    fd00::1/64 dev eth0 -nodad preferred_lft forever noprefixroute
    fd00::2
  }
}
"#);
    let i = &c.instances[0];
    let v = &i.vips;
    assert_eq!(v[0].dev.as_deref(), Some("eth1"));
    assert_eq!(v[0].broadcast, Some("10.0.0.255".parse().unwrap()));
    assert_eq!(v[0].scope, 253);
    assert_eq!(v[0].label.as_deref(), Some("eth1:vip"));
    assert_eq!(v[1].broadcast, Some("10.0.0.200".parse().unwrap()));
    assert_eq!(v[1].scope, 7);
    assert!(v[1].no_track);
    assert_eq!(v[2].broadcast, Some("10.0.0.100".parse().unwrap()));
    let e = &i.excluded_vips;
    assert_eq!(e[0].addr, "fd00::1".parse::<IpAddr>().unwrap());
    assert!(!e[0].nodad);
    assert!(e[0].noprefixroute);
    assert_eq!(e[0].preferred_lft, None);
    assert!(e[1].nodad, "IPv6 VIPs are added with nodad unless -nodad");
    assert_eq!(e[1].preferred_lft, Some(0), "a /128 is deprecated so it is never a source");
}

#[test]
fn unknown_keywords_get_hints() {
    assert_eq!(
        diags(
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priorty 100\n Priority 5\n virtual_ipaddress {\n  10.0.0.1\n }\n}"
        ),
        [
            "4:2: error: unknown keyword `priorty` in vrrp_instance | did you mean `priority`?",
            "5:2: error: unknown keyword `Priority` in vrrp_instance | keywords are case-sensitive: `priority`",
        ]
    );
    assert_eq!(
        diags("global_defs {\n virtual_router_id 5\n}"),
        [
            "2:2: error: unknown keyword `virtual_router_id` in global_defs | `virtual_router_id` belongs in vrrp_instance, not in global_defs"
        ]
    );
}

#[test]
fn structure_errors() {
    assert_eq!(diags("global_defs {\n router_id a\n}\n}\n"), ["4:1: error: `}` without a block to close"]);
    assert_eq!(
        diags("global_defs {\n router_id a\n}\n# vrrp_instance VI_1\n{\n interface eth0\n}\n"),
        [
            "5:1: error: `{` without a keyword before it | the line before is a comment or blank: did you comment out the block's keyword?"
        ]
    );
    assert_eq!(
        diags("global_defs {\n router_id a\n"),
        ["1:13: error: block `global_defs` is never closed | add the missing `}`"]
    );
    assert_eq!(diags("global_defs\n"), ["1:1: error: `global_defs` needs a block | global_defs { … }"]);
}

#[test]
fn values_are_checked() {
    let d = diags(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 300\n advert_int abc\n \
         garp_master_repeat\n virtual_router_id 7 ; priority 9\n state master\n virtual_ipaddress {\n  10.0.0.1/33\n  10.0.0.2 bogus\n }\n}",
    );
    assert_eq!(
        d,
        [
            "4:11: error: `300` is outside 1..255 for `priority`",
            "5:13: error: `abc` is not a number of seconds (`advert_int`)",
            "6:2: error: `garp_master_repeat` needs a value",
            "7:22: error: unexpected `;` after `virtual_router_id` | `;` does not separate statements: put each on its own line",
            "8:8: error: `master` is not a state | values are case-sensitive: `MASTER`",
            "10:3: error: bad prefix length in `10.0.0.1/33` (0..32)",
            "11:12: error: unexpected `bogus` in an address line | dev, brd, scope, label, peer, preferred_lft, home, -nodad, mngtmpaddr, noprefixroute, autojoin, no_track",
        ]
    );
}

#[test]
fn cross_checks() {
    let d = diags(
        r#"
vrrp_script chk {
  script "/bin/true"
  weight 10
}
vrrp_instance VI_1 {
  state MASTER
  nopreempt
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 0.5
  virtual_ipaddress {
    10.0.0.1
    fd00::1
  }
  track_script {
    chk
    nothere
  }
  track_interface {
    wlan9
  }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 51
  priority 255
  virtual_ipaddress {
    10.0.0.2
  }
  track_script {
    chk
  }
}
vrrp_instance VI_3 {
  interface eth9
  virtual_router_id 52
  version 3
  authentication {
    auth_type PASS
    auth_pass x
  }
  virtual_ipaddress {
    10.0.0.3
  }
}
"#,
    );
    let expected = [
        "6:1: error: vrrp_instance `VI_1`: tracked interface `wlan9` does not exist",
        "7:3: warning: vrrp_instance `VI_1` has both `state MASTER` and `nopreempt`: like keepalived, vipd ignores `nopreempt` and this router takes over from a lower-priority master | use `state BACKUP` on every router that has nopreempt",
        "12:3: error: VRRPv2 advertises whole seconds; `advert_int 0.5s` cannot be sent | use a whole number, or version 3 for sub-second adverts",
        "15:5: error: `fd00::1` is not the family of the first virtual address | put addresses of the other family in virtual_ipaddress_excluded, or in a second instance",
        "19:5: error: vrrp_script `nothere` is not defined",
        "25:1: error: vrrp_instance `VI_2` has priority 255, which weights never change | use weight 0 trackers on an address owner, or a priority below 255",
        "25:1: error: vrrp_instance `VI_2` uses VRID 51 on `eth0` like `VI_1` at line 6 | every instance on an interface and family needs its own virtual_router_id",
        "37:3: error: vrrp_instance `VI_3`: interface `eth9` does not exist",
        "40:3: error: VRRPv3 has no authentication | remove the authentication block",
    ];
    assert_eq!(d, expected);
}

#[test]
fn unsupported_keywords_warn_or_refuse() {
    let d = diags(
        "global_defs {\n snmp_socket {\n  a@b\n }\n vrrp_cpu_affinity 1\n}\nvirtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  weight 1\n }\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n use_vmac_addr\n smtp_alert\n track_process {\n  p\n }\n virtual_ipaddress {\n  10.0.0.1\n }\n}",
    );
    assert_eq!(
        d,
        [
            "2:2: warning: `snmp_socket` is not implemented by vipd and is ignored: vipd has no SNMP or D-Bus agent",
            "5:2: warning: `vrrp_cpu_affinity` is not implemented by vipd and is ignored: vipd does not pin CPUs or raise its priority on its own schedule",
            "7:1: warning: `virtual_server` is not implemented by vipd and is ignored: vipd implements the VRRP side of keepalived only",
            "15:2: error: `use_vmac_addr` is not implemented by vipd: vipd implements `use_vmac [NAME]` and `vmac_xmit_base` only (no ipvlan, no base address on the macvlan); peers would see a different MAC",
            "18:3: error: vrrp_track_process `p` is not defined",
        ]
    );
}

#[test]
fn priorities_states_and_versions() {
    // `state MASTER` without priority means 255 (keepalived).
    let c = ok(
        "vrrp_instance A {\n state MASTER\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}",
    );
    assert_eq!(c.instances[0].priority, 255);
    // Priority 255 without state is MASTER.
    let c = ok(
        "vrrp_instance A {\n priority 255\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}",
    );
    assert_eq!(c.instances[0].initial_state, InitialState::Master);
    // IPv6 is always v3; global vrrp_version applies to IPv4.
    let c = ok(
        "global_defs {\n vrrp_version 3\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 0.01\n \
                virtual_ipaddress {\n  10.0.0.1\n }\n}\nvrrp_instance B {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  fd00::1\n }\n}",
    );
    assert_eq!(c.instances[0].version, Version::V3);
    assert_eq!(c.instances[0].advert_int, Duration::from_millis(10));
    assert_eq!(c.instances[1].version, Version::V3);
    assert_eq!(c.instances[1].mcast_group, Some("ff02::12".parse().unwrap()));
    assert_eq!(
        diags(
            "vrrp_instance B {\n version 2\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  fd00::1\n }\n}"
        ),
        ["1:1: error: vrrp_instance `B`: VRRPv2 has no IPv6; use version 3"]
    );
    assert_eq!(
        diags(
            "vrrp_instance B {\n version 3\n interface eth0\n virtual_router_id 1\n advert_int 41\n virtual_ipaddress {\n  10.0.0.1\n }\n}"
        ),
        ["5:2: error: VRRPv3 advert_int is at most 40.95 s, not 41s"]
    );
}

#[test]
fn garp_settings_follow_keepalived() {
    let c = ok("global_defs {\n vrrp_garp_master_delay 2\n vrrp_garp_master_repeat 3\n}\n\
                vrrp_instance A {\n interface eth0\n virtual_router_id 1\n garp_master_refresh 60\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n\
                vrrp_instance B {\n interface eth0\n virtual_router_id 2\n garp_lower_prio_repeat 1\n garp_master_delay 0\n virtual_ipaddress {\n  10.0.0.2\n }\n}");
    let (a, b) = (&c.instances[0].garp, &c.instances[1].garp);
    assert_eq!((a.master_delay, a.master_repeat), (Duration::from_secs(2), 3));
    assert_eq!(a.master_refresh, Duration::from_secs(60));
    // Unset lower-priority settings follow the *global* master ones, not
    // the instance's own (keepalived 2.2.7, measured with `-d`).
    assert_eq!((a.lower_prio_delay, a.lower_prio_repeat), (Duration::from_secs(2), 3));
    assert_eq!((b.lower_prio_delay, b.lower_prio_repeat), (Duration::from_secs(2), 1));
    assert_eq!(b.master_delay, Duration::ZERO);
    // vrrp_garp_interval 0 (keepalived's own template) is accepted.
    ok("global_defs {\n vrrp_garp_interval 0\n vrrp_gna_interval 0.000001\n}");
}

#[test]
fn scripts_trackers_and_groups() {
    let c = ok(r#"
vrrp_script chk_later {
  script "/usr/bin/check a 'b c'"
  interval 2
  timeout 5
  rise 3
  fall 4
  weight 30
  user nobody nogroup
  init_fail
}
track_file tf {
  file "/run/tf"
  weight 2 reverse
  init_file 7 overwrite
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  priority 100
  virtual_ipaddress {
    10.0.0.1
  }
  track_script {
    chk_later weight -20 reverse
  }
  track_file {
    tf
  }
  track_interface {
    eth1 weight 10
  }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress {
    10.0.0.2
  }
}
vrrp_sync_group G {
  group {
    VI_1
    VI_2
  }
  sync_group_tracking_weight
  track_interface {
    eth2
  }
  notify "/bin/notify group"
}
"#);
    let i = &c.instances[0];
    assert_eq!(c.trackers.len(), 2);
    let chk = &c.trackers[0];
    assert_eq!(chk.kind, TrackerKind::Script { rise: 3, fall: 4, init_fail: true });
    let s = chk.script.as_ref().unwrap();
    assert_eq!(s.script.argv, ["/usr/bin/check", "a", "b c"]);
    assert_eq!(
        s.script.user.as_ref().map(|u| (u.user.as_str(), u.group.as_deref())),
        Some(("nobody", Some("nogroup")))
    );
    assert_eq!((s.interval, s.timeout), (Duration::from_secs(2), Duration::from_secs(5)));
    assert_eq!(i.track[0].weight, -20, "the reference's weight wins over the script's");
    assert!(i.track[0].reverse);
    let tf = &c.trackers[1];
    assert_eq!(tf.kind, TrackerKind::File);
    assert_eq!((tf.weight, tf.reverse), (2, true));
    let f = tf.file.as_ref().unwrap();
    assert_eq!((f.path.to_str(), f.init, f.overwrite), (Some("/run/tf"), Some(7), true));
    assert_eq!((i.track[1].weight, i.track[1].reverse), (2, true), "defaults from the track_file");
    // The group's track_interface applies to both members.
    assert!(c.instances.iter().all(|i| i.track_interfaces.iter().any(|t| t.interface == "eth2" && t.weight == 0)));
    assert_eq!(c.sync_groups[0].members, [0, 1]);
    assert_eq!(c.sync_groups[0].notify.generic.as_ref().unwrap().argv, ["/bin/notify", "group"]);
}

#[test]
fn group_rules() {
    let base = "vrrp_script s {\n script /bin/true\n}\n\
                vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n track_script {\n  s weight 5\n }\n}\n\
                vrrp_instance B {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n  10.0.0.2\n }\n}\n";
    let d = diags(&format!(
        "{base}vrrp_sync_group G {{\n group {{\n  A\n  C\n }}\n}}\nvrrp_sync_group H {{\n group {{\n  A\n }}\n}}\n"
    ));
    assert_eq!(
        d,
        [
            "11:3: error: `s` is weighted, but `A` is in sync group `G`: keepalived drops the weight | add `sync_group_tracking_weight` to the group, or use weight 0",
            "24:3: error: sync group member `C` is not a vrrp_instance",
            "27:1: warning: sync group `H` has a single member",
            "29:3: error: vrrp_instance `A` is already in another sync group",
        ]
    );
}

#[test]
fn strict_mode() {
    let d = diags(
        "global_defs {\n vrrp_strict\n}\nvrrp_instance A {\n state MASTER\n priority 100\n interface eth0\n virtual_router_id 1\n \
         authentication {\n  auth_type PASS\n  auth_pass x\n }\n unicast_peer {\n  10.0.0.9\n }\n virtual_ipaddress {\n  10.0.0.1\n }\n}",
    );
    assert_eq!(
        d,
        [
            "4:1: warning: vrrp_instance `A` is unicast without `unicast_src_ip`: adverts leave from the interface's first address",
            "4:1: error: strict mode: `A` has authentication | strict mode does not allow authentication",
            "4:1: error: strict mode: `A` uses unicast",
            "5:2: error: strict mode: `A` has `state MASTER` but is not the address owner (priority 255)",
        ]
    );
    let c = ok(
        "global_defs {\n vrrp_strict\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}",
    );
    let i = &c.instances[0];
    assert!(i.strict && i.lower_prio_no_advert && !i.higher_prio_send_advert);
    assert_eq!(i.garp.lower_prio_repeat, 0);
}

#[test]
fn authentication_and_unicast() {
    let c = ok(r#"
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  authentication {
    auth_type PASS
    auth_pass abcdefgh
  }
  unicast_src_ip 10.0.0.1
  unicast_peer {
    10.0.0.2
    10.0.0.3 min_ttl 250 max_ttl 255
  }
  unicast_ttl 64
  virtual_ipaddress {
    10.0.0.100
  }
}
"#);
    let i = &c.instances[0];
    assert_eq!(i.auth, Auth::Simple(*b"abcdefgh"));
    assert_eq!(i.src_addr, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(i.unicast_peers.len(), 2);
    assert_eq!((i.unicast_peers[1].min_ttl, i.unicast_peers[1].max_ttl), (250, 255));
    assert_eq!(i.unicast_ttl, Some(64));
    assert_eq!(
        diags(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n authentication {\n  auth_type AH\n  auth_pass x\n }\n virtual_ipaddress {\n  10.0.0.1\n }\n}"
        ),
        [
            "5:13: error: `auth_type AH` is not implemented by vipd | AH authentication was removed from VRRP by RFC 3768; use PASS or none"
        ]
    );
    assert_eq!(
        diags(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n authentication {\n  auth_type PASS\n  auth_pass 123456789\n }\n virtual_ipaddress {\n  10.0.0.1\n }\n}"
        ),
        ["6:13: warning: `auth_pass` is longer than 8 bytes; only the first 8 are used, as by keepalived"]
    );
}

#[test]
fn every_diagnostic_of_a_file_in_one_run() {
    let d = diags(
        "global_defs {\n bogus1\n}\nvrrp_instance A {\n bogus2\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}\nbogus3\n",
    );
    assert_eq!(d.len(), 3, "{d:?}");
}

#[test]
fn skip_check_adv_addr_off_means_off() {
    let c = ok(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n skip_check_adv_addr off\n virtual_ipaddress {\n  10.0.0.1\n }\n}",
    );
    assert!(!c.instances[0].skip_check_adv_addr);
}

// ----- include, parameters, conditionals with real files -------------------------------

#[test]
fn includes_parameters_and_conditionals() {
    let dir = TempDir::new("inc");
    dir.file("10-a.inst", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priority $PRIO\n virtual_ipaddress {\n  ${NET}.1\n }\n}\n", 0o644);
    dir.file(
        "20-b.inst",
        "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n  ${NET}.2\n }\n}\n",
        0o644,
    );
    let main = dir.file("main.conf", "$NET=10.9.0\n@alpha $PRIO=200\n@^alpha $PRIO=50\ninclude *.inst\n", 0o644);
    let l = config::load_with(&main, None, "alpha", &fake_ifaces);
    assert!(!l.has_errors(), "{:?}", l.diagnostics);
    assert_eq!(l.config.instances.len(), 2);
    assert_eq!(l.config.instances[0].priority, 200);
    assert_eq!(l.config.instances[1].vips[0].addr, "10.9.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(l.sources.len(), 3);
    let l = config::load_with(&main, None, "beta", &fake_ifaces);
    assert_eq!(l.config.instances[0].priority, 50);

    // Diagnostics name the included file and line.
    dir.file("30-bad.inst", "vrrp_instance C {\n  priorty 5\n}\n", 0o644);
    let l = config::load_with(&main, None, "alpha", &fake_ifaces);
    let d = l.diagnostics.iter().find(|d| d.message.contains("priorty")).unwrap();
    let shown = d.display(&l.sources).to_string();
    assert!(shown.contains("30-bad.inst:2:3: error: unknown keyword `priorty`"), "{shown}");

    // A loop and a missing include are errors, and reading goes on.
    let a = dir.file("loop-a.conf", "include loop-b.conf\n", 0o644);
    dir.file("loop-b.conf", "include loop-a.conf\nglobal_defs {\n router_id x\n}\n", 0o644);
    let l = config::load_with(&a, None, "alpha", &fake_ifaces);
    assert!(l.diagnostics.iter().any(|d| d.severity == Severity::Error && d.message.contains("include loop")));
    assert_eq!(l.config.globals.router_id.as_deref(), Some("x"));
    let m = dir.file("missing.conf", "include nothere.conf\n", 0o644);
    let l = config::load_with(&m, None, "alpha", &fake_ifaces);
    assert!(l.has_errors());
}

// ----- keepalived's own sample configurations -------------------------------------------

const SAMPLES: &str = "/usr/share/doc/keepalived/samples";

/// (sample, config id, errors vipd reports) — the outcome decided for each
/// VRRP sample, as documented in vipd.conf(5).
const SAMPLE_OUTCOMES: &[(&str, &str, usize)] = &[
    ("keepalived.conf.vrrp", "x", 0),
    ("keepalived.conf.vrrp.localcheck", "x", 0),
    // `or` (a two-nexthop route) is refused.
    ("keepalived.conf.vrrp.routes", "x", 1),
    // `to 192.168.100./24` twice: keepalived skips those rules, vipd refuses.
    ("keepalived.conf.vrrp.rules", "x", 2),
    ("keepalived.conf.vrrp.scripts", "x", 0),
    ("keepalived.conf.vrrp.static_ipaddress", "x", 0),
    ("keepalived.conf.vrrp.sync", "x", 0),
    ("keepalived.conf.track_interface", "x", 0),
    ("keepalived.conf.sample", "x", 0),
    ("keepalived.conf.IPv6", "x", 0),
    // Old sync-group syntax (members outside `group {}`).
    ("keepalived.conf.vrrp.lvs_syncd", "x", 3),
    // Without -i the check script has no `script` (use_vmac is fine).
    ("keepalived.conf.conditional_conf", "x", 1),
    // With -i high: net_namespace is refused.
    ("keepalived.conf.conditional_conf", "high", 1),
];

fn sample(name: &str, id: &str) -> Option<Loaded> {
    let p = Path::new(SAMPLES).join(name);
    if !p.exists() {
        // CI installs keepalived whether or not it runs as root.
        assert!(std::env::var_os("CI").is_none(), "{} is missing: scripts/test installs keepalived", p.display());
        testkit::skip(&format!("{}: keepalived's samples are not installed (apt-get install keepalived)", p.display()));
        return None;
    }
    Some(config::load_with(&p, None, id, &|_| true))
}

#[test]
fn keepalived_samples_give_the_documented_outcome() {
    for &(name, id, errors) in SAMPLE_OUTCOMES {
        let Some(l) = sample(name, id) else { return };
        let shown: Vec<String> = l.diagnostics.iter().map(|d| d.display(&l.sources).to_string()).collect();
        assert_eq!(l.errors(), errors, "{name} -i {id}: {shown:#?}");
    }
}

#[test]
fn keepalived_samples_parse_to_the_values_in_the_file() {
    let Some(l) = sample("keepalived.conf.vrrp", "x") else { return };
    let c = &l.config;
    assert_eq!(c.instances.len(), 4);
    let i = &c.instances[0];
    assert_eq!((i.name.as_str(), i.interface.as_str(), i.vrid, i.priority), ("VI_1", "eth0", 51, 100));
    assert_eq!(i.initial_state, InitialState::Master);
    assert_eq!(i.auth, Auth::Simple(*b"1111\0\0\0\0"));
    // The sample lists 192.168.200.18 twice; keepalived advertises both
    // copies (captured: `addrs(2): 192.168.200.18,192.168.200.18` for such
    // a list), so vipd keeps both too and warns.
    assert_eq!(i.vips.len(), 4);
    assert_eq!(i.vips[0].addr, "192.168.200.16".parse::<IpAddr>().unwrap());
    assert_eq!(i.vips[3].label.as_deref(), Some("eth0:1"));
    assert!(l.diagnostics.iter().any(|d| d.message == "`192.168.200.18` is listed twice in this instance"));

    let Some(l) = sample("keepalived.conf.vrrp.sync", "x") else { return };
    assert_eq!(l.config.sync_groups.len(), 2);
    assert_eq!(l.config.instances.len(), 9);

    let Some(l) = sample("keepalived.conf.vrrp.localcheck", "x") else { return };
    assert!(l.config.trackers.iter().all(|t| t.script.is_some()));
    assert!(l.config.instances.iter().any(|i| !i.track.is_empty()));
}

// ----- the command line ------------------------------------------------------------------

fn vipd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vipd")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_check_exit_codes_and_formats() {
    let dir = TempDir::new("cli");
    // Interfaces are checked against the real machine: use lo-less
    // configs that only need "lo"… which is refused, so check with errors.
    let good = dir.file("good.conf", "global_defs {\n router_id a\n enable_traps\n}\n", 0o644);
    let bad = dir.file("bad.conf", "global_defs {\n routr_id a\n}\n", 0o644);
    let (code, out, err) = vipd(&["-t", "-f", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("warning: `enable_traps`"), "{err}");
    assert!(err.contains("warning: the configuration has no vrrp_instance"), "{err}");
    assert!(err.contains("0 errors, 2 warnings"), "{err}");

    let (code, _, err) = vipd(&["check", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.conf:2:2: error: unknown keyword `routr_id` in global_defs"), "{err}");
    assert!(err.contains("hint: did you mean `router_id`?"), "{err}");

    let (code, out, _) = vipd(&["check", "--json", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    let line = out.lines().next().unwrap();
    assert!(line.starts_with(r#"{"severity":"error","file":""#), "{line}");
    assert!(line.ends_with(r#","line":2,"col":2,"message":"unknown keyword `routr_id` in global_defs","hint":"did you mean `router_id`?"}"#), "{line}");

    let (code, out, _) = vipd(&["check", "--dump", good.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("router_id a\n") && out.contains("vrrp_mcast_group4 224.0.0.18"), "{out}");

    // A missing file is an error (keepalived 2.2.7 exits 0 here).
    let (code, _, err) = vipd(&["-t", "-f", "/nonexistent/vipd.conf"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read"), "{err}");

    // The daemon refuses to start on errors, with the reason.
    let (code, _, err) = vipd(&["-f", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not starting: the configuration has errors"), "{err}");
}

#[test]
fn dump_is_itself_a_valid_config_with_the_same_values() {
    let Some(l) = sample("keepalived.conf.vrrp.sync", "x") else { return };
    let text = config::dump::dump(&l.config);
    let again = config::load_with(Path::new("/dump.conf"), Some(&text), "x", &|_| true);
    assert!(!again.has_errors(), "{:#?}", again.diagnostics);
    assert_eq!(config::dump::dump(&again.config), text);
}

/// The macvlan is kept (by its resolved name, `vmac_prefix` applied), and
/// the addresses without `dev` stay without it: they go on the macvlan,
/// which `dev INSTANCE_INTERFACE` would have moved them off.
#[test]
fn dump_keeps_use_vmac_and_where_its_addresses_go() {
    let c = ok("global_defs {\n vmac_prefix vr\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n use_vmac\n vmac_xmit_base\n \
         virtual_ipaddress {\n  10.0.0.100/24\n  10.0.1.100/24 dev eth1\n }\n}\n");
    let vmac = c.instances[0].vmac.clone().expect("use_vmac");
    assert_eq!((vmac.name.as_str(), vmac.xmit_base), ("vr.51", true));
    let text = config::dump::dump(&c);
    assert!(text.contains("    use_vmac vr.51\n    vmac_xmit_base\n"), "{text}");
    assert!(text.contains("        10.0.0.100/24 scope global\n"), "{text}");
    assert!(text.contains("        10.0.1.100/24 dev eth1 scope global\n"), "{text}");
    let again = config::load_with(Path::new("/dump.conf"), Some(&text), "x", &|_| true);
    assert!(!again.has_errors(), "{:#?}\n{text}", again.diagnostics);
    assert_eq!(again.config.instances[0].vmac, c.instances[0].vmac);
    assert_eq!(again.config.instances[0].vips, c.instances[0].vips);
    assert_eq!(config::dump::dump(&again.config), text);
}

/// keepalived names a `use_vmac` without a name `PREFIX.VRID` (measured:
/// `vmac_prefix vr` gives `vr.77`), keeps the first `vmac_prefix`.
#[test]
fn vmac_prefix_names_the_macvlan() {
    let inst = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 77\n use_vmac\n \
         virtual_ipaddress {\n  10.0.0.100/24\n }\n}\n";
    let name = |c: &config::Config| c.instances[0].vmac.as_ref().map(|v| v.name.clone());
    assert_eq!(name(&ok(inst)).as_deref(), Some("vrrp.77"));
    assert_eq!(name(&ok(&format!("global_defs {{\n vmac_prefix vr\n}}\n{inst}"))).as_deref(), Some("vr.77"));
    let l = config::load_with(
        Path::new("/k.conf"),
        Some(&format!("global_defs {{\n vmac_prefix vr\n vmac_prefix other\n vmac_addr_prefix x\n}}\n{inst}")),
        "x",
        &|_| true,
    );
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    assert_eq!(name(&l.config).as_deref(), Some("vr.77"));
    let warnings: Vec<&str> = l.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(warnings.iter().any(|w| w.contains("`vmac_prefix` is already `vr`")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("`vmac_addr_prefix` is not implemented")), "{warnings:?}");
    // A prefix that makes a name of more than 15 bytes is the usual error.
    let long = config::load_with(
        Path::new("/k.conf"),
        Some(&format!("global_defs {{\n vmac_prefix abcdefghijklmn\n}}\n{inst}")),
        "x",
        &|_| true,
    );
    assert!(long.has_errors());
}

/// A sync group's trackers are written into its members; with
/// `sync_group_tracking_weight` their weights count, and the dump must say
/// so, or it reads back as an error (a weighted tracker in a group).
#[test]
fn dump_keeps_sync_group_tracking_weight() {
    let c = ok("vrrp_script chk {\n script \"/bin/true\"\n weight -10\n}\n\
         vrrp_sync_group SG {\n group {\n  VI_1\n  VI_2\n }\n sync_group_tracking_weight\n track_script {\n  chk\n }\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.100\n }\n}\n\
         vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 52\n virtual_ipaddress {\n  10.0.0.101\n }\n}\n");
    let text = config::dump::dump(&c);
    let again = config::load_with(Path::new("/dump.conf"), Some(&text), "x", &|_| true);
    assert!(!again.has_errors(), "{:#?}\n{text}", again.diagnostics);
    assert_eq!(again.config.instances[0].track, c.instances[0].track);
    assert_eq!(config::dump::dump(&again.config), text);
}

#[test]
fn dump_writes_routes_and_rules_back() {
    let c = ok("static_routes {\n 10.1.0.0/16 via 10.0.0.254 dev eth0 table 7 metric 3\n blackhole fd00:1::/64\n}\n\
         static_rules {\n from 10.1.0.0/16 table 7\n not to fd00::/64 prohibit oif eth0 fwmark 3/7 protocol 4 no_track\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.100\n }\n\
         virtual_routes {\n  src 10.0.0.100 10.4.0.0/16 dev eth0 scope link protocol static no_track\n }\n\
         virtual_rules {\n  iif eth0 table 5 priority 1\n }\n}\n");
    let text = config::dump::dump(&c);
    let again = config::load_with(Path::new("/dump.conf"), Some(&text), "x", &|_| true);
    assert!(!again.has_errors(), "{:#?}\n{text}", again.diagnostics);
    assert_eq!(
        (&again.config.static_routes, &again.config.static_rules),
        (&c.static_routes, &c.static_rules),
        "{text}"
    );
    assert_eq!(
        (&again.config.instances[0].routes, &again.config.instances[0].rules),
        (&c.instances[0].routes, &c.instances[0].rules),
        "{text}"
    );
}

#[test]
fn every_keyword_is_in_the_man_page() {
    let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/vipd.conf.5")).unwrap();
    let words: Vec<&str> =
        man.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '*')).filter(|w| !w.is_empty()).collect();
    let mut missing = Vec::new();
    for (_, table) in config::keywords::ALL {
        for (kw, _) in *table {
            let listed = words.iter().any(|w| {
                *w == *kw || w.strip_suffix('*').is_some_and(|prefix| !prefix.is_empty() && kw.starts_with(prefix))
            });
            if !listed {
                missing.push(*kw);
            }
        }
    }
    assert!(missing.is_empty(), "not in man/vipd.conf.5: {missing:?}");
}

#[test]
fn keepalived_reading_differences_are_refused() {
    let inst = |body: &str| {
        format!(
            "vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n{body}\n virtual_ipaddress {{\n  10.0.0.1\n }}\n}}\n"
        )
    };
    // Switches keepalived turns on whatever their argument.
    assert_eq!(
        diags("global_defs {\n vrrp_strict off\n}"),
        [
            "2:14: error: `vrrp_strict` takes no value | keepalived 2.2.7 ignores `off` and turns `vrrp_strict` on; remove the line to leave it off"
        ]
    );
    assert_eq!(
        diags(&inst(" state MASTER\n state BACKUP")),
        ["5:2: error: `state` is given twice | keepalived 2.2.7 keeps MASTER from line 4; keep one"]
    );
    assert_eq!(
        diags(&inst(" priority 255\n nopreempt")),
        [
            "5:2: error: vrrp_instance `A` is the address owner (priority 255); keepalived ignores `nopreempt` for it | use a priority below 255 with `state BACKUP`"
        ]
    );
    // A tracker defined after its use is dropped by keepalived.
    assert_eq!(
        diags(&format!("{}vrrp_script s {{\n script /bin/true\n}}\n", inst(" track_script {\n  s\n }"))),
        [
            "5:3: error: `s` is defined after this use; keepalived 2.2.7 ignores such a reference | move its definition above the block that uses it"
        ]
    );
    // GARP times are whole seconds and a repeat of 0 is one round there.
    assert_eq!(
        diags(&inst(" garp_master_delay 2.5\n garp_master_repeat 0")),
        [
            "4:20: error: `2.5` is not a whole number (`garp_master_delay`)",
            "5:21: error: `garp_master_repeat 0` sends one round in keepalived | use 1, or a delay of 0",
        ]
    );
}

#[test]
fn tracker_weights_keep_reverse_and_refuse_no_reverse() {
    let c = ok("vrrp_script s {\n script /bin/true\n weight -10 reverse\n}\n\
                vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n track_script {\n  s weight 5\n }\n}");
    assert_eq!((c.instances[0].track[0].weight, c.instances[0].track[0].reverse), (5, true));
    let d = diags(
        "vrrp_script s {\n script /bin/true\n}\n\
                   vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n track_script {\n  s no_reverse\n }\n}",
    );
    assert_eq!(
        d,
        [
            "11:5: error: `no_reverse` is not understood by keepalived 2.2.7 | it ignores the option and keeps the tracker's `reverse`; remove it"
        ]
    );
}

#[test]
fn unicast_and_address_checks() {
    let base = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n";
    assert_eq!(
        diags(&format!("{base} unicast_peer {{\n }}\n virtual_ipaddress {{\n  10.0.0.1 dev eth9\n }}\n}}")),
        [
            "4:2: warning: vrrp_instance `A`: empty `unicast_peer` block; adverts go to the multicast group",
            "7:3: error: interface `eth9` of `10.0.0.1` does not exist",
        ]
    );
    assert_eq!(
        diags(&format!(
            "{base} unicast_fault_no_peer\n unicast_peer {{\n }}\n virtual_ipaddress {{\n  10.0.0.1\n }}\n}}"
        )),
        ["5:2: error: vrrp_instance `A` has no unicast peers and `unicast_fault_no_peer`: it would stay in FAULT"]
    );
    let many: String = (1..=90).map(|n| format!("  fd00::{n:x}\n")).collect();
    assert_eq!(
        diags(&format!("{base} virtual_ipaddress {{\n{many} }}\n}}")),
        [
            "1:1: error: vrrp_instance `A` has 90 IPv6 addresses; at most 89 fit an advert at MTU 1500 | move the rest to virtual_ipaddress_excluded"
        ]
    );
}

#[test]
fn values_keepalived_would_read_differently_are_refused() {
    let inst = |body: &str| {
        format!(
            "vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n{body}\n virtual_ipaddress {{\n  10.0.0.1\n }}\n}}\n"
        )
    };
    let d = diags(&inst(" authentication {\n  auth_type PASS\n  auth_pass 'ab cd'\n }"));
    assert_eq!(
        d,
        [
            "6:13: error: keepalived 2.2.7 reads `ab cd` differently here | outside script commands it groups words only with double quotes and takes `'` and `\\` literally; write the value without them"
        ]
    );
    assert_eq!(diags(&inst(" authentication {\n  auth_type PASS\n  auth_pass \"a\\x41\"\n }")).len(), 1);
    // Double quotes alone read the same; script commands keep both kinds.
    assert!(diags(&inst(" authentication {\n  auth_type PASS\n  auth_pass \"ab cd\"\n }")).is_empty());
    assert!(diags(&inst(" notify \"/bin/echo 'a b' c\" root")).is_empty());
}

#[test]
fn v3_checksum_as_v2_global_default_and_instance_override() {
    use vipd::wire::vrrp::V3Ipv4Checksum::{NoPseudoHeader, PseudoHeader};
    let inst = |name: &str, vrid: u8, extra: &str| {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n version 3\n{extra} \
             virtual_ipaddress {{\n  10.0.0.{vrid}\n }}\n}}\n"
        )
    };
    let plain = ok(&inst("A", 1, ""));
    assert_eq!(plain.instances[0].v3_ipv4_checksum, PseudoHeader, "keepalived 2.2's form by default");
    let text = format!(
        "global_defs {{\n v3_checksum_as_v2\n}}\n{}{}{}",
        inst("A", 1, ""),
        inst("B", 2, " v3_checksum_as_v2 off\n"),
        inst("C", 3, " v3_checksum_as_v2 on\n")
    );
    let c = ok(&text);
    let forms: Vec<_> = c.instances.iter().map(|i| i.v3_ipv4_checksum).collect();
    assert_eq!(forms, [NoPseudoHeader, PseudoHeader, NoPseudoHeader]);
    // The dump reads back to the same setting.
    let dumped = vipd::config::dump::dump(&c);
    let again = ok(&dumped);
    let forms2: Vec<_> = again.instances.iter().map(|i| i.v3_ipv4_checksum).collect();
    assert_eq!(forms, forms2, "{dumped}");
}

#[test]
fn scheduling_keywords() {
    let c = ok("global_defs {\n vrrp_rt_priority 20\n vrrp_priority -5\n vrrp_rlimit_rttime 20000\n vrrp_no_swap\n}\n");
    let s = c.globals.sched;
    assert_eq!((s.rt_priority, s.nice, s.rlimit_rttime_us, s.no_swap), (Some(20), Some(-5), 20000, true));
    assert_eq!(ok("").globals.sched.rt_priority, None, "automatic by default");
    assert_eq!(ok("global_defs {\n vrrp_rt_priority 0\n}\n").globals.sched.rt_priority, Some(0));
    let d = diags("global_defs {\n vrrp_rt_priority 100\n vrrp_priority 20\n}\n");
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(d.iter().all(|l| l.contains("error")), "{d:#?}");
}

// ----- text pasted from web pages ---------------------------------------------------------

const CONFIGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/configs");

/// Each look-alike character: one diagnostic for the file, at its first
/// place, with how many lines carry it and the `sed` that fixes the file,
/// and nothing else (no unknown keyword, no unterminated quote).
#[test]
fn pasted_characters_are_named_once_per_file() {
    let cases: &[(&str, &[&str])] = &[
        (
            "global_defs {\n\u{a0}\u{a0}router_id lb1\n\u{a0}\u{a0}vrrp_version\u{a0}3\n}\n",
            &[
                "2:1: warning: U+00A0 NO-BREAK SPACE on 2 lines; read as a space | keepalived 2.2.7 reads it as part of a word, so an indented keyword is unknown to it; to replace it: sed -i 's/\\xc2\\xa0/ /g' /test/k.conf",
            ],
        ),
        (
            "global_defs {\n\u{3000}router_id lb1\n}\n",
            &[
                "2:1: warning: U+3000 IDEOGRAPHIC SPACE on 1 line; read as a space | keepalived 2.2.7 reads it as part of a word, so an indented keyword is unknown to it; to replace it: sed -i 's/\\xe3\\x80\\x80/ /g' /test/k.conf",
            ],
        ),
        (
            "global_defs {\n rout\u{200b}er_id lb1\u{200b}\n}\n",
            &[
                "2:6: warning: invisible U+200B ZERO WIDTH SPACE on 1 line; ignored | keepalived 2.2.7 reads it as part of a word; to remove it: sed -i 's/\\xe2\\x80\\x8b//g' /test/k.conf",
            ],
        ),
        (
            "\u{feff}global_defs {\n router_id lb1\n}\n",
            &[
                "1:1: warning: byte order mark (U+FEFF ZERO WIDTH NO-BREAK SPACE) at the start of the file, on 1 line; ignored | keepalived 2.2.7 reads it as part of the first keyword and loses that block; to remove it: sed -i 's/\\xef\\xbb\\xbf//g' /test/k.conf",
            ],
        ),
        (
            "global_defs {\n \u{feff}router_id lb1\n}\n",
            &[
                "2:2: warning: invisible U+FEFF ZERO WIDTH NO-BREAK SPACE on 1 line; ignored | keepalived 2.2.7 reads it as part of a word; to remove it: sed -i 's/\\xef\\xbb\\xbf//g' /test/k.conf",
            ],
        ),
        (
            "global_defs {\r\n router_id lb1\r\n}\r\n",
            &[
                "1:14: warning: CR line ends (U+000D CARRIAGE RETURN before the line feed) on 3 lines; read as line ends | keepalived 2.2.7 reads them the same way, but scripts and other tools may not; to convert the file: sed -i 's/\\r$//' /test/k.conf",
            ],
        ),
        (
            "global_defs {\n router_id \u{201c}lb 1\u{201d} # it\u{2019}s ours\n}\n",
            &[
                "2:12: error: U+201C LEFT DOUBLE QUOTATION MARK is not a quote; curly double quotes on 1 line | keepalived 2.2.7 keeps it as part of a word, and reading it as a quote could change what a line means; the rest of the file was checked as if it were `\"`; to write ASCII: sed -i 's/\\xe2\\x80\\x9c/\"/g; s/\\xe2\\x80\\x9d/\"/g' /test/k.conf",
            ],
        ),
        (
            "vrrp_script chk {\n script \"/bin/echo \u{2018}a b\u{2019}\"\n}\nglobal_defs {\n router_id it\u{2019}s\n}\n",
            &[
                "2:20: error: U+2018 LEFT SINGLE QUOTATION MARK is not a quote; curly single quotes on 2 lines | keepalived 2.2.7 keeps it as part of a word, and reading it as a quote could change what a line means; the rest of the file was checked as if it were `'`; to write ASCII: sed -i 's/\\xe2\\x80\\x98/\\x27/g; s/\\xe2\\x80\\x99/\\x27/g' /test/k.conf",
            ],
        ),
        (
            "global_defs \u{ff5b}\n router_id lb1\n\u{ff5d}\nvrrp_instance VI_1 \u{ff5b}\n interface eth0\n virtual_router_id 51\n virtual_ipaddress \u{ff5b} 10.0.0.1 \u{ff5d}\n\u{ff5d}\n",
            &[
                "1:13: error: U+FF5B FULLWIDTH LEFT CURLY BRACKET is not a brace; full-width braces on 5 lines | keepalived 2.2.7 keeps it as part of a word, and reading it as a brace could change what a line means; the rest of the file was checked as if it were `{`; to write ASCII: sed -i 's/\\xef\\xbd\\x9b/{/g; s/\\xef\\xbd\\x9d/}/g' /test/k.conf",
            ],
        ),
    ];
    // Most cases have no vrrp_instance, which has its own warning.
    let diags = |text: &str| -> Vec<String> {
        diags(text).into_iter().filter(|l| !l.contains("has no vrrp_instance")).collect()
    };
    for (text, want) in cases {
        assert_eq!(diags(text), *want, "{text:?}");
    }
    // Read as what they look like: the values are the author's.
    assert_eq!(load(cases[0].0).config.globals.router_id.as_deref(), Some("lb1"));
    assert_eq!(load(cases[2].0).config.globals.router_id.as_deref(), Some("lb1"));
    assert_eq!(load(cases[6].0).config.globals.router_id.as_deref(), Some("lb 1"));
    assert_eq!(load(cases[8].0).config.instances.len(), 1);
    // Kinds are counted apart, each once.
    let d = diags("global_defs {\n\u{a0}router_id\u{3000}lb1\n\u{a0}vrrp_version 3\u{200b}\n}\n");
    assert_eq!(d.len(), 3, "{d:#?}");
    assert!(d[0].starts_with("2:1: warning: U+00A0 NO-BREAK SPACE on 2 lines"), "{d:#?}");
    assert!(d[1].starts_with("2:11: warning: U+3000 IDEOGRAPHIC SPACE on 1 line"), "{d:#?}");
    assert!(d[2].starts_with("3:16: warning: invisible U+200B ZERO WIDTH SPACE on 1 line"), "{d:#?}");
}

/// A cloud provider's HA-VIP guide publishes its keepalived.conf indented
/// with no-break spaces (keepalived 2.2.7 prints 44 lines of errors on it):
/// one warning, and the configuration is the one the `sed` of its hint
/// writes, which is the guide's text with plain spaces.
#[test]
fn pasted_havip_guide_config() {
    let dir = TempDir::new("havip");
    let path = dir.path("keepalived.conf");
    std::fs::copy(Path::new(CONFIGS).join("pasted-havip.conf"), &path).unwrap();
    let l = config::load_with(&path, None, "x", &fake_ifaces);
    let shown: Vec<String> = l.diagnostics.iter().map(|d| d.display(&l.sources).to_string()).collect();
    let file = path.display().to_string();
    assert_eq!(
        shown,
        [format!(
            "{file}:5:1: warning: U+00A0 NO-BREAK SPACE on 32 lines; read as a space\n  hint: keepalived 2.2.7 reads it as part of a word, so an indented keyword is unknown to it; to replace it: sed -i 's/\\xc2\\xa0/ /g' {file}"
        )]
    );
    let i = &l.config.instances[0];
    assert_eq!((i.name.as_str(), i.interface.as_str(), i.vrid, i.priority), ("VI_1", "eth0", 51, 100));
    assert_eq!(i.advert_int, Duration::from_secs(1));
    assert_eq!(i.auth, Auth::Simple(*b"1111\0\0\0\0"));
    assert_eq!(i.notify.master.as_ref().unwrap().argv, ["/etc/keepalived/notify_action.sh", "MASTER"]);

    // Run the hint as the user would.
    let hint = l.diagnostics[0].hint.as_deref().unwrap();
    let sed = hint.split("to replace it: ").nth(1).unwrap();
    let ran = Command::new("sh").arg("-c").arg(sed).status().unwrap();
    assert!(ran.success());
    let fixed = config::load_with(&path, None, "x", &fake_ifaces);
    assert!(fixed.diagnostics.is_empty(), "{:#?}", fixed.diagnostics);
    assert!(!std::fs::read_to_string(&path).unwrap().contains('\u{a0}'));
    assert_eq!(config::dump::dump(&fixed.config), config::dump::dump(&l.config));
}

/// `vipd check -f FILE`, `vipd -f FILE check` and `vipd check FILE` check
/// the same file; two different files are refused.
#[test]
fn cli_check_takes_dash_f_before_or_after() {
    let dir = TempDir::new("check-f");
    let path = dir.path("keepalived.conf");
    std::fs::copy(Path::new(CONFIGS).join("pasted-curly.conf"), &path).unwrap();
    let file = path.to_str().unwrap();
    let want = format!(
        "{file}:2:1: warning: U+00A0 NO-BREAK SPACE on 2 lines; read as a space\n  \
         hint: keepalived 2.2.7 reads it as part of a word, so an indented keyword is unknown to it; to replace it: sed -i 's/\\xc2\\xa0/ /g' {file}\n\
         {file}:2:13: error: U+201C LEFT DOUBLE QUOTATION MARK is not a quote; curly double quotes on 1 line\n  \
         hint: keepalived 2.2.7 keeps it as part of a word, and reading it as a quote could change what a line means; the rest of the file was checked as if it were `\"`; to write ASCII: sed -i 's/\\xe2\\x80\\x9c/\"/g; s/\\xe2\\x80\\x9d/\"/g' {file}\n\
         vipd: {file}: 1 error, 1 warning\n"
    );
    for args in [
        &["check", "-f", file][..],
        &["-f", file, "check"],
        &["check", file],
        &["check", "--use-file", file],
        &["-t", "-f", file],
        &["-f", file, "check", "-f", file],
    ] {
        let (code, out, err) = vipd(args);
        assert_eq!((code, out.as_str(), err.as_str()), (1, "", want.as_str()), "{args:?}");
    }
    let other = dir.file("other.conf", "global_defs {\n router_id b\n}\n", 0o644);
    let other = other.to_str().unwrap();
    for args in [&["check", "-f", file, other][..], &["-f", file, "check", "-f", other]] {
        let (code, _, err) = vipd(args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains("two configuration files given"), "{args:?}: {err}");
    }
    let (code, _, err) = vipd(&["check", "-f", other]);
    assert_eq!(code, 0, "{err}");
}

// ----- keepalived users' habits (issue 15) -----------------------------------------------

/// The addresses of the fake interfaces, for the checks that compare them
/// with the file's; eth1's are "not known".
fn fake_addrs(name: &str) -> Option<Vec<(IpAddr, u8)>> {
    let a = |s: &str| s.parse::<IpAddr>().unwrap();
    (name == "eth0").then(|| vec![(a("10.0.0.2"), 24), (a("fd00::2"), 64), (a("fe80::2"), 64)])
}

/// Diagnostics with the fake machine's interfaces and addresses, on it or
/// `offline`.
fn diags_on(text: &str, offline: bool) -> Vec<String> {
    let host = config::validate::Host { iface_exists: &fake_ifaces, iface_addrs: &fake_addrs, offline };
    show(&config::load_on(Path::new("/test/k.conf"), Some(text), "alpha", &host))
}

#[test]
fn offline_check_makes_missing_interfaces_warnings() {
    let text = "vrrp_instance VI_1 {\n interface wlan7\n virtual_router_id 1\n track_interface {\n  wlan8\n }\n virtual_ipaddress {\n  10.0.0.1 dev wlan9\n }\n}\n";
    let on_the_machine = [
        "1:1: error: vrrp_instance `VI_1`: tracked interface `wlan8` does not exist",
        "2:2: error: vrrp_instance `VI_1`: interface `wlan7` does not exist",
        "8:3: error: interface `wlan9` of `10.0.0.1` does not exist",
    ];
    assert_eq!(diags_on(text, false), on_the_machine);
    let offline: Vec<String> = on_the_machine.iter().map(|l| l.replace("error", "warning")).collect();
    assert_eq!(diags_on(text, true), offline);
    // The file's own rules stay errors offline.
    assert_eq!(
        diags_on("vrrp_instance VI_1 {\n interface wlan7\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n", true),
        [
            "1:1: error: vrrp_instance `VI_1` has no `virtual_router_id` | virtual_router_id 1..255",
            "2:2: warning: vrrp_instance `VI_1`: interface `wlan7` does not exist",
        ]
    );
}

#[test]
fn own_addresses_where_other_routers_belong() {
    let text = "vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 1
 unicast_src_ip 10.0.0.9
 unicast_peer {
  10.0.0.9
  10.0.0.3
 }
 virtual_ipaddress {
  10.0.0.100/24
  10.9.0.1/24
  192.168.1.1 dev eth1
 }
}
vrrp_instance VI_6 {
 interface eth0
 virtual_router_id 2
 unicast_peer {
  fd00::2
  fd00::3
 }
 virtual_ipaddress {
  fe80::100/64
  fd00::100/64
  fd01::1/64
 }
}
";
    assert_eq!(
        diags_on(text, false),
        [
            "6:3: warning: vrrp_instance `VI_1`: unicast peer `10.0.0.9` is this router's own `unicast_src_ip` | list only the other routers: an advert sent to this router's own address reaches no other",
            "11:3: warning: `10.9.0.1` is outside every subnet of `eth0` (10.0.0.0/24): hosts on that link reach it only through a route to it",
            "15:1: warning: vrrp_instance `VI_6` is unicast without `unicast_src_ip`: adverts leave from the interface's first address",
            "19:3: warning: vrrp_instance `VI_6`: unicast peer `fd00::2` is an address of this machine's `eth0` | list only the other routers: an advert sent to this router's own address reaches no other",
            "25:3: warning: `fd01::1` is outside every subnet of `eth0` (fd00::/64, fe80::/64): hosts on that link reach it only through a route to it",
        ]
    );
    // Offline the machine's addresses are another's: only the file's own
    // contradiction is left.
    let offline = diags_on(text, true);
    assert_eq!(offline.len(), 2, "{offline:#?}");
    assert!(offline[0].starts_with("6:3: warning: vrrp_instance `VI_1`: unicast peer `10.0.0.9` is this router's own"));
}

#[test]
fn a_file_without_instances_is_a_warning() {
    assert_eq!(
        diags("global_defs {\n router_id a\n}\n"),
        ["-: warning: the configuration has no vrrp_instance: vipd would start and manage no address"]
    );
    assert!(diags(MINIMAL).is_empty());
}

#[test]
fn include_wildcard_matching_nothing_is_a_warning() {
    let dir = TempDir::new("inclglob");
    let main = dir.file("k.conf", &format!("include conf.d/*.conf\ninclude missing.conf\n{MINIMAL}"), 0o644);
    let l = config::load_with(&main, None, "alpha", &fake_ifaces);
    assert_eq!(
        show(&l),
        [
            "1:9: warning: include `conf.d/*.conf`: no file matches; read without it | relative patterns are relative to the including file's directory",
            "2:9: error: include `missing.conf`: no file matches | relative patterns are relative to the including file's directory",
        ]
    );
    assert_eq!(l.config.instances.len(), 1);
}

#[test]
fn state_master_with_nopreempt_preempts_as_in_keepalived() {
    let c = ok(
        "vrrp_instance A {\n state MASTER\n nopreempt\n interface eth0\n virtual_router_id 1\n priority 150\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n",
    );
    assert!(c.instances[0].preempt);
    assert_eq!(c.instances[0].initial_state, InitialState::Master);
}

#[test]
fn notify_timeout_is_a_vipd_extension() {
    assert_eq!(ok(MINIMAL).globals.notify_timeout, Duration::from_secs(30));
    let text = format!("global_defs {{\n notify_timeout 90\n}}\n{MINIMAL}");
    assert_eq!(ok(&text).globals.notify_timeout, Duration::from_secs(90));
    assert_eq!(
        diags(&text),
        ["2:2: warning: `notify_timeout` is a vipd extension (keepalived would refuse this line)"]
    );
    let dumped = config::dump::dump(&ok(&text));
    assert!(dumped.contains("    notify_timeout 90\n"), "{dumped}");
    assert!(!config::dump::dump(&ok(MINIMAL)).contains("notify_timeout"));
    let bad = diags(&format!("global_defs {{\n notify_timeout 0\n}}\n{MINIMAL}"));
    assert!(bad.iter().any(|d| d.starts_with("2:17: error:")), "{bad:#?}");
}

#[test]
fn cli_offline_check_and_script_positions() {
    let dir = TempDir::new("offline");
    let noshebang = dir.file("notify.sh", "echo no shebang\n", 0o755);
    let conf = dir.file(
        "k.conf",
        &format!(
            "vrrp_script chk {{\n  script \"{}/missing-check.sh\"\n}}\nvrrp_instance VI_1 {{\n  interface vipd-none0\n  virtual_router_id 1\n  notify_master \"{}\" vipd-no-such-user-7f3a\n  notify_backup {}\n  track_script {{\n    chk\n  }}\n  virtual_ipaddress {{\n    10.0.0.1\n  }}\n}}\n",
            dir.0.display(),
            noshebang.display(),
            noshebang.display(),
        ),
        0o644,
    );
    let f = conf.to_str().unwrap();
    let (code, _, err) = vipd(&["-t", "-f", f]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("k.conf:5:3: error: vrrp_instance `VI_1`: interface `vipd-none0` does not exist"), "{err}");

    let (code, _, err) = vipd(&["-t", "--offline", "-f", f]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "k.conf:2:3: warning: vrrp_script `chk`: `",
        "k.conf:5:3: warning: vrrp_instance `VI_1`: interface `vipd-none0` does not exist",
        "k.conf:7:3: warning: vrrp_instance `VI_1` notify_master: ",
        "k.conf:8:3: warning: vrrp_instance `VI_1` notify_backup: `",
        "has no `#!` line",
        "0 errors, 4 warnings (offline",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
    assert!(err.contains("vipd-no-such-user-7f3a"), "{err}");

    let (code, out, _) = vipd(&["check", "--offline", "--json", f]);
    assert_eq!(code, 0);
    let script_lines: Vec<&str> = out.lines().filter(|l| l.contains("notify_") || l.contains("vrrp_script")).collect();
    assert_eq!(script_lines.len(), 3, "{out}");
    for (line, want) in script_lines.iter().zip([2, 7, 8]) {
        assert!(line.contains(&format!(",\"line\":{want},\"col\":3,")), "{line}");
        assert!(line.contains("\"file\":\""), "{line}");
    }

    // --offline is for checks only.
    let (code, _, err) = vipd(&["--offline", "-f", f]);
    assert_eq!(code, 1);
    assert!(err.contains("--offline only goes with -t"), "{err}");
}

#[test]
fn cli_accepts_keepalived_daemon_args() {
    let dir = TempDir::new("habits");
    let conf = dir.file("k.conf", "global_defs {\n router_id a\n}\n", 0o644);
    let use_file = format!("--use-file={}", conf.display());
    // A Debian DAEMON_ARGS line, with the test switch added.
    let (code, _, err) = vipd(&["-DlP", "--vrrp", "-S", "local0", &use_file, "-t"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0 errors, 1 warning"), "{err}");
    let (code, out, _) = vipd(&["-h"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage: vipd") && out.contains("--offline"), "{out}");
    // What stays refused is refused by argh, with its usage hint.
    let (code, _, err) = vipd(&["-S", "local8", "-t", &use_file]);
    assert_eq!(code, 1);
    assert!(err.contains("--help"), "{err}");
}

#[test]
fn mail_settings_and_smtp_alert_defaults() {
    let c = ok(&format!(
        "global_defs {{\n notification_email {{\n  a@x\n  b@x\n }}\n notification_email_from k@x\n \
         smtp_server fd00::25 2525\n smtp_helo_name r1\n smtp_connect_timeout 5\n smtp_alert_vrrp\n}}\n{MINIMAL}"
    ));
    let m = &c.globals.mail;
    assert_eq!(m.to, ["a@x", "b@x"]);
    assert_eq!(m.from.as_deref(), Some("k@x"));
    assert_eq!(m.server, Some("[fd00::25]:2525".parse().unwrap()));
    assert_eq!(m.helo.as_deref(), Some("r1"));
    assert_eq!(m.connect_timeout, vipd::time::Duration::from_secs(5));
    // The dump says the same.
    let text = config::dump::dump(&c);
    let again = config::load_with(Path::new("/dump.conf"), Some(&text), "x", &|_| true);
    assert!(!again.has_errors(), "{:#?}", again.diagnostics);
    assert_eq!(again.config.globals.mail, c.globals.mail);
    assert_eq!(config::dump::dump(&again.config), text);
    // Unset in the instance: smtp_alert_vrrp, then smtp_alert, then off.
    assert!(m.alerts(c.instances[0].notify.smtp_alert));
    assert!(!m.alerts(Some(false)));
    let c = ok(&format!("global_defs {{\n notification_email {{\n  a@x\n }}\n smtp_server 10.0.0.9\n}}\n{MINIMAL}"));
    assert_eq!(c.globals.mail.server, Some("10.0.0.9:25".parse().unwrap()));
    assert_eq!(c.globals.mail.connect_timeout, vipd::time::Duration::from_secs(30));
    assert!(!c.globals.mail.alerts(c.instances[0].notify.smtp_alert));
    assert!(c.globals.mail.alerts(Some(true)));
    // No server, no mail, whatever smtp_alert says.
    assert!(!ok(MINIMAL).globals.mail.alerts(Some(true)));
    let d = diags("global_defs {\n smtp_server mail.example.org\n}\n");
    assert!(d.iter().any(|l| l.starts_with("2:14: error: `mail.example.org` is not an IPv4 or IPv6 address")), "{d:?}");
}

#[test]
fn route_and_rule_lines_follow_keepalived() {
    let c = ok("static_routes {\n 10.1.0.0/16 via 10.0.0.254 dev eth0 table 7 metric 3\n blackhole 10.2.0.0/16\n}\n\
         static_rules {\n from 10.1.0.0/16 table 7\n to fd00::/64 lookup main\n from 10.3.0.0/16 table 8\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.100\n }\n\
         virtual_routes {\n  src 10.0.0.100 to 10.4.0.0/16 dev eth0 protocol static no_track\n  default via 10.0.0.254 table 100\n }\n\
         virtual_rules {\n  not from all to 10.5.0.0/16 type prohibit order 5 iif eth0 fwmark 0x10/0xff\n }\n}\n");
    let r = &c.static_routes[0];
    assert_eq!(
        (r.dst.to_string(), r.dst_len, r.table, r.metric, r.scope, r.protocol),
        ("10.1.0.0".into(), 16, 7, Some(3), 0, 18)
    );
    assert_eq!((c.static_routes[1].kind, c.static_routes[1].via), (6, None));
    // Numbered down from 16384 in file order, one count per family.
    let prefs: Vec<u32> = c.static_rules.iter().map(|r| r.priority).collect();
    assert_eq!(prefs, [16384, 16384, 16383]);
    let v = &c.instances[0].routes;
    assert_eq!((v[0].src.map(|a| a.to_string()), v[0].protocol), (Some("10.0.0.100".into()), 4));
    assert_eq!((v[1].dst_len, v[1].table), (0, 100));
    let rule = &c.instances[0].rules[0];
    assert_eq!(
        (rule.invert, rule.action, rule.priority, rule.fwmark, rule.fwmask),
        (true, 8, 5, Some(0x10), Some(0xff))
    );
    assert_eq!((rule.from, rule.iif.as_deref(), rule.table), (None, Some("eth0"), 0));

    // What vipd does not install is an error naming it.
    let d = diags(
        "static_routes {\n 10.1.0.0/16 via 10.0.0.1 or 10.0.0.2\n 10.2.0.0/16 nexthop via 10.0.0.1\n 10.3.0.0/16 proto static dev eth0\n \
         unreachable to 10.4.0.0/16\n 10.5.0.0/16\n blackhole 10.6.0.0/16 dev eth0\n 10.7.0.0/16 dev eth0 table web\n}\n\
         static_rules {\n from 10.1.0.0/16 table 1 pref 5\n from 10.2.0.0/16 priority 5\n from 10.3.0.0/16 table 1 blackhole priority 5\n \
         from 10.4.0.0/16 to fd00::/64 table 1 priority 5\n from 10.5.0./24 table 1 priority 5\n}\n",
    );
    let d: Vec<&str> = d.iter().map(|l| l.split(" | ").next().unwrap_or_default()).collect();
    assert_eq!(
        d,
        [
            "2:27: error: `or` in a route is not implemented by vipd",
            "3:14: error: `nexthop` in a route is not implemented by vipd",
            "4:14: error: `proto` in a route is not implemented by vipd",
            "5:14: error: keepalived 2.2.7 does not read `to` after a route type: write `TYPE PREFIX`",
            "6:2: error: a route needs `via` or `dev`",
            "7:2: error: a blackhole, unreachable, prohibit or throw route takes no `via` or `dev`",
            "8:29: error: `web` is not a routing table vipd knows",
            "11:27: error: `pref` in a rule is not implemented by vipd",
            "12:2: error: a rule needs an action",
            "13:27: error: a rule takes one of table, blackhole, unreachable, prohibit",
            "14:22: error: `fd00::/64` is not of the line's address family",
            "15:7: error: `10.5.0./24` is not an address (ADDR[/PREFIX])",
        ]
    );

    // Interfaces are host facts, as for addresses.
    let d = diags(
        "static_ipaddress {\n 10.9.0.1/24 dev eth9\n}\nstatic_routes {\n 10.1.0.0/16 dev eth9\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.100\n }\n\
         virtual_rules {\n  oif eth8 table 5 priority 1\n }\n}\n",
    );
    assert_eq!(
        d,
        [
            "2:2: error: interface `eth9` of static address `10.9.0.1` does not exist",
            "5:2: error: interface `eth9` of a static route does not exist",
            "14:3: error: interface `eth8` of a virtual route or rule does not exist",
        ]
    );
}

/// `use_vmac [NAME]` / `vmac_xmit_base`: the name (default `vrrp.VRID`),
/// the IPv6 MAC, and what vipd refuses: a MAC of one's own, a name over
/// 15 bytes, unicast without `vmac_xmit_base`, two instances on one macvlan.
#[test]
fn use_vmac_names_and_refusals() {
    let inst = |name: &str, vrid: u8, extra: &str, vip: &str| {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{extra} virtual_ipaddress {{\n  {vip}\n }}\n}}\n"
        )
    };
    let c = ok(&inst("A", 51, " use_vmac\n", "10.0.0.100"));
    let v = c.instances[0].vmac.clone().expect("use_vmac");
    assert_eq!((v.name.as_str(), v.xmit_base), ("vrrp.51", false));
    assert_eq!(c.instances[0].virtual_mac(), [0, 0, 0x5e, 0, 1, 51]);
    let c = ok(&inst("A", 7, " use_vmac vmac7\n vmac_xmit_base\n", "10.0.0.100"));
    let v = c.instances[0].vmac.clone().expect("use_vmac");
    assert_eq!((v.name.as_str(), v.xmit_base), ("vmac7", true));
    assert!(ok(MINIMAL).instances[0].vmac.is_none());

    let d = diags(&inst("A", 51, " vmac_xmit_base\n", "10.0.0.100"));
    assert_eq!(d, ["4:2: warning: vrrp_instance `A`: `vmac_xmit_base` has no effect without `use_vmac`"]);
    let d = diags(&inst("A", 51, " use_vmac v 00:00:5e:00:01:09\n", "10.0.0.100"));
    assert!(d[0].contains("a MAC address of one's own"), "{d:?}");
    let d = diags(&inst("A", 51, " use_vmac a-name-of-16-byte\n", "10.0.0.100"));
    assert!(d[0].contains("is not a valid interface name"), "{d:?}");
    let d = diags(&inst("A", 51, " use_vmac eth0\n", "10.0.0.100"));
    assert!(d[0].contains("cannot be `interface` itself"), "{d:?}");
    let c = ok(&inst("A", 51, " use_vmac\n", "fd00::1"));
    assert_eq!(c.instances[0].virtual_mac(), [0, 0, 0x5e, 0, 2, 51]);
    let d =
        diags(&inst("A", 51, " use_vmac\n unicast_src_ip 10.0.0.1\n unicast_peer {\n  10.0.0.2\n }\n", "10.0.0.100"));
    assert!(d.iter().any(|l| l.contains("needs `vmac_xmit_base`")), "{d:?}");
    let two = inst("A", 51, " use_vmac vm\n", "10.0.0.100") + &inst("B", 52, " use_vmac vm\n", "10.0.0.101");
    let d = diags(&two);
    assert!(d.iter().any(|l| l.contains("uses the virtual MAC interface `vm` of `A`")), "{d:?}");
}
