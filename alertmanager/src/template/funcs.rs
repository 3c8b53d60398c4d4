//! Function signatures (Go's parameter types, for argument checks) and Go's built-in
//! template functions: `eq ne lt le gt ge and or not len index slice print printf
//! println html js urlquery call`.

use crate::format::query_escape;
use crate::template::printf::{sprint, sprintf, sprintln};
use crate::template::value::{ListKind, MapKind, Value};

/// A parameter's Go type, for Go's argument conversion and checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// `interface {}` (or `reflect.Value` for the built-ins).
    Any,
    Str,
    Float,
    Int,
    Bool,
    /// Prometheus's `*template.sample`.
    Sample,
    /// Prometheus's `template.queryResult`.
    QueryResult,
    /// `[]string`.
    Strings,
}

impl Param {
    /// Go's name of the type.
    pub fn go_type(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Str => "string",
            Param::Float => "float64",
            Param::Int => "int",
            Param::Bool => "bool",
            Param::Sample => "*template.sample",
            Param::QueryResult => "template.queryResult",
            Param::Strings => "[]string",
        }
    }

    /// Whether `nil` is a value of the type.
    pub fn can_be_nil(self) -> bool {
        matches!(
            self,
            Param::Any | Param::Sample | Param::QueryResult | Param::Strings
        )
    }

    /// The value as this type, or the value back when it is not assignable.
    pub fn accept(self, v: Value) -> Result<Value, Value> {
        let ok = match (self, &v) {
            (Param::Any, _) => true,
            (Param::Str, Value::Str(_)) => true,
            (Param::Float, Value::Float(_)) => true,
            (Param::Int, Value::Int(_)) => true,
            (Param::Bool, Value::Bool(_)) => true,
            (Param::Sample, Value::Struct(s)) => {
                s.kind == crate::template::value::StructKind::Sample
            }
            (Param::QueryResult, Value::List(l)) => l.kind == ListKind::QueryResult,
            (Param::Strings, Value::List(l)) => l.kind == ListKind::Strings,
            _ => false,
        };
        if ok { Ok(v) } else { Err(v) }
    }
}

/// A function's parameters: fixed ones, then optionally any number of one type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    pub params: &'static [Param],
    pub variadic: Option<Param>,
}

impl Signature {
    pub const fn fixed(params: &'static [Param]) -> Signature {
        Signature {
            params,
            variadic: None,
        }
    }

    pub const fn variadic(params: &'static [Param], rest: Param) -> Signature {
        Signature {
            params,
            variadic: Some(rest),
        }
    }
}

/// The signature of a Go built-in function.
pub fn builtin_signature(name: &str) -> Option<Signature> {
    use Param::*;
    Some(match name {
        "and" | "or" => Signature::variadic(&[Any], Any),
        "call" => Signature::variadic(&[Any], Any),
        "html" | "js" | "print" | "println" | "urlquery" => Signature::variadic(&[], Any),
        "printf" => Signature::variadic(&[Str], Any),
        "index" | "slice" => Signature::variadic(&[Any], Any),
        "len" | "not" => Signature::fixed(&[Any]),
        "eq" => Signature::variadic(&[Any], Any),
        "ne" | "lt" | "le" | "gt" | "ge" => Signature::fixed(&[Any, Any]),
        _ => return None,
    })
}

/// Calls a built-in (arguments already checked against its signature).
pub fn call_builtin(name: &str, args: Vec<Value>) -> Result<Value, String> {
    match name {
        "call" => Err(match &args[0] {
            Value::Nil => "call of nil".to_string(),
            v => format!("non-function of type {}", v.type_name()),
        }),
        "html" => Ok(Value::str(html_escape(&eval_args(&args)))),
        "js" => Ok(Value::str(js_escape(&eval_args(&args)))),
        "urlquery" => Ok(Value::str(query_escape(&eval_args(&args)))),
        "print" => Ok(Value::str(sprint(&args))),
        "println" => Ok(Value::str(sprintln(&args))),
        "printf" => {
            let format = args[0].as_str().unwrap_or_default().to_string();
            Ok(Value::str(sprintf(&format, &args[1..])))
        }
        "len" => match &args[0] {
            Value::Str(s) => Ok(Value::Int(s.len() as i64)),
            Value::List(l) => Ok(Value::Int(l.items.len() as i64)),
            Value::Map(m) => Ok(Value::Int(m.entries.len() as i64)),
            Value::Nil => Err("len of nil pointer".into()),
            v => Err(format!("len of type {}", v.type_name())),
        },
        "not" => Ok(Value::Bool(!args[0].truth())),
        "index" => index(&args[0], &args[1..]),
        "slice" => slice(&args[0], &args[1..]),
        "eq" => eq(&args[0], &args[1..]).map(Value::Bool),
        "ne" => eq(&args[0], &args[1..2]).map(|b| Value::Bool(!b)),
        "lt" => lt(&args[0], &args[1]).map(Value::Bool),
        "le" => Ok(Value::Bool(
            lt(&args[0], &args[1])? || eq(&args[0], &args[1..2])?,
        )),
        "gt" => Ok(Value::Bool(
            !(lt(&args[0], &args[1])? || eq(&args[0], &args[1..2])?),
        )),
        "ge" => lt(&args[0], &args[1]).map(|b| Value::Bool(!b)),
        _ => Err(format!("function {name:?} not defined")),
    }
}

