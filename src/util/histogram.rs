//! A log-linear latency histogram (HdrHistogram-like, ~1% precision) for
//! `INFO latencystats` percentiles: each power-of-two range of values is
//! split into 64 linear sub-buckets, so recording is a couple of integer
//! operations and the memory is fixed.

const SUB_BUCKETS: usize = 64;
const SUB_BITS: u32 = 6;
/// Ranges cover values up to 2^(RANGES + SUB_BITS) ns (hours): plenty.
const RANGES: usize = 40;

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; RANGES * SUB_BUCKETS].into_boxed_slice(),
            total: 0,
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Histogram({} samples)", self.total)
    }
}

fn index_of(value: u64) -> usize {
    if value < SUB_BUCKETS as u64 {
        return value as usize;
    }
    let range = (63 - value.leading_zeros()) - (SUB_BITS - 1);
    let sub = (value >> range) as usize - SUB_BUCKETS / 2;
    let idx = range as usize * (SUB_BUCKETS / 2) + SUB_BUCKETS / 2 + sub;
    idx.min(RANGES * SUB_BUCKETS - 1)
}

/// The highest value that maps to bucket `idx` (what a percentile reports).
fn value_of(idx: usize) -> u64 {
    if idx < SUB_BUCKETS {
        return idx as u64;
    }
    let half = SUB_BUCKETS / 2;
    let range = ((idx - half) / half) as u32;
    let sub = ((idx - half) % half + half) as u64;
    ((sub + 1) << range) - 1
}

impl Histogram {
    pub fn record(&mut self, value: u64) {
        self.counts[index_of(value)] += 1;
        self.total += 1;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// How many recorded values are at most `bound` (counting a bucket
    /// when its highest value is within the bound): the cumulative
    /// distribution `LATENCY HISTOGRAM` shows.
    pub fn count_at_or_below(&self, bound: u64) -> u64 {
        let last = index_of(bound);
        let last = if value_of(last) > bound {
            match last.checked_sub(1) {
                Some(l) => l,
                None => return 0,
            }
        } else {
            last
        };
        self.counts[..=last].iter().sum()
    }

    /// The value at percentile `p` (0..=100); 0 with no samples.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value_of(idx);
            }
        }
        value_of(self.counts.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_two_percent() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 10);
        }
        for (p, want) in [(50.0, 500_000.0), (99.0, 990_000.0), (99.9, 999_000.0)] {
            let got = h.percentile(p) as f64;
            assert!((got - want).abs() / want < 0.02, "p{p}: {got} vs {want}");
        }
        assert_eq!(Histogram::default().percentile(50.0), 0);
    }

    #[test]
    fn buckets_are_monotonic() {
        let mut last = 0;
        for v in [0u64, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1 << 40] {
            let idx = index_of(v);
            assert!(idx >= last);
            assert!(value_of(idx) >= v, "{v} -> {}", value_of(idx));
            last = idx;
        }
    }
}
