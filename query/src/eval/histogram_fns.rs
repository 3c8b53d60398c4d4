//! Native histogram statistics (Prometheus 3.5 semantics).
// filled by the histogram_fns helper

use telltale_storage_api::FloatHistogram;

pub(crate) fn histogram_quantile(_q: f64, _h: &FloatHistogram) -> f64 {
    f64::NAN
}

pub(crate) fn histogram_fraction(_lower: f64, _upper: f64, _h: &FloatHistogram) -> f64 {
    f64::NAN
}

pub(crate) fn histogram_stdvar(_h: &FloatHistogram) -> f64 {
    f64::NAN
}

pub(crate) fn histogram_stddev(_h: &FloatHistogram) -> f64 {
    f64::NAN
}
