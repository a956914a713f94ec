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
//! inside a comment are ignored, like the rest of the comment.
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
//! of a line (its line buffer), line 1 after a byte order mark, and every
//! word after one that is false.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::diag::{Diagnostic, FileId, Severity, Sources, Span};

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

/// Substitution passes allowed on one line; one more is reported as a loop.
pub const MAX_SUBST_DEPTH: usize = 16;
/// Include nesting allowed below the top file.
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Longest line substitution may produce (keepalived's own buffer is far
/// smaller); stops exponential definitions like `$A=$B $B`.
const MAX_EXPANDED_LINE: usize = 64 * 1024;
/// Characters substitution may produce over a whole run (about 50,000
/// substituted lines of a real configuration), so that a small file whose
/// lines each expand to the per-line limit cannot take minutes or hundreds
/// of megabytes of tokens.
const SUBST_BUDGET: usize = 1024 * 1024;
/// Longest include pattern (PATH_MAX); bounds brace expansion work.
const MAX_PATTERN_LEN: usize = 4096;
/// Patterns one include may expand to through `{a,b}`.
const MAX_BRACE_ALTERNATIVES: usize = 256;
/// Expansion steps one include's braces may take.
const MAX_BRACE_STEPS: usize = 4096;
/// Paths one include may match.
const MAX_GLOB_MATCHES: usize = 4096;
/// Files one run may read. Including a file twice is allowed, so a chain of
/// files that each include the next one twice would otherwise read 2^32
/// files without ever looping.
const MAX_FILES_READ: usize = 4096;
/// Largest file read; a larger one is an error and is not used. Also stops
/// endless "files" (`-f /dev/zero`, `include /proc/self/pagemap`).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Longest physical line, in characters; a longer one is an error and is
/// dropped.
pub const MAX_LINE_CHARS: usize = 64 * 1024;
/// Errors the lexer reports before it stops with "too many errors;
/// stopping" (one more error). Warnings are counted apart: past
/// [`MAX_WARNINGS`] one warning says so and later ones are not recorded,
/// but lexing goes on.
pub const MAX_ERRORS: usize = 1000;
pub const MAX_WARNINGS: usize = 1000;
/// keepalived 2.2.7 reads lines with `fgets()` into a 1024-byte buffer: the
/// bytes of a physical line past the first 1023 become a line of their own.
const KEEPALIVED_LINE_BYTES: usize = 1023;

/// keepalived's include variants differ only in which absences are errors;
/// vipd makes every absence an error, so they are all the same here.
const INCLUDE_KEYWORDS: [&str; 6] = ["include", "includer", "includem", "includew", "includeb", "includea"];

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

/// The bytes of `path`, at most [`MAX_FILE_BYTES`] of them; Err(message)
/// if it cannot be read or is larger.
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read `{}`: {e}", path.display());
    let mut bytes = Vec::new();
    let read = fs::File::open(path).map_err(cannot)?.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes);
    // Some files fail a read of an odd size (`/proc/self/pagemap`), as the
    // one byte past the limit is.
    if bytes.len() as u64 >= MAX_FILE_BYTES && (read.is_err() || bytes.len() as u64 > MAX_FILE_BYTES) {
        return Err(format!("`{}`: file larger than 16 MiB; not read", path.display()));
    }
    read.map_err(cannot)?;
    Ok(bytes)
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
        seen: HashSet::new(),
        errors: 0,
        warnings: 0,
        stopped: false,
    };
    lx.file(path, bytes);
    lx.out
}

/// Splits a script string into argv respecting quotes:
/// `/bin/echo 'a b' c` -> `["/bin/echo", "a b", "c"]`.
///
/// This is keepalived 2.2.7's second pass over a script (measured):
/// whitespace separates words; `"…"` and `'…'` group them and join
/// adjacent text; escapes (`\n`, `\xHH`, `\nnn`, `\cC`, …) work inside
/// both kinds of quotes and outside them, and `\` before any other
/// character stands for that character. The lexer has already resolved the
/// escapes of the quoted config token once, so, as in keepalived, a script
/// goes through two levels of escapes: `"a\\\\b"` in the file is `a\b`.
/// Err(message) on an unterminated quote or a trailing lone `\`.
pub fn split_argv(s: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut args = Vec::new();
    let mut cur: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match (quote, c) {
            (_, '\\') => {
                let arg = cur.get_or_insert_with(String::new);
                match known_escape(|k| chars.get(i + k).copied()) {
                    Some((e, used)) => {
                        arg.push(e);
                        i += used;
                    }
                    None => match chars.get(i) {
                        Some(&e) => {
                            arg.push(e);
                            i += 1;
                        }
                        None => return Err("ends with a lone `\\`".into()),
                    },
                }
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.get_or_insert_with(String::new);
            }
            (None, c) if is_blank(c) || c == '\n' => args.extend(cur.take()),
            (None, c) => cur.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated `{q}` quote"));
    }
    args.extend(cur);
    Ok(args)
}

/// The short host name (up to the first '.'), the default config id, as
/// keepalived derives it; "localhost" if the name cannot be read.
pub fn default_config_id() -> String {
    let name = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let short = name.trim().split('.').next().unwrap_or_default();
    if short.is_empty() { "localhost".into() } else { short.into() }
}

const EXEC_HINT: &str = "keepalived skips executable configuration files; remove the execute bits (chmod a-x)";

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

struct Def {
    value: String,
    /// Defined with trailing `\`: each line of the value becomes a line.
    multiline: bool,
    /// keepalived reads the definition's text differently.
    differs: bool,
}

/// A `$NAME=...\` definition still collecting continuation lines.
struct Pending {
    name: String,
    lines: Vec<String>,
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
    seen: HashSet<(Span, String)>,
    errors: usize,
    warnings: usize,
    /// [`MAX_ERRORS`] reached: nothing more is read.
    stopped: bool,
}

enum Subst {
    Unchanged,
    /// With the span of the first `$` replaced.
    Changed(Span),
    /// An error was reported; the line is dropped.
    Dropped,
}

/// What follows a `$`.
enum Ref {
    /// Starts no reference (`$1`, `$$`, `${ `): plain text, as in keepalived.
    Plain,
    /// `${NAME…` without a proper closing `}`.
    Malformed {
        end: usize,
    },
    /// `$NAME` followed by a character after which keepalived does not
    /// substitute a bare name.
    Unterminated {
        name: String,
        end: usize,
        next: char,
    },
    Ok {
        name: String,
        params: Vec<String>,
        end: usize,
    },
}

