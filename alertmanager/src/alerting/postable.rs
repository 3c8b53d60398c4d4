//! Alerts posted to `POST /api/v2/alerts`: decoded and checked field by field, so that any
//! body — malformed JSON, wrong types, non-ASCII or out-of-range times, huge label sets —
//! is either accepted or refused with a message naming the alert and the field, never a
//! panic.

use serde::Deserialize;
use telltale_model::is_valid_label_name;

use crate::alerting::notify::NotifyAlert;
use crate::format::parse_rfc3339;
use crate::labels::LabelSet;

/// How long an alert posted without `endsAt` stays firing unless posted again
/// (Alertmanager's `resolve_timeout`).
pub const RESOLVE_TIMEOUT_MS: i64 = 5 * 60_000;
/// Most labels (and most annotations) one alert may have.
pub const MAX_LABELS: usize = 256;
/// Most bytes of one alert's label names and values together (annotations alike).
pub const MAX_LABEL_BYTES: usize = 64 * 1024;
/// Most alerts in one request.
pub const MAX_ALERTS: usize = 100_000;
/// Latest time accepted (year 9999, as far as RFC 3339 goes).
const MAX_TIME_MS: i64 = 253_402_300_799_999;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert {
    labels: LabelSet,
    #[serde(default)]
    annotations: Option<LabelSet>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
}

/// A time field: RFC 3339, `None` when absent, empty or Go's zero time.
fn time_field(i: usize, name: &str, value: &Option<String>) -> Result<Option<i64>, String> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => match parse_rfc3339(s) {
            Some(i64::MIN) => Ok(None),
            Some(t) if (0..=MAX_TIME_MS).contains(&t) => Ok(Some(t)),
            Some(_) => Err(format!("alerts[{i}].{name}: {s:?} is out of range")),
            None => Err(format!("alerts[{i}].{name}: {s:?} is not an RFC 3339 time")),
        },
    }
}

fn check_set(i: usize, what: &str, set: &LabelSet, names: bool) -> Result<(), String> {
    if set.len() > MAX_LABELS {
        return Err(format!(
            "alerts[{i}].{what}: {} entries, at most {MAX_LABELS} allowed",
            set.len()
        ));
    }
    let bytes: usize = set.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_LABEL_BYTES {
        return Err(format!(
            "alerts[{i}].{what}: {bytes} bytes, at most {MAX_LABEL_BYTES} allowed"
        ));
    }
    if names && let Some(name) = set.keys().find(|n| !is_valid_label_name(n)) {
        return Err(format!("alerts[{i}].{what}: invalid label name {name:?}"));
    }
    Ok(())
}

/// Decodes and checks a body of `POST /api/v2/alerts` received at `now_ms`.
pub fn parse_postable(body: &[u8], now_ms: i64) -> Result<Vec<NotifyAlert>, String> {
    let alerts: Vec<PostableAlert> =
        serde_json::from_slice(body).map_err(|e| format!("invalid alerts: {e}"))?;
    if alerts.len() > MAX_ALERTS {
        return Err(format!(
            "{} alerts in one request, at most {MAX_ALERTS} allowed",
            alerts.len()
        ));
    }
    let mut accepted = Vec::with_capacity(alerts.len());
    for (i, a) in alerts.into_iter().enumerate() {
        if a.labels.is_empty() {
            return Err(format!("alerts[{i}].labels: must not be empty"));
        }
        check_set(i, "labels", &a.labels, true)?;
        if a.labels.values().any(String::is_empty) {
            return Err(format!("alerts[{i}].labels: values must not be empty"));
        }
        let annotations = a.annotations.unwrap_or_default();
        check_set(i, "annotations", &annotations, false)?;
        let starts = time_field(i, "startsAt", &a.starts_at)?.unwrap_or(now_ms);
        let ends = time_field(i, "endsAt", &a.ends_at)?
            .unwrap_or(now_ms.saturating_add(RESOLVE_TIMEOUT_MS));
        if ends < starts {
            return Err(format!("alerts[{i}]: endsAt is before startsAt"));
        }
        accepted.push(NotifyAlert {
            labels: a.labels,
            annotations,
            starts_at_ms: starts,
            ends_at_ms: Some(ends),
            generator_url: a.generator_url.unwrap_or_default(),
        });
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn bad_fields_are_named() {
        let err = |body: &str| parse_postable(body.as_bytes(), NOW).unwrap_err();
        assert_eq!(
            err(r#"[{"labels":{"a":"1"},"startsAt":"aé12345"}]"#),
            "alerts[0].startsAt: \"aé12345\" is not an RFC 3339 time"
        );
        assert!(
            err(r#"[{"labels":{"a":"1"},"endsAt":"9999-99-99T00:00:00Z"}]"#)
                .starts_with("alerts[0].endsAt")
        );
        assert_eq!(
            err(r#"[{"labels":{}}]"#),
            "alerts[0].labels: must not be empty"
        );
        assert_eq!(
            err(r#"[{"labels":{"a-b":"1"}}]"#),
            "alerts[0].labels: invalid label name \"a-b\""
        );
        assert!(err(r#"[{"labels":{"a":1}}]"#).starts_with("invalid alerts: invalid type"));
        assert!(err("{").starts_with("invalid alerts:"));
        let many: LabelSet = (0..300)
            .map(|i| (format!("l{i}"), "v".to_string()))
            .collect();
        let body = serde_json::to_string(&serde_json::json!([{ "labels": many }])).unwrap();
        assert_eq!(
            err(&body),
            "alerts[0].labels: 300 entries, at most 256 allowed"
        );
        let ok = parse_postable(
            br#"[{"labels":{"a":"1"},"startsAt":"2023-11-14T22:13:20.5+01:00"}]"#,
            NOW,
        )
        .unwrap();
        assert_eq!(ok[0].starts_at_ms, 1_699_996_400_500);
        assert_eq!(ok[0].ends_at_ms, Some(NOW + RESOLVE_TIMEOUT_MS));
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::from),
            "[0-9]{1,5}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}|é)"
                .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-zé_0-9-]{0,6}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any value in any field of a posted alert is accepted or refused; nothing panics.
        #[test]
        fn any_field_value_is_accepted_or_refused(
            labels in json_value(),
            annotations in json_value(),
            starts in json_value(),
            ends in json_value(),
            url in json_value(),
            now in any::<i64>(),
        ) {
            let body = serde_json::json!([{
                "labels": labels, "annotations": annotations,
                "startsAt": starts, "endsAt": ends, "generatorURL": url,
            }]);
            let bytes = serde_json::to_vec(&body).unwrap();
            if let Ok(alerts) = parse_postable(&bytes, now) {
                for a in alerts {
                    prop_assert!(!a.labels.is_empty());
                    prop_assert!(a.ends_at_ms.is_some_and(|e| e >= a.starts_at_ms));
                }
            }
        }

        /// Arbitrary bytes are refused with a message, never a panic.
        #[test]
        fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_postable(&body, NOW);
        }
    }
}
