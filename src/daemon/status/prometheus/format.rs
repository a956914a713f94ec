//! The exposition format's pieces (text format 0.0.4), apart from which
//! metrics there are: a family's HELP and TYPE lines, a sample with its
//! escaped labels, and numbers written without float formatting.

use core::fmt::{self, Display, Write as _};

use super::*;

/// A number as the exposition format writes it: integers, or seconds as a
/// plain decimal to the microsecond. Written with integers: no float
/// formatting is linked into the binary for this.
pub(super) enum Value {
    Int(i64),
    Secs(Duration),
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Int(v.into())
    }
}

impl From<u8> for Value {
    fn from(v: u8) -> Value {
        Int(v.into())
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        // Counters beyond i64 are out of reach; saturate rather than wrap.
        Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Int(v) => write!(f, "{v}"),
            Secs(d) => {
                let us = d.subsec_micros();
                if us == 0 {
                    return write!(f, "{}", d.as_secs());
                }
                // Trailing zeros dropped, as a float would print it.
                let mut frac = us;
                let mut width = 6;
                while frac % 10 == 0 {
                    frac /= 10;
                    width -= 1;
                }
                write!(f, "{}.{frac:0width$}", d.as_secs())
            }
        }
    }
}

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Counter,
    Gauge,
}

/// One family being written: HELP and TYPE go out with its first sample,
/// so a family with no sample leaves no trace.
pub(super) struct Family<'a> {
    out: &'a mut String,
    name: &'a str,
    kind: Kind,
    help: &'a str,
    started: bool,
}

impl<'a> Family<'a> {
    pub(super) fn new(out: &'a mut String, name: &'a str, kind: Kind, help: &'a str) -> Family<'a> {
        Family { out, name, kind, help, started: false }
    }

    /// A sample with an instance's labels ([`inst_labels`]) before `labels`.
    pub(super) fn inst(&mut self, i: &InstanceStatus, labels: &[(&str, &dyn Display)], value: Value) {
        self.write(&inst_labels(i), labels, value);
    }

    /// A sample with a virtual address's labels ([`vip_labels`]) before
    /// `labels`.
    pub(super) fn vip(&mut self, i: &InstanceStatus, v: &VipStatus, labels: &[(&str, &dyn Display)], value: Value) {
        self.write(&vip_labels(i, &VipAddr(v)), labels, value);
    }

    pub(super) fn sample(&mut self, labels: &[(&str, &dyn Display)], value: Value) {
        self.write(&[], labels, value);
    }

    pub(super) fn write(&mut self, first: &[(&str, &dyn Display)], labels: &[(&str, &dyn Display)], value: Value) {
        let buf = &mut *self.out;
        if !self.started {
            self.started = true;
            // HELP text escapes backslash and newline; ours are constants
            // without either, but escape anyway so a future edit cannot
            // break the format.
            buf.push_str("# HELP ");
            buf.push_str(self.name);
            buf.push(' ');
            for c in self.help.chars() {
                match c {
                    '\\' => buf.push_str("\\\\"),
                    '\n' => buf.push_str("\\n"),
                    c => buf.push(c),
                }
            }
            buf.push_str("\n# TYPE ");
            buf.push_str(self.name);
            buf.push_str(match self.kind {
                Counter => " counter\n",
                Gauge => " gauge\n",
            });
        }
        buf.push_str(self.name);
        if !first.is_empty() || !labels.is_empty() {
            buf.push('{');
            for (n, (k, v)) in first.iter().chain(labels).enumerate() {
                if n > 0 {
                    buf.push(',');
                }
                buf.push_str(k);
                buf.push_str("=\"");
                // Writing to a String cannot fail.
                let _ = write!(LabelEscape(buf), "{v}");
                buf.push('"');
            }
            buf.push('}');
        }
        let _ = writeln!(buf, " {value}");
    }
}

/// Escapes a label value as the exposition format requires: backslash,
/// double quote and newline.
struct LabelEscape<'a>(&'a mut String);

impl fmt::Write for LabelEscape<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '\\' => self.0.push_str("\\\\"),
                '"' => self.0.push_str("\\\""),
                '\n' => self.0.push_str("\\n"),
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}
