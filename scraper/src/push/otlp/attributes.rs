//! OTLP attribute values and bounds as Prometheus label values. Pure.

use std::collections::BTreeMap;

use super::proto::{AnyValue, KeyValue, any_value};
use crate::push::names;

/// Labels of attributes: names sanitised, values of colliding names joined with `;` in
/// the order of the original keys.
pub fn attribute_labels<'a>(attrs: impl Iterator<Item = &'a KeyValue>) -> Vec<(String, String)> {
    let mut by_name: BTreeMap<String, Vec<(&'a str, String)>> = BTreeMap::new();
    for a in attrs {
        let Some(name) = names::label_name(&a.key) else {
            continue;
        };
        let value = any_to_string(a.value.as_ref());
        if value.is_empty() {
            continue;
        }
        by_name
            .entry(name)
            .or_default()
            .push((a.key.as_str(), value));
    }
    by_name
        .into_iter()
        .map(|(name, mut values)| {
            values.sort_by(|a, b| a.0.cmp(b.0));
            let joined: Vec<String> = values.into_iter().map(|(_, v)| v).collect();
            (name, joined.join(";"))
        })
        .collect()
}

pub fn any_to_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => format_bound(*d),
        Some(any_value::Value::BytesValue(b)) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<serde_json::Value> = a
                .values
                .iter()
                .map(|v| serde_json::Value::String(any_to_string(Some(v))))
                .collect();
            serde_json::Value::Array(items).to_string()
        }
        Some(any_value::Value::KvlistValue(kv)) => {
            let map: serde_json::Map<String, serde_json::Value> = kv
                .values
                .iter()
                .map(|p| {
                    (
                        p.key.clone(),
                        serde_json::Value::String(any_to_string(p.value.as_ref())),
                    )
                })
                .collect();
            serde_json::Value::Object(map).to_string()
        }
    }
}

/// A bound or quantile as Prometheus writes `le`: shortest decimal, `+Inf`.
pub fn format_bound(b: f64) -> String {
    if b == f64::INFINITY {
        "+Inf".into()
    } else if b == f64::NEG_INFINITY {
        "-Inf".into()
    } else if b.is_nan() {
        "NaN".into()
    } else {
        format!("{b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::otlp::proto::{ArrayValue, KeyValueList};

    #[test]
    fn values_render_as_prometheus_does() {
        let v = |x| Some(AnyValue { value: Some(x) });
        assert_eq!(
            any_to_string(v(any_value::Value::BoolValue(true)).as_ref()),
            "true"
        );
        assert_eq!(
            any_to_string(v(any_value::Value::IntValue(-3)).as_ref()),
            "-3"
        );
        assert_eq!(
            any_to_string(v(any_value::Value::DoubleValue(0.25)).as_ref()),
            "0.25"
        );
        assert_eq!(
            any_to_string(v(any_value::Value::BytesValue(vec![1, 255])).as_ref()),
            "01ff"
        );
        let arr = any_value::Value::ArrayValue(ArrayValue {
            values: vec![AnyValue {
                value: Some(any_value::Value::StringValue("a".into())),
            }],
        });
        assert_eq!(any_to_string(v(arr).as_ref()), r#"["a"]"#);
        let kv = any_value::Value::KvlistValue(KeyValueList {
            values: vec![KeyValue::string("k", "v")],
        });
        assert_eq!(any_to_string(v(kv).as_ref()), r#"{"k":"v"}"#);
        assert_eq!(any_to_string(None), "");
        assert_eq!(format_bound(f64::INFINITY), "+Inf");
        assert_eq!(format_bound(1.0), "1");
        assert_eq!(format_bound(0.005), "0.005");
    }

    #[test]
    fn colliding_names_join_in_key_order() {
        let attrs = [
            KeyValue::string("a_b", "2"),
            KeyValue::string("a.b", "1"),
            KeyValue::string("", "x"),
        ];
        assert_eq!(
            attribute_labels(attrs.iter()),
            vec![("a_b".to_string(), "1;2".to_string())]
        );
    }
}