impl Lexer<'_> {
    /// Records a diagnostic unless the same one was already recorded for
    /// this physical line: text substituted from one `$NAME` shares its
    /// span, so `$A=$U $U $U` would otherwise repeat a warning per copy.
    ///
    /// Also applies the limits: after [`MAX_ERRORS`] errors lexing stops
    /// with one more error; warnings past [`MAX_WARNINGS`] are counted in
    /// one warning and not recorded.
    fn push(&mut self, d: Diagnostic) {
        if self.stopped {
            return;
        }
        if let Some(span) = d.span
            && !self.seen.insert((span, d.message.clone()))
        {
            return;
        }
        let span = d.span.unwrap_or_default();
        match d.severity {
            Severity::Error => {
                self.diags.push(d);
                self.errors += 1;
                if self.errors >= MAX_ERRORS {
                    self.stopped = true;
                    self.diags.push(
                        Diagnostic::error(span, "too many errors; stopping")
                            .with_hint(format!("vipd stops reading after {MAX_ERRORS} errors; fix these first")),
                    );
                }
            }
            Severity::Warning => {
                self.warnings += 1;
                if self.warnings <= MAX_WARNINGS {
                    self.diags.push(d);
                } else if self.warnings == MAX_WARNINGS + 1 {
                    self.diags.push(Diagnostic::warning(
                        span,
                        format!("more than {MAX_WARNINGS} warnings; later warnings are not shown"),
                    ));
                }
            }
        }
    }

    fn warn(&mut self, span: Span, msg: impl Into<String>) {
        self.push(Diagnostic::warning(span, msg));
    }

    fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.push(Diagnostic::error(span, msg));
    }

    fn file(&mut self, path: &Path, bytes: &[u8]) {
        self.files_read += 1;
        let id = self.sources.add(path);
        let saved_dir = std::mem::replace(&mut self.dir, parent_dir(path));
        // An include inside a multi-line value may come while a definition
        // is still collecting lines of the including file.
        let saved_pending = self.pending.take();
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
        self.pending = saved_pending;
        self.stack.pop();
        self.dir = saved_dir;
    }

    fn physical_line(&mut self, file: FileId, line: u32, mut raw: &[u8]) {
        self.seen.clear();
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
        let mut bom = false;
        if line == 1
            && let Some(rest) = raw.strip_prefix(b"\xEF\xBB\xBF")
        {
            self.push(
                Diagnostic::error(Span { file, line, col: 1 }, "byte order mark at the start of the file")
                    .with_hint("keepalived 2.2.7 reads it as part of the first keyword and loses that block; save the file without it"),
            );
            raw = rest;
            bom = true;
        }
        let (mut chars, bad) = decode(raw, file, line);
        let cut = comment_start(&chars);
        mark_keepalived_reading(&mut chars, cut, bom);
        let text = trim(chars.get(..cut).unwrap_or_default());
        if let Some((at, why)) = bad
            && at < cut
        {
            let span = chars.get(at).map_or(Span { file, line, col: 1 }, |c| c.span);
            self.push(
                Diagnostic::error(span, format!("line {why}; line ignored"))
                    .with_hint("configuration files must be UTF-8 text"),
            );
            self.finish_pending();
            return;
        }
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

    fn continue_pending(&mut self, text: &[Ch]) {
        let s = string(text);
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        p.differs |= text.iter().any(|c| c.differs);
        if s.is_empty() {
            // keepalived ends a multi-line definition at a blank line.
            self.finish_pending();
        } else if let Some(body) = s.strip_suffix('\\') {
            let body = body.trim_end_matches(is_blank);
            if !body.is_empty() {
                p.lines.push(body.to_string());
            }
        } else {
            p.lines.push(s);
            self.finish_pending();
        }
    }

    fn finish_pending(&mut self) {
        if let Some(p) = self.pending.take() {
            let multiline = p.lines.len() > 1;
            self.defs.insert(p.name, Def { value: p.lines.join("\n"), multiline, differs: p.differs });
        }
    }

    fn include(&mut self, pattern: &str, pspan: Span, kspan: Span) {
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
                    m.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
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
            self.push(
                Diagnostic::error(pspan, format!("include `{pattern}`: no file matches"))
                    .with_hint("relative patterns are relative to the including file's directory"),
            );
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
            self.push(
                Diagnostic::error(kspan, format!("`{}` is executable; not read", f.display())).with_hint(EXEC_HINT),
            );
            return;
        }
        if self.files_read >= MAX_FILES_READ {
            let msg = format!("more than {MAX_FILES_READ} configuration files read; `{}` not read", f.display());
            return self.error(kspan, msg);
        }
        let id = identity(f);
        if let Some(pos) = self.stack.iter().position(|(p, _)| *p == id) {
            let chain: Vec<String> = self
                .stack
                .get(pos..)
                .unwrap_or_default()
                .iter()
                .map(|(_, p)| self.show(p))
                .chain(std::iter::once(self.show(f)))
                .collect();
            return self.error(kspan, format!("include loop: {}", chain.join(" -> ")));
        }
        match read_bounded(f) {
            Ok(bytes) => self.file(f, &bytes),
            Err(message) => self.error(kspan, message),
        }
    }

    fn show(&self, p: &Path) -> String {
        p.strip_prefix(&self.top_dir).unwrap_or(p).display().to_string()
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
                self.push(
                    Diagnostic::error(span, format!("`{name}` expansion is not supported by vipd; line ignored"))
                        .with_hint("write the lines out"),
                );
                return;
            }
        }

        if let Some((name, value_at)) = definition(&text) {
            let value_chars = trim(text.get(value_at..).unwrap_or_default());
            let differs = value_chars.iter().any(|c| c.differs);
            let value = string(value_chars);
            match value.strip_suffix('\\') {
                Some(head) => {
                    let head = head.trim_end_matches(is_blank);
                    let lines = if head.is_empty() { Vec::new() } else { vec![head.to_string()] };
                    self.finish_pending();
                    self.pending = Some(Pending { name, lines, differs });
                }
                None => {
                    self.defs.insert(name, Def { value, multiline: false, differs });
                }
            }
            return;
        }
        if let Some(name) = spaced_definition(&text) {
            self.push(
                Diagnostic::warning(first.span, format!("`${name} =` is not a parameter definition"))
                    .with_hint(format!("no space is allowed before `=`: `${name}=VALUE`")),
            );
        }

        match self.substitute(&mut text) {
            Subst::Dropped => return,
            Subst::Changed(span) if depth >= MAX_SUBST_DEPTH => {
                if !self.loop_reported {
                    self.loop_reported = true;
                    self.push(
                        Diagnostic::error(span, "parameter substitution loop; line ignored").with_hint(format!(
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
        let tokens = tokenize(&text, true, &mut found);
        found.into_iter().for_each(|d| self.push(d));
        if let Some(last) = text.last()
            && last.c == '\\'
            && !last.literal
            && tokens.last().is_some_and(|t| !t.quoted && t.text.ends_with('\\'))
        {
            self.push(
                Diagnostic::warning(last.span, "`\\` at the end of a line does not continue it").with_hint(
                    "only `$NAME=` definitions continue on the next line; keepalived keeps the `\\` as text",
                ),
            );
        }
        if !tokens.is_empty() {
            self.out.push(Line { tokens });
        }
    }

    /// Handles `text` if it is an include line. keepalived 2.2.7 recognises
    /// them after conditionals and substitution (measured: `@id include f`
    /// and `include $F` both work, whatever its man page says), so this runs
    /// on the final text of a line. Braces belong to the pattern here
    /// (`{a,b}.conf`): keepalived looks for includes before splitting them.
    fn try_include(&mut self, text: &[Ch]) -> bool {
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
            [_, pattern] if pattern.quoted => self.push(
                Diagnostic::error(pattern.span, format!("`{}` takes the path without quotes", kw.text))
                    .with_hint("keepalived 2.2.7 keeps the quotes as part of the file name"),
            ),
            [_, pattern] => self.include(&pattern.text, pattern.span, kw.span),
            [_, _, extra, ..] => {
                self.error(extra.span, format!("`{}` takes one file pattern; unexpected `{}`", kw.text, extra.text))
            }
            _ => self.error(kw.span, format!("`{}` needs a file name", kw.text)),
        }
        true
    }

    /// One pass: every reference in `text` is replaced by its value; the
    /// values are not scanned again in this pass (the caller re-processes
    /// the result). References left as written are marked literal.
    fn substitute(&mut self, text: &mut Vec<Ch>) -> Subst {
        if !text.iter().any(|c| c.c == '$' && !c.literal) {
            return Subst::Unchanged;
        }
        let mut out: Vec<Ch> = Vec::with_capacity(text.len());
        let mut changed: Option<Span> = None;
        // keepalived garbles the line after this character.
        let mut garbled: Option<usize> = None;
        // Quote state, only to tell whether `${_HASH}` is quoted.
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut i = 0;
        while let Some(&ch) = text.get(i) {
            if ch.c != '$' || ch.literal {
                if !ch.literal {
                    match quote {
                        Some(_) if escaped => escaped = false,
                        Some(_) if ch.c == '\\' => escaped = true,
                        Some(q) if ch.c == q => quote = None,
                        None if matches!(ch.c, '"' | '\'') => quote = Some(ch.c),
                        _ => {}
                    }
                }
                out.push(ch);
                i += 1;
                continue;
            }
            escaped = false;
            let (end, value, differs) = match parse_ref(text, i) {
                Ref::Plain => {
                    out.push(ch);
                    i += 1;
                    continue;
                }
                Ref::Malformed { end } => {
                    let shown = string(text.get(i..end).unwrap_or_default());
                    self.push(
                        Diagnostic::warning(ch.span, format!("malformed parameter reference `{shown}`; left as is"))
                            .with_hint("write `${NAME}` or `${_RANDOM MIN MAX}`"),
                    );
                    (end, None, false)
                }
                Ref::Unterminated { name, end, next } => {
                    if self.defs.contains_key(&name) || is_predefined(&name) {
                        self.push(
                            Diagnostic::warning(ch.span, format!("`${name}` followed by `{next}` is not substituted"))
                                .with_hint(format!(
                                    "keepalived substitutes a bare `$NAME` only before whitespace, `,`, `)` or the end \
                                     of the line; write `${{{name}}}`"
                                )),
                        );
                    } else {
                        self.undefined(ch.span, &name);
                    }
                    (end, None, false)
                }
                Ref::Ok { name, params, end } => {
                    let value = self.resolve(text, ch.span, &name, &params, end);
                    let literal_char = matches!(name.as_str(), "_HASH" | "_BANG");
                    if value.is_some() && literal_char && quote.is_none() && !self.defs.contains_key(&name) {
                        self.push(
                            Diagnostic::warning(
                                ch.span,
                                format!("unquoted `${{{name}}}` starts a comment in keepalived 2.2.7"),
                            )
                            .with_hint("vipd keeps the character; put it inside quotes to mean the same to both"),
                        );
                    }
                    let differs = self.defs.get(&name).is_some_and(|d| d.differs);
                    if value.is_some() && !params.is_empty() && end < text.len() {
                        // Measured: `${_RANDOM 5 5}x y` reads `5x_RANDOM`.
                        self.push(
                            Diagnostic::warning(
                                ch.span,
                                format!("keepalived 2.2.7 garbles the text after `${{{name}}}` with bounds"),
                            )
                            .with_hint("put it last on its line"),
                        );
                        garbled = garbled.or(Some(out.len() + value.as_ref().map_or(0, |v| v.chars().count())));
                    }
                    (end, value, differs)
                }
            };
            match value {
                Some(v) => {
                    out.extend(v.chars().map(|c| Ch { c, span: ch.span, literal: false, differs }));
                    changed = changed.or(Some(ch.span));
                }
                None => out.extend(text.get(i..end).unwrap_or_default().iter().map(|c| Ch { literal: true, ..*c })),
            }
            i = end.max(i + 1);
            if out.len() > MAX_EXPANDED_LINE {
                self.push(
                    Diagnostic::error(ch.span, format!(
                        "parameter substitution makes this line longer than {MAX_EXPANDED_LINE} characters; line ignored"
                    ))
                    .with_hint("check for a parameter that refers to itself more than once"),
                );
                return Subst::Dropped;
            }
        }
        match garbled {
            Some(at) if out.get(at).is_some_and(|c| is_blank(c.c)) => {
                out.get_mut(at..).unwrap_or_default().iter_mut().for_each(|c| c.differs = true);
            }
            Some(at) => mark_word_from(&mut out, at),
            None => {}
        }
        *text = out;
        let Some(first_span) = changed else {
            return Subst::Unchanged;
        };
        self.budget = self.budget.saturating_sub(text.len());
        if self.budget == 0 {
            if !self.budget_reported {
                self.budget_reported = true;
                let span = text.first().map_or_else(Span::default, |c| c.span);
                self.error(
                    span,
                    format!(
                        "parameter substitution produced more than {SUBST_BUDGET} characters in total; \
                     this and later substituted lines ignored"
                    ),
                );
            }
            return Subst::Dropped;
        }
        Subst::Changed(first_span)
    }

    /// The value of a well-formed reference, or `None` (after a diagnostic)
    /// when it stays as written.
    fn resolve(&mut self, text: &[Ch], span: Span, name: &str, params: &[String], end: usize) -> Option<String> {
        if let Some((value, multiline)) = self.defs.get(name).map(|d| (d.value.clone(), d.multiline)) {
            if !params.is_empty() {
                self.warn(span, format!("parameter `{name}` takes no arguments; left as is"));
                return None;
            }
            let rest_blank =
                text.get(end..).unwrap_or_default().iter().take_while(|c| c.c != '\n').all(|c| is_blank(c.c));
            if multiline && !rest_blank {
                self.push(
                    Diagnostic::error(
                        span,
                        format!("multi-line parameter `{name}` must be the last thing on its line"),
                    )
                    .with_hint("keepalived does not substitute it elsewhere; move the text after it to the next line"),
                );
                return None;
            }
            return Some(value);
        }
        if !params.is_empty() && name != "_RANDOM" && is_predefined(name) {
            self.warn(span, format!("parameter `{name}` takes no arguments; left as is"));
            return None;
        }
        let value = match name {
            "_PWD" => Ok(self.pwd()),
            "_INSTANCE" => Ok(self.config_id.to_string()),
            "_RANDOM" => self.random(params),
            "_HASH" => Ok("#".into()),
            "_BANG" => Ok("!".into()),
            _ => {
                self.undefined(span, name);
                return None;
            }
        };
        value.map_err(|m| self.error(span, format!("{m}; left as is"))).ok()
    }

    fn undefined(&mut self, span: Span, name: &str) {
        self.push(Diagnostic::warning(span, format!("undefined parameter `{name}`")).with_hint(format!(
            "the text is left as is, as keepalived does; define it with `${name}=VALUE` before its first use"
        )));
    }

    fn pwd(&self) -> String {
        let dir = if self.dir.as_os_str().is_empty() {
            std::env::current_dir().unwrap_or_default()
        } else {
            std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone())
        };
        dir.to_string_lossy().into_owned()
    }

    /// `${_RANDOM}`: 0..=32767; one number sets MIN, two set MIN and MAX.
    fn random(&mut self, params: &[String]) -> Result<String, String> {
        let nums: Vec<u32> = params
            .iter()
            .map(|p| p.parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| "`${_RANDOM}` bounds must be numbers up to 4294967295".to_string())?;
        let (min, max) = match nums.as_slice() {
            [] => (0, 32767),
            [min] => (*min, 32767),
            [min, max] => (*min, *max),
            _ => return Err("`${_RANDOM}` takes at most two numbers, MIN and MAX".into()),
        };
        if min > max {
            return Err(format!("`${{_RANDOM}}` MIN {min} is greater than MAX {max}"));
        }
        let range = u64::from(max - min) + 1;
        Ok((u64::from(min) + self.next_random() % range).to_string())
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: only needs to differ between runs, not be strong.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ (u64::from(std::process::id()) << 32)) | 1
}

fn is_predefined(name: &str) -> bool {
    matches!(name, "_PWD" | "_INSTANCE" | "_RANDOM" | "_HASH" | "_BANG")
}

/// Whitespace between tokens; `\n` only appears inside multi-line values,
/// which are split before tokenizing.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn string(text: &[Ch]) -> String {
    text.iter().map(|c| c.c).collect()
}

fn trim(text: &[Ch]) -> &[Ch] {
    let keep = |c: &Ch| c.literal || !is_blank(c.c);
    let start = text.iter().position(keep).unwrap_or(text.len());
    let end = text.iter().rposition(keep).map_or(start, |e| e + 1);
    text.get(start..end).unwrap_or_default()
}

fn contains(text: &[Ch], word: &str) -> bool {
    let n = word.chars().count();
    text.windows(n).any(|w| w.iter().map(|c| c.c).eq(word.chars()))
}

fn parent_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// What makes two paths the same file for loop detection.
fn identity(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// Decodes one physical line (without its `\n`). Also returns the index of
/// the first character that is not acceptable text, and why.
fn decode(raw: &[u8], file: FileId, line: u32) -> (Vec<Ch>, Option<(usize, &'static str)>) {
    let mut chars = Vec::with_capacity(raw.len());
    let mut bad = None;
    let mut col: u32 = 0;
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            col = col.saturating_add(1);
            if c == '\0' && bad.is_none() {
                bad = Some((chars.len(), "contains a NUL byte"));
            }
            chars.push(Ch { c, span: Span { file, line, col }, literal: false, differs: false });
        }
        if !chunk.invalid().is_empty() {
            col = col.saturating_add(1);
            if bad.is_none() {
                bad = Some((chars.len(), "is not valid UTF-8"));
            }
            let span = Span { file, line, col };
            chars.push(Ch { c: char::REPLACEMENT_CHARACTER, span, literal: false, differs: false });
        }
    }
    (chars, bad)
}

/// Index where a comment starts (or the length). Quotes protect `#` and
/// `!`; so does a `\` before them outside quotes (keepalived's escape).
/// Inside quotes `\` protects the next character, so `"a\"#"` is one string.
fn comment_start(text: &[Ch]) -> usize {
    let mut quote: Option<char> = None;
    let mut i = 0;
    while let Some(ch) = text.get(i) {
        match (quote, ch.c) {
            (Some(_), '\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\\') if text.get(i + 1).is_some_and(|n| matches!(n.c, '#' | '!')) => i += 1,
            (None, '"' | '\'') => quote = Some(ch.c),
            (None, '#' | '!') => return i,
            (None, _) => {}
        }
        i += 1;
    }
    text.len()
}

/// `$NAME=` at the start of `text`: the name and where the value starts.
fn definition(text: &[Ch]) -> Option<(String, usize)> {
    let (first, rest) = text.split_first()?;
    if first.c != '$' || first.literal {
        return None;
    }
    let len = rest.iter().take_while(|c| is_name_char(c.c) && !c.literal).count();
    let name = string(rest.get(..len)?);
    if !name.starts_with(is_name_start) {
        return None;
    }
    (rest.get(len)?.c == '=').then_some((name, len + 2))
}

/// `$NAME =…`: a near miss of a definition, worth a warning.
fn spaced_definition(text: &[Ch]) -> Option<String> {
    let (first, rest) = text.split_first()?;
    if first.c != '$' {
        return None;
    }
    let len = rest.iter().take_while(|c| is_name_char(c.c)).count();
    let name = string(rest.get(..len)?);
    let after = rest.get(len..)?;
    let blanks = after.iter().take_while(|c| is_blank(c.c)).count();
    let ok = name.starts_with(is_name_start) && blanks > 0 && after.get(blanks).is_some_and(|c| c.c == '=');
    ok.then_some(name)
}

/// Reads the reference starting at the `$` at `at`.
fn parse_ref(text: &[Ch], at: usize) -> Ref {
    let c = |i: usize| text.get(i).filter(|c| !c.literal).map(|c| c.c);
    let name_end = |from: usize| {
        let mut i = from;
        while c(i).is_some_and(is_name_char) {
            i += 1;
        }
        i
    };
    match c(at + 1) {
        Some('{') => {
            if !c(at + 2).is_some_and(is_name_start) {
                return Ref::Plain;
            }
            let mut i = name_end(at + 3);
            let name = string(text.get(at + 2..i).unwrap_or_default());
            let params_at = i;
            while c(i).is_some_and(|c| c == ' ' || c.is_ascii_digit()) {
                i += 1;
            }
            let raw = string(text.get(params_at..i).unwrap_or_default());
            // keepalived rejects parameters followed by a space.
            if c(i) != Some('}') || (raw.ends_with(' ') && !raw.trim().is_empty()) {
                // Keep the whole `${…}` together if it closes before a blank,
                // so its `}` does not become a brace token.
                let close = text.iter().skip(at).position(|c| c.c == '}' || is_blank(c.c)).map(|p| p + at);
                let end = match close {
                    Some(p) if text.get(p).is_some_and(|c| c.c == '}') => p + 1,
                    _ => i,
                };
                return Ref::Malformed { end: end.min(text.len()) };
            }
            Ref::Ok { name, params: raw.split_whitespace().map(String::from).collect(), end: i + 1 }
        }
        Some(first) if is_name_start(first) => {
            let end = name_end(at + 2);
            let name = string(text.get(at + 1..end).unwrap_or_default());
            match text.get(end).map(|c| c.c) {
                None | Some(' ' | '\t' | ',' | ')' | '\n') => Ref::Ok { name, params: Vec::new(), end },
                Some(next) => Ref::Unterminated { name, end, next },
            }
        }
        _ => Ref::Plain,
    }
}

/// Splits comment-free text into tokens; with `braces`, an unquoted `{` or
/// `}` is a token of its own. Also decides [`Token::verbatim`], comparing
/// with keepalived's general tokenizer (`alloc_strvec()`): blanks separate
/// words, a word starting with `"` runs to the next `"` whatever comes
/// between, any other word ends at a blank or a `"`; nothing else is
/// special.
fn tokenize(text: &[Ch], braces: bool, diags: &mut Vec<Diagnostic>) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut cur: Option<Token> = None;
    // The current token's last part is a quoted string, which ends a word
    // for keepalived.
    let mut after_quote = false;
    let mut i = 0;
    while let Some(ch) = text.get(i) {
        i += 1;
        if ch.literal {
            let tok = unquoted_part(&mut cur, &mut after_quote, ch);
            tok.text.push(ch.c);
            // Kept as written for vipd, but keepalived splits or quotes there.
            tok.verbatim &= !(is_blank(ch.c) || matches!(ch.c, '"' | '{' | '}'));
            continue;
        }
        match ch.c {
            c if is_blank(c) || c == '\n' => {
                tokens.extend(cur.take());
                after_quote = false;
            }
            '{' | '}' if braces => {
                tokens.extend(cur.take());
                after_quote = false;
                tokens.push(Token { text: ch.c.to_string(), span: ch.span, quoted: false, verbatim: !ch.differs });
            }
            '\\' if text.get(i).is_some_and(|n| matches!(n.c, '#' | '!')) => {
                if let Some(n) = text.get(i) {
                    let tok = unquoted_part(&mut cur, &mut after_quote, ch);
                    tok.text.push(n.c);
                    tok.verbatim &= !n.differs;
                }
                i += 1;
            }
            q @ ('"' | '\'') => {
                let open = i - 1;
                let joined = cur.is_some();
                let tok = cur.get_or_insert_with(|| Token {
                    text: String::new(),
                    span: ch.span,
                    quoted: true,
                    verbatim: true,
                });
                tok.quoted = true;
                let mut closed = false;
                let mut escaped = false;
                while let Some(n) = text.get(i) {
                    i += 1;
                    if n.literal {
                        tok.text.push(n.c);
                    } else if n.c == q {
                        closed = true;
                        break;
                    } else if n.c == '\\' {
                        let (next, known) = escape(text, i, &mut tok.text, n.span, diags);
                        i = next;
                        escaped |= known;
                    } else {
                        tok.text.push(n.c);
                    }
                }
                // keepalived quotes with `"` only, resolves no escape,
                // starts a quoted word only at a word's start, and ends it
                // at any `"`.
                let part = text.get(open..i).unwrap_or_default();
                tok.verbatim &= q == '"'
                    && closed
                    && !joined
                    && !escaped
                    && !part.iter().any(|c| c.differs || (c.literal && c.c == '"'));
                after_quote = true;
                if !closed {
                    diags.push(
                        Diagnostic::error(ch.span, format!("unterminated `{q}` quote"))
                            .with_hint(format!("the string runs to the end of the line; add the closing `{q}`")),
                    );
                }
            }
            c => unquoted_part(&mut cur, &mut after_quote, ch).text.push(c),
        }
    }
    tokens.extend(cur);
    // keepalived moves a `\` ending the line next to the text before it:
    // `a \` is its word `a\`.
    if let [.., before, last] = text
        && last.c == '\\'
        && !last.literal
        && is_blank(before.c)
        && let Some(t) = tokens.len().checked_sub(2).and_then(|n| tokens.get_mut(n))
    {
        t.verbatim = false;
    }
    let mut same = true;
    for t in &mut tokens {
        // keepalived cannot tell a quoted brace from a brace.
        if t.quoted && (t.text == "{" || t.text == "}") {
            t.verbatim = false;
        }
        // Once a word differs, keepalived may split the rest of the line
        // into other words.
        same &= t.verbatim;
        t.verbatim = same;
    }
    tokens
}

