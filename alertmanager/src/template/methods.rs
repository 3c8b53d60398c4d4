//! Methods templates call on values, as the Go types define them: Alertmanager's `KV`
//! (`SortedPairs`, `Names`, `Values`, `Remove`), `Alerts` (`Firing`, `Resolved`) and
//! `Pairs` (`Names`, `Values`), and `time.Time` / `time.Duration`.

use std::collections::BTreeMap;

use crate::template::funcs::{Param, Signature};
use crate::template::gotime;
use crate::template::value::{GO_ZERO_TIME_NANOS, ListKind, MapKind, StructKind, Value};

const NONE: Signature = Signature::fixed(&[]);

/// The signature of `receiver.name`, if the receiver's type has that method.
pub fn signature(receiver: &Value, name: &str) -> Option<Signature> {
    match receiver {
        Value::Map(m) if m.kind == MapKind::Kv => match name {
            "SortedPairs" | "Names" | "Values" => Some(NONE),
            "Remove" => Some(Signature::fixed(&[Param::Strings])),
            _ => None,
        },
        Value::List(l) => match (l.kind, name) {
            (ListKind::Alerts, "Firing" | "Resolved") => Some(NONE),
            (ListKind::Pairs, "Names" | "Values") => Some(NONE),
            _ => None,
        },
        Value::Time { .. } => match name {
            "Format" => Some(Signature::fixed(&[Param::Str])),
            "Unix" | "UnixMilli" | "UnixNano" | "UTC" | "Local" | "String" | "IsZero" | "Year"
            | "Day" | "Hour" | "Minute" | "Second" | "Nanosecond" | "YearDay" => Some(NONE),
            _ => None,
        },
        Value::Duration { .. } => match name {
            "String" | "Seconds" | "Minutes" | "Hours" | "Milliseconds" | "Microseconds"
            | "Nanoseconds" => Some(NONE),
            _ => None,
        },
        _ => None,
    }
}

/// Alertmanager's `KV.SortedPairs`: by name, `alertname` first.
pub fn sorted_pairs(kv: &BTreeMap<String, Value>) -> Vec<(String, Value)> {
    let mut pairs: Vec<(String, Value)> = Vec::with_capacity(kv.len());
    if let Some(v) = kv.get("alertname") {
        pairs.push(("alertname".to_string(), v.clone()));
    }
    pairs.extend(
        kv.iter()
            .filter(|(k, _)| *k != "alertname")
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    pairs
}

fn pair_list(pairs: Vec<(String, Value)>) -> Value {
    Value::list(
        ListKind::Pairs,
        pairs
            .into_iter()
            .map(|(n, v)| {
                Value::structure(
                    StructKind::Pair,
                    vec![("Name", Value::str(n)), ("Value", v)],
                )
            })
            .collect(),
    )
}

fn strings(items: impl IntoIterator<Item = Value>) -> Value {
    Value::list(ListKind::Strings, items.into_iter().collect())
}

/// Calls `receiver.name(args)` (arguments already checked).
pub fn call(receiver: &Value, name: &str, args: Vec<Value>) -> Result<Value, String> {
    match receiver {
        Value::Map(m) => {
            let pairs = sorted_pairs(&m.entries);
            Ok(match name {
                "SortedPairs" => pair_list(pairs),
                "Names" => strings(pairs.into_iter().map(|(n, _)| Value::str(n))),
                "Values" => strings(pairs.into_iter().map(|(_, v)| v)),
                _ => {
                    let remove: Vec<String> = match args.first() {
                        Some(Value::List(l)) => l
                            .items
                            .iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect(),
                        _ => Vec::new(),
                    };
                    let kept = m
                        .entries
                        .iter()
                        .filter(|(k, _)| !remove.contains(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    Value::map(MapKind::Kv, kept)
                }
            })
        }
        Value::List(l) => Ok(match (l.kind, name) {
            (ListKind::Alerts, _) => {
                let want = if name == "Firing" {
                    "firing"
                } else {
                    "resolved"
                };
                Value::list(
                    ListKind::Alerts,
                    l.items
                        .iter()
                        .filter(|a| match a {
                            Value::Struct(s) => {
                                s.field("Status").and_then(Value::as_str) == Some(want)
                            }
                            _ => false,
                        })
                        .cloned()
                        .collect(),
                )
            }
            (_, field) => {
                let field = if field == "Names" { "Name" } else { "Value" };
                strings(l.items.iter().map(|p| match p {
                    Value::Struct(s) => s.field(field).cloned().unwrap_or(Value::Nil),
                    _ => Value::Nil,
                }))
            }
        }),
        Value::Time { nanos, .. } => {
            let n = *nanos;
            let secs = if n == GO_ZERO_TIME_NANOS {
                -62_135_596_800
            } else {
                n.div_euclid(1_000_000_000)
            };
            let parts = |layout: &str| gotime::format(n, layout).parse::<i64>().unwrap_or(0);
            Ok(match name {
                "Format" => Value::str(gotime::format(
                    n,
                    args.first().and_then(Value::as_str).unwrap_or(""),
                )),
                "Unix" => Value::Int(secs),
                "UnixMilli" => Value::Int(if n == GO_ZERO_TIME_NANOS {
                    secs * 1000
                } else {
                    n.div_euclid(1_000_000)
                }),
                "UnixNano" => Value::Int(n),
                "UTC" | "Local" => Value::Time {
                    nanos: n,
                    ptr: false,
                },
                "String" => Value::str(gotime::time_string(n)),
                "IsZero" => Value::Bool(n == GO_ZERO_TIME_NANOS),
                "Year" => Value::Int(parts("2006")),
                "Day" => Value::Int(parts("2")),
                "Hour" => Value::Int(parts("15")),
                "Minute" => Value::Int(parts("4")),
                "Second" => Value::Int(parts("5")),
                "Nanosecond" => Value::Int(n.rem_euclid(1_000_000_000)),
                _ => Value::Int(parts("002")),
            })
        }
        Value::Duration { nanos, .. } => {
            let n = *nanos;
            Ok(match name {
                "String" => Value::str(gotime::duration_string(n)),
                "Seconds" => Value::Float(n as f64 / 1e9),
                "Minutes" => Value::Float(n as f64 / 6e10),
                "Hours" => Value::Float(n as f64 / 3.6e12),
                "Milliseconds" => Value::Int(n / 1_000_000),
                "Microseconds" => Value::Int(n / 1_000),
                _ => Value::Int(n),
            })
        }
        other => Err(format!("no method {name} on {}", other.type_name())),
    }
}
