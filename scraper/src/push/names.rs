//! Metric and label names made valid the way Prometheus's OTLP and Influx translators do:
//! every character outside `[a-zA-Z0-9_:]` (labels: `[a-zA-Z0-9_]`) becomes `_`, runs of
//! `_` collapse, and a leading digit gets a prefix. Pure.

/// A valid metric name for `raw` (`[a-zA-Z_:][a-zA-Z0-9_:]*`); `None` when nothing is
/// left of it.
pub fn metric_name(raw: &str) -> Option<String> {
    let out = replace_invalid(raw, true);
    if out.is_empty() || out == "_" {
        return None;
    }
    Some(if out.as_bytes()[0].is_ascii_digit() {
        format!("_{out}")
    } else {
        out
    })
}

/// A valid label name for `raw` (`[a-zA-Z_][a-zA-Z0-9_]*`): a leading digit gets
/// `key_`, as Prometheus does; names starting with `__` are reserved and get `key` in
/// front. `None` for an empty name.
pub fn label_name(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let out = replace_invalid(raw, false);
    Some(if out.as_bytes()[0].is_ascii_digit() {
        format!("key_{out}")
    } else if out.starts_with("__") {
        format!("key{out}")
    } else {
        out
    })
}

fn replace_invalid(raw: &str, colon_ok: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let valid = c.is_ascii_alphanumeric() || c == '_' || (colon_ok && c == ':');
        let c = if valid { c } else { '_' };
        if c == '_' && out.ends_with("__") {
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        assert_eq!(
            metric_name("http.server.duration").unwrap(),
            "http_server_duration"
        );
        assert_eq!(metric_name("cpu").unwrap(), "cpu");
        assert_eq!(metric_name("a:b-c").unwrap(), "a:b_c");
        assert_eq!(metric_name("2xx").unwrap(), "_2xx");
        assert_eq!(metric_name("a....b").unwrap(), "a__b");
        assert_eq!(metric_name(""), None);
        assert_eq!(metric_name("é"), None);
    }

    #[test]
    fn label_names() {
        assert_eq!(label_name("service.name").unwrap(), "service_name");
        assert_eq!(label_name("host:port").unwrap(), "host_port");
        assert_eq!(label_name("0day").unwrap(), "key_0day");
        assert_eq!(label_name("__x").unwrap(), "key__x");
        assert_eq!(label_name("_x").unwrap(), "_x");
        assert_eq!(label_name(""), None);
    }
}
