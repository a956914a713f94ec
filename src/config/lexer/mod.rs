//! keepalived.conf lexer: files in, logical lines of tokens out.
//!
//! Each physical line goes through the steps keepalived 2.2.7 applies, in
//! its order (checked against `keepalived -t` / `-d` where its man page and
//! its behaviour differ):
//!
//! 1. comments (`#`, `!`) are cut, except inside quotes or after `\`;
//! 2. `@ID` / `@^ID` conditionals keep or drop the line;
//! 3. `$NAME=VALUE` defines a parameter (`\` at the end continues it);
//! 4. `$NAME` / `${NAME}` are substituted; the result goes through steps
//!    2–4 again (at most [`MAX_SUBST_DEPTH`] times), as keepalived re-checks
//!    a substituted line, and a multi-line value gives one line per line;
//! 5. a line that is then `include PATTERN` is replaced by the lines of the
//!    files it names;
//! 6. the text is split into tokens: quotes, escapes inside quotes, and
//!    `{` / `}` as tokens of their own.
//!
//! Every character carries the span it came from, so a token points at its
//! physical line and column even after substitution (substituted text
//! points at the `$` that produced it).
//!
//! vipd never silently ignores: where keepalived quietly does something
//! surprising (a `$NAME` it does not substitute, a file it skips), a
//! diagnostic says so.
//!
//! Text policy: files are read as bytes. A line whose significant part
//! (before any comment) is not valid UTF-8 or contains a NUL byte is an
//! error and is dropped, since a token holding a replacement character
//! would name a different interface or script than the file does. Bad bytes
//! inside a comment are ignored, like the rest of the comment. Characters
//! pasted from web pages in place of ASCII (no-break spaces, zero-width
//! characters and byte order marks, curly quotes, full-width braces) are
//! read as what they imitate, with one diagnostic per kind and file, an
//! error for the quotes and braces (see `pasted`); CR before LF ends the
//! line, as in keepalived, with one warning per file.
//!
//! Limits: a file larger than [`MAX_FILE_BYTES`] (16 MiB) is an error and
//! is not used (nor read further, so `/dev/zero` ends); a physical line
//! longer than [`MAX_LINE_CHARS`] characters is an error and is dropped;
//! after [`MAX_ERRORS`] errors the lexer stops with one more, "too many
//! errors; stopping". Warnings do not stop it: past [`MAX_WARNINGS`], one
//! warning says so and later ones are not recorded.
//!
//! keepalived's own reading: the token rules above, with [`split_argv`],
//! reproduce what keepalived does with script commands, which it reads a
//! second time, shell-like. For every other value keepalived 2.2.7 uses a
//! simpler tokenizer (measured): only `"` quotes, no escapes, a `"` ends an
//! unquoted word (`a"b c"d` is `a`, `b c`, `d`), and comments are cut
//! before that with only `"` as a quote (`'a#b'` is `'a`), cut again after
//! a substitution. [`Token::verbatim`] says whether keepalived reads the
//! token's text the same way, so that values it would read differently can
//! be refused instead of silently meaning something else. It is false for
//! `'` used as a quote, an escape resolved in quotes (an unknown one kept
//! as written reads the same), quoted text joined to more text, an
//! unterminated quote, a quoted `{` or `}`, text keepalived cuts as a
//! comment (`\\#`, a `#` in `'…'`, an unquoted `${_HASH}` or a `\#` on a
//! substituted line), a line-ending `\` after a blank (keepalived's `a\`),
//! a parameter whose definition it reads differently, a `${X}` kept as
//! written that holds `{`, `}`, `"` or a blank, text after
//! `${_RANDOM MIN MAX}` (which 2.2.7 garbles), bytes past the first 1023
//! of a line (its line buffer), and every word after one that is false.
//!
//! Where each part lives: this file runs the steps above on every line
//! (`Lexer::process`) and holds what they share; `chars` decodes a
//! physical line and finds its comment; `pasted` reads look-alike
//! characters and reports them per file; `params` owns `$NAME` definitions
//! and substitution; `include` and `glob` own which files are read;
//! `tokens` splits text into tokens (and [`split_argv`] scripts);
//! `keepalived_reading` marks where keepalived reads a line differently;
//! `report` records diagnostics under the error and warning caps.

