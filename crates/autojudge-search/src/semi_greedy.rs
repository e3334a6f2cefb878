//! The semi-greedy search for important tokens, in two implementations with identical labels:
//! [`Algorithm::Fast`] (KV-cache reuse, draft re-run only on changed suffixes, speculative
//! regeneration from the previous continuation) and [`Algorithm::Naive`] (the reference's
//! cost model: fresh forwards and token-by-token regeneration for every mismatch).

use autojudge_core::{
    draft_distribution, logit_features, rewind_checked, CoreError, ErrorChain, OutputRows, Outputs,
    TargetModel, TextTokenizer, TokenId,
};

use crate::continuation::{
    continue_greedy, DraftProposer, Limits, NoProposals, Speculation, SwapRows,
};
use crate::meter::Meter;
use crate::record::{MinedPrompt, Mismatch, MismatchFeatures, WorkCounters};
use crate::{SearchError, SearchResult};
use autojudge_tasks::{Answer, Oracle, Task};

/// Which implementation of the search to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// KV reuse and speculative regeneration (the default).
    Fast,
    /// The reference algorithm's cost model, for comparison and as a test oracle.
    Naive,
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fast" => Ok(Algorithm::Fast),
            "naive" => Ok(Algorithm::Naive),
            _ => Err(format!("unknown algorithm `{s}` (expected fast or naive)")),
        }
    }
}

/// What the search does after testing a mismatch whose draft token is an end-of-sequence token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EosSwap {
    /// Label it, then stop mining the prompt whatever the label (the reference's rule: past a
    /// draft EOS no response exists to test).
    StopMining,
    /// Label it and, when it was important, go on with the next mismatch (the default of
    /// manifests that predate the setting).
    #[default]
    Continue,
}

impl std::str::FromStr for EosSwap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stop" => Ok(EosSwap::StopMining),
            "continue" => Ok(EosSwap::Continue),
            _ => Err(format!(
                "unknown EOS rule `{s}` (expected stop or continue)"
            )),
        }
    }
}

/// Settings of the search (recorded with the mined data).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SearchConfig {
    /// Maximum response length in tokens.
    pub max_new_tokens: usize,
    /// Implementation.
    pub algorithm: Algorithm,
    /// First block of the previous continuation verified after a swap, or appended to the
    /// draft's tokens where they re-align with it (doubles while accepted).
    pub min_block: usize,
    /// Largest such block.
    pub max_block: usize,
    /// Draft tokens proposed per target call where the new continuation left the old one (0:
    /// none, prompt lookup instead; pointless when the draft costs nearly as much as the
    /// target).
    pub draft_proposals: usize,
    /// Largest draft window: it doubles from `draft_proposals` while whole proposals are
    /// accepted (0, the default of older manifests: a fixed window).
    #[serde(default)]
    pub max_draft_proposals: usize,
    /// What follows a tested draft EOS.
    #[serde(default)]
    pub eos_swap: EosSwap,
}

/// The reference's response cap (`--max_new_tokens` of its `find_important_tokens.py`).
pub const REFERENCE_MAX_NEW_TOKENS: usize = 2048;

impl Default for SearchConfig {
    /// The reference's labels ([`REFERENCE_MAX_NEW_TOKENS`], [`EosSwap::StopMining`]) with the
    /// fast search.
    fn default() -> Self {
        SearchConfig {
            max_new_tokens: REFERENCE_MAX_NEW_TOKENS,
            algorithm: Algorithm::Fast,
            min_block: 8,
            max_block: 64,
            draft_proposals: 0,
            max_draft_proposals: 0,
            eos_swap: EosSwap::StopMining,
        }
    }
}

/// The models, tokenizer and oracle one search runs with.
pub struct SearchModels<'a, T: TargetModel, D: TargetModel> {
    /// Target model.
    pub target: &'a T,
    /// Draft model.
    pub draft: &'a D,
    /// Tokenizer shared by both.
    pub tokenizer: &'a dyn TextTokenizer,
    /// Task oracle.
    pub oracle: &'a dyn Oracle,
}

