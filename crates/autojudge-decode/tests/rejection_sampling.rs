//! Speculative sampling is lossless in distribution: the joint distribution of the first two
//! emitted tokens matches the target's own sampling distribution (chi-square test), while the
//! draft's own distribution is detectably different (the test has power).

use autojudge_core::{TargetModel, TokenId};
use autojudge_decode::policies::RejectionSampling;
use autojudge_decode::softmax;
use autojudge_decode::testing::MockLm;
use autojudge_decode::{
    generate_speculative, generate_target_only, DecodeConfig, Hooks, ModelDrafter, Sampling,
    WindowPolicy,
};

const V: usize = 6;
const N: u64 = 40_000;
/// χ² critical value, 35 degrees of freedom, α = 0.001.
const CRITICAL: f64 = 66.62;

fn cfg(seed: u64) -> DecodeConfig {
    let mut c = DecodeConfig::greedy(3, 2);
    c.sampling = Sampling::Temperature {
        temperature: 1.0,
        top_p: 1.0,
    };
    c.window = WindowPolicy::Fixed(3);
    c.seed = seed;
    c
}

fn chi_square(counts: &[u64], expected: &[f64]) -> f64 {
    counts
        .iter()
        .zip(expected)
        .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
        .sum()
}

#[test]
fn speculative_sampling_matches_the_target_distribution() {
    let target = MockLm::new(5, V, 1.5);
    let draft = target.noisy_copy(6, 1.2);
    let prompt: [TokenId; 2] = [1, 2];
    // Exact joint distribution of two target samples.
    let p1 = softmax(&target.logits(&prompt), 1.0);
    let mut expected = vec![0.0; V * V];
    for a in 0..V {
        let p2 = softmax(&target.logits(&[1, 2, a as TokenId]), 1.0);
        for b in 0..V {
            expected[a * V + b] = p1[a] as f64 * p2[b] as f64 * N as f64;
        }
    }
    let mut spec = vec![0u64; V * V];
    let mut draft_only = vec![0u64; V * V];
    let (mut drafted, mut accepted) = (0, 0);
    for seed in 0..N {
        let mut t = target.new_session().unwrap();
        let mut d = ModelDrafter::new(draft.new_session().unwrap());
        let g = generate_speculative(
            &mut t,
            &mut d,
            &mut RejectionSampling,
            &prompt,
            &cfg(seed),
            Hooks::default(),
        )
        .unwrap();
        spec[g.tokens[0] as usize * V + g.tokens[1] as usize] += 1;
        drafted += g.stats.drafted;
        accepted += g.stats.accepted;
        let g = generate_target_only(
            &mut draft.new_session().unwrap(),
            &prompt,
            &cfg(seed),
            Hooks::default(),
        )
        .unwrap();
        draft_only[g.tokens[0] as usize * V + g.tokens[1] as usize] += 1;
    }
    let x2 = chi_square(&spec, &expected);
    let x2_draft = chi_square(&draft_only, &expected);
    eprintln!("chi2 speculative = {x2:.1}, draft-only = {x2_draft:.1} (critical {CRITICAL}); acceptance {:.2}", accepted as f64 / drafted as f64);
    assert!(
        x2 < CRITICAL,
        "speculative sampling deviates from the target: chi2 = {x2:.1}"
    );
    assert!(
        x2_draft > CRITICAL,
        "the test cannot tell the draft from the target (chi2 = {x2_draft:.1})"
    );
    assert!(
        accepted > 0 && accepted < drafted,
        "both acceptance and rejection paths exercised"
    );
}
