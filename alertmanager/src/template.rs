//! Annotation and label templates: the subset of Prometheus's Go templates that alert
//! annotations use in practice.
//!
//! Supported inside `{{ }}` (with `{{-`/`-}}` trimming and `{{/* comments */}}`):
//! `$labels.name`, `.Labels.name`, `$value`, `.Value`, `$externalURL`, `.ExternalURL`,
//! `$externalLabels.name`,
//! string and number literals, and pipelines through `humanize`, `humanize1024`,
//! `humanizePercentage`, `humanizeDuration`, `toUpper`, `toLower`, `title`, and
//! `printf "FORMAT" ARGS` (verbs `%s %v %d %f %g %e %q %%` with width and precision).
//! A missing label is empty, as with Prometheus's `missingkey=zero`.

use crate::format::{go_float, go_float_4g};
use crate::labels::LabelSet;

/// What a template can refer to.
pub struct TemplateData<'a> {
    /// The labels of the query result (with `__name__` if it had one).
    pub labels: &'a LabelSet,
    pub value: f64,
    pub external_url: &'a str,
    /// `$externalLabels`: the labels this alertmanager adds to what it sends.
    pub external_labels: &'a LabelSet,
}

/// Expands `text`; on error the result is `<error expanding template: ...>`, as
/// Prometheus writes into an annotation it cannot expand.
pub fn expand(text: &str, data: &TemplateData<'_>) -> String {
    match try_expand(text, data) {
        Ok(s) => s,
        Err(e) => format!("<error expanding template: {e}>"),
    }
}

/// Expands `text`, or says what is wrong with it.
pub fn try_expand(text: &str, data: &TemplateData<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let mut literal = &rest[..start];
        let mut action = &rest[start + 2..];
        let end = action
            .find("}}")
            .ok_or_else(|| "unclosed action: missing \"}}\"".to_string())?;
        let mut body = &action[..end];
        action = &action[end + 2..];
        if let Some(b) = body.strip_prefix('-')
            && b.starts_with(char::is_whitespace)
        {
            literal = literal.trim_end();
            body = b;
        }
        let trim_after = body
            .strip_suffix('-')
            .is_some_and(|b| b.ends_with(char::is_whitespace));
        if trim_after {
            body = &body[..body.len() - 1];
        }
        out.push_str(literal);
        let body = body.trim();
        if !(body.starts_with("/*") && body.ends_with("*/")) {
            out.push_str(&eval_pipeline(body, data)?);
        }
        rest = if trim_after {
            action.trim_start()
        } else {
            action
        };
    }
    out.push_str(rest);
    Ok(out)
}

/// A value flowing through a pipeline.
#[derive(Clone, Debug)]
enum Val {
    Str(String),
    Num(f64),
}

impl Val {
    fn render(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Num(n) => go_float(*n),
        }
    }

    fn number(&self) -> Result<f64, String> {
        match self {
            Val::Num(n) => Ok(*n),
            Val::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("cannot convert {s:?} to a number")),
        }
    }
}

fn eval_pipeline(body: &str, data: &TemplateData<'_>) -> Result<String, String> {
    let tokens = tokenize(body)?;
    if tokens.is_empty() {
        return Err("empty action".into());
    }
    let mut value: Option<Val> = None;
    for command in tokens.split(|t| matches!(t, Token::Pipe)) {
        value = Some(eval_command(command, value.take(), data)?);
    }
    Ok(value.map(|v| v.render()).unwrap_or_default())
}

fn eval_command(
    command: &[Token],
    piped: Option<Val>,
    data: &TemplateData<'_>,
) -> Result<Val, String> {
    let (first, args) = command.split_first().ok_or("empty command in pipeline")?;
    match first {
        Token::Ident(name) => {
            let mut values = args
                .iter()
                .map(|a| operand(a, data))
                .collect::<Result<Vec<_>, _>>()?;
            values.extend(piped);
            call(name, values)
        }
        _ if args.is_empty() && piped.is_none() => operand(first, data),
        _ => Err(format!("{first:?} is not a function")),
    }
}

fn operand(token: &Token, data: &TemplateData<'_>) -> Result<Val, String> {
    match token {
        Token::Str(s) => Ok(Val::Str(s.clone())),
        Token::Num(n) => Ok(Val::Num(*n)),
        Token::Field(path) => field(path, data),
        Token::Ident(name) => call(name, Vec::new()),
        Token::Pipe => Err("unexpected \"|\"".into()),
    }
}

