//! vipd command line: argh parsing (after [`normalise`] has rewritten
//! keepalived's command-line habits argh does not know), the host facts
//! `vipd -t` checks against, and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use vipd::config::{self, Loaded};
use vipd::daemon;

/// eprintln! without the panic when stderr is closed.
macro_rules! err {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// vipd: a small VRRP daemon that reads keepalived.conf.
#[derive(FromArgs)]
struct Cli {
    /// configuration file (default /etc/vipd/vipd.conf, else
    /// /etc/keepalived/keepalived.conf)
    #[argh(option, short = 'f', long = "use-file")]
    use_file: Option<PathBuf>,

    /// configuration id for @ID conditional lines (default: the short host
    /// name)
    #[argh(option, short = 'i', long = "config-id")]
    config_id: Option<String>,

    /// check the configuration, print every diagnostic and exit
    #[argh(switch, short = 't', long = "config-test")]
    config_test: bool,

    /// with -t: check away from the machine the file is for (CI, a
    /// laptop); interfaces, users, groups and script files are warnings
    #[argh(switch, long = "offline")]
    offline: bool,

    /// with -t: fail unless this binary can take over from a daemon whose
    /// upgrade snapshot has format N (vipd upgrade passes it)
    #[argh(option, long = "snapshot-format")]
    snapshot_format: Option<u16>,

    /// print the version and exit
    #[argh(switch, short = 'v')]
    version: bool,

    /// stay in the foreground (accepted for keepalived compatibility; vipd
    /// never forks)
    #[argh(switch, short = 'n', long = "dont-fork")]
    _dont_fork: bool,

    /// with -S, log to standard error as well (without -S vipd always
    /// logs there)
    #[argh(switch, short = 'l', long = "log-console")]
    log_console: bool,

    /// log to syslog (/dev/log) with facility local0..local7 (or 0..7)
    #[argh(option, short = 'S', long = "log-facility")]
    log_facility: Option<u8>,

    /// log detail: timeouts, priority-0 adverts, GARP rounds, discarded
    /// adverts
    #[argh(switch, short = 'D', long = "log-detail")]
    log_detail: bool,

    /// pid file (default /run/vipd.pid)
    #[argh(option, short = 'p', long = "pid")]
    pid: Option<PathBuf>,

    /// on exit, leave the virtual addresses in place and send no
    /// priority-0 advert
    #[argh(switch, short = 'V', long = "dont-release-vrrp")]
    dont_release_vrrp: bool,

    /// join the VRRP groups and run the engine on real adverts, but send
    /// nothing, touch no address, run no notify script, take no pid file;
    /// log and report what it would do (control socket default
    /// /run/vipd/vipd-dry-run.sock)
    #[argh(switch, long = "dry-run")]
    dry_run: bool,

    /// control socket to listen on (default /run/vipd/vipd.sock; "none":
    /// no socket)
    #[argh(option, long = "control")]
    control: Option<PathBuf>,

    /// group whose members may read status through the control socket
    #[argh(option, long = "control-group")]
    control_group: Option<String>,

    /// serve Prometheus metrics on GET /metrics at ADDR:PORT (off by
    /// default)
    #[argh(option, long = "metrics")]
    metrics: Option<std::net::SocketAddr>,
    /// directory of keepalived.data and keepalived.stats, written on
    /// SIGUSR1 and SIGUSR2 (default $TMPDIR, else /tmp, as keepalived)
    #[argh(option, long = "dump-dir")]
    dump_dir: Option<PathBuf>,

    #[argh(subcommand)]
    command: Option<Command>,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Check(Check),
    Cleanup(Cleanup),
    Status(Status),
    Upgrade(Upgrade),
}

/// Re-execute the running daemon's binary in place, keeping its state.
#[derive(FromArgs)]
#[argh(subcommand, name = "upgrade")]
struct Upgrade {
    /// the daemon's control socket (default /run/vipd/vipd.sock)
    #[argh(option, long = "control")]
    control: Option<PathBuf>,
}

/// Remove the configured virtual addresses a killed daemon left behind.
#[derive(FromArgs)]
#[argh(subcommand, name = "cleanup")]
struct Cleanup {
    /// configuration file (default as for vipd -f)
    #[argh(option, short = 'f', long = "use-file")]
    use_file: Option<PathBuf>,

    /// configuration id for @ID conditional lines
    #[argh(option, short = 'i', long = "config-id")]
    config_id: Option<String>,

    /// the daemon's pid file (default /run/vipd.pid)
    #[argh(option, short = 'p', long = "pid")]
    pid: Option<PathBuf>,

    /// the daemon's control socket (default /run/vipd/vipd.sock)
    #[argh(option, long = "control")]
    control: Option<PathBuf>,
}

/// Ask the running daemon what it is doing.
#[derive(FromArgs)]
#[argh(subcommand, name = "status")]
struct Status {
    /// the daemon's control socket (default /run/vipd/vipd.sock)
    #[argh(option, long = "control")]
    control: Option<PathBuf>,

    /// print one JSON document (schema 1, see vipd(8))
    #[argh(switch)]
    json: bool,

    /// print Prometheus text exposition
    #[argh(switch)]
    prometheus: bool,

    /// only these instances
    #[argh(positional)]
    instances: Vec<String>,
}

/// Exit status of `vipd status` when the daemon answered with an error
/// (an unknown instance, permission denied).
const EXIT_STATUS_REFUSED: u8 = 1;
/// Exit status of `vipd status` when no daemon answers.
const EXIT_NO_DAEMON: u8 = 3;

/// Check a configuration file and print every diagnostic.
#[derive(FromArgs)]
#[argh(subcommand, name = "check")]
struct Check {
    /// print diagnostics as JSON lines on standard output
    #[argh(switch)]
    json: bool,

    /// print the effective configuration, every default filled in
    #[argh(switch)]
    dump: bool,

    /// check away from the machine the file is for (CI, a laptop):
    /// interfaces, users, groups and script files are warnings
    #[argh(switch)]
    offline: bool,

    /// configuration id for @ID conditional lines
    #[argh(option, short = 'i', long = "config-id")]
    config_id: Option<String>,

    /// configuration file, as keepalived users type it (vipd check -f
    /// FILE); the same as giving FILE
    #[argh(option, short = 'f', long = "use-file")]
    use_file: Option<PathBuf>,

    /// configuration file (default as for vipd -f)
    #[argh(positional)]
    file: Option<PathBuf>,
}

/// Exit status of a check with errors.
const EXIT_CONFIG_ERRORS: u8 = 1;

fn main() -> ExitCode {
    let cli = match parse_command_line() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if cli.version {
        println!("vipd {} (VRRPv2 RFC 3768, VRRPv3 RFC 9568)", daemon::version());
        return ExitCode::SUCCESS;
    }
    let id = |own: Option<String>| own.or(cli.config_id.clone()).unwrap_or_else(config::lexer::default_config_id);
    match cli.command {
        Some(Command::Status(s)) => {
            let path =
                s.control.clone().or(cli.control).unwrap_or_else(|| PathBuf::from(vipd::sys::control::DEFAULT_PATH));
            status(&path, &s)
        }
        Some(Command::Upgrade(u)) => {
            let path = u.control.or(cli.control).unwrap_or_else(|| PathBuf::from(vipd::sys::control::DEFAULT_PATH));
            upgrade(&path)
        }
        Some(Command::Cleanup(c)) => {
            let opts = daemon::cleanup::Options {
                config: c.use_file.or(cli.use_file).unwrap_or_else(config::default_path),
                config_id: id(c.config_id),
                pid_file: c.pid.or(cli.pid).unwrap_or_else(|| PathBuf::from(DEFAULT_PID_FILE)),
                control: control_path(c.control.or(cli.control)),
            };
            ExitCode::from(daemon::cleanup::run(&opts))
        }
        Some(Command::Check(c)) => {
            // `vipd -f F check`, `vipd check -f F` and `vipd check F` all
            // name F; two different files is a mistake, not a choice.
            let given = [&cli.use_file, &c.use_file, &c.file];
            let mut files = given.into_iter().flatten();
            let path = files.next().cloned().unwrap_or_else(config::default_path);
            if let Some(other) = files.find(|f| **f != path) {
                err!(
                    "vipd check: two configuration files given ({} and {}); give one",
                    path.display(),
                    other.display()
                );
                return ExitCode::from(EXIT_CONFIG_ERRORS);
            }
            check(&path, &id(c.config_id), c.json, c.dump, c.offline || cli.offline)
        }
        None if cli.config_test => {
            // Run by a daemon about to `execve` this binary: it must read
            // the snapshot that daemon writes.
            if let Some(v) = cli.snapshot_format.filter(|&v| v != daemon::SNAPSHOT_VERSION) {
                err!(
                    "vipd: cannot take over: the daemon's snapshot format is {v}, this binary reads {}",
                    daemon::SNAPSHOT_VERSION
                );
                return ExitCode::from(EXIT_CONFIG_ERRORS);
            }
            if cli.snapshot_format.is_some() {
                // A binary just written (cp, an unpacked archive) may still
                // have its pages dirty; writing them back here, in the
                // check child, keeps that I/O out of the `execve` that
                // follows, where the adverts are paused. Best effort: a
                // failure only costs the time it would have saved.
                let _ = std::fs::File::open("/proc/self/exe").and_then(|f| f.sync_data());
            }
            let path = cli.use_file.unwrap_or_else(config::default_path);
            check(&path, &id(None), false, false, cli.offline)
        }
        None if cli.offline => {
            err!("vipd: --offline only goes with -t or `vipd check`");
            ExitCode::from(EXIT_USAGE)
        }
        None => {
            let opts = daemon::Options {
                config: cli.use_file.clone().unwrap_or_else(config::default_path),
                config_id: id(None),
                pid_file: cli.pid.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_PID_FILE)),
                detail: cli.log_detail,
                release_vips: !cli.dont_release_vrrp,
                syslog: cli.log_facility.map(|f| (PathBuf::from(vipd::sys::syslog::DEFAULT_SOCKET), f)),
                log_console: cli.log_console,
                // A dry run beside a live daemon must not take its socket.
                control: match cli.control {
                    None if cli.dry_run => Some(PathBuf::from(DRY_RUN_CONTROL)),
                    c => control_path(c),
                },
                control_group: cli.control_group,
                metrics: cli.metrics,
                dump_dir: cli.dump_dir.clone().unwrap_or_else(daemon::default_dump_dir),
                dry_run: cli.dry_run,
            };
            ExitCode::from(daemon::run(&opts))
        }
    }
}

