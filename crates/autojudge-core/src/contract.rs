//! Checks on what a foreign engine or judge hands back. Mining, the judge and the decode loop
//! index output rows and probabilities without bounds checks of their own, so every output of
//! an implementation behind the contract is checked once, where it enters the library, and a
//! broken rule becomes a [`CoreError::BrokenContract`] naming the rule instead of a panic or a
//! silently wrong result.

use crate::{CoreError, CoreResult, ExtendOutput, ModelInfo, ModelSession, Outputs, TokenId};

/// Which part of an [`ExtendOutput`] a check is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputPart {
    /// Next-token logits (rows `vocab_size` wide).
    Logits,
    /// Last-layer hidden states (rows `hidden_size` wide).
    Hidden,
}

impl OutputPart {
    /// The declared row width of this part in `info`.
    pub fn declared_width(self, info: &ModelInfo) -> usize {
        match self {
            OutputPart::Logits => info.vocab_size,
            OutputPart::Hidden => info.hidden_size,
        }
    }

    /// The name of the `ModelInfo` field that declares this part's row width.
    pub fn width_field(self) -> &'static str {
        match self {
            OutputPart::Logits => "vocab_size",
            OutputPart::Hidden => "hidden_size",
        }
    }
}

impl std::fmt::Display for OutputPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OutputPart::Logits => "logits",
            OutputPart::Hidden => "hidden-state",
        })
    }
}

/// A rule of the model or judge contract that an implementation broke (what was returned,
/// against what was asked or declared).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ContractBreach {
    /// `extend` returned another number of rows than the request yields.
    #[error("ModelSession::extend returned {got} {part} rows for {requested} requested positions")]
    RowCount {
        /// Part at fault.
        part: OutputPart,
        /// Rows returned.
        got: usize,
        /// Rows the request yields ([`crate::OutputRows::count`]).
        requested: usize,
    },
    /// `extend` returned rows of another width than `ModelInfo` declares.
    #[error(
        "ModelSession::extend returned {part} rows {got} wide, ModelInfo declares {field} {declared}"
    )]
    RowWidth {
        /// Part at fault.
        part: OutputPart,
        /// Width the output claims (`ExtendOutput::vocab_size` or `hidden_size`).
        got: usize,
        /// `ModelInfo` field declaring the width.
        field: &'static str,
        /// Width `ModelInfo` declares.
        declared: usize,
    },
    /// Rows of a part were requested from a model whose `ModelInfo` declares them 0 wide.
    #[error("ModelSession::extend was asked for {part} rows, but ModelInfo declares {field} 0")]
    ZeroWidth {
        /// Part requested.
        part: OutputPart,
        /// `ModelInfo` field declaring the width.
        field: &'static str,
    },
    /// `extend` returned a value no row may hold: a NaN or `+inf` logit (`-inf` masks a token
    /// and is allowed), a non-finite hidden state.
    #[error("ModelSession::extend returned {value} at {part} row {row}, column {column}")]
    BadValue {
        /// Part at fault.
        part: OutputPart,
        /// Row (0-based among the returned rows).
        row: usize,
        /// Column.
        column: usize,
        /// The value.
        value: f32,
    },
    /// After `extend`, the session does not hold its old tokens plus the appended ones.
    #[error(
        "ModelSession::extend of {appended} tokens onto {before} left the session at {after} tokens"
    )]
    SessionLength {
        /// Length before the call.
        before: usize,
        /// Tokens appended.
        appended: usize,
        /// Length after the call.
        after: usize,
    },
    /// `rewind_to` kept more tokens than allowed, or left the session at another length than
    /// it reported, or kept tokens that differ from the context.
    #[error(
        "ModelSession::rewind_to(ctx of {ctx_len} tokens, at_most {at_most}) reported {kept} \
         tokens kept and left the session at {after} tokens, not holding a prefix of ctx"
    )]
    Rewind {
        /// Length of the context passed.
        ctx_len: usize,
        /// Cap passed.
        at_most: usize,
        /// Tokens it reported keeping.
        kept: usize,
        /// Session length afterwards.
        after: usize,
    },
    /// `extend_batch` returned another number of results than items.
    #[error("TargetModel::extend_batch returned {got} results for {items} items")]
    BatchResults {
        /// Results returned.
        got: usize,
        /// Items passed.
        items: usize,
    },
    /// `p_important` returned another number of values than feature rows.
    #[error("Judge::p_important returned {got} probabilities for {rows} feature rows")]
    JudgeCount {
        /// Values returned.
        got: usize,
        /// Rows passed.
        rows: usize,
    },
    /// `p_important` returned a value that is no probability.
    #[error("Judge::p_important returned {value} for feature row {row}, outside [0, 1]")]
    JudgeValue {
        /// Row at fault.
        row: usize,
        /// The value.
        value: f32,
    },
    /// A feature row is not as wide as the judge reads (`Judge::feature_width`): its weights
    /// belong to other models or another feature set.
    #[error("Judge reads feature rows {expected} wide, the window's rows are {got} wide")]
    JudgeWidth {
        /// Width of the rows offered.
        got: usize,
        /// Width the judge reads.
        expected: usize,
    },
}

