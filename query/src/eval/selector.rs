//! Vector and matrix selectors: which series to fetch, and reading them at a step.
//!
//! Selection is planned once per query ([`plan_selections`]): every distinct selector is
//! fetched from storage once, over the union of the time ranges all steps need. Steps
//! then read the fetched points in memory ([`instant_at`], [`range_at`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};
use telltale_storage_api::{self as api, METRIC_NAME};

use super::rollup::RollupSeries;
use crate::error::Result;
use crate::labels::Labels;
use crate::plan::{RollupCall, RollupSelector, Tier};
use crate::value::{HistogramPoint, Sample, Series, is_stale_nan};

/// One series as read from storage: its chunks as stored, decoded when read. Step-major
/// evaluation reads every series at step after step, so [`StoredSeries::points`] decodes
/// once and keeps the points; series-major evaluation reads each series once, so
/// [`StoredSeries::decode_into`] decodes into the caller's buffer and keeps nothing —
/// a query holds its series compressed, one series decoded at a time. Float samples
/// (XOR chunks) and native histogram samples (HISTOGRAMS chunks) are decoded apart.
#[derive(Debug, Clone)]
pub(crate) struct StoredSeries {
    pub labels: Labels,
    /// Time-ordered, non-overlapping (as storage answers them).
    chunks: Vec<api::Chunk>,
    count: usize,
    /// Whether some chunk holds native histograms.
    has_histograms: bool,
    decoded: OnceLock<Vec<(i64, f64)>>,
    histograms: OnceLock<Vec<HistogramPoint>>,
}

impl StoredSeries {
    /// A series of decoded points sorted by time.
    #[cfg(test)]
    pub(crate) fn from_points(labels: Labels, points: Vec<(i64, f64)>) -> Self {
        Self::from_parts(labels, points, Vec::new())
    }

    /// A series of decoded float and histogram points, each sorted by time.
    pub(crate) fn from_parts(
        labels: Labels,
        points: Vec<(i64, f64)>,
        histograms: Vec<HistogramPoint>,
    ) -> Self {
        StoredSeries {
            labels,
            chunks: Vec::new(),
            count: points.len() + histograms.len(),
            has_histograms: !histograms.is_empty(),
            decoded: OnceLock::from(points),
            histograms: OnceLock::from(histograms),
        }
    }

    /// A series of stored chunks, decoded when read.
    pub(crate) fn from_chunks(labels: Labels, chunks: Vec<api::Chunk>) -> Self {
        StoredSeries {
            labels,
            count: chunks.iter().map(|c| c.count as usize).sum(),
            has_histograms: chunks.iter().any(is_histogram_chunk),
            chunks,
            decoded: OnceLock::new(),
            histograms: OnceLock::new(),
        }
    }

    /// How many points the series holds.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Whether the series holds native histogram samples.
    pub(crate) fn has_histograms(&self) -> bool {
        self.has_histograms
    }

    /// The float points, decoded on the first read and kept.
    pub(crate) fn points(&self) -> Result<&[(i64, f64)]> {
        if let Some(points) = self.decoded.get() {
            return Ok(points);
        }
        let mut points = Vec::new();
        floats_into(&self.chunks, &mut points)?;
        Ok(self.decoded.get_or_init(|| points))
    }

    /// The histogram points, decoded on the first read and kept.
    pub(crate) fn histograms(&self) -> Result<&[HistogramPoint]> {
        if let Some(h) = self.histograms.get() {
            return Ok(h);
        }
        let mut out = Vec::new();
        histograms_into(&self.chunks, &mut out)?;
        Ok(self.histograms.get_or_init(|| out))
    }

    /// The float points, decoded into `buf` (cleared first) unless already decoded.
    pub(crate) fn decode_into<'s>(
        &'s self,
        buf: &'s mut Vec<(i64, f64)>,
    ) -> Result<&'s [(i64, f64)]> {
        if let Some(points) = self.decoded.get() {
            return Ok(points);
        }
        buf.clear();
        floats_into(&self.chunks, buf)?;
        Ok(buf)
    }
}

/// Whether a stored chunk holds native histogram samples.
pub(crate) fn is_histogram_chunk(c: &api::Chunk) -> bool {
    c.encoding == api::ChunkEncoding::Histograms as i32
}

