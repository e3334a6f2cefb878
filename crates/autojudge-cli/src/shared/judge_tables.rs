//! The tables `train` and `pipeline` print for a trained judge.

use autojudge_eval::{ThresholdRule, TrainedJudge};

/// Prints the C table, the threshold table and the chosen threshold.
pub fn print_tables(t: &TrainedJudge, rule: ThresholdRule) {
    println!("\n| C | validation ROC-AUC |\n| --- | --- |");
    for (c, auc) in &t.meta.c_table {
        let auc_s = auc.map_or("-".into(), |v| format!("{v:.4}"));
        let mark = if *c == t.best_c { " (best)" } else { "" };
        println!("| {c:e} | {auc_s}{mark} |");
    }
    println!("\n| quantile | threshold | recall (important) | precision | accuracy | mismatches accepted |\n| --- | --- | --- | --- | --- | --- |");
    for (q, m) in &t.thresholds {
        println!(
            "| {q:.2} | {:.4} | {:.3} | {:.3} | {:.3} | {:.3} |",
            m.threshold, m.recall, m.precision, m.accuracy, m.accepted_fraction
        );
    }
    println!(
        "\nthreshold for {rule}: {:.4} (validation recall {:.3}, {:.1}% of mismatches accepted)",
        t.meta.threshold,
        t.at_chosen.recall,
        100.0 * t.at_chosen.accepted_fraction
    );
}
