//! [`Value`]: what flows through a template — the Go values Prometheus and Alertmanager
//! hand to their templates, with their Go type names (error messages and `%T` show them)
//! and Go's notion of truth.

use std::collections::BTreeMap;
use std::sync::Arc;

/// A Go value as a template sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// No value: a missing map entry (printed `<no value>`), or Go's untyped `nil`.
    Nil,
    Bool(bool),
    /// Go's `int` (number constants, `len`, `index` results).
    Int(i64),
    /// Go's `float64`.
    Float(f64),
    Str(Arc<str>),
    /// `time.Time` (or `*time.Time` when `ptr`), as Unix nanoseconds in UTC.
    Time {
        nanos: i64,
        ptr: bool,
    },
    /// `time.Duration` (or `*time.Duration` when `ptr`), in nanoseconds.
    Duration {
        nanos: i64,
        ptr: bool,
    },
    List(Arc<List>),
    Map(Arc<Map>),
    Struct(Arc<Struct>),
}

/// What kind of Go slice a [`List`] is: its type name and its methods depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// `[]string`.
    Strings,
    /// `[]interface {}`.
    Any,
    /// Prometheus's `queryResult` (`[]*sample`).
    QueryResult,
    /// Alertmanager's `Alerts` (methods `Firing`, `Resolved`).
    Alerts,
    /// Alertmanager's `Pairs` (methods `Names`, `Values`).
    Pairs,
}

/// A Go slice.
#[derive(Clone, Debug, PartialEq)]
pub struct List {
    pub kind: ListKind,
    pub items: Vec<Value>,
}

/// What kind of Go map a [`Map`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `map[string]string`: a missing key is `""` under `missingkey=zero`.
    Strings,
    /// `map[string]interface {}` (`args`): a missing key is `nil`.
    Any,
    /// Alertmanager's `KV` (methods `SortedPairs`, `Names`, `Values`, `Remove`).
    Kv,
}

/// A Go map with string keys (Go ranges over it in key order).
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    pub kind: MapKind,
    pub entries: BTreeMap<String, Value>,
}

/// Which Go struct a [`Struct`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructKind {
    /// Prometheus's `*template.sample` (`Labels`, `Value`).
    Sample,
    /// The data of an alerting rule's templates (`Labels`, `ExternalLabels`,
    /// `ExternalURL`, `Value`).
    AlertData,
    /// Alertmanager's `template.Data`.
    NotificationData,
    /// Alertmanager's `template.Alert`.
    Alert,
    /// Alertmanager's `template.Pair`.
    Pair,
}

/// A Go struct: its fields in declaration order.
#[derive(Clone, Debug, PartialEq)]
pub struct Struct {
    pub kind: StructKind,
    pub fields: Vec<(&'static str, Value)>,
}

impl Struct {
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl Value {
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(Arc::from(s.as_ref()))
    }

    pub fn list(kind: ListKind, items: Vec<Value>) -> Value {
        Value::List(Arc::new(List { kind, items }))
    }

    pub fn map(kind: MapKind, entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(Map { kind, entries }))
    }

    /// A `map[string]string` (or `KV`) of `pairs`.
    pub fn string_map<'a>(
        kind: MapKind,
        pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Value {
        Value::map(
            kind,
            pairs
                .into_iter()
                .map(|(k, v)| (k.clone(), Value::str(v)))
                .collect(),
        )
    }

    pub fn structure(kind: StructKind, fields: Vec<(&'static str, Value)>) -> Value {
        Value::Struct(Arc::new(Struct { kind, fields }))
    }

    /// Go's type name, as `%T` and error messages print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Time { ptr: false, .. } => "time.Time",
            Value::Time { ptr: true, .. } => "*time.Time",
            Value::Duration { ptr: false, .. } => "time.Duration",
            Value::Duration { ptr: true, .. } => "*time.Duration",
            Value::List(l) => match l.kind {
                ListKind::Strings => "[]string",
                ListKind::Any => "[]interface {}",
                ListKind::QueryResult => "template.queryResult",
                ListKind::Alerts => "template.Alerts",
                ListKind::Pairs => "template.Pairs",
            },
            Value::Map(m) => match m.kind {
                MapKind::Strings => "map[string]string",
                MapKind::Any => "map[string]interface {}",
                MapKind::Kv => "template.KV",
            },
            Value::Struct(s) => match s.kind {
                StructKind::Sample => "*template.sample",
                StructKind::AlertData => {
                    "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }"
                }
                StructKind::NotificationData => "*template.Data",
                StructKind::Alert => "template.Alert",
                StructKind::Pair => "template.Pair",
            },
        }
    }

    /// Go's truth (`if`, `with`, `and`, `or`, `not`): false for the zero value of the
    /// type and for empty slices, maps and strings; structs are always true.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Time { ptr, nanos } => *ptr || *nanos != GO_ZERO_TIME_NANOS,
            Value::Duration { ptr, nanos } => *ptr || *nanos != 0,
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
            Value::Struct(_) => true,
        }
    }

    /// The string of a `string` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Unix nanoseconds of Go's zero `time.Time` (January 1, year 1, UTC) do not fit in an
/// i64; this marks it.
pub const GO_ZERO_TIME_NANOS: i64 = i64::MIN;

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Arc::from(s))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_is_gos() {
        assert!(!Value::Nil.truth());
        assert!(!Value::str("").truth());
        assert!(Value::str("x").truth());
        assert!(!Value::Float(0.0).truth());
        assert!(Value::Float(f64::NAN).truth());
        assert!(!Value::list(ListKind::Strings, vec![]).truth());
        assert!(Value::structure(StructKind::Pair, vec![]).truth());
    }
}