const DEFAULT_PID_FILE: &str = "/run/vipd.pid";
/// `--dry-run`'s control socket unless `--control` says otherwise.
const DRY_RUN_CONTROL: &str = "/run/vipd/vipd-dry-run.sock";

/// Exit status of a command line argh refuses (argh's own choice).
const EXIT_USAGE: u8 = 1;

/// argh's `from_env`, on the normalised arguments.
fn parse_command_line() -> Result<Cli, ExitCode> {
    let mut args = Vec::new();
    for a in std::env::args_os() {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => {
                err!("vipd: argument `{}` is not valid UTF-8", a.to_string_lossy());
                return Err(ExitCode::from(EXIT_USAGE));
            }
        }
    }
    let program = args.first().map(String::as_str).unwrap_or("vipd");
    let cmd = std::path::Path::new(program).file_name().and_then(|s| s.to_str()).unwrap_or("vipd");
    let rest = normalise(args.get(1..).unwrap_or_default());
    let strs: Vec<&str> = rest.iter().map(String::as_str).collect();
    Cli::from_args(&[cmd], &strs).map_err(|early| match early.status {
        Ok(()) => {
            let _ = writeln!(std::io::stdout(), "{}", early.output);
            ExitCode::SUCCESS
        }
        Err(()) => {
            err!("{}\nRun {cmd} --help for more information.", early.output);
            ExitCode::from(EXIT_USAGE)
        }
    })
}