/// The token an unquoted character `ch` belongs to, started if need be.
fn unquoted_part<'a>(cur: &'a mut Option<Token>, after_quote: &mut bool, ch: &Ch) -> &'a mut Token {
    let tok = cur.get_or_insert_with(|| Token { text: String::new(), span: ch.span, quoted: false, verbatim: true });
    // Text right after a quoted part is a word of its own for keepalived.
    if std::mem::take(after_quote) {
        tok.verbatim = false;
    }
    tok.verbatim &= !ch.differs;
    tok
}

/// Resolves the escape whose `\` was just read inside quotes (`i` indexes
/// the character after it); returns the index after the escape and whether
/// it was a known escape (an unknown one is kept as written).
fn escape(text: &[Ch], i: usize, out: &mut String, span: Span, diags: &mut Vec<Diagnostic>) -> (usize, bool) {
    if let Some((e, used)) = known_escape(|k| text.get(i + k).map(|c| c.c)) {
        out.push(e);
        return (i + used, true);
    }
    out.push('\\');
    let Some(e) = text.get(i).map(|c| c.c) else { return (i, false) };
    diags.push(
        Diagnostic::warning(span, format!("unknown escape `\\{e}`; kept as is"))
            .with_hint("write `\\\\` for a backslash; in a script, keepalived's second pass drops the `\\`"),
    );
    out.push(e);
    (i + 1, false)
}

/// Marks the characters of a physical line (`chars`, vipd's comment
/// starting at `cut`) that keepalived 2.2.7 reads differently or not at all:
/// where its own comment stripping differs from vipd's, bytes past its
/// 1023-byte line buffer (read as a line of their own), and everything
/// after a byte order mark it keeps as part of the first word.
fn mark_keepalived_reading(chars: &mut [Ch], cut: usize, bom: bool) {
    if bom {
        mark_word_from(chars, 0);
        return;
    }
    let mut bytes = 0;
    if let Some(at) = chars.iter().position(|c| {
        bytes += c.c.len_utf8();
        bytes > KEEPALIVED_LINE_BYTES
    }) && at < cut
    {
        mark_word_from(chars, at);
    }
    // Without `\` or `'` both strip the same comment.
    if chars.iter().any(|c| matches!(c.c, '\\' | '\'')) {
        let k = keepalived_kept(chars, false);
        let v = vipd_kept(chars.get(..cut).unwrap_or_default());
        mark_difference(chars, &k, &v);
    }
}

/// Marks where keepalived's second comment stripping, on a line that had a
/// substitution, differs from vipd's reading (vipd strips comments once):
/// an unquoted `#` or `!` from `${_HASH}`, or from a `\#` keepalived had
/// already unescaped, starts a comment there.
fn mark_keepalived_redecomment(text: &mut [Ch]) {
    if text.iter().any(|c| matches!(c.c, '\\' | '\'' | '#' | '!')) {
        let k = keepalived_kept(text, true);
        let v = vipd_kept(text);
        mark_difference(text, &k, &v);
    }
}

/// The indices of `text` that keepalived 2.2.7's `decomment()` keeps, in
/// order, without blanks at either end. It knows `"` quotes only, cuts at
/// the first unquoted `#` or `!`, unescapes `\#` and `\!` outside quotes,
/// steps over the character after any other `\`, and keeps a `\` ending
/// the line (its continuation mark) right after the text before it, blanks
/// between dropped. `again`: the pass after substitution, where a `\#` the
/// first pass unescaped is a plain `#`, so a comment.
fn keepalived_kept(text: &[Ch], again: bool) -> Vec<usize> {
    let mut quote = false;
    let mut cut: Option<usize> = None;
    let mut cont = None;
    let mut unescaped = vec![false; text.len()];
    let mut i = 0;
    while let Some(ch) = text.get(i) {
        match ch.c {
            '"' if cut.is_none() => quote = !quote,
            '\\' => match text.get(i + 1) {
                None => {
                    cont = Some(i);
                    break;
                }
                Some(n) if !quote && matches!(n.c, '#' | '!') => {
                    if again {
                        cut = cut.or(Some(i));
                    } else if let Some(u) = unescaped.get_mut(i) {
                        *u = true;
                    }
                    i += 1;
                }
                Some(_) => i += 1,
            },
            '#' | '!' if !quote => cut = cut.or(Some(i)),
            _ => {}
        }
        i += 1;
    }
    let end = cut.unwrap_or(text.len()).min(cont.unwrap_or(text.len()));
    let mut kept: Vec<usize> = (0..end).filter(|&j| !unescaped.get(j).copied().unwrap_or(false)).collect();
    trim_indices(text, &mut kept);
    kept.extend(cont);
    kept
}

