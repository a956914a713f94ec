//! Configuration: keepalived.conf in, a validated immutable [`Config`] out.
//!
//! `lexer` turns files into lines of tokens (comments, quotes, includes,
//! `$VAR` parameters, `@id` conditionals, spans); `parse` builds the block
//! tree; `validate` checks every keyword against the tables in `keywords`
//! and builds [`Config`]. Every problem becomes a [`Diagnostic`], and all
//! of them are reported in one run.

pub mod diag;
pub mod dump;
pub mod keywords;
pub mod lexer;
pub mod model;
pub mod parse;
pub mod validate;

use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, FileId, Severity, Sources, Span};
pub use model::*;

/// The result of reading a configuration: the config (best effort when
/// there are errors), the files read, and every diagnostic in file order.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Warning).count()
    }

    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }
}

/// `/etc/vipd/vipd.conf` if it exists, else keepalived's default path.
pub fn default_path() -> PathBuf {
    let own = PathBuf::from("/etc/vipd/vipd.conf");
    if own.exists() { own } else { PathBuf::from("/etc/keepalived/keepalived.conf") }
}

/// Whether `name` is a network interface of this machine.
pub fn interface_exists(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && Path::new("/sys/class/net").join(name).exists()
}

/// Reads and validates the configuration at `path`.
pub fn load(path: &Path, config_id: &str) -> Loaded {
    load_with(path, None, config_id, &interface_exists)
}

/// Like [`load`], with the text given (`None` = read `path`) and the
/// interface check replaceable, for tests.
pub fn load_with(path: &Path, text: Option<&str>, config_id: &str, iface_exists: validate::IfaceCheck<'_>) -> Loaded {
    load_on(path, text, config_id, &validate::Host { iface_exists, iface_addrs: &|_| None, offline: false })
}

/// Like [`load_with`], checked against everything `host` knows about the
/// machine (`vipd -t`, `vipd check`).
pub fn load_on(path: &Path, text: Option<&str>, config_id: &str, host: &validate::Host<'_>) -> Loaded {
    let mut sources = Sources::default();
    let mut diagnostics = Vec::new();
    let opts = lexer::LexOptions { config_id: config_id.to_owned() };
    let lines = match text {
        Some(t) => lexer::lex_str(path, t, &opts, &mut sources, &mut diagnostics),
        None => lexer::read_config(path, &opts, &mut sources, &mut diagnostics),
    };
    let tree = parse::parse(&lines, &mut diagnostics);
    let config = validate::build_on(&tree, host, &mut diagnostics);
    // File order reads best; problems without a line come first.
    crate::sort::insertion_sort_by_key(&mut diagnostics, |d| d.span.map(|s| (s.file, s.line, s.col)));
    Loaded { config, sources, diagnostics }
}
