//! `sort`, `sort_desc`, `sort_by_label` and `sort_by_label_desc` (only instant queries
//! keep the order; range query results are always sorted by labels).

use std::cmp::Ordering;

use crate::value::Sample;

/// Sorts by value, ascending or descending, NaN last either way.
pub(crate) fn by_value(v: &mut [Sample], desc: bool) {
    v.sort_by(|a, b| match (a.value.is_nan(), b.value.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if desc => b.value.total_cmp(&a.value),
        _ => a.value.total_cmp(&b.value),
    });
}

/// Sorts by the values of `names` in natural order, then by the whole label set.
pub(crate) fn by_labels(v: &mut [Sample], names: &[String], desc: bool) {
    v.sort_by(|a, b| {
        let ord = names
            .iter()
            .map(|n| natural_cmp(a.metric.get(n).unwrap_or(""), b.metric.get(n).unwrap_or("")))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.metric.cmp(&b.metric));
        if desc { ord.reverse() } else { ord }
    });
}

/// Natural order: runs of ASCII digits compare as numbers, everything else bytewise.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (na, ra) = split_run(a, true);
                let (nb, rb) = split_run(b, true);
                let ord = cmp_numeric(na, nb);
                if ord.is_ne() {
                    return ord;
                }
                (a, b) = (ra, rb);
            }
            _ => {
                let (sa, ra) = split_run(a, false);
                let (sb, rb) = split_run(b, false);
                let ord = sa.cmp(sb);
                if ord.is_ne() {
                    return ord;
                }
                (a, b) = (ra, rb);
            }
        }
    }
}

/// The leading run of digits (or of non-digits) of `s`, and the rest.
fn split_run(s: &[u8], digits: bool) -> (&[u8], &[u8]) {
    let n = s
        .iter()
        .take_while(|c| c.is_ascii_digit() == digits)
        .count();
    s.split_at(n)
}

/// Compares two digit strings as numbers of any length (leading zeros ignored, then the
/// shorter string first on a tie so the order is total).
fn cmp_numeric(a: &[u8], b: &[u8]) -> Ordering {
    let (ta, tb) = (trim_zeros(a), trim_zeros(b));
    ta.len()
        .cmp(&tb.len())
        .then_with(|| ta.cmp(tb))
        .then_with(|| a.len().cmp(&b.len()))
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let z = s.iter().take_while(|c| **c == b'0').count();
    s.split_at(z).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_numbers_numerically() {
        assert_eq!(natural_cmp("a2", "a10"), Ordering::Less);
        assert_eq!(natural_cmp("a10", "a2"), Ordering::Greater);
        assert_eq!(natural_cmp("host-9:80", "host-10:80"), Ordering::Less);
        assert_eq!(natural_cmp("abc", "abd"), Ordering::Less);
        assert_eq!(natural_cmp("", "a"), Ordering::Less);
        assert_eq!(natural_cmp("007", "7"), Ordering::Greater);
        assert_eq!(natural_cmp("x1y", "x1y"), Ordering::Equal);
    }
}
