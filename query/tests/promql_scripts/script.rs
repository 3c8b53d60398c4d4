//! A promqltest script parsed into commands, as Prometheus 3's `promqltest` reads it:
//! lines are trimmed, `#` lines are blank, a command's block runs to the next blank line.
//!
//! ```text
//! load 1m                                 # also load_with_nhcb: classic buckets are
//!   metric{job="a"} 0+10x5 _ stale 7      # loaded as NHCB series too
//!   h {{schema:0 sum:5 count:4 buckets:[1 2 1]}}+{{count:1 sum:1 buckets:[1]}}x3
//!
//! eval instant at 5m sum(metric)          # eval_fail / eval_warn / eval_info / eval_ordered
//!   expect warn msg: PromQL warning: ...  # expect fail|warn|no_warn|info|no_info|ordered
//!   expect fail regex: too many .*        #   [msg:<text> | regex:<re>]
//!   {} 50                                 # series, or a scalar (a number alone)
//!
//! eval range from 0 to 2m step 1m metric  # expected series in the notation above
//!   metric{job="a"} 0+10x2
//!
//! eval instant at 1m metric[2m]           # an instant query returning a range vector
//!   expect range vector from 0 to 1m step 1m
//!   metric{job="a"} 0 10
//!
//! eval instant at 0 "a"                   # a string result
//!   expect string "a"
//!
//! eval_fail instant at 0 rate(metric)     # legacy failure forms
//!   expected_fail_message <exact text>    # or expected_fail_regexp <re>
//! ```

use regex::Regex;

use crate::series::{self, Labels, Point};

/// One command of a script, with its 1-based line.
pub enum Command {
    Clear,
    Load(Load),
    Eval(Box<Eval>),
    /// A command this runner does not know (`strict` scripts may not have one).
    Unknown {
        line: usize,
        text: String,
    },
}

pub struct Load {
    pub line: usize,
    pub step_ms: i64,
    /// `load_with_nhcb`: classic histograms are also loaded as NHCB series.
    pub with_nhcb: bool,
    pub series: Vec<(Labels, Vec<Point>)>,
    /// Lines of the block that could not be read (and were not loaded).
    pub errors: Vec<String>,
}