/// Mines one prompt: returns the record and the features of every mismatch (same order).
pub fn mine_prompt<T: TargetModel, D: TargetModel>(
    m: &SearchModels<'_, T, D>,
    task: &Task,
    prompt: &[TokenId],
    cfg: &SearchConfig,
) -> SearchResult<(MinedPrompt, Vec<MismatchFeatures>)> {
    autojudge_core::check_same_tokenizer(m.draft.info(), m.target.info())?;
    if prompt.is_empty() {
        return Err(SearchError::InvalidOption {
            field: "prompt",
            reason: format!("task {} has an empty prompt", task.id),
        });
    }
    let max_context = m.target.info().max_context.min(m.draft.info().max_context);
    let max_len = (prompt.len() + cfg.max_new_tokens).min(max_context);
    if prompt.len() >= max_len {
        return Err(CoreError::ContextOverflow {
            model: m.target.info().name.clone(),
            requested: prompt.len() + 1,
            max: max_context,
        }
        .into());
    }
    let eos = m.target.info().eos_ids.clone();
    let limits = Limits {
        max_len,
        response_start: prompt.len(),
        eos: &eos,
    };
    let mut state = Search {
        m,
        task,
        prompt,
        cfg,
        limits,
        tm: Meter::default(),
        dm: Meter::default(),
        oracle_calls: 0,
    };
    match cfg.algorithm {
        Algorithm::Fast => state.run_fast(),
        Algorithm::Naive => state.run_naive(),
    }
}

struct Search<'s, 'a, T: TargetModel, D: TargetModel> {
    m: &'s SearchModels<'a, T, D>,
    task: &'s Task,
    prompt: &'s [TokenId],
    cfg: &'s SearchConfig,
    limits: Limits<'s>,
    tm: Meter,
    dm: Meter,
    oracle_calls: u64,
}

/// The draft's rows around a swapped-in token: logits and hidden state at the predicting
/// position, hidden state at the token.
const SWAP_ROWS: Outputs = Outputs {
    logits: OutputRows::Tail(2),
    hidden: OutputRows::Tail(2),
};

/// A mismatch's features from the draft's [`SWAP_ROWS`] output and the target's [`SwapRows`].
fn mismatch_features(
    draft: &autojudge_core::ExtendOutput,
    target: SwapRows,
    token: TokenId,
) -> MismatchFeatures {
    let q = draft_distribution(draft.logits_row(0));
    MismatchFeatures {
        draft: draft.hidden_row(1).to_vec(),
        draft_prev: draft.hidden_row(0).to_vec(),
        logits: logit_features(&target.prev_logits, &q, token as usize).to_vec(),
        target: target.hidden,
        target_prev: target.prev_hidden,
    }
}

impl<T: TargetModel, D: TargetModel> Search<'_, '_, T, D> {
    fn ctx(&self, response: &[TokenId]) -> Vec<TokenId> {
        let mut c = self.prompt.to_vec();
        c.extend_from_slice(response);
        c
    }

    fn answer(&mut self, response: &[TokenId]) -> SearchResult<Result<Answer, String>> {
        self.oracle_calls += 1;
        let text = self.m.tokenizer.decode(response)?;
        Ok(self
            .m
            .oracle
            .answer(self.task, &text)
            .map_err(|e| ErrorChain(&e).to_string()))
    }

    /// The draft's argmax at response positions `from..` of `response`, given the prompt and
    /// `response[..j]` at each position `j` (teacher forcing), reusing `session`'s cache.
    fn draft_predictions(
        &mut self,
        session: &mut D::Session,
        response: &[TokenId],
        from: usize,
    ) -> SearchResult<Vec<TokenId>> {
        if from >= response.len() {
            return Ok(Vec::new());
        }
        let ctx = self.ctx(&response[..response.len() - 1]);
        // Rows must start at the token before position `from`.
        let start = self.prompt.len() + from - 1;
        let keep = rewind_checked(session, &ctx, start)?;
        let out = self.dm.extend(session, &ctx[keep..], Outputs::ALL_LOGITS)?;
        let rows = out.argmax_rows();
        Ok(rows[rows.len() - (response.len() - from)..].to_vec())
    }

