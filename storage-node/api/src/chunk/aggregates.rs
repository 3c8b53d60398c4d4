//! Chunks of rollup points. Per point: bucket start and count and the last sample's
//! offset in the bucket as delta-of-delta integer columns, then the floats as XOR
//! columns, interleaved; version 3 adds each point's quantile sketch.
//!
//! Version 2 is `0x00 0x02 uvarint(count) ++ bits`: `last` is XORed against the
//! previous point's `last`; `sum`, `min`, `max` and `increase` against a prediction from
//! the same point — `count × last`, `last`, `last`, and `last` minus the previous point's
//! `last`. A counter's `max` is its `last` (one bit), its `increase` and `sum` lie close
//! to their predictions (a few bits), which makes a minute point of a counter about a third
//! smaller than version 1's. Version 1 (still read) is `uvarint(count) ++ bits` with every
//! float XORed against the previous point's; it never starts with `0x00 0x02` or
//! `0x00 0x03` (a chunk of no points is the one byte `0x00`). The first point's integers
//! and `last` are written raw.
//!
//! Version 3 is `0x00 0x03 uvarint(count) uvarint(len) ++ bits ++ sketches`: version 2's
//! `len` bytes of bits, then each point's sketch in its self-delimiting encoding
//! ([`crate::sketch`]; the one byte `0x00` for a point without one), in point order. It
//! is written when any point has a sketch; points without any are written as version 2,
//! so a chunk of points rolled up before sketches existed keeps its bytes when it is
//! merged and written again, and decodes (every version) to points without sketches.
//!
//! Version 4 is version 3 (with the `0x00 0x04` prefix) followed by the native
//! histograms of the points that have them ([`crate::histogram::rollup`]): three
//! histogram chunks ([`super::histograms`], `uvarint(len) ++ chunk` each) of their last
//! samples, increases and sums, each sample at its point's bucket start. It is written
//! when any point has histograms.

use std::collections::HashMap;
use std::sync::Arc;

use crate::histogram::rollup::Point;
use crate::sketch::Sketch;
use crate::{Aggregate, FloatHistogram};

use super::Error;
use super::bits::{BitReader, BitWriter, put_uvarint, read_uvarint};
use super::codec::{Dod, Xor};

/// The first two bytes of a version 2 chunk.
const V2: [u8; 2] = [0x00, 0x02];
/// The first two bytes of a version 3 chunk (points with sketches).
const V3: [u8; 2] = [0x00, 0x03];
/// The first two bytes of a version 4 chunk (points with native histograms).
const V4: [u8; 2] = [0x00, 0x04];

struct Columns {
    ts: Dod,
    count: Dod,
    last_offset: Dod,
    /// Version 1: sum, min, max, last, increase against the previous point's.
    /// Version 2: last against the previous point's; sum, min, max, increase against
    /// their predictions.
    floats: [Xor; 5],
}

impl Columns {
    fn starting_at(ts: i64, count: i64, offset: i64, floats: [f64; 5]) -> Self {
        Columns {
            ts: Dod::starting_at(ts),
            count: Dod::starting_at(count),
            last_offset: Dod::starting_at(offset),
            floats: floats.map(Xor::starting_at),
        }
    }
}

/// Version 2's predictions of sum, min, max and increase from the point's `last` and the
/// previous point's. Arithmetic on numbers rounds the same on every machine; a NaN
/// prediction (whose payload need not) is replaced by 0.
fn predictions(count: u64, last: f64, prev_last: Option<f64>) -> [f64; 4] {
    let canon = |x: f64| if x.is_nan() { 0.0 } else { x };
    [
        canon(count as f64 * last),
        canon(last),
        canon(last),
        prev_last.map_or(0.0, |prev| canon(last - prev)),
    ]
}

