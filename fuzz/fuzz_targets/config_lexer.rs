//! keepalived.conf lexer: any text lexes without panicking or hanging, the
//! lines it returns are never empty and every span points into a line, the
//! diagnostics stay within their limits, and script splitting never panics.
//!
//! The lexer is built with `cfg(fuzzing)`, under which include patterns are
//! matched against made-up directory entries and never read a real file
//! (`include /proc/kmsg` would block); brace expansion and the glob matcher
//! still run.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vipd::config::lexer::{LexOptions, MAX_ERRORS, MAX_WARNINGS, lex_str, split_argv};
use vipd::config::{Severity, Sources};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts = LexOptions { config_id: "main".into() };
    let mut sources = Sources::default();
    let mut diags = Vec::new();
    let lines = lex_str(Path::new("/nonexistent/vipd-fuzz/keepalived.conf"), &text, &opts, &mut sources, &mut diags);
    for line in &lines {
        assert!(!line.tokens.is_empty());
        for t in &line.tokens {
            assert!(t.span.line >= 1 && t.span.col >= 1);
        }
    }
    for d in &diags {
        assert!(d.span.is_some(), "only an unreadable top file has no span: {d:?}");
    }
    let count = |sev| diags.iter().filter(|d| d.severity == sev).count();
    assert!(count(Severity::Error) <= MAX_ERRORS + 1);
    assert!(count(Severity::Warning) <= MAX_WARNINGS + 1);
    for line in &lines {
        for t in &line.tokens {
            let _ = split_argv(&t.text);
        }
    }
    let _ = split_argv(&text);
});
