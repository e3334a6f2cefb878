//! `autojudge refeature`: recomputes the feature files of mined directories from their records
//! (`autojudge_search::recompute_features`), so a directory can be kept (or committed) as
//! records only and get its features back before training; `--check` compares the
//! recomputed rows with the stored ones instead of writing.

use std::path::PathBuf;

use autojudge_core::{ErrorChain, TargetModel};
use autojudge_search::{
    recompute_features, FeatureDType, MinedDir, MismatchFeatures, ModelIdentity, PromptOutcome,
};
use autojudge_tasks::TaskLine;
use burn::tensor::backend::Backend;
use clap::Args;
use half::f16;
use indicatif::{ProgressBar, ProgressStyle};

use crate::device::ModelArgs;
use crate::draft_choice::ModelPair;
use crate::task_choice::{render_prompt, TaskArgs};
use crate::with_backend;

/// Arguments of `refeature`.
#[derive(Args)]
pub struct RefeatureArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Draft: a model path or `self:PLAN` (the one the directories were mined with).
    #[arg(long, default_value = "self:exit:24")]
    pub draft: String,
    /// The task flags the directories were mined with (`--skip`/`--prompts` are ignored: every
    /// record is recomputed).
    #[command(flatten)]
    pub task: TaskArgs,
    /// Recompute every prompt and compare with its stored feature file (which must exist)
    /// instead of writing missing ones; exits with an error on any difference.
    #[arg(long)]
    pub check: bool,
    /// Mined directories.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
}

/// Runs `refeature`.
pub fn run(a: RefeatureArgs) -> anyhow::Result<()> {
    with_backend!(a.model.device, |B, device| refeature::<B>(&a, &device))
}

/// Refuses a directory mined with other models or another prompt rendering, naming the field.
fn check_identity(
    dir: &MinedDir,
    target: ModelIdentity,
    draft: ModelIdentity,
    prompt_format: &str,
) -> anyhow::Result<()> {
    let m = &dir.manifest;
    let root = dir.root().display();
    for (field, mined, here) in [("target", &m.target, &target), ("draft", &m.draft, &draft)] {
        anyhow::ensure!(
            mined == here,
            "{root}/manifest.json: field `{field}` is {mined:?}, but --{} gives {here:?}",
            if field == "target" { "model" } else { "draft" }
        );
    }
    anyhow::ensure!(
        m.prompt_format == prompt_format,
        "{root}/manifest.json: field `prompt_format` is `{}`, but the task flags render `{prompt_format}`",
        m.prompt_format
    );
    Ok(())
}

/// The features of committed prompt `index` of `dir`, recomputed from its record with `pair` and
/// the task `lines` (every line of the dataset it was mined from).
pub fn features_of<B: Backend>(
    pair: &ModelPair<B>,
    dir: &MinedDir,
    index: usize,
    lines: &[TaskLine],
) -> anyhow::Result<Vec<MismatchFeatures>> {
    let source = dir.root().join("records.jsonl").display().to_string();
    let record = &dir.records[&index];
    let PromptOutcome::Mined(mined) = &record.outcome else {
        anyhow::bail!("{source}: prompt {index} has no mined record");
    };
    let task = match lines.get(index).map(TaskLine::task) {
        Some(Ok(t)) => t,
        Some(Err(e)) => anyhow::bail!("{source}: prompt {index}: {}", ErrorChain(e)),
        None => anyhow::bail!(
            "{source}: prompt {index} is past the end of the dataset ({} lines)",
            lines.len()
        ),
    };
    let prompt = render_prompt(pair.template.as_ref(), &pair.tokenizer, task)
        .map_err(|e| anyhow::anyhow!("{source}: prompt {index}: {}", ErrorChain(&*e)))?;
    anyhow::ensure!(
        prompt.len() == record.prompt_tokens,
        "{source}: prompt {index} renders to {} tokens, the record says {}: other task flags \
         than the directory was mined with",
        prompt.len(),
        record.prompt_tokens
    );
    Ok(recompute_features(
        &pair.target,
        &pair.draft,
        &prompt,
        mined,
        &source,
        index,
    )?)
}

