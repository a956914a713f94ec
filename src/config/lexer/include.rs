//! Which files are read: `include` lines (after conditionals and
//! substitution, as keepalived 2.2.7 does), the checks on each file an
//! include names (kind, execute bits, nesting, loops, a total count), and
//! the bounded read shared with the top file. Pattern matching itself is
//! in `glob`; the lines of a file read go back to the pipeline in `mod.rs`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::glob::{MAX_GLOB_MATCHES, expand_braces, glob};
use super::report::hinted;
use super::tokens::tokenize;
use super::{Ch, Lexer};
use crate::config::diag::{Diagnostic, Severity, Span};

/// Include nesting allowed below the top file.
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// Longest include pattern (PATH_MAX); bounds brace expansion work.
const MAX_PATTERN_LEN: usize = 4096;

/// Files one run may read. Including a file twice is allowed, so a chain of
/// files that each include the next one twice would otherwise read 2^32
/// files without ever looping.
pub(super) const MAX_FILES_READ: usize = 4096;

/// Largest file read; a larger one is an error and is not used. Also stops
/// endless "files" (`-f /dev/zero`, `include /proc/self/pagemap`).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// keepalived's include variants differ only in which absences are errors;
/// vipd makes every absence an error but a plain `include` wildcard that
/// matches nothing (a warning, as keepalived goes on without it).
const INCLUDE_KEYWORDS: [&str; 6] = ["include", "includer", "includem", "includew", "includeb", "includea"];

pub(super) const EXEC_HINT: &str =
    "keepalived skips executable configuration files; remove the execute bits (chmod a-x)";

/// The bytes of `path`, at most [`MAX_FILE_BYTES`] of them; Err(message)
/// if it cannot be read or is larger.
pub(super) fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read `{}`: {e}", path.display());
    let too_large = || format!("`{}`: file larger than 16 MiB; not read", path.display());
    let mut file = fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    // A plain read loop rather than `take(..).read_to_end`, whose generic
    // code is several times larger in the binary.
    let mut chunk = [0u8; 8192];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => {
                bytes.extend_from_slice(chunk.get(..n).unwrap_or_default());
                if bytes.len() as u64 > MAX_FILE_BYTES {
                    return Err(too_large());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // Some files fail a read of an odd size (`/proc/self/pagemap`),
            // as a read past the limit may be.
            Err(_) if bytes.len() as u64 >= MAX_FILE_BYTES => return Err(too_large()),
            Err(e) => return Err(cannot(e)),
        }
    }
}

