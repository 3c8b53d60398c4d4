//! Go's `fmt`: `Sprintf` with its verbs, flags, widths, precisions and argument indexes,
//! `Sprint`, `Sprintln`, and `%v` of every [`Value`] — including Go's floats (`%.2f`
//! of +Inf is `+Inf`, `%v` of 1e6 is `1e+06`) and Go's error forms (`%!d(string=x)`,
//! `%!s(MISSING)`, `%!(EXTRA int=1)`).

use std::fmt::Write;

use telltale_model::{go_quote, go_quote_ascii, go_quote_rune, go_quote_rune_ascii};

use crate::template::gofloat::{format_float, sharp_float};
use crate::template::gotime;
use crate::template::value::{StructKind, Value};

/// `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    p.do_printf(format, args);
    p.buf
}

/// `fmt.Sprint(args...)`: spaces between operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.flags = Flags::default();
        p.print_arg(a, 'v', 0);
        prev_string = is_string;
    }
    p.buf
}

/// `fmt.Sprintln(args...)`: always spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.flags = Flags::default();
        p.print_arg(a, 'v', 0);
    }
    p.buf.push('\n');
    p.buf
}

/// What an action prints for a value (`fmt.Fprint` after Go dereferences a pointer).
pub fn print_value(v: &Value) -> String {
    let v = match v {
        Value::Struct(s) if s.kind == StructKind::Sample => {
            let mut p = Printer::default();
            p.print_struct(s, 'v', 1);
            return p.buf;
        }
        Value::Time { nanos, .. } => return gotime::time_string(*nanos),
        Value::Duration { nanos, .. } => return gotime::duration_string(*nanos),
        v => v,
    };
    sprint(std::slice::from_ref(v))
}

#[derive(Clone, Copy, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

#[derive(Default)]
struct Printer {
    buf: String,
    flags: Flags,
    reordered: bool,
    good_arg_num: bool,
}

/// Reads a decimal number at `i`: (value, found, next index).
fn parse_num(b: &[u8], mut i: usize) -> (usize, bool, usize) {
    let start = i;
    let mut n: usize = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        if n > 1_000_000 {
            return (0, false, b.len());
        }
        n = n * 10 + usize::from(b[i] - b'0');
        i += 1;
    }
    (n, i > start, i)
}