/// Appends the float samples of `chunks` (time-ordered) to `out`, skipping histogram
/// chunks.
pub(crate) fn floats_into(chunks: &[api::Chunk], out: &mut Vec<(i64, f64)>) -> Result<()> {
    if !chunks.iter().any(is_histogram_chunk) {
        api::select::samples_into(chunks, out)?;
        return Ok(());
    }
    for c in chunks.iter().filter(|c| !is_histogram_chunk(c)) {
        api::select::samples_into(std::slice::from_ref(c), out)?;
    }
    Ok(())
}

/// Appends the native histogram samples of `chunks` (time-ordered) to `out`.
pub(crate) fn histograms_into(chunks: &[api::Chunk], out: &mut Vec<HistogramPoint>) -> Result<()> {
    for c in chunks.iter().filter(|c| is_histogram_chunk(c)) {
        api::chunk::histograms::decode_into(&c.data, out)
            .map_err(|e| api::Error::Corrupt(e.to_string()))?;
    }
    Ok(())
}

/// What to ask storage for, for one distinct selector and tier.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub key: String,
    pub tier: Tier,
    /// A union of matcher sets (more than one for `{a="b" or c="d"}`).
    pub matcher_sets: Vec<Vec<Matcher>>,
    pub min_ms: i64,
    pub max_ms: i64,
}

/// The fetched series of every selector of a query: raw samples by selector key, rollup
/// points by tier and selector key.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub raw: HashMap<String, Vec<StoredSeries>>,
    pub rollup: HashMap<(Tier, String), Vec<RollupSeries>>,
}

impl Fetched {
    /// Points held in memory (raw samples plus rollup points).
    pub fn points(&self) -> usize {
        let raw: usize = self.raw.values().flatten().map(StoredSeries::len).sum();
        let rollup: usize = self.rollup.values().flatten().map(|s| s.points.len()).sum();
        raw + rollup
    }

    /// Series held (raw and rollup).
    pub fn series(&self) -> usize {
        self.raw.values().map(Vec::len).sum::<usize>()
            + self.rollup.values().map(Vec::len).sum::<usize>()
    }
}

/// The key identifying a selector's matchers (not its offset, @ or range).
pub(crate) fn selector_key(vs: &VectorSelector) -> String {
    let mut s = vs.name.clone().unwrap_or_default();
    for set in matcher_sets(vs) {
        s.push('{');
        for m in set {
            s.push_str(&m.to_string());
            s.push(',');
        }
        s.push('}');
    }
    s
}

/// The selector's matchers, the metric name included, one set per `or` alternative.
pub(crate) fn matcher_sets(vs: &VectorSelector) -> Vec<Vec<Matcher>> {
    let mut sets: Vec<Vec<Matcher>> = if vs.matchers.or_matchers.is_empty() {
        vec![vs.matchers.matchers.clone()]
    } else {
        vs.matchers.or_matchers.clone()
    };
    if let Some(name) = &vs.name {
        for set in &mut sets {
            set.insert(0, Matcher::new(MatchOp::Equal, METRIC_NAME, name));
        }
    }
    sets
}

/// Converts a parsed matcher into the storage contract's matcher.
pub(crate) fn to_storage_matcher(m: &Matcher) -> api::Matcher {
    let op = match m.op {
        MatchOp::Equal => api::MatchOp::Equal,
        MatchOp::NotEqual => api::MatchOp::NotEqual,
        MatchOp::Re(_) => api::MatchOp::Regex,
        MatchOp::NotRe(_) => api::MatchOp::NotRegex,
    };
    api::Matcher::new(op, m.name.clone(), m.value.clone())
}

/// True when every matcher holds for `labels` (a missing label reads as "").
pub(crate) fn matches_all(set: &[Matcher], labels: &Labels) -> bool {
    set.iter()
        .all(|m| m.is_match(labels.get(&m.name).unwrap_or("")))
}

/// Offset in milliseconds (negative offsets look into the future).
pub(crate) fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