/// Encodes time-ordered points into a stored chunk (version 3 when any point has a
/// sketch, else version 2).
pub fn encode(points: &[Aggregate]) -> Vec<u8> {
    if points.iter().any(|p| p.histogram.is_some()) {
        return encode_v4(points);
    }
    if points.iter().all(|p| p.sketch.is_empty()) {
        let mut out = V2.to_vec();
        put_uvarint(&mut out, points.len() as u64);
        let mut w = BitWriter::with_bytes(out);
        encode_columns(points, &mut w);
        return w.into_bytes();
    }
    let mut w = BitWriter::new();
    encode_columns(points, &mut w);
    let bits = w.into_bytes();
    let sketches: usize = points.iter().map(|p| p.sketch.len().max(1)).sum();
    let mut out = Vec::with_capacity(bits.len() + sketches + 12);
    out.extend_from_slice(&V3);
    put_uvarint(&mut out, points.len() as u64);
    put_uvarint(&mut out, bits.len() as u64);
    out.extend_from_slice(&bits);
    for p in points {
        debug_assert!(
            p.sketch.is_empty() || Sketch::encoded_len(&p.sketch) == Ok(p.sketch.len()),
            "a point's sketch is one encoding"
        );
        if p.sketch.is_empty() {
            out.push(0);
        } else {
            out.extend_from_slice(&p.sketch);
        }
    }
    out
}

/// Version 4: version 3's bytes, then the points' histograms as three histogram chunks.
fn encode_v4(points: &[Aggregate]) -> Vec<u8> {
    let mut w = BitWriter::new();
    encode_columns(points, &mut w);
    let bits = w.into_bytes();
    let mut out = Vec::with_capacity(bits.len() + points.len() * 8 + 12);
    out.extend_from_slice(&V4);
    put_uvarint(&mut out, points.len() as u64);
    put_uvarint(&mut out, bits.len() as u64);
    out.extend_from_slice(&bits);
    for p in points {
        if p.sketch.is_empty() {
            out.push(0);
        } else {
            out.extend_from_slice(&p.sketch);
        }
    }
    // Points are in strictly increasing bucket order; one that is not (never written)
    // would not fit a histogram chunk and keeps no histograms.
    let mut newest = None;
    let decoded: Vec<(i64, Point)> = points
        .iter()
        .filter_map(|p| {
            if newest.is_some_and(|n| p.timestamp_ms <= n) {
                return None;
            }
            let point = Point::of(p)?;
            newest = Some(p.timestamp_ms);
            Some((p.timestamp_ms, point))
        })
        .collect();
    let streams: [fn(&Point) -> &FloatHistogram; 3] = [|p| &p.last, |p| &p.increase, |p| &p.sum];
    for pick in streams {
        let run: Vec<(i64, Arc<FloatHistogram>)> = decoded
            .iter()
            .map(|(t, p)| (*t, Arc::new(pick(p).clone())))
            .collect();
        let chunk = super::histograms::encode(&run);
        put_uvarint(&mut out, chunk.len() as u64);
        out.extend_from_slice(&chunk);
    }
    out
}

/// Version 2's bits: the columns of every point.
fn encode_columns(points: &[Aggregate], w: &mut BitWriter) {
    let mut cols: Option<Columns> = None;
    let mut prev_last = None;
    for p in points {
        let offset = p.last_timestamp_ms.wrapping_sub(p.timestamp_ms);
        let c = match &mut cols {
            None => {
                w.write_bits(p.timestamp_ms as u64, 64);
                w.write_bits(p.count, 64);
                w.write_bits(offset as u64, 64);
                w.write_bits(p.last.to_bits(), 64);
                cols.insert(Columns::starting_at(
                    p.timestamp_ms,
                    p.count as i64,
                    offset,
                    [0.0, 0.0, 0.0, p.last, 0.0],
                ))
            }
            Some(c) => {
                c.ts.encode(w, p.timestamp_ms);
                c.count.encode(w, p.count as i64);
                c.last_offset.encode(w, offset);
                c.floats[3].encode(w, p.last);
                c
            }
        };
        let [sum, min, max, increase] = predictions(p.count, p.last, prev_last);
        c.floats[0].encode_predicted(w, sum, p.sum);
        c.floats[1].encode_predicted(w, min, p.min);
        c.floats[2].encode_predicted(w, max, p.max);
        c.floats[4].encode_predicted(w, increase, p.increase);
        prev_last = Some(p.last);
    }
}

