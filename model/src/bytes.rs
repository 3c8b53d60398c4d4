//! Sizes written as Prometheus's configuration writes them (`body_size_limit: 10MB`):
//! Go's `units.Base2Bytes`, where `KB` and `KiB` are both 1024 bytes.

use crate::error::BytesError;

/// The units and their sizes: `B`, then `K`, `M`, `G`, `T`, `P`, `E` with `B` or `iB`,
/// all powers of 1024.
const UNITS: [(&str, u32); 13] = [
    ("B", 0),
    ("KB", 1),
    ("KiB", 1),
    ("MB", 2),
    ("MiB", 2),
    ("GB", 3),
    ("GiB", 3),
    ("TB", 4),
    ("TiB", 4),
    ("PB", 5),
    ("PiB", 5),
    ("EB", 6),
    ("EiB", 6),
];

/// Parses a size in bytes as Go's `units.ParseBase2Bytes`: one or more
/// `<number><unit>` (`1GB512MB`, `1.5KiB`), or `0`. The result is truncated to whole
/// bytes.
pub fn parse_base2_bytes(text: &str) -> Result<u64, BytesError> {
    let invalid = || BytesError::Invalid {
        text: text.to_string(),
    };
    let mut s = text.strip_prefix('+').unwrap_or(text);
    if s.starts_with('-') {
        return Err(BytesError::Negative {
            text: text.to_string(),
        });
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !s.is_empty() {
        let number_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, rest) = s.split_at(number_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let (unit, rest) = rest.split_at(unit_end);
        let Some(&(_, power)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(BytesError::UnknownUnit {
                unit: unit.to_string(),
                text: text.to_string(),
            });
        };
        total += value * 1024f64.powi(power as i32);
        s = rest;
    }
    if total >= i64::MAX as f64 {
        return Err(BytesError::OutOfRange {
            text: text.to_string(),
        });
    }
    Ok(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_base2_units() {
        assert_eq!(parse_base2_bytes("0"), Ok(0));
        assert_eq!(parse_base2_bytes("512B"), Ok(512));
        assert_eq!(parse_base2_bytes("10MB"), Ok(10 << 20));
        assert_eq!(parse_base2_bytes("10MiB"), Ok(10 << 20));
        assert_eq!(parse_base2_bytes("1GB512MB"), Ok((1 << 30) + (512 << 20)));
        assert_eq!(parse_base2_bytes("1.5KiB"), Ok(1536));
        assert!(matches!(
            parse_base2_bytes("10"),
            Err(BytesError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_base2_bytes("10mb"),
            Err(BytesError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_base2_bytes(""),
            Err(BytesError::Invalid { .. })
        ));
        assert!(matches!(
            parse_base2_bytes("-1MB"),
            Err(BytesError::Negative { .. })
        ));
        assert!(matches!(
            parse_base2_bytes("9EB"),
            Err(BytesError::OutOfRange { .. })
        ));
        assert_eq!(
            parse_base2_bytes("5XB").unwrap_err().to_string(),
            "units: unknown unit XB in 5XB"
        );
    }
}
