//! Per-interface sysctls under /proc/sys/net (`use_vmac`): read the old
//! value, write a new one. Start-up and shutdown only, never per packet.

use std::io;

/// `/proc/sys/net/{ipv4,ipv6}/conf/IF/KEY`. Interface names may hold '.',
/// which /proc/sys keeps as is (only sysctl(8) maps '.' to '/').
fn path(v6: bool, ifname: &str, key: &str) -> String {
    format!("/proc/sys/net/{}/conf/{ifname}/{key}", if v6 { "ipv6" } else { "ipv4" })
}

/// The integer value of an interface's sysctl.
pub fn read(v6: bool, ifname: &str, key: &str) -> io::Result<i64> {
    let text = std::fs::read_to_string(path(v6, ifname, key))?;
    text.trim().parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not an integer"))
}

/// Writes an interface's sysctl.
pub fn write(v6: bool, ifname: &str, key: &str, value: i64) -> io::Result<()> {
    std::fs::write(path(v6, ifname, key), format!("{value}\n"))
}