/// The text of `html`, `js` and `urlquery` arguments: one string as it is, else `Sprint`.
fn eval_args(args: &[Value]) -> String {
    match args {
        [Value::Str(s)] => s.to_string(),
        _ => sprint(args),
    }
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if (c as u32) >= 0x80 && (c.is_control() || c.is_whitespace()) => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's comparison kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Other,
    Invalid,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Duration { ptr: false, .. } => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        Value::Nil => Kind::Invalid,
        _ => Kind::Other,
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Duration { nanos, .. } => *nanos,
        _ => 0,
    }
}

fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let ka = kind(a);
    for b in others {
        let kb = kind(b);
        let truth = if ka != kb {
            if ka != Kind::Invalid && kb != Kind::Invalid {
                return Err("incompatible types for comparison".into());
            }
            false
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                _ if ka == Kind::Int => int_of(a) == int_of(b),
                (Value::Nil, Value::Nil) => true,
                (Value::List(_) | Value::Map(_), _) => {
                    return Err(format!(
                        "non-comparable type {}: {}",
                        crate::template::printf::print_value(b),
                        b.type_name()
                    ));
                }
                _ => a == b,
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let (ka, kb) = (kind(a), kind(b));
    if matches!(ka, Kind::Other | Kind::Invalid) || matches!(kb, Kind::Other | Kind::Invalid) {
        return Err("invalid type for comparison".into());
    }
    if ka != kb {
        return Err("incompatible types for comparison".into());
    }
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x < y),
        (Value::Bool(_), _) => Err("invalid type for comparison".into()),
        _ => Ok(int_of(a) < int_of(b)),
    }
}

fn index_arg(i: &Value, len: usize) -> Result<usize, String> {
    match i {
        Value::Int(x) => {
            if *x < 0 || *x as usize >= len {
                Err(format!("index out of range: {x}"))
            } else {
                Ok(*x as usize)
            }
        }
        Value::Nil => Err("cannot index slice/array with nil".into()),
        v => Err(format!(
            "cannot index slice/array with type {}",
            v.type_name()
        )),
    }
}

fn index(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    let mut item = item.clone();
    if item == Value::Nil {
        return Err("index of untyped nil".into());
    }
    for i in indexes {
        item = match &item {
            Value::List(l) => l.items[index_arg(i, l.items.len())?].clone(),
            Value::Str(s) => Value::Int(i64::from(s.as_bytes()[index_arg(i, s.len())?])),
            Value::Map(m) => match i {
                Value::Str(k) => match m.entries.get(&**k) {
                    Some(v) => v.clone(),
                    None => match m.kind {
                        MapKind::Any => Value::Nil,
                        _ => Value::str(""),
                    },
                },
                v => {
                    return Err(format!(
                        "value has type {}; should be string",
                        v.type_name()
                    ));
                }
            },
            v => return Err(format!("can't index item of type {}", v.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    if *item == Value::Nil {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::Str(s) => s.len(),
        Value::List(l) => l.items.len(),
        v => return Err(format!("can't slice item of type {}", v.type_name())),
    };
    if indexes.len() == 3 && matches!(item, Value::Str(_)) {
        return Err("cannot 3-index slice a string".into());
    }
    let mut idx = [0usize, len, len];
    for (k, i) in indexes.iter().enumerate() {
        idx[k] = match i {
            Value::Int(x) if *x >= 0 && (*x as usize) <= len => *x as usize,
            Value::Int(x) => return Err(format!("index out of range: {x}")),
            v => {
                return Err(format!(
                    "cannot index slice/array with type {}",
                    v.type_name()
                ));
            }
        };
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    match item {
        Value::Str(s) => s
            .get(idx[0]..idx[1])
            .map(Value::str)
            .ok_or_else(|| "slice splits a character".to_string()),
        Value::List(l) => Ok(Value::list(l.kind, l.items[idx[0]..idx[1]].to_vec())),
        _ => unreachable_value(),
    }
}

fn unreachable_value() -> Result<Value, String> {
    Err("can't slice this value".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_go() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            js_escape("a'b\"c<d>=&\n"),
            "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\u000A"
        );
    }

    #[test]
    fn comparisons_follow_go_kinds() {
        assert_eq!(
            eq(&Value::Int(1), &[Value::Int(2), Value::Int(1)]),
            Ok(true)
        );
        assert_eq!(
            eq(&Value::Float(1.0), &[Value::Int(1)]),
            Err("incompatible types for comparison".into())
        );
        assert_eq!(eq(&Value::Nil, &[Value::str("x")]), Ok(false));
        assert_eq!(lt(&Value::str("a"), &Value::str("b")), Ok(true));
        assert!(lt(&Value::Bool(true), &Value::Bool(false)).is_err());
        assert_eq!(
            index(&Value::str("ab"), &[Value::Int(1)]),
            Ok(Value::Int(98))
        );
        assert_eq!(
            index(&Value::str("ab"), &[Value::Int(5)]),
            Err("index out of range: 5".into())
        );
        assert_eq!(
            slice(&Value::str("abcd"), &[Value::Int(1), Value::Int(3)]),
            Ok(Value::str("bc"))
        );
    }
}
