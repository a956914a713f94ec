//! Diagnostics: every problem found in a configuration, with where it is.

use core::fmt;
use std::path::{Path, PathBuf};

/// Index into [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u16);

/// A position in a configuration file: 1-based line and column (columns
/// count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
}

/// The files read for one configuration, in the order they were opened.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<PathBuf>,
}

impl Sources {
    pub fn add(&mut self, path: &Path) -> FileId {
        if let Some(i) = self.files.iter().position(|p| p == path) {
            return FileId(i as u16);
        }
        self.files.push(path.to_path_buf());
        FileId((self.files.len() - 1).min(usize::from(u16::MAX)) as u16)
    }

    pub fn path(&self, id: FileId) -> &Path {
        self.files.get(usize::from(id.0)).map_or(Path::new("?"), PathBuf::as_path)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding: where, how bad, one line of reason, and a hint when one
/// exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// `None` for problems that belong to no line (a missing file given on
    /// the command line).
    pub span: Option<Span>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, span: Some(span), message: message.into(), hint: None }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, span: Some(span), message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:col: error: message` plus an indented `hint:` line.
    pub fn display<'a>(&'a self, sources: &'a Sources) -> impl fmt::Display + 'a {
        DisplayDiag { d: self, sources }
    }

    /// One JSON object on one line:
    /// `{"severity":"error","file":"…","line":3,"col":5,"message":"…","hint":"…"}`.
    pub fn to_json(&self, sources: &Sources) -> String {
        let mut s = String::from("{\"severity\":");
        json_str(&mut s, self.severity.name());
        if let Some(span) = self.span {
            s.push_str(",\"file\":");
            json_str(&mut s, &sources.path(span.file).display().to_string());
            s.push_str(&format!(",\"line\":{},\"col\":{}", span.line, span.col));
        }
        s.push_str(",\"message\":");
        json_str(&mut s, &self.message);
        if let Some(h) = &self.hint {
            s.push_str(",\"hint\":");
            json_str(&mut s, h);
        }
        s.push('}');
        s
    }
}

struct DisplayDiag<'a> {
    d: &'a Diagnostic,
    sources: &'a Sources,
}

impl fmt::Display for DisplayDiag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(span) = self.d.span {
            write!(f, "{}:{}:{}: ", self.sources.path(span.file).display(), span.line, span.col)?;
        }
        write!(f, "{}: {}", self.d.severity.name(), self.d.message)?;
        if let Some(h) = &self.d.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Appends `v` as a JSON string literal.
pub fn json_str(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_json() {
        let mut src = Sources::default();
        let f = src.add(Path::new("/etc/k.conf"));
        let d = Diagnostic::error(Span { file: f, line: 3, col: 5 }, "unknown keyword `Priority`")
            .with_hint("keywords are case-sensitive: `priority`");
        assert_eq!(
            d.display(&src).to_string(),
            "/etc/k.conf:3:5: error: unknown keyword `Priority`\n  hint: keywords are case-sensitive: `priority`"
        );
        assert_eq!(
            d.to_json(&src),
            r#"{"severity":"error","file":"/etc/k.conf","line":3,"col":5,"message":"unknown keyword `Priority`","hint":"keywords are case-sensitive: `priority`"}"#
        );
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\u{1}");
        assert_eq!(s, r#""a\"b\\c\u0001""#);
    }
}
