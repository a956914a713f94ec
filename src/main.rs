//! vipd command line. The daemon loop, configuration loading and drivers
//! arrive in later steps; today the binary reports what it is.

use argh::FromArgs;

/// vipd: a small VRRP daemon that reads keepalived.conf.
#[derive(FromArgs)]
struct Cli {
    /// print the version and exit
    #[argh(switch, short = 'v')]
    version: bool,
}

/// EX_USAGE from sysexits.h: the command line asked for nothing vipd can do.
const EX_USAGE: i32 = 64;

fn main() {
    let cli: Cli = argh::from_env();
    if cli.version {
        println!(
            "vipd {} (VRRPv2 RFC 3768, VRRPv3 RFC 9568)",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    eprintln!("vipd: no daemon mode in this build yet; see vipd(8). Use -v for the version.");
    std::process::exit(EX_USAGE);
}