/// How many points a stored chunk of any version holds, from its header.
pub fn count(bytes: &[u8]) -> Result<u32, Error> {
    let header = bytes
        .strip_prefix(&V4)
        .or_else(|| bytes.strip_prefix(&V3))
        .or_else(|| bytes.strip_prefix(&V2))
        .unwrap_or(bytes);
    let (count, _) = read_uvarint(header).ok_or(Error::Truncated)?;
    u32::try_from(count).map_err(|_| Error::Truncated)
}

/// Decodes a stored chunk of any version, appending its points to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<Aggregate>) -> Result<(), Error> {
    if let Some(rest) = bytes.strip_prefix(&V4) {
        return decode_v4(rest, out);
    }
    if let Some(rest) = bytes.strip_prefix(&V3) {
        return decode_v3(rest, out);
    }
    match bytes.strip_prefix(&V2) {
        Some(rest) => {
            let (count, used) = read_uvarint(rest).ok_or(Error::Truncated)?;
            decode_columns(&rest[used..], count, out)
        }
        None => decode_v1(bytes, out),
    }
}

fn decode_v4(bytes: &[u8], out: &mut Vec<Aggregate>) -> Result<(), Error> {
    let first = out.len();
    let mut rest = decode_v3_prefix(bytes, out)?;
    let mut streams: [HashMap<i64, FloatHistogram>; 3] = Default::default();
    for stream in &mut streams {
        let (len, used) = read_uvarint(rest).ok_or(Error::Truncated)?;
        let len = usize::try_from(len).map_err(|_| Error::Truncated)?;
        let chunk = rest.get(used..used + len).ok_or(Error::Truncated)?;
        rest = &rest[used + len..];
        for s in super::histograms::stored_iter(chunk)? {
            let (t, h) = s?;
            stream.insert(t, Arc::unwrap_or_clone(h));
        }
    }
    if !rest.is_empty() {
        return Err(Error::Truncated);
    }
    let [mut last, mut increase, mut sum] = streams;
    for p in &mut out[first..] {
        let t = p.timestamp_ms;
        if let (Some(l), Some(i), Some(s)) = (last.remove(&t), increase.remove(&t), sum.remove(&t))
        {
            p.histogram = Some(Box::new(crate::pb::HistogramPoint {
                last: Some(l.to_proto(p.last_timestamp_ms)),
                increase: Some(i.to_proto(t)),
                sum: Some(s.to_proto(t)),
            }));
        }
    }
    Ok(())
}

fn decode_v3(bytes: &[u8], out: &mut Vec<Aggregate>) -> Result<(), Error> {
    if !decode_v3_prefix(bytes, out)?.is_empty() {
        return Err(Error::Truncated);
    }
    Ok(())
}

/// Version 3's points; returns the bytes after them.
fn decode_v3_prefix<'a>(bytes: &'a [u8], out: &mut Vec<Aggregate>) -> Result<&'a [u8], Error> {
    let (count, used) = read_uvarint(bytes).ok_or(Error::Truncated)?;
    let (len, used_len) = read_uvarint(&bytes[used..]).ok_or(Error::Truncated)?;
    let rest = &bytes[used + used_len..];
    let len = usize::try_from(len)
        .ok()
        .filter(|l| *l <= rest.len())
        .ok_or(Error::Truncated)?;
    let (bits, mut sketches) = rest.split_at(len);
    let first = out.len();
    decode_columns(bits, count, out)?;
    for p in &mut out[first..] {
        let n = Sketch::encoded_len(sketches).map_err(|_| Error::Truncated)?;
        if sketches[0] != 0 {
            p.sketch = sketches[..n].to_vec();
        }
        sketches = &sketches[n..];
    }
    Ok(sketches)
}

