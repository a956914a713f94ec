//! The whole configuration reader: lexer, block parser and validation. Any
//! text must give a configuration and diagnostics without panicking or
//! hanging, a configuration without errors must build an engine, and its
//! dump must read back without errors to the same dump.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vipd::config::{self, dump::dump};
use vipd::core::Engine;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("/nonexistent/vipd-fuzz/keepalived.conf");
    let ifaces = |name: &str| name.starts_with("eth");
    let loaded = config::load_with(path, Some(&text), "main", &ifaces);
    if loaded.has_errors() {
        return;
    }
    assert!(Engine::new(&loaded.config).is_ok(), "a valid config must build an engine");
    let once = dump(&loaded.config);
    let again = config::load_with(path, Some(&once), "main", &ifaces);
    assert!(!again.has_errors(), "dump does not read back: {:?}\n{once}", again.diagnostics);
    assert_eq!(dump(&again.config), once);
});