impl Lexer<'_> {
    /// Handles `text` if it is an include line. keepalived 2.2.7 recognises
    /// them after conditionals and substitution (measured: `@id include f`
    /// and `include $F` both work, whatever its man page says), so this runs
    /// on the final text of a line. Braces belong to the pattern here
    /// (`{a,b}.conf`): keepalived looks for includes before splitting them.
    pub(super) fn try_include(&mut self, text: &[Ch]) -> bool {
        let mut scratch = Vec::new();
        let tokens = tokenize(text, false, &mut scratch);
        let Some(kw) = tokens.first().filter(|t| INCLUDE_KEYWORDS.contains(&t.text.as_str())) else {
            return false;
        };
        scratch.into_iter().for_each(|d| self.push(d));
        match tokens.as_slice() {
            // keepalived 2.2.7 takes the rest of the line as the path, quotes
            // and all, and then finds no file: refuse instead of reading a
            // file keepalived never would.
            [_, pattern] if pattern.quoted => self.push(hinted(
                Severity::Error,
                pattern.span,
                format!("`{}` takes the path without quotes", kw.text),
                "keepalived 2.2.7 keeps the quotes as part of the file name".into(),
            )),
            [_, pattern] => self.include(&kw.text, &pattern.text, pattern.span, kw.span),
            [_, _, extra, ..] => {
                self.error(extra.span, format!("`{}` takes one file pattern; unexpected `{}`", kw.text, extra.text))
            }
            _ => self.error(kw.span, format!("`{}` needs a file name", kw.text)),
        }
        true
    }

    fn include(&mut self, keyword: &str, pattern: &str, pspan: Span, kspan: Span) {
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            self.error(kspan, format!("includes nested more than {MAX_INCLUDE_DEPTH} deep; `{pattern}` not read"));
            return;
        }
        if pattern.len() > MAX_PATTERN_LEN {
            self.error(pspan, format!("include pattern longer than {MAX_PATTERN_LEN} bytes"));
            return;
        }
        let alternatives = match expand_braces(pattern) {
            Ok(a) => a,
            Err(m) => {
                self.error(pspan, format!("include `{pattern}`: {m}"));
                return;
            }
        };
        let mut files: Vec<PathBuf> = Vec::new();
        for alt in &alternatives {
            match glob(alt, &self.dir) {
                // glob(3) sorts each brace alternative's matches by bytes.
                Ok(mut m) => {
                    crate::sort::heap_sort_by(&mut m, |a, b| a.as_os_str() < b.as_os_str());
                    files.append(&mut m);
                }
                Err(m) => {
                    self.error(pspan, format!("include `{pattern}`: {m}"));
                    return;
                }
            }
            if files.len() > MAX_GLOB_MATCHES {
                self.error(pspan, format!("include `{pattern}`: matches more than {MAX_GLOB_MATCHES} paths"));
                return;
            }
        }
        if files.is_empty() {
            let hint = "relative patterns are relative to the including file's directory";
            // keepalived 2.2.7 goes on without a wildcard include that matches
            // nothing (a `conf.d/*.conf` left empty), silently when the
            // directory exists; refusing to start there would break
            // configurations that run today. A plain name stays an error:
            // keepalived reports it too ("Config files missing").
            let wildcard = keyword == "include" && pattern.contains(['*', '?', '[']);
            let d = if wildcard {
                Diagnostic::warning(pspan, format!("include `{pattern}`: no file matches; read without it"))
            } else {
                Diagnostic::error(pspan, format!("include `{pattern}`: no file matches"))
            };
            self.push(d.with_hint(hint));
            return;
        }
        for f in files {
            if self.stopped {
                break;
            }
            self.include_file(&f, kspan);
        }
    }

    fn include_file(&mut self, f: &Path, kspan: Span) {
        let md = match fs::metadata(f) {
            Ok(md) => md,
            Err(e) => return self.error(kspan, format!("cannot read `{}`: {e}", f.display())),
        };
        if md.is_dir() {
            // keepalived skips directories a pattern matches without a word.
            return self.warn(kspan, format!("`{}` is a directory; not read", f.display()));
        }
        if !md.is_file() {
            return self.warn(kspan, format!("`{}` is not a regular file; not read", f.display()));
        }
        if md.permissions().mode() & 0o111 != 0 {
            self.push(hinted(
                Severity::Error,
                kspan,
                format!("`{}` is executable; not read", f.display()),
                EXEC_HINT.into(),
            ));
            return;
        }
        if self.files_read >= MAX_FILES_READ {
            let msg = format!("more than {MAX_FILES_READ} configuration files read; `{}` not read", f.display());
            return self.error(kspan, msg);
        }
        let id = identity(f);
        if let Some(pos) = self.stack.iter().position(|(p, _)| *p == id) {
            let mut msg = String::from("include loop: ");
            for (_, p) in self.stack.get(pos..).unwrap_or_default() {
                msg.push_str(&self.show(p));
                msg.push_str(" -> ");
            }
            msg.push_str(&self.show(f));
            return self.error(kspan, msg);
        }
        match read_bounded(f) {
            Ok(bytes) => self.file(f, &bytes),
            Err(message) => self.error(kspan, message),
        }
    }

    fn show(&self, p: &Path) -> String {
        p.strip_prefix(&self.top_dir).unwrap_or(p).display().to_string()
    }
}

pub(super) fn parent_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// What makes two paths the same file for loop detection.
pub(super) fn identity(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}