/// Version 2's bits of `count` points.
fn decode_columns(bytes: &[u8], count: u64, out: &mut Vec<Aggregate>) -> Result<(), Error> {
    let mut r = BitReader::new(bytes);
    out.reserve((count as usize).min(bytes.len()));
    let mut cols: Option<Columns> = None;
    let mut prev_last = None;
    for _ in 0..count {
        let (c, ts, n, offset, last) = match &mut cols {
            None => {
                let ts = r.read_bits(64)? as i64;
                let n = r.read_bits(64)? as i64;
                let offset = r.read_bits(64)? as i64;
                let last = f64::from_bits(r.read_bits(64)?);
                let c = cols.insert(Columns::starting_at(
                    ts,
                    n,
                    offset,
                    [0.0, 0.0, 0.0, last, 0.0],
                ));
                (c, ts, n, offset, last)
            }
            Some(c) => {
                let ts = c.ts.decode(&mut r)?;
                let n = c.count.decode(&mut r)?;
                let offset = c.last_offset.decode(&mut r)?;
                let last = c.floats[3].decode(&mut r)?;
                (c, ts, n, offset, last)
            }
        };
        let [sum, min, max, increase] = predictions(n as u64, last, prev_last);
        let sum = c.floats[0].decode_predicted(&mut r, sum)?;
        let min = c.floats[1].decode_predicted(&mut r, min)?;
        let max = c.floats[2].decode_predicted(&mut r, max)?;
        let increase = c.floats[4].decode_predicted(&mut r, increase)?;
        prev_last = Some(last);
        out.push(Aggregate {
            timestamp_ms: ts,
            count: n as u64,
            sum,
            min,
            max,
            last,
            increase,
            last_timestamp_ms: ts.wrapping_add(offset),
            sketch: Vec::new(),
            histogram: None,
        });
    }
    Ok(())
}