    /// A draft proposer when `draft_proposals > 0` (its session is only allocated then).
    fn draft_proposer(&self) -> SearchResult<Option<DraftProposer<D::Session>>> {
        if self.cfg.draft_proposals == 0 {
            return Ok(None);
        }
        Ok(Some(DraftProposer::new(
            self.m.draft.new_session()?,
            self.cfg.draft_proposals,
            self.cfg.max_draft_proposals,
            self.limits.eos.to_vec(),
        )))
    }

    /// Adds a proposer's draft work to the draft counters.
    fn count_proposals(&mut self, dp: Option<&DraftProposer<D::Session>>) {
        if let Some(dp) = dp {
            self.dm.calls += dp.meter.calls;
            self.dm.tokens += dp.meter.tokens;
        }
    }

    /// The target's greedy response, and the session that generated it (the fast search keeps
    /// its cache). `dp` proposes draft tokens; without it, prompt lookup proposes.
    fn greedy_response(
        &mut self,
        dp: Option<&mut DraftProposer<D::Session>>,
    ) -> SearchResult<(Vec<TokenId>, T::Session)> {
        let mut target = self.m.target.new_session()?;
        let p = self.prompt.len();
        let mut ctx = self.prompt.to_vec();
        match self.cfg.algorithm {
            Algorithm::Fast => {
                // The prompt's prefill rides along with the first verification.
                Speculation {
                    min_block: self.cfg.min_block,
                    max_block: self.cfg.max_block,
                    draft: dp,
                }
                .greedy_response(
                    &mut target,
                    &mut ctx,
                    self.limits,
                    &mut self.tm,
                )?;
            }
            Algorithm::Naive => {
                if p > 1 {
                    self.tm
                        .extend(&mut target, &self.prompt[..p - 1], Outputs::NONE)?;
                }
                continue_greedy(
                    &mut target,
                    &mut ctx,
                    self.limits,
                    &mut NoProposals,
                    &mut self.tm,
                    false,
                )?;
            }
        }
        Ok((ctx[p..].to_vec(), target))
    }

    fn finish(
        &self,
        response: Vec<TokenId>,
        answer: Answer,
        current: Vec<TokenId>,
        mismatches: Vec<Mismatch>,
        features: Vec<MismatchFeatures>,
    ) -> (MinedPrompt, Vec<MismatchFeatures>) {
        let work = WorkCounters {
            target_calls: self.tm.calls,
            target_tokens: self.tm.tokens,
            draft_calls: self.dm.calls,
            draft_tokens: self.dm.tokens,
            oracle_calls: self.oracle_calls,
        };
        (
            MinedPrompt {
                response,
                final_answer: answer.clone(),
                answer,
                final_response: current,
                mismatches,
                work,
            },
            features,
        )
    }

    fn initial(
        &mut self,
        dp: Option<&mut DraftProposer<D::Session>>,
    ) -> SearchResult<(Vec<TokenId>, Answer, T::Session)> {
        let (y, session) = self.greedy_response(dp)?;
        let a = self.answer(&y)?.map_err(|reason| SearchError::Oracle {
            task: self.task.id.clone(),
            reason,
        })?;
        Ok((y, a, session))
    }

    /// Whether mining stops after testing `draft_token`.
    fn stops_after(&self, draft_token: TokenId) -> bool {
        self.cfg.eos_swap == EosSwap::StopMining && self.limits.eos.contains(&draft_token)
    }

    fn label(
        &mut self,
        j: usize,
        current: &[TokenId],
        draft_token: TokenId,
        swapped: &[TokenId],
        answer: &Answer,
    ) -> SearchResult<Mismatch> {
        let (swapped_answer, oracle_error) = match self.answer(swapped)? {
            Ok(a) => (a, None),
            Err(e) => (Answer::missing(), Some(e)),
        };
        Ok(Mismatch {
            position: j,
            important: oracle_error.is_some() || &swapped_answer != answer,
            target_token: current[j],
            draft_token,
            swapped_answer,
            swapped_len: swapped.len(),
            oracle_error,
        })
    }