/// What an eval asks for.
pub enum Timing {
    Instant {
        at_ms: i64,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpectKind {
    Ordered,
    Fail,
    Warn,
    NoWarn,
    Info,
    NoInfo,
}

/// An `expect` line: its kind and what the message must be (exact, or a regex).
pub struct Expect {
    pub kind: ExpectKind,
    pub message: Option<String>,
    pub regex: Option<Regex>,
}

impl Expect {
    /// Whether `text` satisfies the line (no message or regex: anything does).
    pub fn matches(&self, text: &str) -> bool {
        match (&self.message, &self.regex) {
            (Some(m), _) => m == text,
            (None, Some(r)) => r.is_match(text),
            (None, None) => true,
        }
    }

    pub fn describe(&self) -> String {
        match (&self.message, &self.regex) {
            (Some(m), _) => format!("message {m:?}"),
            (None, Some(r)) => format!("pattern {:?}", r.as_str()),
            (None, None) => "anything".to_string(),
        }
    }
}

/// An expected series: labels, values, and its 1-based place among the expected lines.
pub struct ExpectedSeries {
    pub labels: Labels,
    pub values: Vec<Point>,
    pub pos: usize,
}

pub struct Eval {
    pub line: usize,
    pub expr: String,
    pub timing: Timing,
    /// Legacy `eval_fail`, `eval_warn`, `eval_info`, `eval_ordered`.
    pub fail: bool,
    pub warn: bool,
    pub info: bool,
    pub ordered: bool,
    pub fail_message: Option<String>,
    pub fail_regex: Option<Regex>,
    pub expects: Vec<Expect>,
    /// `expect range vector from .. to .. step ..`: (start, end, step).
    pub range_vector: Option<(i64, i64, i64)>,
    pub string: Option<String>,
    pub scalar: Option<Point>,
    pub series: Vec<ExpectedSeries>,
    /// Not re-run as a range query around its time (Prometheus's excludeFromRangeQuery).
    pub exclude_from_range: bool,
    /// Why the block could not be read (the eval then fails).
    pub error: Option<String>,
}

impl Eval {
    pub fn is_fail(&self) -> bool {
        self.fail || self.has(ExpectKind::Fail)
    }

    pub fn is_ordered(&self) -> bool {
        self.ordered || self.has(ExpectKind::Ordered)
    }

    pub fn has(&self, kind: ExpectKind) -> bool {
        self.expects.iter().any(|e| e.kind == kind)
    }

    pub fn of(&self, kind: ExpectKind) -> impl Iterator<Item = &Expect> {
        self.expects.iter().filter(move |e| e.kind == kind)
    }

    /// Whether an expected value is a native histogram.
    pub fn expects_histograms(&self) -> bool {
        let h = |p: &Point| matches!(p, Point::Histogram(_));
        self.scalar.as_ref().is_some_and(h) || self.series.iter().any(|s| s.values.iter().any(h))
    }
}

fn duration_ms(s: &str) -> Result<i64, String> {
    telltale_model::parse_duration(s.trim())
        .map(|d| d.as_millis() as i64)
        .map_err(|e| format!("bad duration {s:?}: {e}"))
}

struct Patterns {
    load: Regex,
    instant: Regex,
    range: Regex,
    expect: Regex,
    expect_range: Regex,
}

fn patterns() -> &'static Patterns {
    static P: std::sync::OnceLock<Patterns> = std::sync::OnceLock::new();
    P.get_or_init(|| Patterns {
        load: Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").unwrap(),
        instant: Regex::new(
            r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
        )
        .unwrap(),
        range: Regex::new(
            r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
        )
        .unwrap(),
        expect: Regex::new(
            r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$",
        )
        .unwrap(),
        expect_range: Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
            .unwrap(),
    })
}

/// Parses a script. Errors of one command stay with it ([`Load::errors`],
/// [`Eval::error`], [`Command::Unknown`]); the rest of the script is still read.
pub fn parse(text: &str) -> Vec<Command> {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let block_end = (i + 1..lines.len())
            .find(|&j| lines[j].is_empty())
            .unwrap_or(lines.len());
        let block = &lines[i + 1..block_end];
        if word == "clear" {
            cmds.push(Command::Clear);
            i += 1;
            continue;
        }
        let cmd = if word.starts_with("load") {
            parse_load(l, i + 1, block)
        } else if word.starts_with("eval") {
            Command::Eval(Box::new(parse_eval(l, i + 1, block)))
        } else {
            Command::Unknown {
                line: i + 1,
                text: l.to_string(),
            }
        };
        cmds.push(cmd);
        i = block_end;
    }
    cmds
}

fn parse_load(l: &str, line: usize, block: &[&str]) -> Command {
    let Some(c) = patterns().load.captures(l) else {
        return Command::Unknown {
            line,
            text: l.to_string(),
        };
    };
    let mut load = Load {
        line,
        step_ms: 0,
        with_nhcb: c.get(1).is_some(),
        series: Vec::new(),
        errors: Vec::new(),
    };
    match duration_ms(&c[2]) {
        Ok(ms) => load.step_ms = ms,
        Err(e) => load.errors.push(e),
    }
    for (k, def) in block.iter().enumerate() {
        match series::parse_series(def) {
            Ok(s) => load.series.push(s),
            Err(e) => load.errors.push(format!("line {}: {e}", line + 1 + k)),
        }
    }
    Command::Load(load)
}

fn parse_eval(l: &str, line: usize, block: &[&str]) -> Eval {
    let mut ev = Eval {
        line,
        expr: String::new(),
        timing: Timing::Instant { at_ms: 0 },
        fail: false,
        warn: false,
        info: false,
        ordered: false,
        fail_message: None,
        fail_regex: None,
        expects: Vec::new(),
        range_vector: None,
        string: None,
        scalar: None,
        series: Vec::new(),
        exclude_from_range: false,
        error: None,
    };
    if let Err(e) = read_eval(&mut ev, l, block) {
        ev.error = Some(e);
    }
    ev
}