/// The time a selector reads at, for evaluation time `t` of a query over `[start, end]`:
/// the `@` time (or `t`) minus the offset.
pub(crate) fn reference_time(vs: &VectorSelector, t: i64, start: i64, end: i64) -> i64 {
    modified_time(&vs.at, &vs.offset, t, start, end)
}

/// `t` moved by an `@` modifier and an offset.
pub(crate) fn modified_time(
    at: &Option<AtModifier>,
    offset: &Option<Offset>,
    t: i64,
    start: i64,
    end: i64,
) -> i64 {
    let base = match at {
        None => t,
        Some(AtModifier::Start) => start,
        Some(AtModifier::End) => end,
        Some(AtModifier::At(time)) => telltale_model::system_time_ms(*time),
    };
    base - offset_ms(offset)
}

/// Every distinct selector of `expr` with the time range all steps in `[start, end]` need.
#[cfg(test)]
pub(crate) fn plan_selections(expr: &Expr, start: i64, end: i64, lookback: i64) -> Vec<Selection> {
    plan_selections_between(expr, start, end, start, end, lookback)
}

/// [`plan_selections`] for the steps in `[from, to]` of a query over `[start, end]` (the
/// query's bounds still resolve `@ start()` and `@ end()`).
pub(crate) fn plan_selections_between(
    expr: &Expr,
    start: i64,
    end: i64,
    from: i64,
    to: i64,
    lookback: i64,
) -> Vec<Selection> {
    let mut out: Vec<Selection> = Vec::new();
    let window = Window { start, end };
    window.walk(
        expr,
        from,
        to,
        &mut |vs, range, lo, hi, tier, whole_buckets| {
            let lo = reference_time(vs, lo, start, end);
            let mut hi = reference_time(vs, hi, start, end);
            if whole_buckets {
                // Only buckets that have ended by the evaluation time are read.
                hi -= tier.width_ms();
            }
            // Rollup reads look up to two buckets further back (whole buckets, and `last`
            // within lookback plus a bucket).
            let width = range.unwrap_or(lookback) + 2 * tier.width_ms();
            // Ranges are left-open: (ref - width, ref].
            let (min_ms, max_ms) = (lo.min(hi) - width + 1, lo.max(hi));
            let key = selector_key(vs);
            if let Some(sel) = out.iter_mut().find(|s| s.key == key && s.tier == tier) {
                sel.min_ms = sel.min_ms.min(min_ms);
                sel.max_ms = sel.max_ms.max(max_ms);
            } else {
                out.push(Selection {
                    key,
                    tier,
                    matcher_sets: matcher_sets(vs),
                    min_ms,
                    max_ms,
                });
            }
        },
    );
    out
}

/// The query's `[start, end]`, for resolving `@ start()` and `@ end()`.
struct Window {
    start: i64,
    end: i64,
}

/// Called with a selector, its range (None: instant), the evaluation times `[lo, hi]`,
/// its tier, and whether it reads only buckets that ended by the evaluation time.
type Visit<'f> = dyn FnMut(&VectorSelector, Option<i64>, i64, i64, Tier, bool) + 'f;

impl Window {
    /// Calls `f` for every selector in `expr` evaluated at times in `[lo, hi]`, with its
    /// range for matrix selectors. Subqueries widen the times of what they contain.
    fn walk(&self, expr: &Expr, lo: i64, hi: i64, f: &mut Visit<'_>) {
        match expr {
            Expr::VectorSelector(vs) => f(vs, None, lo, hi, Tier::Raw, false),
            Expr::MatrixSelector(ms) => f(
                &ms.vs,
                Some(ms.range.as_millis() as i64),
                lo,
                hi,
                Tier::Raw,
                false,
            ),
            Expr::Extension(ext) => {
                let any = ext.expr.as_any();
                if let Some(c) = any.downcast_ref::<RollupCall>() {
                    f(&c.vs, Some(c.range_ms), lo, hi, c.tier, true);
                } else if let Some(r) = any.downcast_ref::<RollupSelector>() {
                    f(&r.vs, r.range_ms, lo, hi, r.tier, false);
                }
            }
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    self.walk(p, lo, hi, f);
                }
                self.walk(&a.expr, lo, hi, f);
            }
            Expr::Unary(u) => self.walk(&u.expr, lo, hi, f),
            Expr::Binary(b) => {
                self.walk(&b.lhs, lo, hi, f);
                self.walk(&b.rhs, lo, hi, f);
            }
            Expr::Paren(p) => self.walk(&p.expr, lo, hi, f),
            Expr::Subquery(sq) => {
                let a = modified_time(&sq.at, &sq.offset, lo, self.start, self.end);
                let b = modified_time(&sq.at, &sq.offset, hi, self.start, self.end);
                let range = sq.range.as_millis() as i64;
                self.walk(&sq.expr, a.min(b) - range, a.max(b), f);
            }
            Expr::Call(c) => c.args.args.iter().for_each(|a| self.walk(a, lo, hi, f)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        }
    }
}

