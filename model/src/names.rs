//! Metric and label names: Prometheus's legacy (pre-UTF-8) name syntax.

/// True for a metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// True for a label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for ok in ["a", "a:b_c9", ":x", "_", "up", "job:rate5m:sum"] {
            assert!(is_valid_metric_name(ok), "{ok:?}");
        }
        for bad in ["", "9x", "a-b", "a.b", "é", "a b"] {
            assert!(!is_valid_metric_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn label_names() {
        for ok in ["a", "_", "__name__", "job", "a9_b"] {
            assert!(is_valid_label_name(ok), "{ok:?}");
        }
        for bad in ["", "9x", "a:b", "a-b", "é", ":"] {
            assert!(!is_valid_label_name(bad), "{bad:?}");
        }
    }
}
