//! [`PushOutcome`]: what happened to the samples of one push request — how many were
//! stored, how many rejected and why (counted per reason), and the first error with its
//! position, for the response. Pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The samples of one request: accepted for storage, rejected (with reasons) or skipped
/// because the value kind is not stored (Influx strings).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PushOutcome {
    /// Float samples handed to the writer.
    pub accepted: u64,
    /// Native histogram samples handed to the writer.
    pub histograms: u64,
    /// Exemplars written (remote_write: those storage took); bad ones are counted in
    /// `skipped`.
    pub exemplars: u64,
    /// Samples rejected, per reason (a short, stable metric label).
    pub rejected: BTreeMap<&'static str, u64>,
    /// Values skipped on purpose, per reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// The first rejection, with its line or offset.
    pub first_error: Option<String>,
}

impl PushOutcome {
    /// Counts `n` samples rejected for `reason`, remembering the first message.
    pub fn reject(&mut self, reason: &'static str, n: u64, message: impl FnOnce() -> String) {
        *self.rejected.entry(reason).or_default() += n;
        if self.first_error.is_none() {
            self.first_error = Some(message());
        }
    }

    /// Counts one value skipped for `reason`.
    pub fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// `"2 samples rejected (invalid_series: 2); first error: ..."`, or `None` when
    /// nothing was rejected.
    pub fn rejection_summary(&self) -> Option<String> {
        let total = self.rejected_total();
        if total == 0 {
            return None;
        }
        let mut s = format!(
            "{} stored, {total} rejected (",
            plural(self.accepted + self.histograms, "sample")
        );
        for (i, (reason, n)) in self.rejected.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "{reason}: {n}");
        }
        s.push(')');
        if let Some(first) = &self.first_error {
            let _ = write!(s, "; first error: {first}");
        }
        Some(s)
    }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_counts_reasons_and_first_error() {
        let mut o = PushOutcome {
            accepted: 3,
            ..Default::default()
        };
        assert_eq!(o.rejection_summary(), None);
        o.reject("invalid_series", 2, || "line 4: bad".into());
        o.reject("parse", 1, || "line 9: worse".into());
        o.skip("string_field");
        assert_eq!(o.rejected_total(), 3);
        assert_eq!(o.skipped_total(), 1);
        assert_eq!(
            o.rejection_summary().unwrap(),
            "3 samples stored, 3 rejected (invalid_series: 2, parse: 1); first error: line 4: bad"
        );
    }
}