fn field(path: &str, data: &TemplateData<'_>) -> Result<Val, String> {
    // `.Labels.job` splits after `.Labels`, `$labels.job` after `$labels`.
    let skip = usize::from(path.starts_with('.'));
    let (root, key) = match path[skip..].split_once('.') {
        Some((root, key)) => (&path[..skip + root.len()], Some(key)),
        None => (path, None),
    };
    match (root, key) {
        ("$labels" | ".Labels", Some(name)) => {
            Ok(Val::Str(data.labels.get(name).cloned().unwrap_or_default()))
        }
        ("$value" | ".Value", None) => Ok(Val::Num(data.value)),
        ("$externalURL" | ".ExternalURL", None) => Ok(Val::Str(data.external_url.to_string())),
        ("$externalLabels" | ".ExternalLabels", Some(name)) => Ok(Val::Str(
            data.external_labels.get(name).cloned().unwrap_or_default(),
        )),
        _ => Err(format!("undefined variable or field {path:?}")),
    }
}

fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
    let one = |args: &[Val]| -> Result<Val, String> {
        match args {
            [v] => Ok(v.clone()),
            _ => Err(format!("{name} takes one argument, got {}", args.len())),
        }
    };
    match name {
        "humanize" => Ok(Val::Str(humanize(one(&args)?.number()?))),
        "humanize1024" => Ok(Val::Str(humanize_1024(one(&args)?.number()?))),
        "humanizePercentage" => Ok(Val::Str(format!(
            "{}%",
            go_float_4g(one(&args)?.number()? * 100.0)
        ))),
        "humanizeDuration" => Ok(Val::Str(humanize_duration(one(&args)?.number()?))),
        "toUpper" => Ok(Val::Str(one(&args)?.render().to_uppercase())),
        "toLower" => Ok(Val::Str(one(&args)?.render().to_lowercase())),
        "title" => Ok(Val::Str(title(&one(&args)?.render()))),
        "printf" => printf(&args),
        _ => Err(format!("function {name:?} not defined")),
    }
}

/// Prometheus's `humanize`: SI prefixes, four significant digits.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return go_float_4g(v);
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", go_float_4g(v))
}

fn humanize_1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return go_float_4g(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", go_float_4g(v))
}

/// Prometheus's `humanizeDuration` of a number of seconds (`1d 2h 3m 4s`, `1.5s`, `250ms`).
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return go_float_4g(v);
    }
    if v == 0.0 {
        return format!("{}s", go_float_4g(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        let total = v as i64;
        let (seconds, minutes) = (total % 60, (total / 60) % 60);
        let (hours, days) = ((total / 3600) % 24, total / 86_400);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", go_float_4g(v))
        };
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", go_float_4g(v))
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !c.is_alphanumeric();
    }
    out
}