/// Short options that take no value, as one may bundle them (`-Dl`).
const SHORT_SWITCHES: &[char] = &['t', 'v', 'n', 'l', 'D', 'V', 'P', 'h'];
/// Short options that take a value (the last letter of a bundle may be one).
const SHORT_VALUED: &[char] = &['f', 'i', 'S', 'p'];
/// Long options that take a value.
const LONG_VALUED: &[&str] = &[
    "--use-file",
    "--config-id",
    "--log-facility",
    "--pid",
    "--control",
    "--control-group",
    "--metrics",
    "--dump-dir",
    "--snapshot-format",
];

/// Rewrites keepalived's command-line habits into what argh reads, so a
/// `DAEMON_ARGS` line written for keepalived works unchanged:
/// bundled switches (`-Dl`, also `-DlS local0`) are split; `--opt=value`
/// becomes two arguments; `-S localN` (and `-SlocalN`) becomes `-S N`;
/// `-P` / `--vrrp` (run only the VRRP side, all vipd has) are dropped;
/// `-h` is `--help`. Values of options and everything after `--` are left
/// alone, and anything it does not recognise is passed on for argh to judge.
fn normalise(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.iter();
    // Whether the next argument is the value of `-S` / `--log-facility`
    // (Some(true)) or of another option (Some(false)).
    let mut value_of: Option<bool> = None;
    while let Some(arg) = iter.next() {
        if let Some(facility) = value_of.take() {
            out.push(if facility { facility_number(arg) } else { arg.clone() });
            continue;
        }
        if arg == "--" {
            out.push(arg.clone());
            out.extend(iter.cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((name, value)) if !name.is_empty() => {
                    let name = format!("--{name}");
                    let facility = name == "--log-facility";
                    if name != "--vrrp" {
                        out.push(name);
                        out.push(if facility { facility_number(value) } else { value.to_owned() });
                    }
                }
                _ if long == "vrrp" => {}
                _ => {
                    value_of = LONG_VALUED.contains(&arg.as_str()).then_some(arg == "--log-facility");
                    out.push(arg.clone());
                }
            }
            continue;
        }
        let Some(letters) = arg.strip_prefix('-').filter(|l| !l.is_empty()) else {
            out.push(arg.clone());
            continue;
        };
        let chars: Vec<char> = letters.chars().collect();
        // `-Sx` / `-fx`: a value attached to its option.
        if let [first, rest @ ..] = chars.as_slice() {
            if SHORT_VALUED.contains(first) && !rest.is_empty() {
                let value: String = rest.iter().collect();
                out.push(format!("-{first}"));
                out.push(if *first == 'S' { facility_number(&value) } else { value });
                continue;
            }
        }
        let Some((last, init)) = chars.split_last() else { continue };
        let bundle = init.iter().all(|c| SHORT_SWITCHES.contains(c))
            && (SHORT_SWITCHES.contains(last) || SHORT_VALUED.contains(last));
        if !bundle {
            out.push(arg.clone());
            continue;
        }
        for &c in &chars {
            match c {
                'P' => {}
                'h' => out.push("--help".to_owned()),
                c => out.push(format!("-{c}")),
            }
        }
        if SHORT_VALUED.contains(last) {
            value_of = Some(*last == 'S');
        }
    }
    out
}