/// Writes the missing or damaged feature files of the directory at `root` (when it holds a
/// mined run of `pair` rendered as `prompt_format`) from its records; returns how many. A
/// directory that does not exist yet, of other models or rendering, or whose records cannot
/// be read is left to the caller, and so is a prompt whose features cannot be recomputed (it
/// is named on stderr).
pub fn restore_missing<B: Backend>(
    pair: &ModelPair<B>,
    root: &std::path::Path,
    prompt_format: &str,
    lines: &[TaskLine],
) -> anyhow::Result<usize> {
    if !root.join("records.jsonl").exists() {
        return Ok(0);
    }
    let Ok(dir) = MinedDir::open_records(root) else {
        return Ok(0);
    };
    let damaged = dir.feature_damage();
    if damaged.is_empty() {
        return Ok(0);
    }
    // Another run's directory: resuming refuses it, naming the field.
    if check_identity(
        &dir,
        pair.target.info().into(),
        pair.draft.info().into(),
        prompt_format,
    )
    .is_err()
    {
        return Ok(0);
    }
    let mut restored = 0;
    for d in &damaged {
        // A prompt that cannot be recomputed is left damaged: resuming mines it again.
        match features_of(pair, &dir, d.index, lines) {
            Ok(features) => {
                dir.write_features(d.index, &features)?;
                restored += 1;
            }
            Err(e) => eprintln!("{}: {e:#}; the prompt is mined again", d.path.display()),
        }
    }
    Ok(restored)
}

/// Rounds `v` as the manifest's feature precision stores it.
fn stored(v: f32, dtype: FeatureDType) -> f32 {
    match dtype {
        FeatureDType::F16 => f16::from_f32(v).to_f32(),
        FeatureDType::F32 => v,
    }
}

fn refeature<B: Backend>(a: &RefeatureArgs, device: &B::Device) -> anyhow::Result<()> {
    let lines: Vec<TaskLine> = a.task.all_tasks()?;
    let pair = ModelPair::<B>::load(&a.model, &a.draft, &a.task, device)?;
    let identity = a.task.prompt_identity(pair.template.is_some());
    let (mut written, mut compared, mut differing) = (0usize, 0usize, 0usize);
    for root in &a.dirs {
        let dir = MinedDir::open_records(root)?;
        check_identity(
            &dir,
            pair.target.info().into(),
            pair.draft.info().into(),
            &identity,
        )?;
        let todo: Vec<usize> = if a.check {
            dir.records
                .iter()
                .filter(|(_, r)| matches!(&r.outcome, PromptOutcome::Mined(m) if !m.mismatches.is_empty()))
                .map(|(i, _)| *i)
                .collect()
        } else {
            dir.feature_damage().iter().map(|d| d.index).collect()
        };
        let bar = ProgressBar::new(todo.len() as u64);
        bar.set_style(ProgressStyle::with_template(
            "{bar:30} {pos}/{len} prompts, {elapsed} elapsed, ETA {eta} | {msg}",
        )?);
        bar.set_message(root.display().to_string());
        for index in todo {
            let features = features_of(&pair, &dir, index, &lines)?;
            if a.check {
                let dtype = dir.manifest.feature_dtype;
                let mined = dir.features(index)?;
                let same = mined.len() == features.len()
                    && mined.iter().zip(&features).all(|(m, f)| {
                        let parts = |x: &MismatchFeatures| {
                            [
                                x.draft.clone(),
                                x.draft_prev.clone(),
                                x.target.clone(),
                                x.target_prev.clone(),
                                x.logits.clone(),
                            ]
                        };
                        parts(m).iter().zip(parts(f).iter()).all(|(p, q)| {
                            p.len() == q.len()
                                && p.iter().zip(q).all(|(&x, &y)| x == stored(y, dtype))
                        })
                    });
                compared += 1;
                if !same {
                    differing += 1;
                    bar.println(format!("prompt {index}: recomputed features differ"));
                }
            } else {
                dir.write_features(index, &features)?;
                written += 1;
            }
            bar.inc(1);
        }
        bar.finish();
    }
    if a.check {
        println!(
            "{compared} prompts recomputed, {differing} differ from their stored features \
             (compared in the stored precision)"
        );
        anyhow::ensure!(differing == 0, "{differing} prompts' features differ");
    } else {
        println!("{written} feature files written");
    }
    Ok(())
}
