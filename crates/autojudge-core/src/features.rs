//! What a judge reads about one mismatching draft token, and how its feature row is laid out.
//! Mining and decoding build rows through [`FeatureSet::row`], so a judge sees at decode time
//! exactly the layout it was trained on.

/// The judge's input features at a draft token's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum FeatureSet {
    /// Target hidden state at the draft token's own position (DT).
    Target,
    /// Draft hidden state, then target hidden state, both at the draft token's own position
    /// (DD-DT).
    DraftAndTarget,
    /// The [`LOGIT_FEATURES`] only: no hidden states.
    Logits,
    /// DT, then the logit features.
    TargetAndLogits,
    /// DD-DT, then the logit features.
    DraftTargetAndLogits,
    /// Four hidden states: the draft's at the position that predicted the token, the draft's
    /// at the token's own position, then the target's at the same two positions (the
    /// reference's ablation "all four blocks").
    PreviousAndOwn,
}

/// Names of the logit features, in row order. All come from the two next-token
/// distributions that predicted the draft token (the target's `p` and the draft's `q`, both
/// softmax at temperature 1), which a speculative step has anyway: no extra forward.
pub const LOGIT_FEATURES: [&str; 7] = [
    "target_p_draft_token",
    "target_p_top1",
    "target_entropy",
    "target_margin_top1_top2",
    "target_log1p_rank_draft_token",
    "kl_target_draft",
    "draft_p_draft_token",
];

/// The parts a feature row is built from, for one mismatch. Parts a set does not read may be
/// empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct FeatureParts<'a> {
    /// Draft hidden state at the draft token's own position.
    pub draft: &'a [f32],
    /// Draft hidden state at the position that predicted the draft token.
    pub draft_prev: &'a [f32],
    /// Target hidden state at the draft token's own position.
    pub target: &'a [f32],
    /// Target hidden state at the position that predicted the draft token.
    pub target_prev: &'a [f32],
    /// The [`LOGIT_FEATURES`].
    pub logits: &'a [f32],
}

/// Which parts a feature set reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeatureNeeds {
    /// Target hidden state at the token's own position.
    pub target: bool,
    /// Target hidden state at the predicting position.
    pub target_prev: bool,
    /// Draft hidden state at the token's own position.
    pub draft: bool,
    /// Draft hidden state at the predicting position.
    pub draft_prev: bool,
    /// The logit features (the target's and the draft's distributions).
    pub logits: bool,
}

impl FeatureSet {
    /// Every feature set, in the order reports list them.
    pub const ALL: [FeatureSet; 6] = [
        FeatureSet::Target,
        FeatureSet::DraftAndTarget,
        FeatureSet::Logits,
        FeatureSet::TargetAndLogits,
        FeatureSet::DraftTargetAndLogits,
        FeatureSet::PreviousAndOwn,
    ];

    /// Short name: `dt`, `dd-dt`, `logits`, `dt+logits`, `dd-dt+logits`, `prev+own`.
    pub fn name(self) -> &'static str {
        match self {
            FeatureSet::Target => "dt",
            FeatureSet::DraftAndTarget => "dd-dt",
            FeatureSet::Logits => "logits",
            FeatureSet::TargetAndLogits => "dt+logits",
            FeatureSet::DraftTargetAndLogits => "dd-dt+logits",
            FeatureSet::PreviousAndOwn => "prev+own",
        }
    }

    /// The parts this set reads.
    pub fn needs(self) -> FeatureNeeds {
        let (target, draft, logits, prev) = match self {
            FeatureSet::Target => (true, false, false, false),
            FeatureSet::DraftAndTarget => (true, true, false, false),
            FeatureSet::Logits => (false, false, true, false),
            FeatureSet::TargetAndLogits => (true, false, true, false),
            FeatureSet::DraftTargetAndLogits => (true, true, true, false),
            FeatureSet::PreviousAndOwn => (true, true, false, true),
        };
        FeatureNeeds {
            target,
            target_prev: prev,
            draft,
            draft_prev: prev,
            logits,
        }
    }

    /// Whether the set reads a draft hidden state (a draft model is required).
    pub fn uses_draft_hidden(self) -> bool {
        let n = self.needs();
        n.draft || n.draft_prev
    }

    /// The feature row of one mismatch: the parts this set reads, concatenated in the order
    /// draft-prev, draft, target-prev, target, logits.
    pub fn row(self, parts: &FeatureParts<'_>) -> Vec<f32> {
        let n = self.needs();
        let blocks = [
            (n.draft_prev, parts.draft_prev),
            (n.draft, parts.draft),
            (n.target_prev, parts.target_prev),
            (n.target, parts.target),
            (n.logits, parts.logits),
        ];
        let mut row = Vec::with_capacity(blocks.iter().map(|(_, b)| b.len()).sum());
        for (wanted, block) in blocks {
            if wanted {
                row.extend_from_slice(block);
            }
        }
        row
    }

    /// Row width for a target hidden size `target` and a draft hidden size `draft`.
    pub fn width(self, target: usize, draft: usize) -> usize {
        let n = self.needs();
        [
            (n.draft_prev, draft),
            (n.draft, draft),
            (n.target_prev, target),
            (n.target, target),
            (n.logits, LOGIT_FEATURES.len()),
        ]
        .iter()
        .filter(|(w, _)| *w)
        .map(|(_, s)| s)
        .sum()
    }
}