/// `localN` as keepalived writes a facility, else the value unchanged.
fn facility_number(value: &str) -> String {
    match value.strip_prefix("local") {
        Some(n) if n.len() == 1 && n.chars().all(|c| ('0'..='7').contains(&c)) => n.to_owned(),
        _ => value.to_owned(),
    }
}

/// `--control`: "none" for no socket.
fn control_path(flag: Option<PathBuf>) -> Option<PathBuf> {
    match flag {
        Some(p) if p.as_os_str() == "none" => None,
        Some(p) => Some(p),
        None => Some(PathBuf::from(vipd::sys::control::DEFAULT_PATH)),
    }
}

fn check(path: &std::path::Path, config_id: &str, json: bool, dump: bool, offline: bool) -> ExitCode {
    // The interfaces' addresses, for the checks that compare them with the
    // file's; offline they are another machine's, so not asked for.
    let addresses = if offline { Vec::new() } else { interface_addresses() };
    let iface_addrs = |name: &str| {
        let found: Vec<_> = addresses.iter().filter(|(n, ..)| n == name).map(|&(_, a, len)| (a, len)).collect();
        (!found.is_empty()).then_some(found)
    };
    let host = config::validate::Host { iface_exists: &config::interface_exists, iface_addrs: &iface_addrs, offline };
    let mut loaded = config::load_on(path, None, config_id, &host);
    // What only this machine can tell (script users, paths, permissions),
    // as the daemon would find it at start.
    if !loaded.has_errors() {
        let mut found = daemon::host_checks(&loaded.config);
        if offline {
            for d in &mut found {
                d.severity = config::Severity::Warning;
            }
        }
        loaded.diagnostics.extend(found);
        vipd::sort::insertion_sort_by_key(&mut loaded.diagnostics, |d| d.span.map(|s| (s.file, s.line, s.col)));
    }
    // Write errors (a closed pipe from `| head`) end the output quietly
    // instead of panicking inside println!.
    let mut out = std::io::stdout().lock();
    if json {
        for d in &loaded.diagnostics {
            if writeln!(out, "{}", d.to_json(&loaded.sources)).is_err() {
                break;
            }
        }
    } else {
        print_text(&loaded);
        err!(
            "vipd: {}: {} error{}, {} warning{}{}",
            path.display(),
            loaded.errors(),
            if loaded.errors() == 1 { "" } else { "s" },
            loaded.warnings(),
            if loaded.warnings() == 1 { "" } else { "s" },
            if offline { " (offline: this machine's interfaces, users and files are warnings)" } else { "" },
        );
    }
    if dump && !loaded.has_errors() {
        let _ = out.write_all(config::dump::dump(&loaded.config).as_bytes());
    }
    if loaded.has_errors() { ExitCode::from(EXIT_CONFIG_ERRORS) } else { ExitCode::SUCCESS }
}