impl ContractBreach {
    /// The [`CoreError`] for this breach by the implementation named `by`.
    pub fn by(self, by: impl Into<String>) -> CoreError {
        CoreError::BrokenContract {
            by: by.into(),
            breach: self,
        }
    }
}

/// Whether `v` may appear in `part`: logits may be `-inf` (a masked token), never NaN or
/// `+inf`; hidden states must be finite.
fn allowed(part: OutputPart, v: f32) -> bool {
    match part {
        OutputPart::Logits => !v.is_nan() && v != f32::INFINITY,
        OutputPart::Hidden => v.is_finite(),
    }
}

impl ExtendOutput {
    /// Checks this output of an `extend` that appended `appended` tokens with request
    /// `outputs` against the contract of a model described by `info`: exactly the requested
    /// rows of each part, each as wide as `info` declares, and no NaN (nor `+inf` logit, nor
    /// infinite hidden state). Widths are only checked for a part with rows requested.
    pub fn check(
        &self,
        info: &ModelInfo,
        appended: usize,
        outputs: Outputs,
    ) -> Result<(), ContractBreach> {
        for (part, rows, data, width) in [
            (
                OutputPart::Logits,
                outputs.logits,
                &self.logits,
                self.vocab_size,
            ),
            (
                OutputPart::Hidden,
                outputs.hidden,
                &self.hidden,
                self.hidden_size,
            ),
        ] {
            let requested = rows.count(appended);
            if requested == 0 {
                if !data.is_empty() {
                    return Err(ContractBreach::RowCount {
                        part,
                        got: data.len().div_ceil(width.max(1)),
                        requested,
                    });
                }
                continue;
            }
            let declared = part.declared_width(info);
            if declared == 0 {
                return Err(ContractBreach::ZeroWidth {
                    part,
                    field: part.width_field(),
                });
            }
            if width != declared {
                return Err(ContractBreach::RowWidth {
                    part,
                    got: width,
                    field: part.width_field(),
                    declared,
                });
            }
            if data.len() != requested * width {
                return Err(ContractBreach::RowCount {
                    part,
                    got: data.len().div_ceil(width),
                    requested,
                });
            }
            if let Some(i) = data.iter().position(|&v| !allowed(part, v)) {
                return Err(ContractBreach::BadValue {
                    part,
                    row: i / width,
                    column: i % width,
                    value: data[i],
                });
            }
        }
        Ok(())
    }
}

/// `session.extend(tokens, outputs)` with the engine's answer checked: the session grew by
/// `tokens.len()` and the output passes [`ExtendOutput::check`]. Every library call site that
/// reads rows goes through it, so a misbehaving engine is a
/// [`CoreError::BrokenContract`] naming the model, never an out-of-bounds panic.
pub fn extend_checked<S: ModelSession + ?Sized>(
    session: &mut S,
    tokens: &[TokenId],
    outputs: Outputs,
) -> CoreResult<ExtendOutput> {
    let before = session.len();
    let out = session.extend(tokens, outputs)?;
    let after = session.len();
    let name = || session.info().name.clone();
    if after != before + tokens.len() {
        return Err(ContractBreach::SessionLength {
            before,
            appended: tokens.len(),
            after,
        }
        .by(name()));
    }
    out.check(session.info(), tokens.len(), outputs)
        .map_err(|b| b.by(name()))?;
    Ok(out)
}

