//! Go's `strconv.FormatFloat` (`%e %f %g %b %x` and their upper-case forms, shortest or
//! with a precision, `+Inf`/`-Inf`/`NaN`) and `fmt`'s `%#` of a float, for [`super::printf`].

use std::fmt::Write;

/// `%#` of a float: keeps a decimal point (and, for `%g`, trailing zeros).
pub(crate) fn sharp_float(num: &str, verb: char, prec: Option<usize>) -> String {
    let (mant, exp) = match num.find(['e', 'E', 'p', 'P']) {
        Some(i) => (&num[..i], &num[i..]),
        None => (num, ""),
    };
    let mut mant = mant.to_string();
    if !mant.contains('.') {
        mant.push('.');
    }
    if matches!(verb, 'g' | 'G') {
        let want = prec.unwrap_or(6).max(1);
        let digits = mant
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>();
        let significant = digits.trim_start_matches('0').len().max(1);
        for _ in significant..want {
            mant.push('0');
        }
    }
    format!("{mant}{exp}")
}

/// Go's `strconv.FormatFloat(v, verb, prec, 64)` (`prec` None: shortest).
pub fn format_float(v: f64, verb: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    match verb {
        'f' | 'F' => match prec {
            Some(p) => format!("{v:.p$}"),
            None => format!("{v}"),
        },
        'e' | 'E' => {
            let (digits, exp) = match prec {
                Some(p) => rounded_digits(v, p + 1),
                None => shortest_digits(v),
            };
            exp_form(
                v.is_sign_negative(),
                &digits,
                exp,
                prec.map(|p| p + 1),
                verb == 'E',
            )
        }
        'g' | 'G' => {
            let (digits, exp, eprec) = match prec {
                None => {
                    let (d, e) = shortest_digits(v);
                    (d, e, 6)
                }
                Some(p) => {
                    let p = p.max(1);
                    let (d, e) = rounded_digits(v, p);
                    let d = d.trim_end_matches('0').to_string();
                    let d = if d.is_empty() { "0".to_string() } else { d };
                    let mut eprec = p;
                    if eprec > d.len() && d.len() as i32 > e {
                        eprec = d.len();
                    }
                    (d, e, eprec)
                }
            };
            let upper = verb == 'G';
            if exp < -4 || exp >= eprec as i32 {
                exp_form(v.is_sign_negative(), &digits, exp, None, upper)
            } else {
                fixed_form(v.is_sign_negative(), &digits, exp)
            }
        }
        'b' => {
            let bits = v.to_bits();
            let neg = bits >> 63 == 1;
            let exp = ((bits >> 52) & 0x7ff) as i64;
            let mut mant = bits & ((1 << 52) - 1);
            let e = if exp == 0 {
                -1074
            } else {
                mant |= 1 << 52;
                exp - 1075
            };
            format!(
                "{}{mant}p{}{e}",
                if neg { "-" } else { "" },
                if e >= 0 { "+" } else { "" }
            )
        }
        'x' | 'X' => hex_float(v, prec, verb == 'X'),
        _ => format!("%!{verb}(float64={})", format_float(v, 'g', None)),
    }
}

/// The shortest round-tripping digits of |v| and the decimal exponent of the first.
fn shortest_digits(v: f64) -> (String, i32) {
    let s = format!("{:e}", v.abs());
    split_exp(&s)
}

/// |v| rounded to `n` significant digits (ties to even, as Go), and its exponent.
fn rounded_digits(v: f64, n: usize) -> (String, i32) {
    let p = n.saturating_sub(1);
    let s = format!("{:.p$e}", v.abs());
    split_exp(&s)
}

fn split_exp(s: &str) -> (String, i32) {
    let (m, e) = s.split_once('e').unwrap_or((s, "0"));
    let digits: String = m.chars().filter(char::is_ascii_digit).collect();
    (digits, e.parse().unwrap_or(0))
}

fn exp_form(neg: bool, digits: &str, exp: i32, min_digits: Option<usize>, upper: bool) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let (first, rest) = digits.split_at(1.min(digits.len()));
    out.push_str(if first.is_empty() { "0" } else { first });
    let mut rest = rest.to_string();
    if let Some(n) = min_digits {
        while rest.len() + 1 < n {
            rest.push('0');
        }
    }
    if !rest.is_empty() {
        out.push('.');
        out.push_str(&rest);
    }
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.unsigned_abs());
    out
}

fn fixed_form(neg: bool, digits: &str, exp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let point = exp + 1;
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-point) as usize));
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        out.push_str(&"0".repeat(point as usize - digits.len()));
    } else {
        let (a, b) = digits.split_at(point as usize);
        out.push_str(a);
        out.push('.');
        out.push_str(b);
    }
    out
}

/// Go's `%x` of a float: `0x1.8p+01`.
fn hex_float(v: f64, prec: Option<usize>, upper: bool) -> String {
    let neg = v.is_sign_negative();
    let a = v.abs();
    let mut out = String::from(if neg { "-" } else { "" });
    if a == 0.0 {
        out.push_str("0x0");
        if let Some(p) = prec.filter(|p| *p > 0) {
            out.push('.');
            out.push_str(&"0".repeat(p));
        }
        out.push_str("p+00");
        return if upper { out.to_uppercase() } else { out };
    }
    let bits = a.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1 << 52) - 1);
    if exp == 0 {
        // Subnormal: normalise.
        let shift = mant.leading_zeros() - 11;
        mant = (mant << shift) & ((1 << 52) - 1);
        exp = 1 - shift as i32;
    }
    let exp = exp - 1023;
    // 52 fraction bits = 13 hex digits.
    let mut frac = format!("{mant:013x}");
    match prec {
        None => frac = frac.trim_end_matches('0').to_string(),
        Some(p) if p < 13 => {
            // Round to p hex digits (ties to even).
            let full = (1u64 << 52) | mant;
            let drop = (13 - p) * 4;
            let mut kept = full >> drop;
            let rem = full & ((1u64 << drop) - 1);
            let half = 1u64 << (drop - 1);
            if rem > half || (rem == half && kept & 1 == 1) {
                kept += 1;
            }
            let lead = kept >> (p * 4);
            let fr = kept & ((1u64 << (p * 4)) - 1);
            frac = if p == 0 {
                String::new()
            } else {
                format!("{fr:0w$x}", w = p)
            };
            if lead > 1 {
                // Carried into 2.0: Go renormalises to 0x1p+(exp+1).
                return hex_float(
                    2f64.powi(exp + 1) * if neg { -1.0 } else { 1.0 },
                    prec,
                    upper,
                );
            }
        }
        Some(p) => {
            while frac.len() < p {
                frac.push('0');
            }
        }
    }
    out.push_str("0x1");
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    let _ = write!(
        out,
        "p{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    );
    if upper { out.to_uppercase() } else { out }
}