/// Every address of this machine as (interface, address, prefix length);
/// empty when netlink cannot tell, and the checks needing them are skipped.
fn interface_addresses() -> Vec<(String, std::net::IpAddr, u8)> {
    let Ok((links, addrs)) = vipd::sys::netlink::Netlink::open().and_then(|mut nl| nl.dump()) else {
        return Vec::new();
    };
    addrs
        .iter()
        .filter_map(|a| {
            let link = links.iter().find(|l| l.index == a.index)?;
            Some((link.name.as_str().to_owned(), a.addr, a.prefixlen))
        })
        .collect()
}

/// `vipd status`: one request, the answer copied to standard output.
fn status(path: &std::path::Path, s: &Status) -> ExitCode {
    let format = match (s.json, s.prometheus) {
        (true, true) => {
            err!("vipd status: --json and --prometheus exclude each other");
            return ExitCode::from(EXIT_STATUS_REFUSED);
        }
        (true, false) => "json",
        (false, true) => "prometheus",
        (false, false) => "text",
    };
    let mut request = format!("status {format}");
    for i in &s.instances {
        request.push(' ');
        request.push_str(i);
    }
    request.push('\n');
    let answer = match ask(path, "status", &request, 5) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if answer.is_empty() {
        err!("vipd status: the daemon on {} closed without answering", path.display());
        return ExitCode::from(EXIT_NO_DAEMON);
    }
    let _ = std::io::stdout().lock().write_all(&answer);
    ExitCode::SUCCESS
}