impl std::fmt::Display for FeatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for FeatureSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FeatureSet::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = FeatureSet::ALL.iter().map(|f| f.name()).collect();
                format!("unknown feature set `{s}` (expected {})", names.join(", "))
            })
    }
}

/// Temperature-1 softmax in f64 (stable: the maximum is subtracted first).
fn softmax64(logits: &[f32]) -> Vec<f64> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = logits.iter().map(|&l| (l as f64 - m).exp()).collect();
    let z: f64 = e.iter().sum();
    e.into_iter().map(|x| x / z).collect()
}

/// The [`LOGIT_FEATURES`] of draft token `token` from the target's logits `target_logits` and
/// the draft's distribution `draft_probs` at the position that predicted it. Both rows must
/// cover the same vocabulary; `token` must index them.
pub fn logit_features(target_logits: &[f32], draft_probs: &[f32], token: usize) -> [f32; 7] {
    let p = softmax64(target_logits);
    let pd = p[token];
    let (mut top1, mut top2) = (0.0f64, 0.0f64);
    let mut entropy = 0.0;
    let mut kl = 0.0;
    let mut above = 0usize;
    for (i, &pi) in p.iter().enumerate() {
        if pi > top1 {
            top2 = top1;
            top1 = pi;
        } else if pi > top2 {
            top2 = pi;
        }
        if pi > 0.0 {
            entropy -= pi * pi.ln();
            let qi = (draft_probs[i] as f64).max(1e-30);
            kl += pi * (pi / qi).ln();
        }
        if target_logits[i] > target_logits[token] {
            above += 1;
        }
    }
    [
        pd as f32,
        top1 as f32,
        entropy as f32,
        (top1 - top2) as f32,
        (above as f64).ln_1p() as f32,
        kl.max(0.0) as f32,
        draft_probs[token],
    ]
}

/// The draft's temperature-1 distribution from its logits (what [`logit_features`] reads).
pub fn draft_distribution(draft_logits: &[f32]) -> Vec<f32> {
    softmax64(draft_logits)
        .into_iter()
        .map(|x| x as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_concatenate_the_parts_in_documented_order() {
        let parts = FeatureParts {
            draft: &[1.0],
            draft_prev: &[2.0],
            target: &[3.0, 3.5],
            target_prev: &[4.0, 4.5],
            logits: &[5.0; 7],
        };
        assert_eq!(FeatureSet::Target.row(&parts), vec![3.0, 3.5]);
        assert_eq!(FeatureSet::DraftAndTarget.row(&parts), vec![1.0, 3.0, 3.5]);
        assert_eq!(
            FeatureSet::PreviousAndOwn.row(&parts),
            vec![2.0, 1.0, 4.0, 4.5, 3.0, 3.5]
        );
        assert_eq!(FeatureSet::Logits.row(&parts), vec![5.0; 7]);
        for f in FeatureSet::ALL {
            assert_eq!(f.row(&parts).len(), f.width(2, 1), "{f}");
            assert_eq!(f.name().parse::<FeatureSet>(), Ok(f));
        }
        assert!("dtt"
            .parse::<FeatureSet>()
            .unwrap_err()
            .contains("dd-dt+logits"));
    }

    #[test]
    fn logit_features_match_hand_computation() {
        let t = [0.0f32, 1.0, 2.0];
        let q = [0.5f32, 0.25, 0.25];
        let z: f64 = [0.0f64, 1.0, 2.0].iter().map(|x| x.exp()).sum();
        let p: Vec<f64> = [0.0f64, 1.0, 2.0].iter().map(|x| x.exp() / z).collect();
        let f = logit_features(&t, &q, 1);
        let close = |a: f32, b: f64| (a as f64 - b).abs() < 1e-6;
        assert!(close(f[0], p[1]));
        assert!(close(f[1], p[2]));
        assert!(close(f[2], -p.iter().map(|x| x * x.ln()).sum::<f64>()));
        assert!(close(f[3], p[2] - p[1]));
        assert!(close(f[4], 1f64.ln_1p()), "one token above the draft's");
        let kl: f64 = p.iter().zip(q).map(|(a, b)| a * (a / b as f64).ln()).sum();
        assert!(close(f[5], kl));
        assert_eq!(f[6], 0.25);
        assert_eq!(logit_features(&t, &q, 2)[4], 0.0, "argmax has rank 0");
    }
}
