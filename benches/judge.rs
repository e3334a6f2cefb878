//! Criterion bench of the judge's cost per verification window: P(important) for k = 8 rows of
//! DD-DT features of the showcase pair (896 + 1536 = 2432 values), to compare with a target
//! decode step (~100 ms for Qwen2.5-Coder-1.5B on 2 cores; the budget is 1% of it).

use autojudge::classifier::{JudgeModel, LogisticRegression, LogisticRegressionOptions};
use autojudge::core::{FeatureSet, Judge, Rows};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let d = 896 + 1536;
    let row = |i: usize| {
        (0..d)
            .map(|j| (((i * 31 + j * 17) % 97) as f32 - 48.0) / 10.0)
            .collect::<Vec<f32>>()
    };
    let x = Rows::from_rows((0..64).map(row)).expect("one width");
    let y: Vec<bool> = (0..64).map(|i| i % 3 == 0).collect();
    let model = LogisticRegression::fit(
        &x,
        &y,
        LogisticRegressionOptions {
            c: 0.01,
            max_iter: 200,
            ..Default::default()
        },
    )
    .expect("fit");
    let judge = JudgeModel {
        features: FeatureSet::DraftAndTarget,
        model,
    };
    let window = Rows::from_rows((100..108).map(row)).expect("one width");
    c.bench_function("judge/window-k8-dd-dt-2432", |b| {
        b.iter(|| judge.p_important(&window))
    });
}

criterion_group!(judge_benches, bench);
criterion_main!(judge_benches);