/// Sends `request` on the control socket and reads the whole answer,
/// waiting up to `secs` for it; an `error: ...` answer, or none, is
/// reported as `vipd CMD: ...` with its exit status.
fn ask(path: &std::path::Path, cmd: &str, request: &str, secs: u64) -> Result<Vec<u8>, ExitCode> {
    use std::io::Read;
    let mut stream = vipd::sys::control::connect(path).map_err(|e| {
        err!("vipd {cmd}: no daemon answers on {}: {e}", path.display());
        ExitCode::from(EXIT_NO_DAEMON)
    })?;
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(secs)));
    let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(5)));
    let mut answer = Vec::new();
    if let Err(e) = stream.write_all(request.as_bytes()).and_then(|()| stream.read_to_end(&mut answer)) {
        err!("vipd {cmd}: no answer from the daemon on {}: {e}", path.display());
        return Err(ExitCode::from(EXIT_NO_DAEMON));
    }
    if let Some(why) = answer.strip_prefix(b"error: ") {
        err!("vipd {cmd}: {}", String::from_utf8_lossy(why).trim_end());
        return Err(ExitCode::from(EXIT_STATUS_REFUSED));
    }
    Ok(answer)
}

/// `vipd upgrade`: asks the daemon to re-execute itself, then waits for
/// the new image's answer (the connection is handed over) or the old one's
/// reason for carrying on.
fn upgrade(path: &std::path::Path) -> ExitCode {
    let answer = match ask(path, "upgrade", "upgrade\n", 10) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if answer.starts_with(b"upgraded: ") {
        let _ = std::io::stdout().lock().write_all(&answer);
        return ExitCode::SUCCESS;
    }
    err!("vipd upgrade: the daemon closed without confirming the upgrade; see its log");
    ExitCode::from(EXIT_STATUS_REFUSED)
}

fn print_text(loaded: &Loaded) {
    for d in &loaded.diagnostics {
        err!("{}", d.display(&loaded.sources));
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    fn n(args: &str) -> String {
        let v: Vec<String> = args.split(' ').filter(|a| !a.is_empty()).map(str::to_owned).collect();
        normalise(&v).join(" ")
    }

    #[test]
    fn bundles_of_switches_are_split() {
        assert_eq!(n("-Dl"), "-D -l");
        assert_eq!(n("-nlD -t"), "-n -l -D -t");
        // The last letter of a bundle may take the next argument as value.
        assert_eq!(n("-DlS local0"), "-D -l -S 0");
        assert_eq!(n("-tf /etc/k.conf"), "-t -f /etc/k.conf");
        // An unknown letter leaves the bundle for argh to refuse.
        assert_eq!(n("-Dx"), "-Dx");
    }

    #[test]
    fn long_options_with_equals_become_two_arguments() {
        assert_eq!(n("--use-file=/etc/k.conf -t"), "--use-file /etc/k.conf -t");
        assert_eq!(n("--log-facility=local3"), "--log-facility 3");
        assert_eq!(n("--config-id=a=b"), "--config-id a=b");
    }

    #[test]
    fn facilities_are_numbers() {
        assert_eq!(n("-S local7"), "-S 7");
        assert_eq!(n("-Slocal1"), "-S 1");
        assert_eq!(n("-S 2"), "-S 2");
        assert_eq!(n("--log-facility local0"), "--log-facility 0");
        // Not a facility keepalived knows: argh refuses it as a number.
        assert_eq!(n("-S local8"), "-S local8");
        assert_eq!(n("-S daemon"), "-S daemon");
    }

    #[test]
    fn vrrp_only_flags_are_dropped_and_h_is_help() {
        assert_eq!(n("-P -D"), "-D");
        assert_eq!(n("--vrrp -n"), "-n");
        assert_eq!(n("-DP"), "-D");
        assert_eq!(n("-h"), "--help");
        assert_eq!(n("check -h"), "check --help");
    }

    #[test]
    fn values_and_the_rest_after_double_dash_are_left_alone() {
        assert_eq!(n("-f -P"), "-f -P");
        assert_eq!(n("-i -Dl"), "-i -Dl");
        assert_eq!(n("--control -h"), "--control -h");
        assert_eq!(n("-- -Dl --x=y"), "-- -Dl --x=y");
        assert_eq!(n("status VI_1"), "status VI_1");
    }
}