/// The indices of `text` vipd's tokenizer reads, without blanks at either
/// end: all but the `\` of an unquoted `\#` or `\!`.
fn vipd_kept(text: &[Ch]) -> Vec<usize> {
    let mut quote: Option<char> = None;
    let mut kept = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(ch) = text.get(i) {
        if !ch.literal {
            match (quote, ch.c) {
                (Some(_), '\\') if i + 1 < text.len() => {
                    kept.push(i);
                    i += 1;
                }
                (Some(q), c) if c == q => quote = None,
                (None, '\\') if text.get(i + 1).is_some_and(|n| matches!(n.c, '#' | '!')) => {
                    i += 1;
                    continue;
                }
                (None, c @ ('"' | '\'')) => quote = Some(c),
                _ => {}
            }
        }
        kept.push(i);
        i += 1;
    }
    trim_indices(text, &mut kept);
    kept
}

fn trim_indices(text: &[Ch], kept: &mut Vec<usize>) {
    let blank = |j: &usize| text.get(*j).is_some_and(|c| is_blank(c.c));
    while kept.last().is_some_and(blank) {
        kept.pop();
    }
    let lead = kept.iter().take_while(|j| blank(j)).count();
    kept.drain(..lead);
}

/// Marks `text` from the word where keepalived's reading `k` and vipd's
/// `v` (indices into `text`) first differ. A `\` ending the line that both
/// keep is compared as keepalived places it; the tokenizer marks the word
/// it joins.
fn mark_difference(text: &mut [Ch], k: &[usize], v: &[usize]) {
    let mut v = v.to_vec();
    if let (Some(&kc), Some(&vc)) = (k.last(), v.last())
        && kc == vc
        && text.get(kc).is_some_and(|c| c.c == '\\')
    {
        v.pop();
        trim_indices(text, &mut v);
        v.push(vc);
    }
    let first = k.iter().zip(&v).position(|(a, b)| a != b).unwrap_or(k.len().min(v.len()));
    let blank = |j: usize| text.get(j).is_some_and(|c| is_blank(c.c));
    match (k.get(first), v.get(first)) {
        (None, None) => {}
        (Some(&a), Some(&b)) => mark_word_from(text, a.min(b)),
        // keepalived stops between words: the words before read the same.
        (None, Some(&j)) if blank(j) => text.get_mut(j..).unwrap_or_default().iter_mut().for_each(|c| c.differs = true),
        (None, Some(&j)) => mark_word_from(text, j),
        // keepalived reads more words than vipd.
        (Some(&a), None) if blank(a) => {}
        // keepalived reads more of vipd's last word.
        (Some(_), None) => mark_word_from(text, v.last().map_or(0, |&j| j + 1)),
    }
}

/// Marks `text` from the start of the word holding (or ending just before)
/// index `at` to its end.
fn mark_word_from(text: &mut [Ch], at: usize) {
    let mut start = at.min(text.len());
    while start > 0 && text.get(start - 1).is_some_and(|c| !is_blank(c.c)) {
        start -= 1;
    }
    for c in text.get_mut(start..).unwrap_or_default() {
        c.differs = true;
    }
}

/// Characters in `raw`, an invalid sequence counting as one.
fn char_count(raw: &[u8]) -> usize {
    raw.utf8_chunks().map(|c| c.valid().chars().count() + usize::from(!c.invalid().is_empty())).sum()
}

/// Decodes the escape after a `\`, `c(0)` being the character after it:
/// the character it stands for and how many characters it used, or `None`
/// if it is not a known escape. Numeric escapes give a byte, which as text
/// is the Latin-1 character. `\xHH` takes at most two digits, as keepalived
/// documents (2.2.7 itself takes all following hex digits and keeps the
/// low byte).
fn known_escape(c: impl Fn(usize) -> Option<char>) -> Option<(char, usize)> {
    let e = c(0)?;
    let simple = match e {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'E' => Some('\x1b'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' | '"' | '\'' => Some(e),
        _ => None,
    };
    if let Some(s) = simple {
        return Some((s, 1));
    }
    let digits = |from: usize, max: usize, radix: u32| {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < max
            && let Some(d) = c(from + n).and_then(|d| d.to_digit(radix))
        {
            v = v * radix + d;
            n += 1;
        }
        (v, n)
    };
    match e {
        'x' => {
            let (v, n) = digits(1, 2, 16);
            (n > 0).then(|| (char::from((v & 0xff) as u8), 1 + n))
        }
        '0'..='7' => {
            let (v, n) = digits(0, 3, 8);
            // `\400`..`\777` keep their low byte, as C's char does in keepalived.
            Some((char::from((v & 0xff) as u8), n))
        }
        'c' => c(1).map(|ctl| (char::from_u32(u32::from(ctl) & 0x1f).unwrap_or('\0'), 2)),
        _ => None,
    }
}

/// csh brace expansion: `a{b,c{d,e}}f` -> `abf`, `acdf`, `acef`, in order.
fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let mut work = vec![pattern.to_string()];
    let mut steps = 0;
    while let Some(p) = work.pop() {
        let Some((open, commas, close)) = find_braces(&p)? else {
            done.push(p);
            continue;
        };
        steps += 1;
        if steps > MAX_BRACE_STEPS || work.len() + done.len() + commas.len() >= MAX_BRACE_ALTERNATIVES {
            return Err(format!("braces expand to more than {MAX_BRACE_ALTERNATIVES} patterns"));
        }
        let pre = p.get(..open).unwrap_or_default();
        let post = p.get(close + 1..).unwrap_or_default();
        let mut from = open + 1;
        let mut alts = Vec::new();
        for &to in commas.iter().chain(std::iter::once(&close)) {
            alts.push(p.get(from..to).unwrap_or_default());
            from = to + 1;
        }
        // Reversed onto a stack, so the first alternative comes out first.
        work.extend(alts.iter().rev().map(|alt| format!("{pre}{alt}{post}")));
    }
    Ok(done)
}

/// Byte offsets of the first `{`, its top-level commas and its `}`.
fn find_braces(p: &str) -> Result<Option<(usize, Vec<usize>, usize)>, String> {
    let bytes = p.as_bytes();
    let mut open = None;
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 1,
            b'{' => {
                if open.is_none() {
                    open = Some(i);
                }
                depth += 1;
            }
            b',' if depth == 1 => commas.push(i),
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Ok(open.map(|o| (o, commas, i)));
                }
            }
            _ => {}
        }
        i += 1;
    }
    if open.is_some() { Err("unbalanced `{`".into()) } else { Ok(None) }
}

/// The existing paths matching `pattern` (relative to `base` unless
/// absolute); wildcards work within each path component.
fn glob(pattern: &str, base: &Path) -> Result<Vec<PathBuf>, String> {
    let (mut cands, rest) = match pattern.strip_prefix('/') {
        Some(rest) => (vec![PathBuf::from("/")], rest),
        None => (vec![base.to_path_buf()], pattern),
    };
    for comp in rest.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp.contains(['*', '?', '[']) {
            let pat = GlobPattern::parse(comp);
            let mut next = Vec::new();
            for dir in &cands {
                let mut names: Vec<OsString> =
                    list_dir(dir).into_iter().filter(|n| pat.matches(&n.to_string_lossy())).collect();
                names.sort();
                next.extend(names.into_iter().map(|n| dir.join(n)));
                if next.len() > MAX_GLOB_MATCHES {
                    return Err(format!("matches more than {MAX_GLOB_MATCHES} paths"));
                }
            }
            cands = next;
        } else {
            let literal = unescape_glob(comp);
            for c in &mut cands {
                c.push(&literal);
            }
        }
        if cands.is_empty() {
            break;
        }
    }
    cands.retain(|p| exists(p));
    Ok(cands)
}

#[cfg(not(fuzzing))]
fn list_dir(dir: &Path) -> Vec<OsString> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    fs::read_dir(dir).map(|rd| rd.flatten().map(|e| e.file_name()).collect()).unwrap_or_default()
}

#[cfg(not(fuzzing))]
fn exists(p: &Path) -> bool {
    fs::metadata(p).is_ok()
}

// The fuzzer must never read the real file system (`include /proc/kmsg`
// would block): it matches against made-up names and finds nothing.
#[cfg(fuzzing)]
fn list_dir(_dir: &Path) -> Vec<OsString> {
    ["a.conf", ".hidden.conf", "b-1.conf", "[x]", "x"].into_iter().map(OsString::from).collect()
}

#[cfg(fuzzing)]
fn exists(_p: &Path) -> bool {
    false
}

fn unescape_glob(comp: &str) -> String {
    let mut out = String::with_capacity(comp.len());
    let mut it = comp.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => out.push(it.next().unwrap_or('\\')),
            c => out.push(c),
        }
    }
    out
}

enum GlobTok {
    Lit(char),
    Any,
    Star,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

impl GlobTok {
    fn matches(&self, c: char) -> bool {
        match self {
            GlobTok::Lit(l) => *l == c,
            GlobTok::Any => true,
            GlobTok::Star => false,
            GlobTok::Class { negated, ranges } => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated,
        }
    }
}

/// One path component of a glob: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`, `\x`.
struct GlobPattern {
    toks: Vec<GlobTok>,
}

impl GlobPattern {
    fn parse(comp: &str) -> GlobPattern {
        let chars: Vec<char> = comp.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            i += 1;
            match c {
                '\\' => {
                    toks.push(GlobTok::Lit(chars.get(i).copied().unwrap_or('\\')));
                    i += 1;
                }
                '*' => {
                    if !matches!(toks.last(), Some(GlobTok::Star)) {
                        toks.push(GlobTok::Star);
                    }
                }
                '?' => toks.push(GlobTok::Any),
                '[' => match parse_class(&chars, i) {
                    Some((tok, next)) => {
                        toks.push(tok);
                        i = next;
                    }
                    // No closing `]`: a plain `[`, as in glob(3).
                    None => toks.push(GlobTok::Lit('[')),
                },
                c => toks.push(GlobTok::Lit(c)),
            }
        }
        GlobPattern { toks }
    }

    fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // A leading `.` must be matched by a literal `.`, as in glob(3).
        if name.first() == Some(&'.') && !matches!(self.toks.first(), Some(GlobTok::Lit('.'))) {
            return false;
        }
        // Greedy match, backtracking to the last `*`: O(pattern × name).
        let (mut p, mut s) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while let Some(&c) = name.get(s) {
            match self.toks.get(p) {
                Some(GlobTok::Star) => {
                    star = Some((p, s));
                    p += 1;
                    continue;
                }
                Some(t) if t.matches(c) => {
                    p += 1;
                    s += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((sp, ss)) => {
                    star = Some((sp, ss + 1));
                    p = sp + 1;
                    s = ss + 1;
                }
                None => return false,
            }
        }
        self.toks.get(p..).unwrap_or_default().iter().all(|t| matches!(t, GlobTok::Star))
    }
}

