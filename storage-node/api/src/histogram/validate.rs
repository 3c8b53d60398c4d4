//! The count checks Prometheus applies to a native histogram before storing it
//! (`Histogram.Validate`, `FloatHistogram.Validate`), beyond the layout checks of
//! [`FloatHistogram::validate`]: no bucket count below zero, no zero bucket with custom
//! bounds, and for an integer histogram a count that matches its buckets.

use super::{FloatHistogram, HistogramError};

impl FloatHistogram {
    /// Checks the layout ([`FloatHistogram::validate`]) and the counts. `integer`: the
    /// sample came as an integer histogram, whose count must equal the observations in
    /// its buckets (be at least them when the sum is NaN); float histograms are not held
    /// to that, as in Prometheus (rounding makes it fail for good samples).
    pub fn validate_counts(&self, integer: bool) -> Result<(), HistogramError> {
        self.validate()?;
        let bad = |v: f64| v.is_nan() || v < 0.0;
        if let Some((index, _)) = self.positive().find(|&(_, c)| bad(c)) {
            return Err(HistogramError::Invalid(format!(
                "positive bucket {index} has a negative observation count"
            )));
        }
        if let Some((index, _)) = self.negative().find(|&(_, c)| bad(c)) {
            return Err(HistogramError::Invalid(format!(
                "negative bucket {index} has a negative observation count"
            )));
        }
        if bad(self.zero_count) {
            return Err(HistogramError::Invalid(
                "the zero bucket has a negative observation count".into(),
            ));
        }
        if bad(self.count) {
            return Err(HistogramError::Invalid(
                "the observation count is negative".into(),
            ));
        }
        if self.uses_custom_buckets() && (self.zero_count != 0.0 || self.zero_threshold != 0.0) {
            return Err(HistogramError::Invalid(
                "a histogram with custom buckets has a zero bucket".into(),
            ));
        }
        if integer {
            let in_buckets = self.zero_count
                + self.positive_buckets.iter().sum::<f64>()
                + self.negative_buckets.iter().sum::<f64>();
            if self.sum.is_nan() && in_buckets > self.count {
                return Err(HistogramError::Invalid(format!(
                    "{in_buckets} observations found in buckets, but the Count field is {}",
                    self.count
                )));
            }
            if !self.sum.is_nan() && in_buckets != self.count {
                return Err(HistogramError::Invalid(format!(
                    "{in_buckets} observations found in buckets, but the Count field is {}",
                    self.count
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::CUSTOM_BUCKETS_SCHEMA;

    fn h(positive: &[(i32, f64)], count: f64) -> FloatHistogram {
        let mut out = FloatHistogram {
            count,
            sum: 1.0,
            ..FloatHistogram::default()
        };
        out.set_positive(positive.iter().copied());
        out
    }

    #[test]
    fn counts_are_checked() {
        h(&[(0, 1.0), (1, 2.0)], 3.0).validate_counts(true).unwrap();
        let e = h(&[(0, 1.0), (1, 2.0)], 4.0)
            .validate_counts(true)
            .unwrap_err();
        assert!(
            e.to_string().contains("3 observations found in buckets"),
            "{e}"
        );
        // Float histograms are not held to the sum of their buckets.
        h(&[(0, 1.0), (1, 2.0)], 4.0)
            .validate_counts(false)
            .unwrap();
        // A NaN sum allows more observations than the buckets hold (NaN observations).
        let mut nan = h(&[(0, 1.0)], 2.0);
        nan.sum = f64::NAN;
        nan.validate_counts(true).unwrap();
        nan.count = 0.0;
        assert!(nan.validate_counts(true).is_err());
        let e = h(&[(0, -1.0)], 0.0).validate_counts(false).unwrap_err();
        assert!(e.to_string().contains("negative observation count"), "{e}");
        let mut custom = h(&[(0, 1.0)], 1.0);
        custom.schema = CUSTOM_BUCKETS_SCHEMA;
        custom.custom_values = vec![1.0];
        custom.validate_counts(true).unwrap();
        custom.zero_count = 1.0;
        custom.count = 2.0;
        assert!(custom.validate_counts(true).is_err());
    }
}