mod chars;
mod glob;
mod include;
mod keepalived_reading;
mod params;
mod pasted;
mod report;
mod tokens;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::diag::{Diagnostic, FileId, Severity, Sources, Span};
use chars::{char_count, comment_start, contains, decode, is_blank, string, trim};
use include::{EXEC_HINT, identity, parent_dir, read_bounded};
use keepalived_reading::{mark_keepalived_reading, mark_keepalived_redecomment};
use params::{Def, Pending, SUBST_BUDGET, Subst, seed};
use pasted::Tally;
use report::hinted;
use tokens::tokenize;

pub use include::{MAX_FILE_BYTES, MAX_INCLUDE_DEPTH};
pub use params::MAX_SUBST_DEPTH;
pub use report::{MAX_ERRORS, MAX_WARNINGS};
pub(crate) use tokens::push_single_quoted;
pub use tokens::split_argv;

/// One word of a line, quotes removed and escapes resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub span: Span,
    /// Some part of the token was quoted, so `"{"` is data, not a brace.
    pub quoted: bool,
    /// keepalived 2.2.7's general tokenizer (the one for every value but
    /// script commands) reads this same text as this same word of the line.
    /// False when `text` depends on something only vipd's reading does, or
    /// when an earlier word of the line is false, since keepalived may split
    /// the rest into other words. See the module notes for the cases.
    /// Script strings get a second, shell-like pass in keepalived that
    /// matches `text`; this flag does not describe them.
    pub verbatim: bool,
}

/// One logical line; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub tokens: Vec<Token>,
}