fn printf(args: &[Val]) -> Result<Val, String> {
    let (format, args) = args.split_first().ok_or("printf needs a format")?;
    let format = match format {
        Val::Str(s) => s,
        Val::Num(_) => return Err("printf format must be a string".into()),
    };
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() || d == '.' || d == '-' || d == '+' {
                spec.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let verb = chars.next().ok_or("printf format ends in \"%\"")?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args
            .next()
            .ok_or_else(|| format!("printf: missing argument for %{spec}{verb}"))?;
        let (left, width, precision) = parse_spec(&spec);
        let text = match verb {
            's' | 'v' => arg.render(),
            'q' => format!("{:?}", arg.render()),
            'd' => format!("{}", arg.number()?.trunc() as i64),
            'f' => format!("{:.*}", precision.unwrap_or(6), arg.number()?),
            'e' => {
                let s = format!("{:.*e}", precision.unwrap_or(6), arg.number()?);
                go_exponent(&s)
            }
            'g' => match precision {
                Some(4) => go_float_4g(arg.number()?),
                _ => go_float(arg.number()?),
            },
            _ => return Err(format!("printf: unsupported verb %{verb}")),
        };
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    Ok(Val::Str(out))
}

fn parse_spec(spec: &str) -> (bool, usize, Option<usize>) {
    let left = spec.contains('-');
    let spec = spec.trim_start_matches(['-', '+']);
    let (width, precision) = match spec.split_once('.') {
        Some((w, p)) => (w, Some(p.parse().unwrap_or(0))),
        None => (spec, None),
    };
    (left, width.parse().unwrap_or(0), precision)
}

/// Rust's `1.5e3` as Go's `1.5e+03`.
fn go_exponent(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s.to_string(),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// `$labels.x`, `.Labels.x`, `$value`, `.Value`.
    Field(String),
    Ident(String),
    Str(String),
    Num(f64),
    Pipe,
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '|' {
            chars.next();
            tokens.push(Token::Pipe);
        } else if c == '"' || c == '`' {
            chars.next();
            let mut value = String::new();
            let mut closed = false;
            while let Some((_, d)) = chars.next() {
                if d == c {
                    closed = true;
                    break;
                }
                if d == '\\' && c == '"' {
                    match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 't')) => value.push('\t'),
                        Some((_, e)) => value.push(e),
                        None => break,
                    }
                } else {
                    value.push(d);
                }
            }
            if !closed {
                return Err(format!("unterminated string in {s:?}"));
            }
            tokens.push(Token::Str(value));
        } else {
            let mut end = s.len();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_whitespace() || d == '|' {
                    end = j;
                    break;
                }
                chars.next();
            }
            let word = &s[i..end];
            let token = if word.starts_with('$') || word.starts_with('.') {
                Token::Field(word.to_string())
            } else if let Ok(n) = word.parse::<f64>() {
                Token::Num(n)
            } else if word.chars().all(|c| c.is_alphanumeric() || c == '_') {
                Token::Ident(word.to_string())
            } else {
                return Err(format!("unexpected {word:?} in action"));
            };
            tokens.push(token);
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    static NO_LABELS: LabelSet = LabelSet::new();

    fn data(labels: &LabelSet, value: f64) -> TemplateData<'_> {
        TemplateData {
            labels,
            value,
            external_url: "http://tt.example",
            external_labels: &NO_LABELS,
        }
    }

    #[test]
    fn external_labels_are_available() {
        let l = labels();
        let ext: LabelSet = [("cluster".to_string(), "eu-1".to_string())].into();
        let d = TemplateData {
            external_labels: &ext,
            ..data(&l, 1.0)
        };
        assert_eq!(
            expand("{{ $externalLabels.cluster }}/{{ $labels.job }}", &d),
            "eu-1/node"
        );
        assert_eq!(expand("{{ $externalLabels.none }}", &d), "");
    }

    fn labels() -> LabelSet {
        [("instance", "db-1:9100"), ("job", "node")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn expands_labels_and_value() {
        let l = labels();
        let d = data(&l, 0.25);
        assert_eq!(
            expand("{{ $labels.instance }} is down ({{ $value }})", &d),
            "db-1:9100 is down (0.25)"
        );
        assert_eq!(expand("{{.Labels.job}}/{{ .Value }}", &d), "node/0.25");
        assert_eq!(expand("[{{ $labels.missing }}]", &d), "[]");
        assert_eq!(expand("no actions", &d), "no actions");
        assert_eq!(expand("a {{- \"b\" -}} c", &d), "abc");
        assert_eq!(expand("x{{/* note */}}y", &d), "xy");
        assert_eq!(expand("{{ $externalURL }}", &d), "http://tt.example");
    }

    #[test]
    fn pipelines_and_functions() {
        let l = labels();
        assert_eq!(
            expand("{{ $value | humanize }}", &data(&l, 1_234_567.0)),
            "1.235M"
        );
        assert_eq!(expand("{{ humanize $value }}", &data(&l, 0.0012)), "1.2m");
        assert_eq!(
            expand("{{ $value | humanize1024 }}", &data(&l, 2048.0)),
            "2ki"
        );
        assert_eq!(
            expand("{{ $value | humanizePercentage }}", &data(&l, 0.1234)),
            "12.34%"
        );
        assert_eq!(
            expand("{{ $value | humanizeDuration }}", &data(&l, 93_784.0)),
            "1d 2h 3m 4s"
        );
        assert_eq!(
            expand("{{ $value | humanizeDuration }}", &data(&l, 0.25)),
            "250ms"
        );
        assert_eq!(
            expand("{{ $labels.job | toUpper }}", &data(&l, 0.0)),
            "NODE"
        );
        assert_eq!(
            expand("{{ printf \"%.2f\" $value }}", &data(&l, 1.23456)),
            "1.23"
        );
        assert_eq!(
            expand("{{ $value | printf \"%5.1f%%\" }}", &data(&l, 99.0)),
            " 99.0%"
        );
    }

    #[test]
    fn errors_are_written_into_the_text() {
        let l = labels();
        let d = data(&l, 1.0);
        assert!(expand("{{ $labels.job ", &d).starts_with("<error expanding template: "));
        assert!(expand("{{ nosuchfn $value }}", &d).contains("not defined"));
        assert!(try_expand("{{ $bogus }}", &d).is_err());
    }

    #[test]
    fn humanize_matches_prometheus() {
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(1.0), "1");
        assert_eq!(humanize(1234.0), "1.234k");
        assert_eq!(humanize(-5.5e9), "-5.5G");
        assert_eq!(humanize_duration(61.0), "1m 1s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.0), "0s");
    }
}