/// A `[...]` class whose contents start at `i`; the token and the index
/// after its `]`.
fn parse_class(chars: &[char], mut i: usize) -> Option<(GlobTok, usize)> {
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && !first {
            return Some((GlobTok::Class { negated, ranges }, i + 1));
        }
        first = false;
        let lo = if c == '\\' {
            i += 1;
            *chars.get(i)?
        } else {
            c
        };
        i += 1;
        match (chars.get(i), chars.get(i + 1)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                ranges.push((lo, hi));
                i += 2;
            }
            _ => ranges.push((lo, lo)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "main";

    fn lex_as(text: &str, id: &str) -> (Vec<Line>, Vec<Diagnostic>) {
        let mut sources = Sources::default();
        let mut diags = Vec::new();
        let opts = LexOptions { config_id: id.into() };
        let lines = lex_str(Path::new("/nonexistent/vipd-lexer/k.conf"), text, &opts, &mut sources, &mut diags);
        (lines, diags)
    }

    fn lex(text: &str) -> (Vec<Line>, Vec<Diagnostic>) {
        lex_as(text, ID)
    }

    fn words(lines: &[Line]) -> Vec<Vec<&str>> {
        lines.iter().map(|l| l.tokens.iter().map(|t| t.text.as_str()).collect()).collect()
    }

    fn spans(line: &Line) -> Vec<(u32, u32)> {
        line.tokens.iter().map(|t| (t.span.line, t.span.col)).collect()
    }

    fn at(line: u32, col: u32) -> Span {
        Span { file: FileId(0), line, col }
    }

    /// Lexes `text` expecting no diagnostics.
    fn clean(text: &str) -> Vec<Line> {
        let (lines, diags) = lex(text);
        assert!(diags.is_empty(), "unexpected diagnostics: {diags:#?}");
        lines
    }

    fn has(diags: &[Diagnostic], sev: Severity, span: Span, needle: &str) -> bool {
        diags.iter().any(|d| d.severity == sev && d.span == Some(span) && d.message.contains(needle))
    }

    // ---- comments, whitespace, quotes, braces ----

    #[test]
    fn comments_anywhere() {
        let lines = clean("# top\n! bang\nrouter_id a#b\npriority 5 ! five\n   \n\t# indented\nx!y z");
        assert_eq!(words(&lines), vec![vec!["router_id", "a"], vec!["priority", "5"], vec!["x"]]);
        assert_eq!(spans(&lines[0]), vec![(3, 1), (3, 11)]);
        assert_eq!(spans(&lines[2]), vec![(7, 1)]);
    }

    #[test]
    fn backslash_protects_comment_chars() {
        let lines = clean(r"router_id a\#b\!c d");
        assert_eq!(words(&lines), vec![vec!["router_id", "a#b!c", "d"]]);
    }

    #[test]
    fn quoted_hash_and_bang_are_kept() {
        let lines = clean("router_id \"a#b!c\" # real comment\nx 'd#e'");
        assert_eq!(words(&lines), vec![vec!["router_id", "a#b!c"], vec!["x", "d#e"]]);
        let t = &lines[0].tokens[1];
        assert!(t.quoted);
        assert_eq!(t.span, at(1, 11));
        assert!(!lines[0].tokens[0].quoted);
    }

    #[test]
    fn whitespace_kinds_and_crlf() {
        let lines = clean("a\tb\x0cc  d\r\ne\r\n\r\n");
        assert_eq!(words(&lines), vec![vec!["a", "b", "c", "d"], vec!["e"]]);
        assert_eq!(spans(&lines[0]), vec![(1, 1), (1, 3), (1, 5), (1, 8)]);
        assert_eq!(spans(&lines[1]), vec![(2, 1)]);
    }

    #[test]
    fn columns_count_characters() {
        let lines = clean("név ünïcode x");
        assert_eq!(spans(&lines[0]), vec![(1, 1), (1, 5), (1, 13)]);
    }

    #[test]
    fn quotes_join_adjacent_text() {
        let lines = clean("a\"b c\"d 'x'\"y\" \"\" e");
        assert_eq!(words(&lines), vec![vec!["ab cd", "xy", "", "e"]]);
        let t = &lines[0].tokens;
        assert!(t[0].quoted && t[1].quoted && t[2].quoted && !t[3].quoted);
        assert_eq!(spans(&lines[0]), vec![(1, 1), (1, 9), (1, 16), (1, 19)]);
    }

    #[test]
    fn quotes_of_the_other_kind_are_plain() {
        let lines = clean(r#"notify "/bin/echo 'a b' c" 'say "hi"'"#);
        assert_eq!(words(&lines), vec![vec!["notify", "/bin/echo 'a b' c", "say \"hi\""]]);
    }

    #[test]
    fn escapes_in_quotes() {
        let lines = clean(r#"x "a\tb\nc\\d\"e\'f\x41\101\cAg\E\a\b\f\v\r" 'q\'r' "\x4" "\0" "\400""#);
        assert_eq!(
            words(&lines),
            vec![vec!["x", "a\tb\nc\\d\"e'fAA\x01g\x1b\x07\x08\x0c\x0b\r", "q'r", "\x04", "\0", "\0"]]
        );
    }

    #[test]
    fn escapes_outside_quotes_are_plain_text() {
        let (lines, diags) = lex(r"x a\tb c\");
        assert_eq!(words(&lines), vec![vec!["x", r"a\tb", r"c\"]]);
        // keepalived 2.2.7 gives `c\` too; a `\` there is likely a mistaken
        // line continuation.
        assert_eq!(diags.len(), 1);
        assert!(has(&diags, Severity::Warning, at(1, 9), "does not continue"));
        assert!(clean("x \"a\\\\\"").len() == 1);
    }

    #[test]
    fn unknown_escape_kept_with_warning() {
        let (lines, diags) = lex(r#"x "a\db" "\x""#);
        assert_eq!(words(&lines), vec![vec!["x", r"a\db", r"\x"]]);
        assert_eq!(diags.len(), 2);
        assert!(has(&diags, Severity::Warning, at(1, 5), "unknown escape `\\d`"));
        assert!(has(&diags, Severity::Warning, at(1, 11), "unknown escape `\\x`"));
    }

    #[test]
    fn unterminated_quote() {
        let (lines, diags) = lex("router_id \"abc def # not a comment\nnext 'x y\n");
        assert_eq!(words(&lines), vec![vec!["router_id", "abc def # not a comment"], vec!["next", "x y"]]);
        assert!(lines[0].tokens[1].quoted);
        assert_eq!(diags.len(), 2);
        assert!(has(&diags, Severity::Error, at(1, 11), "unterminated `\"` quote"));
        assert!(has(&diags, Severity::Error, at(2, 6), "unterminated `'` quote"));
    }

    #[test]
    fn braces_are_tokens() {
        let lines = clean("block{\n}x\na{b}c\n\"{\" '}'\n{}");
        assert_eq!(
            words(&lines),
            vec![vec!["block", "{"], vec!["}", "x"], vec!["a", "{", "b", "}", "c"], vec!["{", "}"], vec!["{", "}"]]
        );
        assert_eq!(spans(&lines[0]), vec![(1, 1), (1, 6)]);
        assert_eq!(spans(&lines[2]), vec![(3, 1), (3, 2), (3, 3), (3, 4), (3, 5)]);
        assert!(lines[3].tokens.iter().all(|t| t.quoted));
        assert!(lines[4].tokens.iter().all(|t| !t.quoted));
    }

    #[test]
    fn one_line_block() {
        let lines = clean("  virtual_ipaddress { 10.1.1.2 }");
        assert_eq!(words(&lines), vec![vec!["virtual_ipaddress", "{", "10.1.1.2", "}"]]);
        assert_eq!(spans(&lines[0]), vec![(1, 3), (1, 21), (1, 23), (1, 32)]);
        assert_eq!(lines[0].span(), at(1, 3));
    }

    #[test]
    fn text_policy_invalid_utf8_and_nul() {
        let mut sources = Sources::default();
        let mut diags = Vec::new();
        let bytes = b"a \xff b\nc # caf\xe9\nd \0\ne";
        let lines =
            lex_bytes(Path::new("/x/k.conf"), bytes, &LexOptions { config_id: ID.into() }, &mut sources, &mut diags);
        assert_eq!(words(&lines), vec![vec!["c"], vec!["e"]]);
        assert_eq!(diags.len(), 2);
        assert!(has(&diags, Severity::Error, at(1, 3), "not valid UTF-8"));
        assert!(has(&diags, Severity::Error, at(3, 3), "NUL"));
    }

    #[test]
    fn byte_order_mark() {
        let (lines, diags) = lex("\u{feff}global_defs {");
        assert_eq!(words(&lines), vec![vec!["global_defs", "{"]]);
        assert_eq!(spans(&lines[0]), vec![(1, 1), (1, 13)]);
        assert!(has(&diags, Severity::Error, at(1, 1), "byte order mark"));
    }

    // ---- keepalived's own reading (Token::verbatim) ----

    /// Each line's tokens with their verbatim flags.
    fn verbatim(text: &str) -> Vec<Vec<(String, bool)>> {
        let (lines, _) = lex(text);
        lines.iter().map(|l| l.tokens.iter().map(|t| (t.text.clone(), t.verbatim)).collect()).collect()
    }

    /// The second token of the last line: its text and verbatim flag.
    fn value(text: &str) -> (String, bool) {
        let lines = verbatim(text);
        let line = lines.last().expect("a line");
        assert!(line[0].1, "keyword not verbatim in {text:?}: {line:?}");
        line[1].clone()
    }

    fn v(text: &str, verbatim: bool) -> (String, bool) {
        (text.to_string(), verbatim)
    }

    /// Measured with keepalived 2.2.7 (`router_id VALUE`, `keepalived -d`):
    /// its general tokenizer knows `"` only, resolves no escape and splits
    /// `a"b c"d` into `a`, `b c`, `d`.
    #[test]
    fn verbatim_matches_keepalived_tokenizer() {
        assert_eq!(value("x plain"), v("plain", true));
        assert_eq!(value("x \"a b\""), v("a b", true));
        assert_eq!(value("x ''"), v("", false));
        assert_eq!(value("x \"\""), v("", true));
        // keepalived: `'a` then `b'`.
        assert_eq!(value("x 'a b'"), v("a b", false));
        // keepalived: `a\x41`.
        assert_eq!(value(r#"x "a\x41""#), v("aA", false));
        assert_eq!(value(r#"x "a\\b""#), v(r"a\b", false));
        assert_eq!(value(r#"x "a\"b" c"#), v("a\"b", false));
        // Unknown escapes are kept as written, as keepalived reads them.
        assert_eq!(value(r#"x "a\db""#), v(r"a\db", true));
        assert_eq!(value(r"x a\tb"), v(r"a\tb", true));
        // keepalived: `a` (then `b c`, `d`).
        assert_eq!(value(r#"x a"b c""#), v("ab c", false));
        assert_eq!(value(r#"x a"b c"d"#), v("ab cd", false));
        assert_eq!(value(r#"x "a"b"#), v("ab", false));
        assert_eq!(value(r#"x "a""b""#), v("ab", false));
        // keepalived: `'a`, its comment starting at `#`.
        assert_eq!(value("x 'a#b'"), v("a#b", false));
        assert_eq!(value("x \"a#b\" # c"), v("a#b", true));
        assert_eq!(value("x \"a!b\""), v("a!b", true));
        assert_eq!(value(r"x a\#b"), v("a#b", true));
        assert_eq!(value(r"x a\!b"), v("a!b", true));
        assert_eq!(value(r#"x "a\#b""#), v(r"a\#b", true));
        // keepalived: `a\\`, its comment starting at `#`.
        assert_eq!(value(r"x a\\#b"), v(r"a\#b", false));
        assert_eq!(value(r"x a\\\#b"), v(r"a\\#b", true));
        assert_eq!(value("x it's"), v("its", false));
        // keepalived cannot tell a quoted brace from a brace.
        assert_eq!(value("x \"{\""), v("{", false));
        assert_eq!(value("x \"{y}\""), v("{y}", true));
    }

    #[test]
    fn verbatim_words_after_a_differing_one() {
        assert_eq!(verbatim("x 'a' b c"), vec![vec![v("x", true), v("a", false), v("b", false), v("c", false)]]);
        assert_eq!(verbatim("x \"a\" b"), vec![vec![v("x", true), v("a", true), v("b", true)]]);
        assert_eq!(
            verbatim("x { 'a' }\ny"),
            vec![vec![v("x", true), v("{", true), v("a", false), v("}", false)], vec![v("y", true)]]
        );
        // keepalived moves a line-ending `\` next to the word before it and
        // keeps it when a comment comes first: `a\` both times.
        let (lines, _) = lex("x a \\\ny a # c \\\nz a\\");
        let got: Vec<Vec<(String, bool)>> =
            lines.iter().map(|l| l.tokens.iter().map(|t| (t.text.clone(), t.verbatim)).collect()).collect();
        assert_eq!(
            got,
            vec![
                vec![v("x", true), v("a", false), v("\\", false)],
                vec![v("y", true), v("a", false)],
                vec![v("z", true), v("a\\", true)]
            ]
        );
    }

    /// keepalived strips comments again after substituting, after having
    /// unescaped `\#` (measured).
    #[test]
    fn verbatim_after_substitution() {
        // keepalived: `a`.
        assert_eq!(value("$A=a\\#b\nx $A"), v("a#b", false));
        assert_eq!(value("$X=1\nx a\\#b $X"), v("a#b", false));
        assert_eq!(verbatim("$X=1\nx $X a\\#b"), vec![vec![v("x", true), v("1", true), v("a#b", false)]]);
        assert_eq!(value("$A=\"a\\#b\"\nx $A"), v(r"a\#b", true));
        assert_eq!(value("$A=\"a b\"\nx $A"), v("a b", true));
        assert_eq!(value("$A=v\nx ${A}w"), v("vw", true));
        assert_eq!(value("$A='a#b'\nx $A"), v("a#b", false));
        assert_eq!(value("$A=a\\\\#b\nx $A"), v(r"a\#b", false));
        assert_eq!(value("x \"a${_HASH}b\""), v("a#b", true));
        assert_eq!(verbatim("x a${_HASH}b c"), vec![vec![v("x", true), v("a#b", false), v("c", false)]]);
        assert_eq!(verbatim("x a ${_BANG}b"), vec![vec![v("x", true), v("a", true), v("!b", false)]]);
        // An undefined `${Y}` stays; keepalived splits its braces off.
        assert_eq!(value("x a${Y}b"), v("a${Y}b", false));
        assert_eq!(value("x \"a${Y}b\""), v("a${Y}b", true));
        // keepalived garbles what follows `${_RANDOM MIN MAX}`.
        assert_eq!(value("x ${_RANDOM 5 5}"), v("5", true));
        assert_eq!(value("x ${_RANDOM 5 5}y"), v("5y", false));
        let (lines, diags) = lex("x ${_RANDOM 5 5} y");
        assert_eq!(lines[0].tokens.iter().map(|t| t.verbatim).collect::<Vec<_>>(), vec![true, true, false]);
        assert!(has(&diags, Severity::Warning, at(1, 3), "garbles"));
    }

    #[test]
    fn verbatim_line_buffer_and_bom() {
        // keepalived reads bytes past the first 1023 of a line as a new line.
        let fits = format!("x {}", "a".repeat(1021));
        assert_eq!(value(&fits), (fits[2..].to_string(), true));
        let long = format!("x {} y", "a".repeat(1022));
        let lines = verbatim(&long);
        assert_eq!(lines[0].iter().map(|t| t.1).collect::<Vec<_>>(), vec![true, false, false]);
        let lines = verbatim(&format!("x # {}\ny", "c".repeat(2000)));
        assert_eq!(lines, vec![vec![v("x", true)], vec![v("y", true)]]);
        // keepalived keeps a byte order mark as part of the first word.
        let lines = verbatim("\u{feff}global_defs {\nx");
        assert_eq!(lines, vec![vec![v("global_defs", false), v("{", false)], vec![v("x", true)]]);
    }

    // ---- conditionals ----

    #[test]
    fn conditionals_select_by_config_id() {
        let text = "@main priority 200\n@backup priority 100\n@^main state BACKUP\n  @^backup state MASTER\nall";
        let (main, d1) = lex_as(text, "main");
        let (backup, d2) = lex_as(text, "backup");
        let (other, d3) = lex_as(text, "other");
        assert!(d1.is_empty() && d2.is_empty() && d3.is_empty());
        assert_eq!(words(&main), vec![vec!["priority", "200"], vec!["state", "MASTER"], vec!["all"]]);
        assert_eq!(words(&backup), vec![vec!["priority", "100"], vec!["state", "BACKUP"], vec!["all"]]);
        assert_eq!(words(&other), vec![vec!["state", "BACKUP"], vec!["state", "MASTER"], vec!["all"]]);
        assert_eq!(spans(&main[0]), vec![(1, 7), (1, 16)]);
        assert_eq!(spans(&main[1]), vec![(4, 12), (4, 18)]);
    }

    #[test]
    fn conditional_before_definition() {
        let text = "@main $PRIO=240\n@^main $PRIO=100\npriority $PRIO";
        let (main, d1) = lex_as(text, "main");
        let (backup, d2) = lex_as(text, "backup");
        assert!(d1.is_empty() && d2.is_empty());
        assert_eq!(words(&main), vec![vec!["priority", "240"]]);
        assert_eq!(words(&backup), vec![vec!["priority", "100"]]);
    }

    #[test]
    fn conditional_oddities() {
        let (lines, diags) = lex("@main\n@ x y\n@main # only a comment\n@mainx a");
        assert!(lines.is_empty());
        assert_eq!(diags.len(), 3);
        assert!(has(&diags, Severity::Warning, at(1, 1), "nothing after its id"));
        assert!(has(&diags, Severity::Error, at(2, 1), "config id"));
        assert!(has(&diags, Severity::Warning, at(3, 1), "nothing after its id"));
    }

    #[test]
    fn conditional_produced_by_substitution() {
        let text = "$ONLY_MAIN=@main\n$ONLY_MAIN priority 1\n$ONLY_MAIN\tpriority 2";
        assert_eq!(words(&lex_as(text, "main").0), vec![vec!["priority", "1"], vec!["priority", "2"]]);
        assert!(lex_as(text, "backup").0.is_empty());
    }

    // ---- parameters ----

    #[test]
    fn parameter_with_spaces_makes_several_tokens() {
        let lines = clean("$ADDRS=10.0.0.1 10.0.0.2   # two\nvirtual_ipaddress { $ADDRS }");
        assert_eq!(words(&lines), vec![vec!["virtual_ipaddress", "{", "10.0.0.1", "10.0.0.2", "}"]]);
        assert_eq!(spans(&lines[0]), vec![(2, 1), (2, 19), (2, 21), (2, 21), (2, 28)]);
    }

    #[test]
    fn braced_parameter_inside_a_word() {
        let lines = clean("$N=7\ninterface eth${N}.10\nx \"id ${N}\" $N,$N) a${N}");
        assert_eq!(words(&lines), vec![vec!["interface", "eth7.10"], vec!["x", "id 7", "7,7)", "a7"]]);
        assert_eq!(spans(&lines[0]), vec![(2, 1), (2, 11)]);
    }

    #[test]
    fn parameter_value_is_re_tokenized() {
        let lines = clean("$S=\"a b\" {c\nx $S");
        assert_eq!(words(&lines), vec![vec!["x", "a b", "{", "c"]]);
        assert!(lines[0].tokens[1].quoted);
        assert!(lines[0].tokens.iter().skip(1).all(|t| t.span == at(2, 3)));
    }

    #[test]
    fn parameter_substitution_is_recursive_and_at_use_time() {
        let (lines, diags) = lex("x $A\n$A=${B}-$C and\n$B=b\n$C=${B}c\ny $A\n$B=B\nz $A");
        assert_eq!(words(&lines), vec![vec!["x", "$A"], vec!["y", "b-bc", "and"], vec!["z", "B-Bc", "and"]]);
        assert_eq!(diags.len(), 1);
        assert!(has(&diags, Severity::Warning, at(1, 3), "undefined parameter `A`"));
        assert_eq!(spans(&lines[1]), vec![(5, 1), (5, 3), (5, 3)]);
    }

    #[test]
    fn substitution_depth_limit() {
        // 16 nested levels work; the 17th is a loop.
        let mut ok = String::new();
        for i in 1..16 {
            ok.push_str(&format!("$P{i}=$P{}\n", i + 1));
        }
        ok.push_str("$P16=deep\nx $P1\n");
        assert_eq!(words(&clean(&ok)), vec![vec!["x", "deep"]]);

        let too_deep = ok.replace("$P16=deep", "$P16=$P17\n$P17=deeper");
        let (lines, diags) = lex(&too_deep);
        assert!(lines.is_empty());
        assert_eq!(diags.len(), 1);
        assert!(has(&diags, Severity::Error, at(18, 3), "parameter substitution loop"));
    }

    #[test]
    fn substitution_loops_are_errors() {
        let (lines, diags) = lex("$A=$A\n$B=x $C\n$C=$B\n1 $A\n2 $B\n3");
        assert_eq!(words(&lines), vec![vec!["3"]]);
        assert_eq!(diags.len(), 2);
        assert!(has(&diags, Severity::Error, at(4, 3), "parameter substitution loop"));
        assert!(has(&diags, Severity::Error, at(5, 3), "parameter substitution loop"));
    }

    #[test]
    fn exponential_substitution_is_stopped() {
        let (lines, diags) = lex("$A=$A $A $A $A\nx $A\ny");
        assert_eq!(words(&lines), vec![vec!["y"]]);
        assert_eq!(diags.len(), 1);
        assert!(has(&diags, Severity::Error, at(2, 3), "longer than"));
    }

    #[test]
    fn undefined_parameters_are_kept_with_a_warning() {
        let (lines, diags) = lex("a $X ${Y} b${Z}c\nscript \"echo $1 $$ ${ x}\"");
        assert_eq!(words(&lines), vec![vec!["a", "$X", "${Y}", "b${Z}c"], vec!["script", "echo $1 $$ ${ x}"]]);
        assert_eq!(diags.len(), 3);
        assert!(has(&diags, Severity::Warning, at(1, 3), "undefined parameter `X`"));
        assert!(has(&diags, Severity::Warning, at(1, 6), "undefined parameter `Y`"));
        assert!(has(&diags, Severity::Warning, at(1, 12), "undefined parameter `Z`"));
    }

    #[test]
    fn bare_name_needs_a_keepalived_terminator() {
        // All measured with keepalived 2.2.7, including `"a $X"` -> `a $X`.
        let (lines, diags) = lex("$DIR=/etc\nscript $DIR/x.sh\nother $HOME/bin\nnotify \"a $DIR\" \"b ${DIR}\"");
        assert_eq!(
            words(&lines),
            vec![vec!["script", "$DIR/x.sh"], vec!["other", "$HOME/bin"], vec!["notify", "a $DIR", "b /etc"]]
        );
        assert_eq!(diags.len(), 3);
        assert!(has(&diags, Severity::Warning, at(4, 11), "`$DIR` followed by `\"` is not substituted"));
        assert!(has(&diags, Severity::Warning, at(2, 8), "`$DIR` followed by `/` is not substituted"));
        assert!(has(&diags, Severity::Warning, at(3, 7), "undefined parameter `HOME`"));
    }

    #[test]
    fn repeated_diagnostics_from_one_use_are_reported_once() {
        let (lines, diags) = lex("$A=$U $U \"\\d\" \"\\d\"\nx $A $A\ny $A");
        assert_eq!(
            words(&lines),
            vec![vec!["x", "$U", "$U", "\\d", "\\d", "$U", "$U", "\\d", "\\d"], vec!["y", "$U", "$U", "\\d", "\\d"]]
        );
        assert_eq!(diags.len(), 6, "{diags:#?}");
        for span in [at(2, 3), at(2, 6), at(3, 3)] {
            assert!(has(&diags, Severity::Warning, span, "undefined parameter `U`"));
            assert!(has(&diags, Severity::Warning, span, "unknown escape"));
        }
    }

    #[test]
    fn malformed_references() {
        let (lines, diags) = lex("$F=1\na ${F:-x} ${F 1} b");
        assert_eq!(words(&lines), vec![vec!["a", "${F:-x}", "${F 1}", "b"]]);
        assert_eq!(diags.len(), 2);
        assert!(has(&diags, Severity::Warning, at(2, 3), "malformed parameter reference `${F:-x}`"));
        assert!(has(&diags, Severity::Warning, at(2, 11), "takes no arguments"));
    }

    #[test]
    fn spaced_definition_is_not_a_definition() {
        let (lines, diags) = lex("$X =1");
        assert_eq!(words(&lines), vec![vec!["$X", "=1"]]);
        assert!(has(&diags, Severity::Warning, at(1, 1), "not a parameter definition"));
        assert!(has(&diags, Severity::Warning, at(1, 1), "undefined parameter `X`"));
    }

    #[test]
    fn definition_values() {
        let lines = clean("  $E=\n$Q=\"a # b\" # c\n$W=  v w  \nx[${E}] $Q $W");
        assert_eq!(words(&lines), vec![vec!["x[]", "a # b", "v", "w"]]);
    }

    #[test]
    fn multi_line_definition() {
        let text = "$BLOCK=vrrp_instance VI_1 { \\\n   state MASTER   \\\n  # a comment is a blank line? no: it ends here\n}\n$BLOCK\nafter";
        // keepalived ends the definition at a line that is empty after its
        // comment is cut, so the `}` line is an ordinary line.
        let lines = clean(text);
        assert_eq!(
            words(&lines),
            vec![vec!["}"], vec!["vrrp_instance", "VI_1", "{"], vec!["state", "MASTER"], vec!["after"]]
        );
        assert_eq!(spans(&lines[2]), vec![(5, 1), (5, 1)]);

        let text = "$IPS=\\\n 10.0.0.1 \\\n 10.0.0.2\nvirtual_ipaddress {\n  $IPS\n}";
        let lines = clean(text);
        assert_eq!(words(&lines), vec![vec!["virtual_ipaddress", "{"], vec!["10.0.0.1"], vec!["10.0.0.2"], vec!["}"]]);
    }

    #[test]
    fn multi_line_parameter_must_end_its_line() {
        let (lines, diags) = lex("$M=a \\\nb\nx $M y\nz ${M}");
        assert_eq!(words(&lines), vec![vec!["x", "$M", "y"], vec!["z", "a"], vec!["b"]]);
        assert_eq!(diags.len(), 1);
        assert!(has(&diags, Severity::Error, at(3, 3), "multi-line parameter `M`"));
    }

    #[test]
    fn hash_and_bang_parameters() {
        let lines = clean("router_id \"x${_HASH}y${_BANG}z\"\n$C=\"${_HASH}\"\nc $C 'a${_BANG}'");
        assert_eq!(words(&lines), vec![vec!["router_id", "x#y!z"], vec!["c", "#", "a!"]]);

        // Unquoted, keepalived 2.2.7 starts a comment there (measured).
        let (lines, diags) = lex("router_id x${_HASH}y $_BANG\n$H=${_HASH}\nr${H}s");
        assert_eq!(words(&lines), vec![vec!["router_id", "x#y", "!"], vec!["r#s"]]);
        assert_eq!(diags.len(), 3);
        assert!(has(&diags, Severity::Warning, at(1, 12), "unquoted `${_HASH}` starts a comment"));
        assert!(has(&diags, Severity::Warning, at(1, 22), "unquoted `${_BANG}`"));
        assert!(has(&diags, Severity::Warning, at(3, 2), "unquoted `${_HASH}`"));
    }

    #[test]
    fn predefined_parameters() {
        let (lines, diags) = lex_as("a ${_PWD} ${_INSTANCE} $_INSTANCE\n$_PWD=mine\nb $_PWD", "node1");
        assert!(diags.is_empty(), "{diags:#?}");
        assert_eq!(words(&lines), vec![vec!["a", "/nonexistent/vipd-lexer", "node1", "node1"], vec!["b", "mine"]]);
    }

    #[test]
    fn random_parameter() {
        let text = "a ${_RANDOM}\nb ${_RANDOM 5 5}\nc ${_RANDOM 10 12}\nd ${_RANDOM 32767}\ne ${_RANDOM 9 1}\nf ${_RANDOM 1 2 3}";
        for _ in 0..20 {
            let (lines, diags) = lex(text);
            let n = |i: usize| lines[i].tokens[1].text.parse::<u32>().unwrap();
            assert!(n(0) <= 32767);
            assert_eq!(n(1), 5);
            assert!((10..=12).contains(&n(2)));
            assert_eq!(n(3), 32767);
            assert_eq!(words(&lines[4..]), vec![vec!["e", "${_RANDOM 9 1}"], vec!["f", "${_RANDOM 1 2 3}"]]);
            assert_eq!(diags.len(), 2);
            assert!(has(&diags, Severity::Error, at(5, 3), "greater than MAX"));
            assert!(has(&diags, Severity::Error, at(6, 3), "at most two"));
        }
    }

    #[test]
    fn seq_is_not_supported() {
        let (lines, diags) = lex("~SEQ(i, 1, 3) x $i\n@main ~SEQx(i,1,2) y\n~LST(a,b) z\n~other");
        assert_eq!(words(&lines), vec![vec!["~other"]]);
        assert_eq!(diags.len(), 3);
        assert!(has(&diags, Severity::Error, at(1, 1), "`~SEQ` expansion is not supported by vipd"));
        assert!(has(&diags, Severity::Error, at(2, 7), "`~SEQx` expansion"));
        assert!(has(&diags, Severity::Error, at(3, 1), "`~LST` expansion"));
    }

    fn script_argv(text: &str) -> Vec<String> {
        let lines = clean(text);
        let script = lines.last().and_then(|l| l.tokens.get(1)).unwrap();
        split_argv(&script.text).unwrap()
    }

    /// File text -> argv, as keepalived 2.2.7 ran it (`keepalived -d`):
    /// the config token's escapes, then the script split's.
    #[test]
    fn scripts_match_keepalived() {
        assert_eq!(
            script_argv(r#"script "/bin/echo a\\\\b 'q\\'r' \"dq x\" x\\ y \\d""#),
            vec!["/bin/echo", r"a\b", "q'r", "dq x", "x y", "d"]
        );
        assert_eq!(script_argv(r#"script "/bin/echo \x4 \101 \cA \n""#), vec!["/bin/echo", "\x04", "A", "\x01"]);
        assert_eq!(script_argv(r#"script "/bin/echo a'b c'd""#), vec!["/bin/echo", "ab cd"]);
        assert_eq!(
            script_argv(r#"script "/bin/echo a\x41 'c d' e\\x41 'x\x41y'""#),
            vec!["/bin/echo", "aA", "c d", "eA", "xAy"]
        );
        // keepalived's man page example. Its documented escapes give
        // ` spaces file `; 2.2.7 itself reads `\x20f` as one hex escape.
        let text = concat!(
            "$SG_NAME=SG1\n$INST=low\n$USER=user\n",
            r#"notify_master "/etc/keepalived/notify_event.sh ' spaces\\x20f\x69le ' '\"s p a c e \"' ${SG_NAME}.$INST master" $USER group"#
        );
        let lines = clean(text);
        let t = &lines[0].tokens;
        assert_eq!(t.len(), 4);
        assert_eq!((t[2].text.as_str(), t[3].text.as_str()), ("user", "group"));
        assert_eq!(
            split_argv(&t[1].text).unwrap(),
            vec!["/etc/keepalived/notify_event.sh", " spaces file ", "\"s p a c e \"", "SG1.low", "master"]
        );
    }

    // ---- split_argv ----

    #[test]
    fn split_argv_cases() {
        assert_eq!(split_argv("/bin/echo 'a b' c").unwrap(), vec!["/bin/echo", "a b", "c"]);
        assert_eq!(split_argv("  /bin/echo \"a b\"\tc  ").unwrap(), vec!["/bin/echo", "a b", "c"]);
        assert_eq!(
            split_argv(r#"x "a \"q\" \\ $" 'it\'s' b\ c \d"#).unwrap(),
            vec!["x", r#"a "q" \ $"#, "it's", "b c", "d"]
        );
        assert_eq!(split_argv(r"'x\x41y' \101\t").unwrap(), vec!["xAy", "A\t"]);
        assert_eq!(split_argv("a'b'\"c\"d '' \"\"").unwrap(), vec!["abcd", "", ""]);
        assert_eq!(split_argv("a\nb").unwrap(), vec!["a", "b"]);
        assert_eq!(split_argv("").unwrap(), Vec::<String>::new());
        assert_eq!(split_argv("   ").unwrap(), Vec::<String>::new());
        assert_eq!(split_argv("echo 'a b").unwrap_err(), "unterminated `'` quote");
        assert_eq!(split_argv("echo \"a b").unwrap_err(), "unterminated `\"` quote");
        assert!(split_argv("echo \"a\\").is_err());
        assert!(split_argv("echo a\\").is_err());
    }

    // ---- glob and braces ----

    #[test]
    fn glob_patterns() {
        let m = |p: &str, n: &str| GlobPattern::parse(p).matches(n);
        assert!(m("*.conf", "a.conf"));
        assert!(!m("*.conf", "a.conf.bak"));
        assert!(!m("*.conf", ".hidden.conf"));
        assert!(m(".*.conf", ".hidden.conf"));
        assert!(!m("?a", ".a"));
        assert!(m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("[abc]x", "bx") && !m("[abc]x", "dx"));
        assert!(m("[a-c][!0-9]", "bz") && !m("[a-c][!0-9]", "b5"));
        assert!(m("[^a]", "b") && !m("[^a]", "a"));
        assert!(m("[]]", "]") && m("[!]]", "a"));
        assert!(m("[a-]", "-"));
        assert!(m("a[", "a[") && m("\\*", "*") && !m("\\*", "x"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx") && !m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("**", "") && m("*", "anything"));
        assert!(m("é?", "éü"));
    }

    #[test]
    fn brace_expansion() {
        assert_eq!(expand_braces("a{b,c{d,e}}f").unwrap(), vec!["abf", "acdf", "acef"]);
        assert_eq!(expand_braces("{x,y}{1,2}").unwrap(), vec!["x1", "x2", "y1", "y2"]);
        assert_eq!(expand_braces("{,a}b").unwrap(), vec!["b", "ab"]);
        assert_eq!(expand_braces("plain}").unwrap(), vec!["plain}"]);
        assert_eq!(expand_braces(r"\{a,b}").unwrap(), vec![r"\{a,b}"]);
        assert!(expand_braces("a{b,c").is_err());
        assert!(expand_braces(&"{a,b}".repeat(9)).is_err());
        assert!(expand_braces(&"{a}".repeat(2000)).is_ok());
    }

    // ---- includes ----

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("vipd-lexer-{}-{name}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn write(&self, rel: &str, text: &str) -> PathBuf {
            let p = self.0.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, text).unwrap();
            p
        }

        fn read(&self, rel: &str) -> (Vec<Line>, Vec<Diagnostic>, Sources) {
            let mut sources = Sources::default();
            let mut diags = Vec::new();
            let lines = read_config(&self.0.join(rel), &LexOptions { config_id: ID.into() }, &mut sources, &mut diags);
            (lines, diags, sources)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn include_relative_path() {
        let t = TempDir::new("rel");
        t.write("k.conf", "before\ninclude sub/a.conf\nafter $V");
        t.write("sub/a.conf", "# included\n$V=from_a\n  in_a 1\ninclude b.conf");
        t.write("sub/b.conf", "in_b ${_PWD}");
        let (lines, diags, sources) = t.read("k.conf");
        assert!(diags.is_empty(), "{diags:#?}");
        let sub = t.0.join("sub").display().to_string();
        assert_eq!(
            words(&lines),
            vec![vec!["before"], vec!["in_a", "1"], vec!["in_b", sub.as_str()], vec!["after", "from_a"]]
        );
        assert_eq!(sources.len(), 3);
        assert_eq!(sources.path(lines[1].span().file), t.0.join("sub/a.conf"));
        assert_eq!(lines[1].tokens[0].span, Span { file: FileId(1), line: 3, col: 3 });
        assert_eq!(lines[2].tokens[0].span, Span { file: FileId(2), line: 1, col: 1 });
        assert_eq!(lines[3].tokens[1].span, Span { file: FileId(0), line: 3, col: 7 });
    }

    #[test]
    fn include_glob_sorted_and_hidden_skipped() {
        let t = TempDir::new("glob");
        t.write("k.conf", "includea conf.d/*.conf\nincluder \"/dev/null/none\" ! comment");
        for name in ["b.conf", "a.conf", "c.conf", ".hidden.conf", "d.txt", "a-b.conf"] {
            t.write(&format!("conf.d/{name}"), &format!("file {name}"));
        }
        fs::create_dir_all(t.0.join("conf.d/dir.conf")).unwrap();
        let (lines, diags, _) = t.read("k.conf");
        assert_eq!(
            words(&lines),
            vec![vec!["file", "a-b.conf"], vec!["file", "a.conf"], vec!["file", "b.conf"], vec!["file", "c.conf"]]
        );
        assert_eq!(diags.len(), 2, "{diags:#?}");
        assert!(has(&diags, Severity::Warning, Span { file: FileId(0), line: 1, col: 1 }, "is a directory"));
        assert!(has(&diags, Severity::Error, Span { file: FileId(0), line: 2, col: 10 }, "without quotes"));
    }

    #[test]
    fn include_braces_and_wildcard_directories() {
        let t = TempDir::new("braces");
        t.write("k.conf", "include {z,x}.conf\ninclude */in.conf\ninclude /nonexistent-vipd/{p,q}.conf");
        t.write("x.conf", "x");
        t.write("z.conf", "z");
        t.write("d2/in.conf", "d2");
        t.write("d1/in.conf", "d1");
        let (lines, diags, _) = t.read("k.conf");
        assert_eq!(words(&lines), vec![vec!["z"], vec!["x"], vec!["d1"], vec!["d2"]]);
        assert_eq!(diags.len(), 1);
        assert!(has(&diags, Severity::Error, Span { file: FileId(0), line: 3, col: 9 }, "no file matches"));
    }

    #[test]
    fn include_missing_and_malformed() {
        let t = TempDir::new("missing");
        t.write("k.conf", "include nothere.conf\ninclude\ninclude a b\ninclude {a,b\nx");
        let (lines, diags, _) = t.read("k.conf");
        assert_eq!(words(&lines), vec![vec!["x"]]);
        let f = FileId(0);
        assert_eq!(diags.len(), 4);
        assert!(has(
            &diags,
            Severity::Error,
            Span { file: f, line: 1, col: 9 },
            "include `nothere.conf`: no file matches"
        ));
        assert!(has(&diags, Severity::Error, Span { file: f, line: 2, col: 1 }, "needs a file name"));
        assert!(has(&diags, Severity::Error, Span { file: f, line: 3, col: 11 }, "one file pattern"));
        assert!(has(&diags, Severity::Error, Span { file: f, line: 4, col: 9 }, "unbalanced"));
    }

    #[test]
    fn include_loop_is_an_error() {
        let t = TempDir::new("loop");
        t.write("a.conf", "a1\ninclude b.conf\na2");
        t.write("b.conf", "b1\n  include a.conf\nb2");
        let (lines, diags, _) = t.read("a.conf");
        assert_eq!(words(&lines), vec![vec!["a1"], vec!["b1"], vec!["b2"], vec!["a2"]]);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(has(
            &diags,
            Severity::Error,
            Span { file: FileId(1), line: 2, col: 3 },
            "include loop: a.conf -> b.conf -> a.conf"
        ));
    }

    #[test]
    fn include_twice_is_fine() {
        let t = TempDir::new("twice");
        t.write("k.conf", "include c.conf\ninclude ./c.conf");
        t.write("c.conf", "common");
        let (lines, diags, sources) = t.read("k.conf");
        assert!(diags.is_empty(), "{diags:#?}");
        assert_eq!(words(&lines), vec![vec!["common"], vec!["common"]]);
        assert_eq!(lines[0].span().file, lines[1].span().file);
        assert_eq!(sources.len(), 2);
    }

    #[test]
    fn include_nesting_depth_limit() {
        let t = TempDir::new("depth");
        let n = MAX_INCLUDE_DEPTH + 5;
        for i in 0..n {
            t.write(&format!("f{i}.conf"), &format!("level {i}\ninclude f{}.conf", i + 1));
        }
        let (lines, diags, _) = t.read("f0.conf");
        // The top file plus MAX_INCLUDE_DEPTH nested ones are read.
        assert_eq!(lines.len(), MAX_INCLUDE_DEPTH + 1);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(diags[0].message.contains("nested more than 32 deep"));
    }

    #[test]
    fn include_fan_out_is_bounded() {
        let t = TempDir::new("fanout");
        for i in 0..20 {
            t.write(&format!("f{i}.conf"), &format!("include f{0}.conf\ninclude f{0}.conf", i + 1));
        }
        t.write("f20.conf", "leaf");
        let (lines, diags, _) = t.read("f0.conf");
        // Leaves give one line each; about half of the files read are leaves.
        assert!((1000..MAX_FILES_READ).contains(&lines.len()), "{}", lines.len());
        assert!(!diags.is_empty());
        assert!(diags.iter().all(|d| d.message.contains("configuration files read")));
    }

    /// keepalived 2.2.7 recognises include lines after conditionals and
    /// substitution (measured with `keepalived -t`).
    #[test]
    fn include_after_conditionals_and_substitution() {
        let t = TempDir::new("subst");
        t.write(
            "k.conf",
            "$F=x.conf\ninclude $F\n@main include y.conf\n@^main include z.conf\n$INC=include y.conf\n$INC\n\
             $ML=include x.conf \\\ninclude {y,x}.conf\n$ML\nend",
        );
        t.write("x.conf", "x");
        t.write("y.conf", "y");
        t.write("z.conf", "z");
        let (lines, diags, _) = t.read("k.conf");
        assert!(diags.is_empty(), "{diags:#?}");
        assert_eq!(words(&lines), vec![vec!["x"], vec!["y"], vec!["y"], vec!["x"], vec!["y"], vec!["x"], vec!["end"]]);
    }

    #[test]
    fn include_inside_a_pending_definition_does_not_steal_it() {
        // `$ML`'s first line is `$D=a \\`: expanding it leaves `$D` waiting
        // for continuation lines while the include on `$ML`'s second line
        // is read; x.conf's lines must stay lines of their own.
        let t = TempDir::new("pending");
        t.write("k.conf", "$ML=$D=a \\\\ \\\ninclude x.conf\n$ML\nc\n$D");
        t.write("x.conf", "x1\nx2");
        let (lines, diags, _) = t.read("k.conf");
        assert_eq!(words(&lines), vec![vec!["x1"], vec!["x2"], vec!["a", "\\"], vec!["c"]]);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(diags[0].message.contains("does not continue"));
    }

    #[test]
    fn unreadable_files() {
        let t = TempDir::new("unreadable");
        let x = t.write("x.conf", "x");
        fs::set_permissions(&x, fs::Permissions::from_mode(0o755)).unwrap();
        t.write("k.conf", "include x.conf\nk");
        let (lines, diags, _) = t.read("k.conf");
        assert_eq!(words(&lines), vec![vec!["k"]]);
        assert!(has(&diags, Severity::Error, Span { file: FileId(0), line: 1, col: 1 }, "is executable"));

        let (lines, diags, _) = t.read("x.conf");
        assert!(lines.is_empty());
        assert_eq!(diags.len(), 1);
        assert!(diags[0].span.is_none() && diags[0].message.contains("is executable"));

        let (lines, diags, sources) = t.read("none.conf");
        assert!(lines.is_empty() && sources.is_empty());
        assert_eq!(diags.len(), 1);
        assert!(diags[0].span.is_none() && diags[0].message.starts_with("cannot read"));
    }

    #[test]
    fn file_size_limit() {
        let t = TempDir::new("size");
        let big = t.write("big.conf", "");
        fs::File::options().write(true).open(&big).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
        let edge = t.write("edge.conf", "");
        fs::File::options().write(true).open(&edge).unwrap().set_len(MAX_FILE_BYTES).unwrap();
        t.write("k.conf", "include big.conf\nk");
        let (lines, diags, _) = t.read("big.conf");
        assert!(lines.is_empty());
        assert_eq!(diags.len(), 1);
        assert!(diags[0].span.is_none() && diags[0].message.contains("file larger than 16 MiB"));
        let (lines, diags, _) = t.read("k.conf");
        assert_eq!(words(&lines), vec![vec!["k"]]);
        assert_eq!(diags.len(), 1);
        assert!(has(&diags, Severity::Error, Span { file: FileId(0), line: 1, col: 1 }, "file larger than 16 MiB"));
        // Exactly 16 MiB is read (one line of NUL bytes: an error).
        let (_, diags, _) = t.read("edge.conf");
        assert!(diags.iter().all(|d| !d.message.contains("larger")));
    }

    #[test]
    fn endless_files_stop_at_the_size_limit() {
        let started = std::time::Instant::now();
        let mut sources = Sources::default();
        let mut diags = Vec::new();
        let opts = LexOptions { config_id: ID.into() };
        let lines = read_config(Path::new("/dev/zero"), &opts, &mut sources, &mut diags);
        assert!(lines.is_empty());
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("file larger than 16 MiB"), "{diags:#?}");
        if Path::new("/proc/self/pagemap").exists() {
            let t = TempDir::new("pagemap");
            t.write("k.conf", "include /proc/self/pagemap\nk");
            let (lines, diags, _) = t.read("k.conf");
            assert_eq!(words(&lines), vec![vec!["k"]]);
            assert_eq!(diags.len(), 1, "{diags:#?}");
            assert!(diags[0].message.contains("file larger than 16 MiB"), "{diags:#?}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    // ---- robustness ----

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn random_bytes_do_not_panic() {
        let mut s = 0x9e37_79b9_7f4a_7c15;
        let bytes: Vec<u8> = (0..1 << 20).map(|_| xorshift(&mut s) as u8).collect();
        let mut sources = Sources::default();
        let mut diags = Vec::new();
        let opts = LexOptions { config_id: ID.into() };
        let lines = lex_bytes(Path::new("/nonexistent/vipd-lexer/r.conf"), &bytes, &opts, &mut sources, &mut diags);
        assert!(lines.iter().all(|l| !l.tokens.is_empty()));
    }

    #[test]
    fn random_config_like_text_does_not_panic() {
        const ALPHABET: &[u8] = b"$$${}{}\"'#!@^\\ \t\n\nabAB_=,)~SEQinclude*?[]-0123456789";
        let mut s = 0x1234_5678_9abc_def1;
        let bytes: Vec<u8> =
            (0..1 << 20).map(|_| ALPHABET[(xorshift(&mut s) % ALPHABET.len() as u64) as usize]).collect();
        let text = String::from_utf8(bytes).unwrap();
        let (lines, _) = lex(&text);
        assert!(lines.iter().all(|l| !l.tokens.is_empty()));
        for chunk in text.as_bytes().chunks(97) {
            let _ = split_argv(std::str::from_utf8(chunk).unwrap());
        }
    }

    #[test]
    fn long_lines_are_dropped() {
        let at_limit = format!("a {}", "é".repeat(MAX_LINE_CHARS - 2));
        let over = format!("b {}", "x".repeat(MAX_LINE_CHARS - 1));
        let (lines, diags) = lex(&format!("{at_limit}\n{over}\nc"));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].tokens[0].text, "a");
        assert_eq!(words(&lines[1..]), vec![vec!["c"]]);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(has(&diags, Severity::Error, at(2, 1), "line longer than 65536 characters"));
    }

    #[test]
    fn errors_stop_lexing_and_warnings_are_capped() {
        let text = format!("{}after", "~SEQ(i, 1, 2) x\n".repeat(MAX_ERRORS + 500));
        let (lines, diags) = lex(&text);
        assert!(lines.is_empty());
        assert_eq!(diags.len(), MAX_ERRORS + 1);
        assert!(diags.iter().all(|d| d.severity == Severity::Error));
        let last = diags.last().unwrap();
        assert_eq!(last.message, "too many errors; stopping");
        assert_eq!(last.span, Some(at(MAX_ERRORS as u32, 1)));

        let text = format!("{}after", "x $UNDEFINED\n".repeat(MAX_WARNINGS + 500));
        let (lines, diags) = lex(&text);
        assert_eq!(lines.len(), MAX_WARNINGS + 501);
        assert_eq!(diags.len(), MAX_WARNINGS + 1);
        assert!(diags.last().unwrap().message.contains("more than 1000 warnings"));
    }

    #[test]
    fn substitution_budget_bounds_total_work() {
        let mut text = String::from("$A=$B $B $B $B $B $B $B $B\n$B=$C $C $C $C $C $C $C $C\n$C=0123456789abcdef\n");
        for _ in 0..5000 {
            text.push_str("x $A\n");
        }
        let (lines, diags) = lex(&text);
        assert!(lines.len() < 5000);
        assert_eq!(diags.iter().filter(|d| d.message.contains("in total")).count(), 1);
    }

    #[test]
    fn default_config_id_is_short() {
        let id = default_config_id();
        assert!(!id.is_empty() && !id.contains('.'));
    }
}
