//! Compressed chunks: how samples and rollup points are laid out in bytes.
//!
//! - [`samples`]: raw samples (Gorilla: delta-of-delta timestamps, XOR values); its
//!   [`samples::SampleAppender`] is also the head's open chunk.
//! - [`aggregates`]: rollup points, the same codecs over seven columns, and each point's
//!   quantile sketch ([`crate::sketch`]).
//! - [`histograms`]: native histogram samples; its [`histograms::HistogramAppender`] is
//!   also the head's open chunk of a histogram series.

/// Rollup point chunks.
pub mod aggregates;
/// Bit-level I/O and varints.
pub mod bits;
/// Delta-of-delta and XOR column codecs.
pub mod codec;
/// Native histogram chunks.
pub mod histograms;
/// Raw sample chunks.
pub mod samples;

/// A chunk that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("chunk is truncated or corrupt")]
    Truncated,
}

impl From<bits::Truncated> for Error {
    fn from(_: bits::Truncated) -> Self {
        Error::Truncated
    }
}