    fn run_fast(&mut self) -> SearchResult<(MinedPrompt, Vec<MismatchFeatures>)> {
        let mut dp = self.draft_proposer()?;
        let (y, a, mut target) = self.initial(dp.as_mut())?;
        let p = self.prompt.len();
        let mut current = y.clone();
        let mut draft = self.m.draft.new_session()?;
        let mut preds = self.draft_predictions(&mut draft, &current, 0)?;
        let (mut mismatches, mut features) = (Vec::new(), Vec::new());
        // Earlier regenerations (most recent first) for prompt lookup.
        let mut history: Vec<Vec<TokenId>> = vec![self.ctx(&y)];
        let mut left = 0;
        while let Some(j) = (left..current.len()).find(|&j| preds[j] != current[j]) {
            let d = preds[j];
            let mut ctx = self.ctx(&current[..j]);
            ctx.push(d);
            let keep = rewind_checked(&mut draft, &ctx, ctx.len() - 2)?;
            let draft_rows = self.dm.extend(&mut draft, &ctx[keep..], SWAP_ROWS)?;
            let target_rows = Speculation {
                min_block: self.cfg.min_block,
                max_block: self.cfg.max_block,
                draft: dp.as_mut(),
            }
            .regenerate(
                &mut target,
                &mut ctx,
                &current[j + 1..],
                &history,
                self.limits,
                &mut self.tm,
            )?;
            let swapped = ctx[p..].to_vec();
            history.insert(0, ctx);
            history.truncate(8);
            let mismatch = self.label(j, &current, d, &swapped, &a)?;
            if !mismatch.important {
                current = swapped;
                preds.truncate(j);
                preds.push(d);
                let tail = self.draft_predictions(&mut draft, &current, j + 1)?;
                preds.extend(tail);
            }
            mismatches.push(mismatch);
            features.push(mismatch_features(&draft_rows, target_rows, d));
            if self.stops_after(d) {
                break;
            }
            left = j + 1;
        }
        self.count_proposals(dp.as_ref());
        Ok(self.finish(y, a, current, mismatches, features))
    }

    fn run_naive(&mut self) -> SearchResult<(MinedPrompt, Vec<MismatchFeatures>)> {
        let (y, a, _) = self.initial(None)?;
        let p = self.prompt.len();
        let mut current = y.clone();
        let (mut mismatches, mut features) = (Vec::new(), Vec::new());
        let mut left = 0;
        loop {
            let mut draft = self.m.draft.new_session()?;
            let preds = self.draft_predictions(&mut draft, &current, 0)?;
            let Some(j) = (left..current.len()).find(|&j| preds[j] != current[j]) else {
                break;
            };
            let d = preds[j];
            let mut ctx = self.ctx(&current[..j]);
            ctx.push(d);
            let mut draft = self.m.draft.new_session()?;
            let draft_rows = self.dm.extend(&mut draft, &ctx, SWAP_ROWS)?;
            let mut target = self.m.target.new_session()?;
            if ctx.len() > 2 {
                self.tm
                    .extend(&mut target, &ctx[..ctx.len() - 2], Outputs::NONE)?;
            }
            let target_rows = continue_greedy(
                &mut target,
                &mut ctx,
                self.limits,
                &mut NoProposals,
                &mut self.tm,
                true,
            )?
            .unwrap_or_default();
            let swapped = ctx[p..].to_vec();
            let mismatch = self.label(j, &current, d, &swapped, &a)?;
            if !mismatch.important {
                current = swapped;
            }
            mismatches.push(mismatch);
            features.push(mismatch_features(&draft_rows, target_rows, d));
            if self.stops_after(d) {
                break;
            }
            left = j + 1;
        }
        Ok(self.finish(y, a, current, mismatches, features))
    }
}