/// `session.rewind_to(ctx, at_most)` with the answer checked: at most `at_most` (and
/// `ctx.len()`) tokens kept, the session left at that length holding a prefix of `ctx`, so
/// callers may slice `ctx[kept..]`.
pub fn rewind_checked<S: ModelSession + ?Sized>(
    session: &mut S,
    ctx: &[TokenId],
    at_most: usize,
) -> CoreResult<usize> {
    let kept = session.rewind_to(ctx, at_most)?;
    let after = session.len();
    let ok = kept <= at_most
        && kept <= ctx.len()
        && after == kept
        && session.tokens().get(..kept) == Some(&ctx[..kept]);
    if ok {
        return Ok(kept);
    }
    Err(ContractBreach::Rewind {
        ctx_len: ctx.len(),
        at_most,
        kept,
        after,
    }
    .by(session.info().name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OutputRows, TokenizerId};

    fn info() -> ModelInfo {
        ModelInfo {
            name: "m".into(),
            vocab_size: 3,
            hidden_size: 2,
            max_context: 16,
            tokenizer: TokenizerId("t".into()),
            eos_ids: vec![],
        }
    }

    fn out(logit_rows: usize, hidden_rows: usize) -> ExtendOutput {
        ExtendOutput {
            logits: vec![0.5; logit_rows * 3],
            vocab_size: 3,
            hidden: vec![0.25; hidden_rows * 2],
            hidden_size: 2,
        }
    }

    const ALL: Outputs = Outputs::ALL_LOGITS_AND_HIDDEN;

    #[test]
    fn a_complete_output_passes() {
        assert_eq!(out(5, 5).check(&info(), 5, ALL), Ok(()));
        let tail = Outputs {
            logits: OutputRows::Tail(2),
            hidden: OutputRows::None,
        };
        assert_eq!(out(2, 0).check(&info(), 5, tail), Ok(()));
        // -inf masks a token.
        let mut o = out(1, 0);
        o.logits[1] = f32::NEG_INFINITY;
        assert_eq!(o.check(&info(), 4, Outputs::LAST_LOGITS), Ok(()));
        // Widths of a part with no rows requested are not read.
        let o = ExtendOutput {
            hidden_size: 0,
            ..out(1, 0)
        };
        assert_eq!(o.check(&info(), 4, Outputs::LAST_LOGITS), Ok(()));
    }

    #[test]
    fn too_few_hidden_rows_name_both_counts() {
        let e = out(5, 3).check(&info(), 5, ALL).unwrap_err();
        assert_eq!(
            e,
            ContractBreach::RowCount {
                part: OutputPart::Hidden,
                got: 3,
                requested: 5
            }
        );
        assert_eq!(
            e.to_string(),
            "ModelSession::extend returned 3 hidden-state rows for 5 requested positions"
        );
    }

    #[test]
    fn wrong_counts_widths_and_values_are_breaches() {
        let i = info();
        assert!(matches!(
            out(4, 5).check(&i, 5, ALL),
            Err(ContractBreach::RowCount {
                part: OutputPart::Logits,
                got: 4,
                requested: 5
            })
        ));
        assert!(matches!(
            out(1, 1).check(&i, 5, Outputs::LAST_LOGITS),
            Err(ContractBreach::RowCount {
                part: OutputPart::Hidden,
                got: 1,
                requested: 0
            })
        ));
        let wide = ExtendOutput {
            logits: vec![0.0; 8],
            vocab_size: 4,
            ..out(0, 0)
        };
        let e = wide.check(&i, 2, Outputs::ALL_LOGITS).unwrap_err();
        assert!(
            e.to_string()
                .contains("logits rows 4 wide, ModelInfo declares vocab_size 3"),
            "{e}"
        );
        let narrow = ExtendOutput {
            hidden: vec![0.0; 3],
            hidden_size: 1,
            ..out(3, 0)
        };
        assert!(matches!(
            narrow.check(&i, 3, ALL),
            Err(ContractBreach::RowWidth {
                part: OutputPart::Hidden,
                got: 1,
                declared: 2,
                ..
            })
        ));
        let ragged = ExtendOutput {
            logits: vec![0.0; 7],
            ..out(0, 0)
        };
        assert!(matches!(
            ragged.check(&i, 2, Outputs::ALL_LOGITS),
            Err(ContractBreach::RowCount {
                got: 3,
                requested: 2,
                ..
            })
        ));
        let mut nan = out(2, 0);
        nan.logits[4] = f32::NAN;
        assert!(matches!(
            nan.check(&i, 2, Outputs::ALL_LOGITS),
            Err(ContractBreach::BadValue {
                part: OutputPart::Logits,
                row: 1,
                column: 1,
                ..
            })
        ));
        let mut inf = out(1, 1);
        inf.logits[0] = f32::INFINITY;
        assert!(inf.check(&i, 1, ALL).is_err());
        let mut inf = out(1, 1);
        inf.hidden[1] = f32::NEG_INFINITY;
        assert!(matches!(
            inf.check(&i, 1, ALL),
            Err(ContractBreach::BadValue {
                part: OutputPart::Hidden,
                row: 0,
                column: 1,
                ..
            })
        ));
    }

    #[test]
    fn a_breach_names_the_implementation() {
        let e = ContractBreach::JudgeCount { got: 1, rows: 2 }.by("logreg-dt");
        assert_eq!(
            e.to_string(),
            "`logreg-dt` broke the contract: Judge::p_important returned 1 probabilities for 2 \
             feature rows"
        );
    }
}