/// The series storage returned for one matcher set.
pub(crate) type SetSeries = Vec<StoredSeries>;

/// Merges the series storage returned for each matcher set of one selector, keeping only
/// series every matcher of some set really matches, sorted by labels. A series answered
/// more than once (for several sets, or by several shards) gets the union of its samples,
/// the first answer's sample where two have the same time.
pub(crate) fn merge_fetched(
    sets: &[Vec<Matcher>],
    per_set: Vec<SetSeries>,
) -> Result<Vec<StoredSeries>> {
    let mut all: Vec<StoredSeries> = sets
        .iter()
        .zip(per_set)
        .flat_map(|(set, series)| series.into_iter().filter(|s| matches_all(set, &s.labels)))
        .collect();
    // Stable: answers for the same labels stay in the order they came.
    all.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out: Vec<StoredSeries> = Vec::with_capacity(all.len());
    for s in all {
        match out.last_mut() {
            Some(last) if last.labels == s.labels => {
                let mut points = last.points()?.to_vec();
                points.extend_from_slice(s.points()?);
                // Stable: at equal times the first answer's sample comes first and stays.
                points.sort_by_key(|p| p.0);
                points.dedup_by_key(|p| p.0);
                let mut histograms = last.histograms()?.to_vec();
                histograms.extend_from_slice(s.histograms()?);
                histograms.sort_by_key(|p| p.0);
                histograms.dedup_by_key(|p| p.0);
                *last = StoredSeries::from_parts(s.labels, points, histograms);
            }
            _ => out.push(s),
        }
    }
    Ok(out)
}