fn decode_v1(bytes: &[u8], out: &mut Vec<Aggregate>) -> Result<(), Error> {
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
                cols = Some(Columns::starting_at(ts, n, offset, f));
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
            sketch: Vec::new(),
            histogram: None,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn floats(p: &Aggregate) -> [f64; 5] {
        [p.sum, p.min, p.max, p.last, p.increase]
    }

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
                sketch: Vec::new(),
                histogram: None,
            }
        })
    }

    /// A point with a sketch of up to 30 values (any bits), or without one.
    fn point_with_sketch() -> impl Strategy<Value = Aggregate> {
        let values = proptest::collection::vec(any::<u64>().prop_map(f64::from_bits), 0..30);
        (point(), values).prop_map(|(p, values)| Aggregate {
            sketch: Sketch::of(values).to_bytes(),
            ..p
        })
    }

    fn bits(p: &Aggregate) -> (i64, u64, [u64; 5], i64, Vec<u8>) {
        (
            p.timestamp_ms,
            p.count,
            floats(p).map(f64::to_bits),
            p.last_timestamp_ms,
            p.sketch.clone(),
        )
    }

    /// Version 1's encoder, as it was written before version 2: the fixture of chunks
    /// already on disk.
    fn encode_v1(points: &[Aggregate]) -> Vec<u8> {
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
                    for v in floats(p) {
                        w.write_bits(v.to_bits(), 64);
                    }
                    cols = Some(Columns::starting_at(
                        p.timestamp_ms,
                        p.count as i64,
                        offset,
                        floats(p),
                    ));
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

    /// Minute points of a busy counter (about 6 samples a minute), as a rollup makes them.
    fn counter_points_with_sketches(n: usize) -> Vec<Aggregate> {
        let mut samples = Vec::new();
        let mut v = 1_000.0f64;
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..n as i64 * 6 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v += (x % 10_000) as f64 / 7.0;
            samples.push((i * 10_000 + 1_000, v));
        }
        crate::rollup::summarise(&samples, None, 60_000)
    }

    /// The same points as rolled up before sketches existed.
    fn counter_points(n: usize) -> Vec<Aggregate> {
        let mut points = counter_points_with_sketches(n);
        for p in &mut points {
            p.sketch.clear();
        }
        points
    }

    /// A chunk written by version 1 (the committed bytes of two points) still decodes.
    #[test]
    fn version_1_chunks_still_decode() {
        let points = counter_points(2);
        let fixture = encode_v1(&points);
        assert_eq!(fixture[0], 2, "version 1 starts with the count");
        let mut out = Vec::new();
        decode_into(&fixture, &mut out).unwrap();
        assert_eq!(
            out.iter().map(bits).collect::<Vec<_>>(),
            points.iter().map(bits).collect::<Vec<_>>()
        );
        // An empty version 1 chunk.
        let mut out = Vec::new();
        decode_into(&[0], &mut out).unwrap();
        assert!(out.is_empty());
    }

    /// Version 2 makes a counter's minute points much smaller than version 1 did.
    #[test]
    fn the_header_counts_the_points_of_either_version() {
        let points = counter_points(7);
        assert_eq!(count(&encode(&points)), Ok(7));
        assert_eq!(count(&encode_v1(&points)), Ok(7));
        assert_eq!(count(&[]), Err(Error::Truncated));
    }

    #[test]
    fn counters_take_less_room_than_in_version_1() {
        let points = counter_points(60);
        let (v1, v2) = (encode_v1(&points).len(), encode(&points).len());
        assert!(v2 * 10 < v1 * 8, "version 2: {v2} bytes, version 1: {v1}");
    }

    /// `counter_points(2)` as version 2 wrote them before sketches existed (the bytes
    /// the encoder of that commit gives).
    const V2_FIXTURE: [u8; 85] = [
        0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 199, 56, 64,
        186, 6, 36, 146, 73, 36, 146, 213, 166, 131, 47, 255, 255, 255, 255, 234, 214, 82, 34, 73,
        36, 146, 73, 44, 63, 64, 178, 61, 36, 146, 73, 36, 147, 157, 76, 6, 148, 61, 64, 118, 105,
        167, 3, 255, 255, 255, 255, 250, 119, 245, 189, 146, 73, 36, 146, 74, 0,
    ];

    #[test]
    fn version_2_chunks_still_decode_and_are_still_written_without_sketches() {
        let points = counter_points(2);
        let mut out = Vec::new();
        decode_into(&V2_FIXTURE, &mut out).unwrap();
        assert_eq!(
            out.iter().map(bits).collect::<Vec<_>>(),
            points.iter().map(bits).collect::<Vec<_>>()
        );
        assert_eq!(
            encode(&points),
            V2_FIXTURE,
            "no sketch: version 2, as before"
        );
        // With sketches: version 3, and the same points back.
        let points = counter_points_with_sketches(2);
        let bytes = encode(&points);
        assert_eq!(bytes[..2], V3);
        assert_eq!(count(&bytes), Ok(2));
        let mut out = Vec::new();
        decode_into(&bytes, &mut out).unwrap();
        assert_eq!(
            out.iter().map(bits).collect::<Vec<_>>(),
            points.iter().map(bits).collect::<Vec<_>>()
        );
    }

    /// A latency-like gauge (log-normal around 120 ms, an occasional slow second) and a
    /// counter (about 50 a second), scraped every `interval` seconds for a day.
    fn day_of_scrapes(interval: i64) -> [Vec<(i64, f64)>; 2] {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut uniform = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut latency, mut counter) = (Vec::new(), Vec::new());
        let mut total = 1_000_000.0;
        for i in 0..24 * 3600 / interval {
            let t = i * interval * 1000 + 2_500;
            let normal: f64 = (0..12).map(|_| uniform()).sum::<f64>() - 6.0;
            let slow = if uniform() < 0.01 { 1.0 } else { 0.0 };
            latency.push((t, 0.12 * (0.3 * normal).exp() + slow));
            total += (50.0 * interval as f64 * (0.8 + 0.4 * uniform())).round();
            counter.push((t, total));
        }
        [latency, counter]
    }

    /// Bytes per point of a chunk, with and without the points' sketches.
    fn bytes_per_point(points: &[Aggregate]) -> (f64, f64) {
        let with = encode(points).len() as f64 / points.len() as f64;
        let bare: Vec<Aggregate> = points
            .iter()
            .map(|p| Aggregate {
                sketch: Vec::new(),
                ..p.clone()
            })
            .collect();
        let without = encode(&bare).len() as f64 / points.len() as f64;
        (with, without)
    }

    /// The storage cost of the sketches, before RocksDB's compression: minute points in
    /// chunks of an hour (as the engine writes them per hour window), hour points in a
    /// chunk of a day; 15 s scrapes asserted, 10 s ones (the disk benchmark's) printed.
    /// `cargo test ... storage_cost -- --nocapture` prints the figures.
    #[test]
    fn storage_cost_of_the_sketches() {
        let [latency, counter] = day_of_scrapes(15);
        let [latency_10s, counter_10s] = day_of_scrapes(10);
        let mut report = Vec::new();
        for (name, samples) in [
            ("latency gauge, 15 s", &latency),
            ("counter, 15 s", &counter),
            ("latency gauge, 10 s", &latency_10s),
            ("counter, 10 s", &counter_10s),
        ] {
            let minutes = crate::rollup::summarise(samples, None, 60_000);
            let hours = crate::rollup::merge(&minutes, 3_600_000);
            assert_eq!((minutes.len(), hours.len()), (1440, 24));
            let per_hour: Vec<(f64, f64)> = minutes.chunks(60).map(bytes_per_point).collect();
            let minute = (
                per_hour.iter().map(|c| c.0).sum::<f64>() / 24.0,
                per_hour.iter().map(|c| c.1).sum::<f64>() / 24.0,
            );
            let hour = bytes_per_point(&hours);
            println!(
                "{name}: minute point {:.1} bytes with its sketch, {:.1} without; \
                 hour point {:.1} with, {:.1} without",
                minute.0, minute.1, hour.0, hour.1
            );
            report.push((minute, hour));
        }
        let [(lat_min, lat_hour), (ctr_min, ctr_hour), ..] = report[..] else {
            unreachable!()
        };
        // Four samples a minute: a few bytes of sketch.
        assert!(lat_min.0 - lat_min.1 <= 9.0, "{lat_min:?}");
        assert!(ctr_min.0 - ctr_min.1 <= 6.0, "{ctr_min:?}");
        // 240 samples an hour over some 2.5 decades: well under 1 KiB.
        assert!(lat_hour.0 - lat_hour.1 <= 200.0, "{lat_hour:?}");
        assert!(ctr_hour.0 - ctr_hour.1 <= 16.0, "{ctr_hour:?}");
    }

    proptest! {
        #[test]
        fn round_trips_with_sketches(points in proptest::collection::vec(point_with_sketch(), 0..40)) {
            let mut out = Vec::new();
            decode_into(&encode(&points), &mut out).unwrap();
            prop_assert_eq!(out.iter().map(bits).collect::<Vec<_>>(), points.iter().map(bits).collect::<Vec<_>>());
        }

        #[test]
        fn version_1_round_trips_bit_exactly(points in proptest::collection::vec(point(), 0..50)) {
            let mut out = Vec::new();
            decode_into(&encode_v1(&points), &mut out).unwrap();
            prop_assert_eq!(out.iter().map(bits).collect::<Vec<_>>(), points.iter().map(bits).collect::<Vec<_>>());
        }

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
        fn histogram_points_round_trip(counts in proptest::collection::vec((0u32..1000, 0u32..1000), 1..30)) {
            use crate::histogram::rollup::summarise;
            let samples: Vec<(i64, Arc<FloatHistogram>)> = counts
                .iter()
                .scan(0f64, |acc, (a, b)| {
                    *acc += f64::from(*a);
                    Some((*acc, f64::from(*b)))
                })
                .enumerate()
                .map(|(i, (a, b))| {
                    let mut h = FloatHistogram { count: a + b, sum: a * 0.5, ..FloatHistogram::default() };
                    h.set_positive([(0, a), (3, b)]);
                    (i as i64 * 20_000, Arc::new(h))
                })
                .collect();
            let mut points = summarise(&samples, None, 60_000);
            points[0].sketch = Sketch::of([1.0, 2.0]).to_bytes();
            let bytes = encode(&points);
            prop_assert_eq!(&bytes[..2], &V4[..]);
            prop_assert_eq!(count(&bytes).unwrap() as usize, points.len());
            let mut out = Vec::new();
            decode_into(&bytes, &mut out).unwrap();
            prop_assert_eq!(&out, &points);
            for cut in [2, bytes.len() / 2, bytes.len() - 1] {
                let mut out = Vec::new();
                prop_assert!(decode_into(&bytes[..cut], &mut out).is_err());
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = decode_into(&bytes, &mut out);
        }
    }
}
