//! How the lexer records a diagnostic: once per span and message on a
//! physical line, and under the caps (stop after [`MAX_ERRORS`] errors,
//! count warnings past [`MAX_WARNINGS`] in one). Every diagnostic of the
//! lexer goes through [`Lexer::push`]; this file decides nothing about the
//! text itself.

use super::Lexer;
use crate::config::diag::{Diagnostic, Severity, Span};

/// Errors the lexer reports before it stops with "too many errors;
/// stopping" (one more error). Warnings are counted apart: past
/// [`MAX_WARNINGS`] one warning says so and later ones are not recorded,
/// but lexing goes on.
pub const MAX_ERRORS: usize = 1000;
pub const MAX_WARNINGS: usize = 1000;

impl Lexer<'_> {
    /// Records a diagnostic unless the same one was already recorded for
    /// this physical line: text substituted from one `$NAME` shares its
    /// span, so `$A=$U $U $U` would otherwise repeat a warning per copy.
    ///
    /// Also applies the limits: after [`MAX_ERRORS`] errors lexing stops
    /// with one more error; warnings past [`MAX_WARNINGS`] are counted in
    /// one warning and not recorded.
    pub(super) fn push(&mut self, d: Diagnostic) {
        if self.stopped {
            return;
        }
        if let Some(span) = d.span {
            // A line holds few distinct diagnostics: a list is enough, and
            // smaller in the binary than a hash set.
            if self.seen.iter().any(|(s, m)| *s == span && *m == d.message) {
                return;
            }
            self.seen.push((span, d.message.clone()));
        }
        let span = d.span.unwrap_or_default();
        match d.severity {
            Severity::Error => {
                self.diags.push(d);
                self.errors += 1;
                if self.errors >= MAX_ERRORS {
                    self.stopped = true;
                    self.diags.push(hinted(
                        Severity::Error,
                        span,
                        "too many errors; stopping".into(),
                        format!("vipd stops reading after {MAX_ERRORS} errors; fix these first"),
                    ));
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

    /// Records a file's summary diagnostic (see `pasted`) even after the
    /// error limit: there is at most one per kind and file, and it names the
    /// cause of what may have been many errors.
    pub(super) fn push_summary(&mut self, d: Diagnostic) {
        if self.stopped {
            self.diags.push(d);
        } else {
            self.push(d);
        }
    }

    pub(super) fn warn(&mut self, span: Span, msg: impl Into<String>) {
        self.push(Diagnostic::warning(span, msg));
    }

    pub(super) fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.push(Diagnostic::error(span, msg));
    }
}

/// A diagnostic with a hint, built out of line: the lexer's many hinted
/// diagnostics stay one call each in the binary.
#[inline(never)]
pub(super) fn hinted(severity: Severity, span: Span, message: String, hint: String) -> Diagnostic {
    Diagnostic { severity, span: Some(span), message, hint: Some(hint) }
}
