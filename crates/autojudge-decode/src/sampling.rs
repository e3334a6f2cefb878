//! Turning logits into a distribution and drawing from it (seeded by the caller's RNG).

use rand::Rng;

/// How tokens are chosen from logits.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Sampling {
    /// Argmax (first maximum on ties).
    Greedy,
    /// Softmax at `temperature`, restricted to the smallest set with mass ≥ `top_p`.
    Temperature {
        /// Temperature (> 0).
        temperature: f32,
        /// Nucleus mass in (0, 1].
        top_p: f32,
    },
}

impl Sampling {
    /// Whether this is greedy decoding.
    pub fn is_greedy(self) -> bool {
        matches!(self, Sampling::Greedy)
    }

    /// The distribution this sampling draws from (a one-hot vector for greedy).
    pub fn probs(self, logits: &[f32]) -> Vec<f32> {
        match self {
            Sampling::Greedy => {
                let mut p = vec![0.0; logits.len()];
                if let Some(i) = autojudge_core::argmax(logits) {
                    p[i] = 1.0;
                }
                p
            }
            Sampling::Temperature { temperature, top_p } => {
                let mut p = softmax(logits, temperature);
                if top_p < 1.0 {
                    let mut idx: Vec<usize> = (0..p.len()).collect();
                    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
                    let mut mass = 0.0;
                    let mut keep = idx.len();
                    for (n, &i) in idx.iter().enumerate() {
                        mass += p[i];
                        if mass >= top_p {
                            keep = n + 1;
                            break;
                        }
                    }
                    for &i in &idx[keep..] {
                        p[i] = 0.0;
                    }
                    normalize(&mut p);
                }
                p
            }
        }
    }

    /// Draws a token from `logits`.
    pub fn sample(self, logits: &[f32], rng: &mut impl Rng) -> u32 {
        match self {
            Sampling::Greedy => autojudge_core::argmax(logits).unwrap_or(0) as u32,
            _ => draw(&self.probs(logits), rng),
        }
    }
}

/// Softmax of `logits / temperature` (max-subtracted, f64 sums).
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let t = temperature.max(1e-6);
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = logits
        .iter()
        .map(|&x| (((x - m) / t) as f64).exp())
        .collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|&x| (x / s) as f32).collect()
}

/// Scales `p` to sum to one (no-op on an all-zero vector).
pub fn normalize(p: &mut [f32]) {
    let s: f64 = p.iter().map(|&x| x as f64).sum();
    if s > 0.0 {
        for x in p.iter_mut() {
            *x = (*x as f64 / s) as f32;
        }
    }
}

/// Draws an index from a normalized distribution by inverse CDF.
pub fn draw(p: &[f32], rng: &mut impl Rng) -> u32 {
    let u: f64 = rng.random::<f64>();
    let mut acc = 0.0f64;
    let mut last = 0;
    for (i, &x) in p.iter().enumerate() {
        if x > 0.0 {
            acc += x as f64;
            last = i;
            if u < acc {
                return i as u32;
            }
        }
    }
    last as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_p_keeps_the_smallest_sufficient_set() {
        let s = Sampling::Temperature {
            temperature: 1.0,
            top_p: 0.5,
        };
        let p = s.probs(&[3.0, 2.0, 1.0, 0.0]);
        assert!(p[0] > 0.99 && p[1] == 0.0, "{p:?}");
        let p = Sampling::Greedy.probs(&[0.0, 2.0, 2.0]);
        assert_eq!(p, vec![0.0, 1.0, 0.0]);
    }
}