impl Line {
    /// Where the line's first token is.
    pub fn span(&self) -> Span {
        self.tokens.first().map_or_else(Span::default, |t| t.span)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexOptions {
    /// Compared with `@ID` / `@^ID`; also the value of `${_INSTANCE}`.
    pub config_id: String,
}

impl Default for LexOptions {
    fn default() -> Self {
        LexOptions { config_id: default_config_id() }
    }
}

/// Longest physical line, in characters; a longer one is an error and is
/// dropped.
pub const MAX_LINE_CHARS: usize = 64 * 1024;

/// Reads `path` and everything it includes. A file that cannot be read
/// becomes an error diagnostic (span `None` for the top file, the include
/// line's span for an included one).
pub fn read_config(path: &Path, opts: &LexOptions, sources: &mut Sources, diags: &mut Vec<Diagnostic>) -> Vec<Line> {
    let unreadable = |message: String, hint: Option<&str>| Diagnostic {
        severity: Severity::Error,
        span: None,
        message,
        hint: hint.map(String::from),
    };
    if let Ok(md) = fs::metadata(path)
        && md.is_file()
        && md.permissions().mode() & 0o111 != 0
    {
        diags.push(unreadable(format!("`{}` is executable; not read", path.display()), Some(EXEC_HINT)));
        return Vec::new();
    }
    match read_bounded(path) {
        Ok(bytes) => lex_bytes(path, &bytes, opts, sources, diags),
        Err(message) => {
            diags.push(unreadable(message, None));
            Vec::new()
        }
    }
}

/// Same as [`read_config`], from text already in memory (for tests and the
/// fuzzer); includes are resolved relative to `path`'s directory.
pub fn lex_str(
    path: &Path,
    text: &str,
    opts: &LexOptions,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Line> {
    lex_bytes(path, text.as_bytes(), opts, sources, diags)
}

fn lex_bytes(
    path: &Path,
    bytes: &[u8],
    opts: &LexOptions,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Line> {
    let mut lx = Lexer {
        config_id: &opts.config_id,
        sources,
        diags,
        out: Vec::new(),
        defs: HashMap::new(),
        pending: None,
        stack: Vec::new(),
        dir: PathBuf::new(),
        top_dir: parent_dir(path),
        rng: seed(),
        budget: SUBST_BUDGET,
        budget_reported: false,
        files_read: 0,
        loop_reported: false,
        seen: Vec::new(),
        errors: 0,
        warnings: 0,
        stopped: false,
        pasted: Tally::default(),
    };
    lx.file(path, bytes);
    lx.out
}

/// The short host name (up to the first '.'), the default config id, as
/// keepalived derives it; "localhost" if the name cannot be read.
pub fn default_config_id() -> String {
    let name = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let short = name.trim().split('.').next().unwrap_or_default();
    if short.is_empty() { "localhost".into() } else { short.into() }
}

/// A character with where it came from. `literal` characters are text that
/// must stay as written (an undefined `${X}` kept as written): they are not
/// substituted again and have no meaning to the tokenizer. `differs` marks
/// characters keepalived reads differently or not at all (see
/// [`Token::verbatim`]); a token holding one is not verbatim.
#[derive(Clone, Copy, Debug)]
struct Ch {
    c: char,
    span: Span,
    literal: bool,
    differs: bool,
}

struct Lexer<'a> {
    config_id: &'a str,
    sources: &'a mut Sources,
    diags: &'a mut Vec<Diagnostic>,
    out: Vec<Line>,
    /// Parameters persist across includes: keepalived has one global list.
    defs: HashMap<String, Def>,
    pending: Option<Pending>,
    /// Files being read, outermost first: (identity for loop detection,
    /// path as opened for messages).
    stack: Vec<(PathBuf, PathBuf)>,
    /// Directory of the file being read: includes and `${_PWD}` use it.
    dir: PathBuf,
    /// Loop messages show paths relative to this.
    top_dir: PathBuf,
    rng: u64,
    budget: usize,
    budget_reported: bool,
    files_read: usize,
    /// One loop error per physical line, however many pieces loop.
    loop_reported: bool,
    /// Diagnostics of the current physical line, see [`Lexer::push`].
    seen: Vec<(Span, String)>,
    errors: usize,
    warnings: usize,
    /// [`MAX_ERRORS`] reached: nothing more is read.
    stopped: bool,
    /// Look-alike characters of the file being read (see `pasted`).
    pasted: Tally,
}

impl Lexer<'_> {
    fn file(&mut self, path: &Path, bytes: &[u8]) {
        self.files_read += 1;
        let id = self.sources.add(path);
        let saved_dir = std::mem::replace(&mut self.dir, parent_dir(path));
        // An include inside a multi-line value may come while a definition
        // is still collecting lines of the including file.
        let saved_pending = self.pending.take();
        let saved_pasted = std::mem::take(&mut self.pasted);
        self.stack.push((identity(path), path.to_path_buf()));
        for (n, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            if self.stopped {
                break;
            }
            let line = u32::try_from(n.saturating_add(1)).unwrap_or(u32::MAX);
            self.physical_line(id, line, raw);
        }
        // A definition continued on the last line ends with its file.
        self.finish_pending();
        let pasted = std::mem::replace(&mut self.pasted, saved_pasted);
        for d in pasted.diagnostics(path) {
            self.push_summary(d);
        }
        self.pending = saved_pending;
        self.stack.pop();
        self.dir = saved_dir;
    }

    fn physical_line(&mut self, file: FileId, line: u32, mut raw: &[u8]) {
        self.seen.clear();
        if let [rest @ .., b'\r'] = raw {
            let col = u32::try_from(char_count(rest)).unwrap_or(u32::MAX).saturating_add(1);
            self.pasted.cr_line_end(Span { file, line, col });
        }
        while let [rest @ .., b'\r'] = raw {
            raw = rest;
        }
        if raw.len() > MAX_LINE_CHARS && char_count(raw) > MAX_LINE_CHARS {
            self.error(
                Span { file, line, col: 1 },
                format!("line longer than {MAX_LINE_CHARS} characters; line ignored"),
            );
            self.finish_pending();
            return;
        }
        let (mut chars, bad) = decode(raw, file, line);
        let cut = comment_start(&chars);
        if let Some((at, why)) = bad
            && at < cut
        {
            let span = chars.get(at).map_or(Span { file, line, col: 1 }, |c| c.span);
            self.push(hinted(
                Severity::Error,
                span,
                format!("line {why}; line ignored"),
                "configuration files must be UTF-8 text".into(),
            ));
            self.finish_pending();
            return;
        }
        // Before anything reads the line: a look-alike quote may protect a
        // `#`, and a no-break space separates `$NAME=` from what follows.
        let cut = self.pasted.read(&mut chars);
        mark_keepalived_reading(&mut chars, cut);
        let text = trim(chars.get(..cut).unwrap_or_default());
        if self.pending.is_some() {
            self.continue_pending(text);
            return;
        }
        if text.is_empty() {
            return;
        }
        self.loop_reported = false;
        self.process(text.to_vec(), 0);
    }

    /// Steps 2–6 for one line of text (already comment-free).
    fn process(&mut self, text: Vec<Ch>, depth: usize) {
        if self.stopped {
            return;
        }
        let mut text = trim(&text).to_vec();
        let Some(&first) = text.first() else { return };

        if first.c == '@' && !first.literal {
            let (negated, start) = if text.get(1).is_some_and(|c| c.c == '^') { (true, 2) } else { (false, 1) };
            let Some(blank) = text.iter().skip(start).position(|c| is_blank(c.c)).map(|p| p + start) else {
                return self.warn(first.span, "conditional line has nothing after its id; ignored");
            };
            let id = string(text.get(start..blank).unwrap_or_default());
            if id.is_empty() {
                return self.error(first.span, "`@` must be followed directly by a config id; line ignored");
            }
            if (id == self.config_id) == negated {
                return;
            }
            text = trim(text.get(blank..).unwrap_or_default()).to_vec();
            if text.is_empty() {
                return;
            }
        }

        if text.first().is_some_and(|c| c.c == '~') {
            let head = string(text.get(..5).unwrap_or(&text));
            let name = ["~SEQx", "~SEQ", "~LST"].into_iter().find(|n| head.starts_with(n));
            if let Some(name) = name {
                let span = text.first().map_or(first.span, |c| c.span);
                self.push(hinted(
                    Severity::Error,
                    span,
                    format!("`{name}` expansion is not supported by vipd; line ignored"),
                    "write the lines out".into(),
                ));
                return;
            }
        }

        if self.define(&text, first.span) {
            return;
        }

        match self.substitute(&mut text) {
            Subst::Dropped => return,
            Subst::Changed(span) if depth >= MAX_SUBST_DEPTH => {
                if !self.loop_reported {
                    self.loop_reported = true;
                    self.push(
                        hinted(Severity::Error, span, "parameter substitution loop; line ignored".into(), format!(
                            "parameters may nest at most {MAX_SUBST_DEPTH} deep; check for a parameter that refers to itself"
                        )),
                    );
                }
                return;
            }
            Subst::Changed(_) => {
                // keepalived strips comments again from the substituted
                // line, up to the end of the first line of a multi-line
                // value (the rest comes back as lines of their own).
                let first = text.iter().position(|c| c.c == '\n').unwrap_or(text.len());
                mark_keepalived_redecomment(text.get_mut(..first).unwrap_or_default());
                // A multi-line value makes several lines, each processed on
                // its own, as keepalived reads them one by one.
                for piece in text.split(|c| c.c == '\n') {
                    self.process(piece.to_vec(), depth + 1);
                }
                return;
            }
            Subst::Unchanged => {}
        }

        if contains(&text, "include") && self.try_include(&text) {
            return;
        }
        let mut found = Vec::new();
        let mut tokens = tokenize(&text, true, &mut found);
        if self.pasted.refused_on_line() {
            // The file is refused already, by the error naming the curly
            // quote; a "reads differently" error for the quote it was read
            // as would only repeat it.
            tokens.iter_mut().for_each(|t| t.verbatim = true);
        }
        for d in found {
            if !self.pasted.refused_at(d.span) {
                self.push(d);
            }
        }
        if let Some(last) = text.last()
            && last.c == '\\'
            && !last.literal
            && tokens.last().is_some_and(|t| !t.quoted && t.text.ends_with('\\'))
        {
            self.push(hinted(
                Severity::Warning,
                last.span,
                "`\\` at the end of a line does not continue it".into(),
                "only `$NAME=` definitions continue on the next line; keepalived keeps the `\\` as text".into(),
            ));
        }
        if !tokens.is_empty() {
            self.out.push(Line { tokens });
        }
    }
}

#[cfg(test)]
mod tests;
