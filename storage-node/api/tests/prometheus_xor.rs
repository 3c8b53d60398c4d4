//! Telltale's Prometheus XOR chunks are byte for byte the chunks Prometheus writes: series
//! of several shapes go through `promtool tsdb create-blocks-from openmetrics` (Prometheus
//! 2.42's own head appender and chunk cutting), and every chunk of the blocks it writes
//! is compared with [`xor::encode`] of the same samples.

use std::path::Path;
use std::process::Command;

use telltale_storage_api::chunk::bits::{read_uvarint, unzigzag};
use telltale_storage_api::prompb::xor;

/// The data of every chunk in a block's segment file (`chunks/000001`): an 8-byte header,
/// then per chunk its length (uvarint), its encoding (1: XOR), its data and a CRC-32C.
fn segment_chunks(file: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&file[..4], &[0x85, 0xBD, 0x40, 0xDD], "segment magic");
    let mut rest = &file[8..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (len, used) = read_uvarint(rest).expect("chunk length");
        let len = len as usize;
        assert_eq!(rest[used], 1, "XOR encoding");
        let data = &rest[used + 1..used + 1 + len];
        let crc = u32::from_be_bytes(rest[used + 1 + len..used + 5 + len].try_into().unwrap());
        assert_eq!(crc, crc32c(&rest[used..used + 1 + len]), "chunk checksum");
        out.push(data.to_vec());
        rest = &rest[used + 5 + len..];
    }
    out
}

/// CRC-32C, bit by bit (the test's own, independent of the product's crate).
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Every chunk promtool writes for the one series `samples`.
fn promtool_chunks(dir: &Path, samples: &[(i64, f64)]) -> Vec<Vec<u8>> {
    let mut text = String::from("# TYPE x gauge\n");
    for (t, v) in samples {
        let value = if v.is_nan() {
            "NaN".to_string()
        } else if v.is_infinite() {
            if *v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
        } else {
            format!("{v:?}")
        };
        text.push_str(&format!(
            "x{{a=\"b\"}} {value} {}.{:03}\n",
            t / 1000,
            t % 1000
        ));
    }
    text.push_str("# EOF\n");
    let input = dir.join("in.txt");
    std::fs::write(&input, text).unwrap();
    let out = dir.join("blocks");
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&out)
        .output()
        .expect("promtool (Debian's prometheus package) runs");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut chunks = Vec::new();
    for block in std::fs::read_dir(&out).unwrap() {
        let segment = block.unwrap().path().join("chunks/000001");
        chunks.extend(segment_chunks(&std::fs::read(segment).unwrap()));
    }
    chunks
}

fn check_shape(name: &str, samples: Vec<(i64, f64)>) {
    let dir = tempfile::tempdir().unwrap();
    let chunks = promtool_chunks(dir.path(), &samples);
    let mut covered = 0;
    for data in &chunks {
        let count = u16::from_be_bytes([data[0], data[1]]) as usize;
        let (first, _) = read_uvarint(&data[2..]).unwrap();
        let first = unzigzag(first);
        let at = samples
            .iter()
            .position(|(t, _)| *t == first)
            .unwrap_or_else(|| panic!("{name}: chunk starting at {first} is not ours"));
        let ours = xor::encode(&samples[at..at + count]);
        let differ = ours.iter().zip(data).position(|(a, b)| a != b);
        assert_eq!(
            &ours,
            data,
            "{name}: chunk of {count} samples at {first}, first difference at byte {differ:?}, lengths {} and {}",
            ours.len(),
            data.len()
        );
        covered += count;
    }
    assert_eq!(covered, samples.len(), "{name}: every sample is in a chunk");
}

#[test]
fn chunks_equal_prometheus_s_for_every_shape() {
    let start = 1_700_000_000_000i64;
    // A steady scrape of a slowly moving gauge.
    let steady = (0..400)
        .map(|i| (start + i * 15_000, (i / 10) as f64))
        .collect();
    check_shape("steady", steady);
    // Jittered timestamps, gaps of every delta-of-delta bucket, and values whose XOR
    // windows grow, shrink and move.
    let mut t = start;
    let mut v = 0.25f64;
    let mut jittered = Vec::new();
    for i in 0..500i64 {
        t += match i % 9 {
            0 => 15_000,
            1 => 14_999,
            2 => 15_001,
            3 => 15_000 + 8_000,
            4 => 15_000 + 100_000,
            5 => 15_000 + 600_000,
            6 => 1,
            7 => 15_000 + 2 * 3_600_000,
            _ => 15_000,
        };
        v = match i % 6 {
            0 => v + 1.0,
            1 => v * 1.5 + 0.1,
            2 => -v,
            3 => i as f64,
            4 => 1e300 / (i as f64 + 1.0),
            _ => v,
        };
        jittered.push((t, v));
    }
    check_shape("jittered", jittered);
    // Special values. Go parses "NaN" as its math.NaN(), whose bits differ from Rust's.
    let go_nan = f64::from_bits(0x7FF8_0000_0000_0001);
    let special = [
        0.0,
        -0.0,
        go_nan,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.0,
        f64::MIN_POSITIVE,
        f64::MAX,
        3.0,
    ]
    .iter()
    .cycle()
    .take(300)
    .enumerate()
    .map(|(i, v)| (start + i as i64 * 10_000, *v))
    .collect();
    check_shape("special", special);
}