/// Merges the rollup series storage returned for each matcher set of one selector, like
/// [`merge_fetched`].
pub(crate) fn merge_rollups(
    sets: &[Vec<Matcher>],
    per_set: Vec<Vec<(Labels, Vec<api::Aggregate>)>>,
) -> Vec<RollupSeries> {
    let mut by_labels: HashMap<Labels, Vec<api::Aggregate>> = HashMap::new();
    for (set, series) in sets.iter().zip(per_set) {
        for (labels, points) in series {
            if !matches_all(set, &labels) {
                continue;
            }
            by_labels.entry(labels).or_default().extend(points);
        }
    }
    let mut out: Vec<RollupSeries> = by_labels
        .into_iter()
        .map(|(labels, mut points)| {
            points.sort_by_key(|p| p.timestamp_ms);
            points.dedup_by_key(|p| p.timestamp_ms);
            RollupSeries { labels, points }
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

/// Where each series' previous read at one selector ended. A range query reads every
/// series at step after step, moving forward in time, so the next read searches from
/// there: a few comparisons on nearby memory instead of a binary search over the whole
/// series for every series at every step.
#[derive(Debug, Default)]
pub(crate) struct Cursors(Vec<usize>);

impl Cursors {
    fn at(&mut self, n: usize) -> &mut [usize] {
        self.0.resize(n, 0);
        &mut self.0
    }
}

/// How far a cursor walks forward before it falls back to a binary search.
const WALK: usize = 16;

/// The index of the first point after `t` in `points` (sorted by time), searched from
/// `*hint` and stored back there.
fn first_after<T>(points: &[(i64, T)], t: i64, hint: &mut usize) -> usize {
    let mut i = (*hint).min(points.len());
    if i > 0 && points[i - 1].0 > t {
        // Moved back in time (a new subquery window): search the whole series.
        i = points.partition_point(|p| p.0 <= t);
    } else {
        let stop = (i + WALK).min(points.len());
        while i < stop && points[i].0 <= t {
            i += 1;
        }
        if i == stop && i < points.len() {
            i += points[i..].partition_point(|p| p.0 <= t);
        }
    }
    *hint = i;
    i
}

/// The instant vector of `series` at reference time `ref_t`: for each series the latest
/// sample (float or histogram) in `(ref_t - lookback, ref_t]`, unless that sample is a
/// staleness marker. The samples carry the point's own timestamp (for `timestamp()`).
/// `cursors` holds two positions per series (floats, histograms).
pub(crate) fn instant_at(
    series: &[StoredSeries],
    ref_t: i64,
    lookback: i64,
    cursors: &mut Cursors,
) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for (s, hints) in series
        .iter()
        .zip(cursors.at(2 * series.len()).chunks_mut(2))
    {
        let points = s.points()?;
        let idx = first_after(points, ref_t, &mut hints[0]);
        let float = idx.checked_sub(1).map(|i| points[i]);
        let histogram = if s.has_histograms() {
            let h = s.histograms()?;
            let j = first_after(h, ref_t, &mut hints[1]);
            j.checked_sub(1).map(|j| &h[j])
        } else {
            None
        };
        let sample = match (float, histogram) {
            (Some((t, v)), h) if h.is_none_or(|h| h.0 < t) => {
                if t <= ref_t - lookback || is_stale_nan(v) {
                    continue;
                }
                Sample::float(s.labels.clone(), t, v)
            }
            (_, Some((t, h))) => {
                if *t <= ref_t - lookback || h.is_stale() {
                    continue;
                }
                Sample::histogram(s.labels.clone(), *t, h.clone())
            }
            _ => continue,
        };
        out.push(sample);
    }
    Ok(out)
}

/// One series' points in a range window: borrowed from the fetched series, copied only
/// when staleness markers had to be dropped from it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeView<'a> {
    pub metric: Labels,
    pub points: Cow<'a, [(i64, f64)]>,
    pub histograms: Cow<'a, [HistogramPoint]>,
}

impl From<Series> for RangeView<'_> {
    fn from(s: Series) -> Self {
        RangeView {
            metric: s.metric,
            points: Cow::Owned(s.points),
            histograms: Cow::Owned(s.histograms),
        }
    }
}

/// The range vector of `series` at reference time `ref_t`: the points in
/// `(ref_t - range, ref_t]`, staleness markers dropped; series without points omitted.
/// `cursors` holds four positions per series (the window's start and end in the floats,
/// then in the histograms).
pub(crate) fn range_at(
    series: &[StoredSeries],
    ref_t: i64,
    range: i64,
    cursors: &mut Cursors,
) -> Result<Vec<Series>> {
    Ok(range_views(series, ref_t, range, cursors)?
        .into_iter()
        .map(|v| Series {
            metric: v.metric,
            points: v.points.into_owned(),
            histograms: v.histograms.into_owned(),
        })
        .collect())
}

/// The points of `points` in `(start, end]` without staleness markers (`stale`),
/// borrowed unless a marker had to be dropped.
fn window<'a, T: Clone>(
    points: &'a [(i64, T)],
    start: i64,
    end: i64,
    hints: &mut [usize],
    stale: impl Fn(&T) -> bool,
) -> Cow<'a, [(i64, T)]> {
    let lo = first_after(points, start, &mut hints[0]);
    let hi = first_after(points, end, &mut hints[1]).max(lo);
    let window = &points[lo..hi];
    if window.iter().any(|p| stale(&p.1)) {
        Cow::Owned(window.iter().filter(|p| !stale(&p.1)).cloned().collect())
    } else {
        Cow::Borrowed(window)
    }
}