impl Printer {
    fn arg_number(
        &mut self,
        arg_num: usize,
        b: &[u8],
        i: usize,
        num_args: usize,
    ) -> (usize, usize, bool) {
        if i >= b.len() || b[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        // `[n]`: 1-based.
        for j in i + 1..b.len() {
            if b[j] == b']' {
                let (n, ok, end) = parse_num(b, i + 1);
                if !ok || end != j || n == 0 || n > num_args {
                    self.good_arg_num = false;
                    return (arg_num, j + 1, true);
                }
                return (n - 1, j + 1, true);
            }
        }
        self.good_arg_num = false;
        (arg_num, i + 1, false)
    }

    fn do_printf(&mut self, format: &str, a: &[Value]) {
        let b = format.as_bytes();
        let end = b.len();
        let mut arg_num = 0;
        let mut after_index;
        self.reordered = false;
        let mut i = 0;
        while i < end {
            self.good_arg_num = true;
            let lasti = i;
            while i < end && b[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.buf.push_str(&format[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1;
            self.flags = Flags::default();
            while i < end {
                match b[i] {
                    b'#' => self.flags.sharp = true,
                    b'0' => self.flags.zero = !self.flags.minus,
                    b'+' => self.flags.plus = true,
                    b'-' => {
                        self.flags.minus = true;
                        self.flags.zero = false;
                    }
                    b' ' => self.flags.space = true,
                    _ => break,
                }
                i += 1;
            }
            (arg_num, i, after_index) = self.arg_number(arg_num, b, i, a.len());
            if i < end && b[i] == b'*' {
                i += 1;
                match a.get(arg_num) {
                    Some(Value::Int(w)) => {
                        let w = *w;
                        if w < 0 {
                            self.flags.minus = true;
                            self.flags.zero = false;
                        }
                        self.flags.wid = Some(w.unsigned_abs().min(1_000_000) as usize);
                    }
                    _ => self.buf.push_str("%!(BADWIDTH)"),
                }
                arg_num += 1;
                after_index = false;
            } else {
                let (w, found, ni) = parse_num(b, i);
                i = ni;
                if found {
                    self.flags.wid = Some(w);
                    if after_index {
                        self.good_arg_num = false;
                    }
                }
            }
            if i + 1 < end && b[i] == b'.' {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, b, i, a.len());
                if i < end && b[i] == b'*' {
                    i += 1;
                    match a.get(arg_num) {
                        Some(Value::Int(p)) if *p >= 0 => {
                            self.flags.prec = Some((*p as usize).min(1_000_000))
                        }
                        Some(Value::Int(_)) => self.flags.prec = None,
                        _ => self.buf.push_str("%!(BADPREC)"),
                    }
                    arg_num += 1;
                    after_index = false;
                } else {
                    let (p, _, ni) = parse_num(b, i);
                    i = ni;
                    self.flags.prec = Some(p);
                }
            }
            if !after_index {
                (arg_num, i, after_index) = self.arg_number(arg_num, b, i, a.len());
            }
            let _ = after_index;
            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('%');
            i += verb.len_utf8();
            match verb {
                '%' => self.buf.push('%'),
                _ if !self.good_arg_num => {
                    let _ = write!(self.buf, "%!{verb}(BADINDEX)");
                }
                _ if arg_num >= a.len() => {
                    let _ = write!(self.buf, "%!{verb}(MISSING)");
                }
                'v' => {
                    self.flags.sharp_v = self.flags.sharp;
                    self.flags.sharp = false;
                    self.flags.plus_v = self.flags.plus;
                    self.flags.plus = false;
                    self.print_arg(&a[arg_num], 'v', 0);
                    arg_num += 1;
                }
                _ => {
                    self.print_arg(&a[arg_num], verb, 0);
                    arg_num += 1;
                }
            }
        }
        if !self.reordered && arg_num < a.len() {
            self.flags = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (k, arg) in a[arg_num..].iter().enumerate() {
                if k > 0 {
                    self.buf.push_str(", ");
                }
                if *arg == Value::Nil {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(arg.type_name());
                    self.buf.push('=');
                    self.print_arg(arg, 'v', 0);
                }
            }
            self.buf.push(')');
        }
    }

    fn bad_verb(&mut self, verb: char, arg: &Value) {
        let _ = write!(self.buf, "%!{verb}(");
        if *arg == Value::Nil {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(arg.type_name());
            self.buf.push('=');
            self.print_arg(arg, 'v', 0);
        }
        self.buf.push(')');
    }

    fn print_arg(&mut self, arg: &Value, verb: char, depth: usize) {
        if verb == 'T' {
            let t = arg.type_name().to_string();
            self.fmt_s(&t);
            return;
        }
        match arg {
            Value::Nil => match verb {
                'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, arg),
            },
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, arg),
            },
            Value::Int(i) => self.fmt_integer(*i, verb, arg),
            Value::Float(f) => self.fmt_float_verb(*f, verb, arg),
            Value::Str(s) => self.fmt_string(s, verb, arg),
            // Stringers: time.Time, time.Duration (and pointers to them).
            Value::Time { nanos, .. } if matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') => {
                let s = gotime::time_string(*nanos);
                self.fmt_string(&s, verb, arg);
            }
            Value::Duration { nanos, .. } if matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') => {
                let s = gotime::duration_string(*nanos);
                self.fmt_string(&s, verb, arg);
            }
            Value::Duration { nanos, ptr: false } => self.fmt_integer(*nanos, verb, arg),
            Value::Time { .. } | Value::Duration { .. } => self.bad_verb(verb, arg),
            // Go prints pointers nested in a list as addresses; samples are shown whole.
            Value::List(l) => {
                self.buf.push('[');
                for (k, item) in l.items.iter().enumerate() {
                    if k > 0 {
                        self.buf.push(' ');
                    }
                    self.print_arg(item, verb, depth + 1);
                }
                self.buf.push(']');
            }
            Value::Map(m) => {
                self.buf.push_str("map[");
                for (k, (key, value)) in m.entries.iter().enumerate() {
                    if k > 0 {
                        self.buf.push(' ');
                    }
                    self.fmt_string(key, verb, &Value::str(key));
                    self.buf.push(':');
                    self.print_arg(value, verb, depth + 1);
                }
                self.buf.push(']');
            }
            Value::Struct(s) => {
                if s.kind == StructKind::Sample || s.kind == StructKind::NotificationData {
                    self.buf.push('&');
                }
                self.print_struct(s, verb, depth + 1);
            }
        }
    }

    fn print_struct(&mut self, s: &crate::template::value::Struct, verb: char, depth: usize) {
        self.buf.push('{');
        for (k, (name, value)) in s.fields.iter().enumerate() {
            if k > 0 {
                self.buf.push(' ');
            }
            if self.flags.plus_v || self.flags.sharp_v {
                self.buf.push_str(name);
                self.buf.push(':');
            }
            self.print_arg(value, verb, depth);
        }
        self.buf.push('}');
    }

    /// Pads `s` to the width with spaces (or zeros), honoring `-`.
    fn pad(&mut self, s: &str) {
        let Some(wid) = self.flags.wid else {
            self.buf.push_str(s);
            return;
        };
        let width = s.chars().count();
        if width >= wid {
            self.buf.push_str(s);
            return;
        }
        let fill = if self.flags.zero && !self.flags.minus {
            '0'
        } else {
            ' '
        };
        let padding: String = std::iter::repeat_n(fill, wid - width).collect();
        if self.flags.minus {
            self.buf.push_str(s);
            self.buf.push_str(&padding);
        } else {
            self.buf.push_str(&padding);
            self.buf.push_str(s);
        }
    }

    fn fmt_s(&mut self, s: &str) {
        let s: String = match self.flags.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        };
        // Zero padding does not apply to strings in Go 1.19 for %s... it does: keep Go's pad.
        self.pad(&s);
    }

    fn fmt_string(&mut self, s: &str, verb: char, arg: &Value) {
        match verb {
            'v' if self.flags.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' | 'X' => self.fmt_sx(s.as_bytes(), verb == 'X'),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, arg),
        }
    }

    fn fmt_sx(&mut self, bytes: &[u8], upper: bool) {
        let bytes = match self.flags.prec {
            Some(p) if p < bytes.len() => &bytes[..p],
            _ => bytes,
        };
        let digits = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        let mut out = String::new();
        for (k, byte) in bytes.iter().enumerate() {
            if self.flags.space && k > 0 {
                out.push(' ');
            }
            if self.flags.sharp && (k == 0 || self.flags.space) {
                out.push_str(if upper { "0X" } else { "0x" });
            }
            out.push(digits[usize::from(byte >> 4)] as char);
            out.push(digits[usize::from(byte & 0xf)] as char);
        }
        let zero = self.flags.zero;
        self.flags.zero = false;
        self.pad(&out);
        self.flags.zero = zero;
    }

    fn fmt_q(&mut self, s: &str) {
        let s: String = match self.flags.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        };
        if self.flags.sharp && !s.contains('`') && !s.chars().any(|c| c.is_control() && c != '\t') {
            self.pad(&format!("`{s}`"));
        } else {
            let q = if self.flags.plus {
                go_quote_ascii(&s)
            } else {
                go_quote(&s)
            };
            self.pad(&q);
        }
    }

    fn fmt_integer(&mut self, v: i64, verb: char, arg: &Value) {
        let (base, upper) = match verb {
            'v' | 'd' => (10, false),
            'b' => (2, false),
            'o' | 'O' => (8, false),
            'x' => (16, false),
            'X' => (16, true),
            'c' => {
                let c = u32::try_from(v)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                self.pad(&c.to_string());
                return;
            }
            'q' => {
                let c = u32::try_from(v)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                let q = if self.flags.plus {
                    go_quote_rune_ascii(c)
                } else {
                    go_quote_rune(c)
                };
                self.pad(&q);
                return;
            }
            'U' => {
                let mut s = format!("U+{:04X}", v);
                if self.flags.sharp
                    && let Some(c) = u32::try_from(v).ok().and_then(char::from_u32)
                    && !c.is_control()
                {
                    let _ = write!(s, " '{c}'");
                }
                self.pad(&s);
                return;
            }
            _ => return self.bad_verb(verb, arg),
        };
        let neg = v < 0;
        let abs = v.unsigned_abs();
        let mut digits = match (base, upper) {
            (2, _) => format!("{abs:b}"),
            (8, _) => format!("{abs:o}"),
            (16, false) => format!("{abs:x}"),
            (16, true) => format!("{abs:X}"),
            _ => abs.to_string(),
        };
        let mut zero = self.flags.zero;
        if let Some(p) = self.flags.prec {
            zero = false;
            if p == 0 && v == 0 {
                digits.clear();
            }
            while digits.len() < p {
                digits.insert(0, '0');
            }
        }
        let mut prefix = String::new();
        if self.flags.sharp {
            match base {
                2 => prefix.push_str("0b"),
                8 if !digits.starts_with('0') => prefix.push('0'),
                16 => prefix.push_str(if upper { "0X" } else { "0x" }),
                _ => {}
            }
        }
        if verb == 'O' {
            prefix = "0o".into();
        }
        let sign = if neg {
            "-"
        } else if self.flags.plus {
            "+"
        } else if self.flags.space {
            " "
        } else {
            ""
        };
        let body = format!("{prefix}{digits}");
        if zero
            && !self.flags.minus
            && let Some(w) = self.flags.wid
        {
            let len = sign.len() + body.len();
            let fill = "0".repeat(w.saturating_sub(len));
            self.buf.push_str(sign);
            self.buf.push_str(&prefix);
            self.buf.push_str(&fill);
            self.buf.push_str(&digits);
            return;
        }
        let s = format!("{sign}{body}");
        let saved = self.flags.zero;
        self.flags.zero = false;
        self.pad(&s);
        self.flags.zero = saved;
    }

    fn fmt_float_verb(&mut self, v: f64, verb: char, arg: &Value) {
        let (verb, prec) = match verb {
            'v' => ('g', None),
            'b' | 'g' | 'G' | 'x' | 'X' => (verb, None),
            'f' | 'e' | 'E' | 'F' => (verb, Some(6)),
            _ => return self.bad_verb(verb, arg),
        };
        let prec = self.flags.prec.or(prec);
        let mut num = format_float(v, verb, prec);
        if self.flags.sharp && verb != 'b' && v.is_finite() {
            num = sharp_float(&num, verb, prec);
        }
        // Sign handling as Go's fmt.fmtFloat.
        let (sign, body) = match num.strip_prefix('-') {
            Some(b) => ('-', b.to_string()),
            None => ('+', num.trim_start_matches('+').to_string()),
        };
        let mut sign = sign;
        if self.flags.space && sign == '+' && !self.flags.plus {
            sign = ' ';
        }
        if body == "Inf" || body == "NaN" {
            let zero = self.flags.zero;
            self.flags.zero = false;
            let s = if body == "NaN" && !self.flags.space && !self.flags.plus {
                body
            } else {
                format!("{sign}{body}")
            };
            self.pad(&s);
            self.flags.zero = zero;
            return;
        }
        if self.flags.plus || sign != '+' {
            if self.flags.zero
                && !self.flags.minus
                && let Some(w) = self.flags.wid
                && w > body.len() + 1
            {
                self.buf.push(sign);
                self.buf.push_str(&"0".repeat(w - body.len() - 1));
                self.buf.push_str(&body);
                return;
            }
            self.pad(&format!("{sign}{body}"));
            return;
        }
        if self.flags.zero
            && !self.flags.minus
            && let Some(w) = self.flags.wid
            && w > body.len()
        {
            self.buf.push_str(&"0".repeat(w - body.len()));
            self.buf.push_str(&body);
            return;
        }
        self.pad(&body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(format: &str, args: &[Value]) -> String {
        sprintf(format, args)
    }

    #[test]
    fn floats_as_go() {
        let inf = Value::Float(f64::INFINITY);
        assert_eq!(f("%.2f", std::slice::from_ref(&inf)), "+Inf");
        assert_eq!(f("%.2f", &[Value::Float(f64::NEG_INFINITY)]), "-Inf");
        assert_eq!(f("%.2f", &[Value::Float(f64::NAN)]), "NaN");
        assert_eq!(f("%v", &[inf]), "+Inf");
        assert_eq!(f("%+.1f", &[Value::Float(f64::NAN)]), "+NaN");
        assert_eq!(f("%6.2f|", &[Value::Float(f64::INFINITY)]), "  +Inf|");
        assert_eq!(f("%06.2f|", &[Value::Float(f64::NEG_INFINITY)]), "  -Inf|");
        assert_eq!(f("%.2f", &[Value::Float(1.005)]), "1.00");
        assert_eq!(f("%.0f", &[Value::Float(2.5)]), "2");
        assert_eq!(f("%0.0f", &[Value::Float(99.5)]), "100");
        assert_eq!(
            f(
                "%v %v %v",
                &[
                    Value::Float(1e6),
                    Value::Float(123456.0),
                    Value::Float(1e-5)
                ]
            ),
            "1e+06 123456 1e-05"
        );
        assert_eq!(
            f("%g %G", &[Value::Float(1e21), Value::Float(1e-7)]),
            "1e+21 1E-07"
        );
        assert_eq!(f("%.4g", &[Value::Float(12345.0)]), "1.234e+04");
        assert_eq!(f("%.3g", &[Value::Float(0.0001234)]), "0.000123");
        assert_eq!(f("%e", &[Value::Float(1234.5678)]), "1.234568e+03");
        assert_eq!(f("%.1E", &[Value::Float(-0.0)]), "-0.0E+00");
        assert_eq!(f("%08.3f", &[Value::Float(-3.14259)]), "-003.143");
        assert_eq!(
            f("%+.2f % .2f", &[Value::Float(1.0), Value::Float(1.0)]),
            "+1.00  1.00"
        );
        assert_eq!(f("%x", &[Value::Float(1.0)]), "0x1p+00");
        assert_eq!(f("%.2x", &[Value::Float(3.0)]), "0x1.80p+01");
    }

    #[test]
    fn integers_strings_and_errors_as_go() {
        assert_eq!(
            f(
                "%d|%5d|%-5d|%05d",
                &[
                    Value::Int(42),
                    Value::Int(42),
                    Value::Int(42),
                    Value::Int(-42)
                ]
            ),
            "42|   42|42   |-0042"
        );
        assert_eq!(
            f(
                "%x %X %o %b %#x %c %q %U",
                &[
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(5),
                    Value::Int(255),
                    Value::Int(65),
                    Value::Int(65),
                    Value::Int(65)
                ]
            ),
            "ff FF 10 101 0xff A 'A' U+0041"
        );
        assert_eq!(
            f(
                "%s|%10s|%-10s|%.2s",
                &[
                    Value::str("abc"),
                    Value::str("abc"),
                    Value::str("abc"),
                    Value::str("abc")
                ]
            ),
            "abc|       abc|abc       |ab"
        );
        assert_eq!(
            f("%q", &[Value::str("a\"b\n\u{1}é")]),
            "\"a\\\"b\\n\\x01é\""
        );
        assert_eq!(f("%+q", &[Value::str("é")]), "\"\\u00e9\"");
        assert_eq!(
            f("%x % x", &[Value::str("hi"), Value::str("hi")]),
            "6869 68 69"
        );
        assert_eq!(f("%d", &[Value::str("x")]), "%!d(string=x)");
        assert_eq!(f("%s", &[Value::Float(1.5)]), "%!s(float64=1.5)");
        assert_eq!(f("%d %d", &[Value::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(
            f("%d", &[Value::Int(1), Value::str("a")]),
            "1%!(EXTRA string=a)"
        );
        assert_eq!(f("%[2]s %[1]s", &[Value::str("a"), Value::str("b")]), "b a");
        assert_eq!(
            f(
                "%*d|%-*d",
                &[Value::Int(4), Value::Int(7), Value::Int(3), Value::Int(7)]
            ),
            "   7|7  "
        );
        assert_eq!(f("%z", &[Value::Int(1)]), "%!z(int=1)");
        assert_eq!(f("100%%", &[]), "100%");
        assert_eq!(f("%", &[]), "%!(NOVERB)");
        assert_eq!(
            f(
                "%T %T %v %t",
                &[
                    Value::Float(1.0),
                    Value::str(""),
                    Value::Nil,
                    Value::Bool(true)
                ]
            ),
            "float64 string <nil> true"
        );
    }

    #[test]
    fn sprint_spaces_between_non_strings() {
        assert_eq!(
            sprint(&[Value::Int(1), Value::Int(2), Value::str("a"), Value::Int(3)]),
            "1 2a3"
        );
        assert_eq!(sprintln(&[Value::str("a"), Value::Int(1)]), "a 1\n");
    }
}