fn read_eval(ev: &mut Eval, l: &str, block: &[&str]) -> Result<(), String> {
    let p = patterns();
    let modifier = if let Some(c) = p.instant.captures(l) {
        ev.expr = c[3].to_string();
        ev.timing = Timing::Instant {
            at_ms: duration_ms(c.get(2).map_or("", |m| m.as_str()))?,
        };
        c.get(1).map(|m| m.as_str().to_string())
    } else if let Some(c) = p.range.captures(l) {
        ev.expr = c[5].to_string();
        let (start_ms, end_ms, step_ms) = (
            duration_ms(&c[2])?,
            duration_ms(&c[3])?,
            duration_ms(&c[4])?,
        );
        if end_ms < start_ms {
            return Err("end timestamp is before start timestamp".to_string());
        }
        ev.timing = Timing::Range {
            start_ms,
            end_ms,
            step_ms,
        };
        c.get(1).map(|m| m.as_str().to_string())
    } else {
        return Err(format!("invalid evaluation command {l:?}"));
    };
    match modifier.as_deref() {
        Some("fail") => ev.fail = true,
        Some("warn") => ev.warn = true,
        Some("info") => ev.info = true,
        Some("ordered") => ev.ordered = true,
        _ => {}
    }
    let mut pos = 0;
    for def in block {
        if ev.fail && def.starts_with("expected_fail_message") {
            ev.fail_message = Some(def["expected_fail_message".len()..].trim().to_string());
            break;
        }
        if ev.fail && def.starts_with("expected_fail_regexp") {
            let re = def["expected_fail_regexp".len()..].trim();
            ev.fail_regex =
                Some(Regex::new(re).map_err(|e| format!("bad expected_fail_regexp: {e}"))?);
            break;
        }
        if def.starts_with("expect range vector") {
            let c = p
                .expect_range
                .captures(def)
                .ok_or_else(|| format!("invalid range vector definition {def:?}"))?;
            let (s, e, st) = (
                duration_ms(&c[1])?,
                duration_ms(&c[2])?,
                duration_ms(&c[3])?,
            );
            ev.range_vector = Some((s, e, st));
            ev.timing = Timing::Instant { at_ms: e };
            ev.exclude_from_range = true;
            continue;
        }
        if let Some(lit) = def.strip_prefix("expect string") {
            ev.string =
                Some(unquote(lit.trim()).ok_or_else(|| format!("bad expected string {lit:?}"))?);
            ev.exclude_from_range = true;
            continue;
        }
        if def.split(' ').next() == Some("expect") {
            let c = p
                .expect
                .captures(def)
                .ok_or_else(|| format!("invalid expect statement {def:?}"))?;
            let kind = match &c[1] {
                "ordered" => ExpectKind::Ordered,
                "fail" => ExpectKind::Fail,
                "warn" => ExpectKind::Warn,
                "no_warn" => ExpectKind::NoWarn,
                "info" => ExpectKind::Info,
                _ => ExpectKind::NoInfo,
            };
            let mut e = Expect {
                kind,
                message: None,
                regex: None,
            };
            match c.get(2).map(|m| m.as_str()) {
                Some("msg") => e.message = Some(c[3].trim().to_string()),
                Some(_) => {
                    e.regex = Some(
                        Regex::new(c[3].trim()).map_err(|err| format!("invalid regex: {err}"))?,
                    )
                }
                None => {}
            }
            ev.expects.push(e);
            continue;
        }
        pos += 1;
        if let Some(v) = series::parse_number(def) {
            ev.scalar = Some(Point::Float(v));
            break;
        }
        let (labels, values) = series::parse_series(def)?;
        if values.len() > 1
            && matches!(ev.timing, Timing::Instant { .. })
            && ev.range_vector.is_none()
        {
            return Err("expecting multiple values in instant evaluation not allowed".to_string());
        }
        ev.series.push(ExpectedSeries {
            labels,
            values,
            pos,
        });
    }
    let warn_both = ev.has(ExpectKind::Warn) && ev.has(ExpectKind::NoWarn);
    let info_both = ev.has(ExpectKind::Info) && ev.has(ExpectKind::NoInfo);
    if warn_both || info_both || ev.of(ExpectKind::Fail).count() > 1 {
        return Err("invalid expect lines".to_string());
    }
    Ok(())
}

