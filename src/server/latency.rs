//! Per-command latency histograms (INFO latencystats).
//!
//! A log-linear histogram with two significant decimal digits, the same
//! resolution and range as the HDR histograms Redis keeps per command:
//! values are nanoseconds in [1, 10^9]; values below 256 are exact, above
//! that each power of two is split into 128 equal sub-buckets (< 1% error).
//! Counters are atomics allocated on the first recorded call, so commands
//! never run cost nothing and recording is one relaxed add.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

const SUB_BITS: u32 = 7; // 128 sub-buckets per power of two above 256
const HALF: u64 = 1 << SUB_BITS;
const MAX_VALUE: u64 = 1_000_000_000;
/// Bucket 0 holds 0..256 exactly; bucket b >= 1 holds [128 << b, 256 << b).
const BUCKETS: usize = 23;
const SLOTS: usize = (BUCKETS + 1) * HALF as usize;

#[derive(Default)]
pub struct Histogram {
    counts: OnceLock<Box<[AtomicU64]>>,
}

fn index_of(v: u64) -> usize {
    let v = v.clamp(1, MAX_VALUE);
    let bits = 64 - v.leading_zeros(); // v < 2^bits
    let b = bits.saturating_sub(SUB_BITS + 1);
    let sub = v >> b; // 0..256 for b == 0, 128..256 otherwise
    (b as usize) * HALF as usize + sub as usize
}

/// The lowest and highest values that share slot `i`.
fn range_of(i: usize) -> (u64, u64) {
    let (b, sub) = if i < 2 * HALF as usize {
        (0, i as u64)
    } else {
        (
            (i / HALF as usize - 1) as u32,
            (i % HALF as usize) as u64 + HALF,
        )
    };
    let lo = sub << b;
    (lo, lo + (1u64 << b) - 1)
}

impl Histogram {
    pub fn record(&self, ns: u64) {
        let c = self
            .counts
            .get_or_init(|| (0..SLOTS).map(|_| AtomicU64::new(0)).collect());
        c[index_of(ns)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        if let Some(c) = self.counts.get() {
            for x in c.iter() {
                x.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Values (ns) at the given percentiles, or None if nothing was recorded.
    /// Like HDR: percentile 0 gives the lowest value of the first non-empty
    /// slot, others the highest value of the slot where the count is reached.
    pub fn percentiles(&self, ps: &[f64]) -> Option<Vec<u64>> {
        let c = self.counts.get()?;
        let snap: Vec<u64> = c.iter().map(|x| x.load(Ordering::Relaxed)).collect();
        let total: u64 = snap.iter().sum();
        if total == 0 {
            return None;
        }
        let mut out = Vec::with_capacity(ps.len());
        for &p in ps {
            let p = p.clamp(0.0, 100.0);
            let want = ((p / 100.0 * total as f64 + 0.5) as u64).max(1);
            let mut acc = 0;
            let mut idx = 0;
            for (i, n) in snap.iter().enumerate() {
                acc += n;
                if acc >= want {
                    idx = i;
                    break;
                }
            }
            let (lo, hi) = range_of(idx);
            out.push(if p == 0.0 { lo } else { hi });
        }
        Some(out)
    }
}

/// `p50=1.003,p99=...` as INFO latencystats prints it (values in µs).
pub fn format_percentiles(ps: &[f64], vals: &[u64]) -> String {
    let mut s = String::new();
    for (i, (p, v)) in ps.iter().zip(vals).enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("p{}={:.3}", p, *v as f64 / 1000.0));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cover_values() {
        for v in [
            1u64, 2, 255, 256, 257, 1000, 2000, 2007, 2008, 65535, 1_000_000, MAX_VALUE,
        ] {
            let (lo, hi) = range_of(index_of(v));
            assert!(lo <= v && v <= hi, "{} not in {}..{}", v, lo, hi);
        }
        assert_eq!(range_of(index_of(2000)), (2000, 2007));
        assert!(index_of(MAX_VALUE) < SLOTS);
    }

    #[test]
    fn percentiles() {
        let h = Histogram::default();
        assert!(h.percentiles(&[50.0]).is_none());
        h.record(2000);
        assert_eq!(
            h.percentiles(&[0.0, 50.0, 100.0]).unwrap(),
            vec![2000, 2007, 2007]
        );
    }
}
