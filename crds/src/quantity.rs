//! [`quantity_bytes`]: a Kubernetes quantity (`10Gi`, `500M`, `1.5Gi`, `1e9`) read as a
//! number of bytes, for the fields that size disks and caches.

/// The bytes a quantity stands for (rounded down to whole bytes): a non-negative decimal
/// number followed by a binary suffix (`Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`), a decimal one
/// (`k`, `M`, `G`, `T`, `P`, `E`), a decimal exponent (`e9`, `E3`) or nothing. Milli
/// (`m`) is refused: no size is a fraction of a byte.
pub fn quantity_bytes(s: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("{s:?} is not a quantity of bytes such as 10Gi: {why}");
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(bad("no number"));
    }
    // The number as `digits / 10^scale`.
    let digits: u128 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| bad("too many digits"))?;
    let mut scale = fraction.len() as u32;
    let multiplier: u128 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        "k" => 10u128.pow(3),
        "M" => 10u128.pow(6),
        "G" => 10u128.pow(9),
        "T" => 10u128.pow(12),
        "P" => 10u128.pow(15),
        "E" => 10u128.pow(18),
        "m" => return Err(bad("milli (m) is not a size")),
        e if e.starts_with(['e', 'E']) => {
            let exponent: i32 = e[1..].parse().map_err(|_| bad("bad exponent"))?;
            if exponent < 0 {
                scale += exponent.unsigned_abs();
                1
            } else {
                10u128
                    .checked_pow(exponent as u32)
                    .ok_or_else(|| bad("too large"))?
            }
        }
        other => {
            return Err(bad(&format!(
                "suffix {other:?} is not one of Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E"
            )));
        }
    };
    let divisor = 10u128
        .checked_pow(scale)
        .ok_or_else(|| bad("too precise"))?;
    digits
        .checked_mul(multiplier)
        .map(|n| n / divisor)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| bad("too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_decimal_and_exponent_forms() {
        assert_eq!(quantity_bytes("10Gi"), Ok(10 << 30));
        assert_eq!(quantity_bytes("256Mi"), Ok(256 << 20));
        assert_eq!(quantity_bytes("1.5Gi"), Ok(3 << 29));
        assert_eq!(quantity_bytes("500M"), Ok(500_000_000));
        assert_eq!(quantity_bytes("2k"), Ok(2000));
        assert_eq!(quantity_bytes("1e9"), Ok(1_000_000_000));
        assert_eq!(quantity_bytes("4096"), Ok(4096));
        assert_eq!(quantity_bytes("0.5"), Ok(0));
        assert_eq!(quantity_bytes(".5Ki"), Ok(512));
    }

    #[test]
    fn what_is_not_a_size_is_named() {
        for bad in [
            "", "Gi", "10GB", "10 Gi", "-1Gi", "100m", "1.2.3", "99999Ei", "1ex",
        ] {
            let e = quantity_bytes(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