/// A Go string literal (`"..."` with escapes, or a raw backquoted one).
fn unquote(s: &str) -> Option<String> {
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Some(raw.to_string());
    }
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_of(text: &str) -> Eval {
        match parse(text)
            .into_iter()
            .find(|c| matches!(c, Command::Eval(_)))
        {
            Some(Command::Eval(e)) => *e,
            _ => panic!("no eval in {text:?}"),
        }
    }

    #[test]
    fn expect_lines() {
        let ev = eval_of(
            "eval instant at 1m rate(x[5m])\n  expect warn msg: PromQL warning: a\n  expect no_info\n  expect ordered\n  {} 1\n",
        );
        assert_eq!(ev.line, 1);
        assert!(matches!(ev.timing, Timing::Instant { at_ms: 60_000 }));
        assert!(ev.is_ordered() && !ev.is_fail() && ev.has(ExpectKind::NoInfo));
        let w = ev.of(ExpectKind::Warn).next().unwrap();
        assert!(w.matches("PromQL warning: a") && !w.matches("PromQL warning: b"));
        assert_eq!(ev.series.len(), 1);
        assert_eq!(ev.series[0].pos, 1);

        let ev = eval_of("eval instant at 0 foo\n  expect fail regex: too .* samples\n");
        assert!(ev.is_fail());
        assert!(
            ev.of(ExpectKind::Fail)
                .next()
                .unwrap()
                .matches("too many samples")
        );

        let ev = eval_of("eval instant at 0 foo\n  expect warn\n  expect no_warn\n");
        assert!(ev.error.is_some(), "warn and no_warn together are invalid");
    }

    #[test]
    fn legacy_forms() {
        let ev = eval_of("eval_fail instant at 0 foo\n  expected_fail_message exact text\n");
        assert!(ev.fail && ev.fail_message.as_deref() == Some("exact text"));
        let ev =
            eval_of("eval_fail range from 0 to 1m step 30s foo\n  expected_fail_regexp ^bad\n");
        assert!(ev.fail_regex.unwrap().is_match("bad thing"));
        assert!(eval_of("eval_warn instant at 0 foo\n").warn);
        assert!(eval_of("eval_info instant at 0 foo\n").info);
        assert!(eval_of("eval_ordered instant at 0 foo\n").ordered);
    }

    #[test]
    fn range_vectors_strings_and_scalars() {
        let ev = eval_of(
            "eval instant at 1m x[1m]\n  expect range vector from 0 to 1m step 30s\n  x 1 2 3\n",
        );
        assert_eq!(ev.range_vector, Some((0, 60_000, 30_000)));
        assert!(ev.exclude_from_range && ev.error.is_none());
        let ev = eval_of("eval instant at 0 \"a\"\n  expect string \"a\\\"b\"\n");
        assert_eq!(ev.string.as_deref(), Some("a\"b"));
        let ev = eval_of("eval instant at 0 1\n  1\n");
        assert_eq!(ev.scalar, Some(Point::Float(1.0)));
        let ev = eval_of("eval instant at 0 x\n  x 1 2\n");
        assert!(
            ev.error.is_some(),
            "several values in an instant eval are refused"
        );
        let ev = eval_of("eval range from 0 to 1m step 30s x\n  x {{count:1}}x2\n");
        assert!(ev.expects_histograms());
    }

    #[test]
    fn blocks_end_at_blank_and_comment_lines() {
        let cmds = parse(
            "load 1m\n  a 1\n# c\n  b 2\n\nload_with_nhcb 30s\n x_bucket{le=\"1\"} 1\n\nclear\nbogus\n",
        );
        assert!(matches!(&cmds[0], Command::Load(l) if l.series.len() == 1 && l.step_ms == 60_000));
        assert!(matches!(&cmds[1], Command::Unknown { line: 4, .. }));
        assert!(matches!(&cmds[2], Command::Load(l) if l.with_nhcb && l.step_ms == 30_000));
        assert!(matches!(cmds[3], Command::Clear));
        assert!(matches!(&cmds[4], Command::Unknown { line: 10, .. }));
    }
}