/// [`range_at`] without copying the points (what range functions read).
pub(crate) fn range_views<'a>(
    series: &'a [StoredSeries],
    ref_t: i64,
    range: i64,
    cursors: &mut Cursors,
) -> Result<Vec<RangeView<'a>>> {
    let mut out = Vec::new();
    for (s, hints) in series
        .iter()
        .zip(cursors.at(4 * series.len()).chunks_mut(4))
    {
        let (float_hints, histogram_hints) = hints.split_at_mut(2);
        let points = window(s.points()?, ref_t - range, ref_t, float_hints, |v| {
            is_stale_nan(*v)
        });
        let histograms = if s.has_histograms() {
            window(
                s.histograms()?,
                ref_t - range,
                ref_t,
                histogram_hints,
                |h| h.is_stale(),
            )
        } else {
            Cow::Borrowed(&[][..])
        };
        if !points.is_empty() || !histograms.is_empty() {
            out.push(RangeView {
                metric: s.labels.clone(),
                points,
                histograms,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::STALE_NAN_BITS;

    fn series(points: &[(i64, f64)]) -> Vec<StoredSeries> {
        vec![StoredSeries::from_points(
            Labels::from(vec![("__name__".to_string(), "x".to_string())]),
            points.to_vec(),
        )]
    }

    #[test]
    fn instant_lookback_is_left_open() {
        let s = series(&[(1_000, 1.0), (2_000, 2.0)]);
        assert_eq!(
            instant_at(&s, 2_500, 1_000, &mut Cursors::default()).unwrap()[0].value,
            2.0
        );
        assert_eq!(
            instant_at(&s, 2_000, 1_000, &mut Cursors::default()).unwrap()[0].t_ms,
            2_000
        );
        assert_eq!(
            instant_at(&s, 1_999, 1_000, &mut Cursors::default()).unwrap()[0].value,
            1.0
        );
        assert!(
            instant_at(&s, 3_000, 1_000, &mut Cursors::default())
                .unwrap()
                .is_empty()
        );
        assert!(
            instant_at(&s, 999, 1_000, &mut Cursors::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn stale_marker_hides_the_series() {
        let s = series(&[(1_000, 1.0), (2_000, f64::from_bits(STALE_NAN_BITS))]);
        assert!(
            instant_at(&s, 2_000, 300_000, &mut Cursors::default())
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            instant_at(&s, 1_500, 300_000, &mut Cursors::default()).unwrap()[0].value,
            1.0
        );
        let r = range_at(&s, 2_000, 5_000, &mut Cursors::default()).unwrap();
        assert_eq!(r[0].points, vec![(1_000, 1.0)]);
    }

    /// A series switching between floats and histograms: the instant read takes the
    /// latest of either kind, a histogram staleness marker hides the series, a range
    /// holds both kinds without markers.
    #[test]
    fn histograms_are_read_beside_floats() {
        let h = |count: f64| {
            std::sync::Arc::new(crate::value::FloatHistogram {
                count,
                ..Default::default()
            })
        };
        let stale = std::sync::Arc::new(crate::value::FloatHistogram::stale_marker());
        let s = vec![StoredSeries::from_parts(
            Labels::from(vec![("__name__".to_string(), "x".to_string())]),
            vec![(1_000, 1.0), (4_000, 4.0)],
            vec![(2_000, h(2.0)), (3_000, h(3.0)), (5_000, stale)],
        )];
        let read = |t| instant_at(&s, t, 10_000, &mut Cursors::default()).unwrap();
        assert_eq!(read(1_500)[0].value, 1.0);
        assert_eq!(read(3_500)[0].histogram.as_ref().unwrap().count, 3.0);
        assert_eq!(read(3_500)[0].t_ms, 3_000);
        assert!(read(4_500)[0].is_float());
        assert!(read(5_000).is_empty());
        let r = range_at(&s, 5_000, 10_000, &mut Cursors::default()).unwrap();
        assert_eq!(r[0].points, vec![(1_000, 1.0), (4_000, 4.0)]);
        assert_eq!(r[0].histograms.len(), 2);
        // Cursors moving forward read what fresh reads do.
        let mut c = Cursors::default();
        for t in (0..6_000).step_by(250) {
            assert_eq!(
                instant_at(&s, t, 2_000, &mut c).unwrap(),
                instant_at(&s, t, 2_000, &mut Cursors::default()).unwrap()
            );
        }
    }

    #[test]
    fn range_is_left_open_right_closed() {
        let s = series(&[(1_000, 1.0), (2_000, 2.0), (3_000, 3.0)]);
        let r = range_at(&s, 3_000, 2_000, &mut Cursors::default()).unwrap();
        assert_eq!(r[0].points, vec![(2_000, 2.0), (3_000, 3.0)]);
    }

    /// Reads through cursors, at times moving forward in small and large jumps and back,
    /// equal reads without them.
    #[test]
    fn cursor_reads_equal_fresh_reads() {
        let points: Vec<(i64, f64)> = (0..500)
            .map(|i| (i * 1_000 + (i * 7919) % 13, i as f64))
            .collect();
        let mut s = series(&points);
        s.push(StoredSeries::from_points(
            Labels::from(vec![("__name__".to_string(), "y".to_string())]),
            points.iter().step_by(3).copied().collect(),
        ));
        let (mut range_c, mut instant_c) = (Cursors::default(), Cursors::default());
        let mut seed = 42u64;
        let mut t = -5_000i64;
        for _ in 0..2_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            t += match seed >> 60 {
                0 => -((seed >> 20) as i64 % 200_000),
                1 => (seed >> 20) as i64 % 100_000,
                _ => (seed >> 20) as i64 % 3_000,
            };
            for range in [1_000, 5_000, 60_000] {
                assert_eq!(
                    range_at(&s, t, range, &mut range_c).unwrap(),
                    range_at(&s, t, range, &mut Cursors::default()).unwrap(),
                    "range {range} at {t}"
                );
            }
            assert_eq!(
                instant_at(&s, t, 5_000, &mut instant_c).unwrap(),
                instant_at(&s, t, 5_000, &mut Cursors::default()).unwrap(),
                "instant at {t}"
            );
        }
    }

    /// A series answered twice gets the union of its samples, the first answer's
    /// sample at a shared time; series no matcher set matches are dropped.
    #[test]
    fn merge_joins_answers_for_the_same_series() {
        let expr = promql_parser::parser::parse(r#"{__name__="x" or job="a"}"#).unwrap();
        let Expr::VectorSelector(vs) = expr else {
            panic!("a selector")
        };
        let sets = matcher_sets(&vs);
        let l = |name: &str, job: &str| {
            Labels::from(vec![
                ("__name__".to_string(), name.to_string()),
                ("job".to_string(), job.to_string()),
            ])
        };
        // The first answer as stored chunks, the second decoded.
        let chunked = |labels, points: &[(i64, f64)]| {
            StoredSeries::from_chunks(
                labels,
                api::Chunk::from_samples(points).into_iter().collect(),
            )
        };
        let merged = merge_fetched(
            &sets,
            vec![
                vec![
                    chunked(l("x", "a"), &[(1, 1.0), (3, 3.0)]),
                    chunked(l("y", "b"), &[(1, 9.0)]),
                ],
                vec![
                    StoredSeries::from_points(l("y", "a"), vec![(2, 2.0)]),
                    StoredSeries::from_points(l("x", "a"), vec![(2, 20.0), (3, 30.0)]),
                ],
            ],
        )
        .unwrap();
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].labels, l("x", "a"));
        assert_eq!(merged[0].points().unwrap(), [(1, 1.0), (2, 20.0), (3, 3.0)]);
        assert_eq!(merged[1].labels, l("y", "a"));
    }

    #[test]
    fn plan_widens_for_subqueries() {
        let expr =
            promql_parser::parser::parse("max_over_time(rate(x[1m])[10m:1m] offset 5m)").unwrap();
        let plan = plan_selections(&expr, 3_600_000, 3_600_000, 300_000);
        assert_eq!(plan[0].min_ms, 3_600_000 - 300_000 - 600_000 - 60_000 + 1);
        assert_eq!(plan[0].max_ms, 3_600_000 - 300_000);
    }

    #[test]
    fn plan_merges_identical_selectors_and_covers_offsets() {
        let expr = promql_parser::parser::parse("x + x offset 1m + rate(x[5m])").unwrap();
        let plan = plan_selections(&expr, 1_000_000, 2_000_000, 300_000);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].min_ms, 1_000_000 - 60_000 - 300_000 + 1);
        assert_eq!(plan[0].max_ms, 2_000_000);
    }
}
