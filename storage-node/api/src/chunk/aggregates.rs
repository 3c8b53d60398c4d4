//! Chunks of rollup points. Per point: bucket start and count and the last sample's
//! offset in the bucket as delta-of-delta integer columns, then sum, min, max, last and
//! increase as XOR float columns, interleaved. The stored form is
//! `uvarint(count) ++ bits`; the first point's integers are written raw.

use crate::Aggregate;

use super::Error;
use super::bits::{BitReader, BitWriter, put_uvarint, read_uvarint};
use super::codec::{Dod, Xor};

struct Columns {
    ts: Dod,
    count: Dod,
    last_offset: Dod,
    floats: [Xor; 5],
}

fn floats(p: &Aggregate) -> [f64; 5] {
    [p.sum, p.min, p.max, p.last, p.increase]
}

/// Encodes time-ordered points into a stored chunk.
pub fn encode(points: &[Aggregate]) -> Vec<u8> {
    let mut out = Vec::new();
    put_uvarint(&mut out, points.len() as u64);
    let mut w = BitWriter::with_bytes(out);
    let mut cols: Option<Columns> = None;
    for p in points {
        let offset = p.last_timestamp_ms.wrapping_sub(p.timestamp_ms);
        match &mut cols {
            None => {
                w.write_bits(p.timestamp_ms as u64, 64);
                w.write_bits(p.count, 64);
                w.write_bits(offset as u64, 64);
                let f = floats(p);
                for v in f {
                    w.write_bits(v.to_bits(), 64);
                }
                cols = Some(Columns {
                    ts: Dod::starting_at(p.timestamp_ms),
                    count: Dod::starting_at(p.count as i64),
                    last_offset: Dod::starting_at(offset),
                    floats: f.map(Xor::starting_at),
                });
            }
            Some(c) => {
                c.ts.encode(&mut w, p.timestamp_ms);
                c.count.encode(&mut w, p.count as i64);
                c.last_offset.encode(&mut w, offset);
                for (x, v) in c.floats.iter_mut().zip(floats(p)) {
                    x.encode(&mut w, v);
                }
            }
        }
    }
    w.into_bytes()
}

/// Decodes a stored chunk, appending its points to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<Aggregate>) -> Result<(), Error> {
    let (count, used) = read_uvarint(bytes).ok_or(Error::Truncated)?;
    let mut r = BitReader::new(&bytes[used..]);
    out.reserve((count as usize).min(bytes.len()));
    let mut cols: Option<Columns> = None;
    for _ in 0..count {
        let (ts, n, offset, f) = match &mut cols {
            None => {
                let ts = r.read_bits(64)? as i64;
                let n = r.read_bits(64)? as i64;
                let offset = r.read_bits(64)? as i64;
                let mut f = [0.0; 5];
                for v in &mut f {
                    *v = f64::from_bits(r.read_bits(64)?);
                }
                cols = Some(Columns {
                    ts: Dod::starting_at(ts),
                    count: Dod::starting_at(n),
                    last_offset: Dod::starting_at(offset),
                    floats: f.map(Xor::starting_at),
                });
                (ts, n, offset, f)
            }
            Some(c) => {
                let ts = c.ts.decode(&mut r)?;
                let n = c.count.decode(&mut r)?;
                let offset = c.last_offset.decode(&mut r)?;
                let mut f = [0.0; 5];
                for (v, x) in f.iter_mut().zip(c.floats.iter_mut()) {
                    *v = x.decode(&mut r)?;
                }
                (ts, n, offset, f)
            }
        };
        out.push(Aggregate {
            timestamp_ms: ts,
            count: n as u64,
            sum: f[0],
            min: f[1],
            max: f[2],
            last: f[3],
            increase: f[4],
            last_timestamp_ms: ts.wrapping_add(offset),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn point() -> impl Strategy<Value = Aggregate> {
        (any::<i64>(), 0u64..100_000, any::<[u64; 5]>(), 0i64..60_000).prop_map(|(t, n, f, off)| {
            Aggregate {
                timestamp_ms: t,
                count: n,
                sum: f64::from_bits(f[0]),
                min: f64::from_bits(f[1]),
                max: f64::from_bits(f[2]),
                last: f64::from_bits(f[3]),
                increase: f64::from_bits(f[4]),
                last_timestamp_ms: t.wrapping_add(off),
            }
        })
    }

    fn bits(p: &Aggregate) -> (i64, u64, [u64; 5], i64) {
        (
            p.timestamp_ms,
            p.count,
            floats(p).map(f64::to_bits),
            p.last_timestamp_ms,
        )
    }

    proptest! {
        #[test]
        fn round_trips_bit_exactly(points in proptest::collection::vec(point(), 0..100)) {
            let bytes = encode(&points);
            let mut out = Vec::new();
            decode_into(&bytes, &mut out).unwrap();
            prop_assert_eq!(out.len(), points.len());
            for (a, b) in out.iter().zip(&points) {
                prop_assert_eq!(bits(a), bits(b));
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = decode_into(&bytes, &mut out);
        }
    }
}
