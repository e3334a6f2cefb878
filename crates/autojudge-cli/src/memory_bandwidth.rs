//! The machine's memory bandwidth, measured as STREAM's triad (`a[i] = b[i] + s · c[i]` over
//! arrays far larger than the caches), so a decode step can be reported as a fraction of what
//! the memory delivers: decoding streams every weight once per token. A reference, not a hard
//! ceiling: STREAM counts 24 bytes per element and not the write-allocate traffic, so a pure
//! read stream may come out above it.

use std::time::Instant;

/// Elements per array: 3 × 128 MiB of f64, far past any L3 here.
const ELEMENTS: usize = 1 << 24;
/// Timed passes; the best is reported (STREAM's convention: the others saw interference).
const PASSES: usize = 5;

/// A triad measurement.
#[derive(Clone, Copy, Debug)]
pub struct Bandwidth {
    /// Threads that ran it.
    pub threads: usize,
    /// Bytes per second, STREAM's count: 3 × 8 bytes per element (two reads, one write).
    pub bytes_per_s: f64,
}

/// The threads the model kernels use: `RAYON_NUM_THREADS` when set, else every core.
pub fn kernel_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs the triad on `threads` threads, each over its own contiguous slice (first touched by
/// that thread).
pub fn triad(threads: usize) -> Bandwidth {
    let threads = threads.max(1);
    let chunk = ELEMENTS.div_ceil(threads);
    let mut a = vec![0.0f64; ELEMENTS];
    let mut b = vec![0.0f64; ELEMENTS];
    let mut c = vec![0.0f64; ELEMENTS];
    let scalar = 3.0f64;
    let run = |a: &mut [f64], b: &mut [f64], c: &mut [f64], init: bool| {
        std::thread::scope(|s| {
            for ((a, b), c) in a
                .chunks_mut(chunk)
                .zip(b.chunks_mut(chunk))
                .zip(c.chunks_mut(chunk))
            {
                s.spawn(move || {
                    if init {
                        b.fill(1.0);
                        c.fill(2.0);
                    }
                    for ((a, b), c) in a.iter_mut().zip(b.iter()).zip(c.iter()) {
                        *a = b + scalar * c;
                    }
                });
            }
        })
    };
    run(&mut a, &mut b, &mut c, true);
    let mut best = f64::INFINITY;
    for _ in 0..PASSES {
        let t = Instant::now();
        run(&mut a, &mut b, &mut c, false);
        best = best.min(t.elapsed().as_secs_f64());
    }
    // Every element equals 1 + 3 · 2: the compiler cannot have skipped the work.
    assert!(a.iter().step_by(4096).all(|&v| v == 7.0), "triad result");
    Bandwidth {
        threads,
        bytes_per_s: (3 * 8 * ELEMENTS) as f64 / best,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_triad_measures_a_positive_finite_rate() {
        let b = triad(2);
        assert_eq!(b.threads, 2);
        assert!(b.bytes_per_s.is_finite() && b.bytes_per_s > 1e8, "{b:?}");
    }
}
