//! A conformance check for engines behind the contract: what mining, decoding and evaluation
//! rely on from a [`TargetModel`], run on the engine itself. An engine author calls
//! [`check_conformance`] on a model of theirs (a small one is enough) before handing it to the
//! rest of autojudge-rs.

use crate::{
    extend_checked, BatchItem, CoreError, ExtendOutput, ModelSession, OutputRows, Outputs,
    TargetModel, TokenId,
};

/// One property [`check_conformance`] tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// Row counts and widths match the request ([`ExtendOutput::check`]; a session grows by
    /// the tokens appended).
    Shapes,
    /// Appending one token at a time, or in chunks, gives the rows one `extend` gives.
    ChunkedExtend,
    /// `OutputRows::Tail(n)` returns the last `n` rows of `All` (fewer when fewer tokens).
    TailRows,
    /// Truncating and extending again equals never having appended what was cut.
    TruncateThenExtend,
    /// A cloned session (a fork) and its original change independently.
    ForkIndependence,
    /// `extend_batch` gives every item what its own `extend` gives.
    BatchedExtend,
    /// Bad requests are errors: an empty extend, a truncate past the length, appending past
    /// the maximum context.
    BadRequests,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Check::Shapes => "output shapes",
            Check::ChunkedExtend => "chunked extend equals one extend",
            Check::TailRows => "tail rows are the last rows",
            Check::TruncateThenExtend => "truncate then extend equals a fresh session",
            Check::ForkIndependence => "forks are independent",
            Check::BatchedExtend => "extend_batch equals extend",
            Check::BadRequests => "bad requests are errors",
        })
    }
}

/// Why an engine failed [`check_conformance`].
#[derive(Debug, thiserror::Error)]
pub enum ConformanceFailure {
    /// Rows that must agree differ by more than the tolerance (or have other shapes).
    #[error("{check}: {detail}")]
    Differs {
        /// The property broken.
        check: Check,
        /// Where and by how much.
        detail: String,
    },
    /// A request the contract allows failed.
    #[error("{check}: a valid request failed")]
    Failed {
        /// The property being tested.
        check: Check,
        /// The engine's error.
        #[source]
        source: CoreError,
    },
    /// A request the contract forbids succeeded.
    #[error("{check}: {request} succeeded")]
    Accepted {
        /// The property being tested.
        check: Check,
        /// The request that should have failed.
        request: &'static str,
    },
}

/// What [`check_conformance`] ran and the largest difference it saw between rows that must
/// agree.
#[derive(Clone, Debug, PartialEq)]
pub struct ConformanceReport {
    /// The properties checked, in order.
    pub checks: Vec<Check>,
    /// The largest absolute difference between two rows compared (0 for a bit-exact engine).
    pub max_difference: f32,
}

/// Runs every [`Check`] on `model` with `tokens` (at least 4; they and a few more must fit
/// its context). Rows computed in different ways (another chunking, a batch, after a
/// truncation) must agree within `tolerance` (absolute, per value; 0 demands bit-identical
/// rows, which the repository's host kernels give).
pub fn check_conformance<M: TargetModel>(
    model: &M,
    tokens: &[TokenId],
    tolerance: f32,
) -> Result<ConformanceReport, ConformanceFailure> {
    assert!(
        tokens.len() >= 4,
        "check_conformance needs at least 4 tokens"
    );
    let mut c = Checker {
        tolerance,
        max_difference: 0.0,
        checks: Vec::new(),
    };
    let n = tokens.len();
    let fresh = |check| model.new_session().map_err(|e| failed(check, e));

    // Shapes: every request kind, through the checked extend.
    let mut s = fresh(Check::Shapes)?;
    let all = extend(
        &mut s,
        tokens,
        Outputs::ALL_LOGITS_AND_HIDDEN,
        Check::Shapes,
    )?;
    for outputs in [Outputs::LAST_LOGITS, Outputs::ALL_LOGITS, Outputs::NONE] {
        extend(&mut fresh(Check::Shapes)?, tokens, outputs, Check::Shapes)?;
    }
    c.checks.push(Check::Shapes);

    // One token at a time, and chunks of 3.
    for chunk in [1, 3] {
        let mut s = fresh(Check::ChunkedExtend)?;
        let mut at = 0;
        for piece in tokens.chunks(chunk) {
            let out = extend(
                &mut s,
                piece,
                Outputs::ALL_LOGITS_AND_HIDDEN,
                Check::ChunkedExtend,
            )?;
            for i in 0..piece.len() {
                c.same_row(Check::ChunkedExtend, &out, i, &all, at + i)?;
            }
            at += piece.len();
        }
    }
    c.checks.push(Check::ChunkedExtend);

    for tail in [1, 3, n, n + 5] {
        let rows = OutputRows::Tail(tail);
        let outputs = Outputs {
            logits: rows,
            hidden: rows,
        };
        let out = extend(
            &mut fresh(Check::TailRows)?,
            tokens,
            outputs,
            Check::TailRows,
        )?;
        let kept = tail.min(n);
        for i in 0..kept {
            c.same_row(Check::TailRows, &out, i, &all, n - kept + i)?;
        }
    }
    c.checks.push(Check::TailRows);

    // Append other tokens, cut them, append the rest: the rows of a session that never saw
    // them.
    let cut = n / 2;
    let mut s = fresh(Check::TruncateThenExtend)?;
    extend(
        &mut s,
        &tokens[..cut],
        Outputs::NONE,
        Check::TruncateThenExtend,
    )?;
    let junk: Vec<TokenId> = tokens[cut..].iter().rev().copied().collect();
    extend(&mut s, &junk, Outputs::NONE, Check::TruncateThenExtend)?;
    s.truncate(cut)
        .map_err(|e| failed(Check::TruncateThenExtend, e))?;
    let out = extend(
        &mut s,
        &tokens[cut..],
        Outputs::ALL_LOGITS_AND_HIDDEN,
        Check::TruncateThenExtend,
    )?;
    for i in 0..n - cut {
        c.same_row(Check::TruncateThenExtend, &out, i, &all, cut + i)?;
    }
    c.checks.push(Check::TruncateThenExtend);

    // A fork goes elsewhere; the original continues as if it had not been forked.
    let mut s = fresh(Check::ForkIndependence)?;
    extend(
        &mut s,
        &tokens[..cut],
        Outputs::NONE,
        Check::ForkIndependence,
    )?;
    let mut fork = s.clone();
    extend(&mut fork, &junk, Outputs::NONE, Check::ForkIndependence)?;
    if s.tokens() != &tokens[..cut] {
        return Err(differs(
            Check::ForkIndependence,
            "extending the fork changed the original's tokens".into(),
        ));
    }
    let out = extend(
        &mut s,
        &tokens[cut..],
        Outputs::ALL_LOGITS_AND_HIDDEN,
        Check::ForkIndependence,
    )?;
    for i in 0..n - cut {
        c.same_row(Check::ForkIndependence, &out, i, &all, cut + i)?;
    }
    c.checks.push(Check::ForkIndependence);

    // Two sessions of ragged lengths in one batch.
    let (mut a, mut b) = (fresh(Check::BatchedExtend)?, fresh(Check::BatchedExtend)?);
    extend(&mut b, &tokens[..cut], Outputs::NONE, Check::BatchedExtend)?;
    let mut items = [
        BatchItem {
            session: &mut a,
            tokens,
            outputs: Outputs::ALL_LOGITS_AND_HIDDEN,
        },
        BatchItem {
            session: &mut b,
            tokens: &tokens[cut..],
            outputs: Outputs::ALL_LOGITS_AND_HIDDEN,
        },
    ];
    let mut results = model.extend_batch(&mut items).into_iter();
    let (Some(ra), Some(rb), None) = (results.next(), results.next(), results.next()) else {
        return Err(differs(
            Check::BatchedExtend,
            "extend_batch did not return one result per item".into(),
        ));
    };
    let ra = ra.map_err(|e| failed(Check::BatchedExtend, e))?;
    let rb = rb.map_err(|e| failed(Check::BatchedExtend, e))?;
    for i in 0..n {
        c.same_row(Check::BatchedExtend, &ra, i, &all, i)?;
    }
    for i in 0..n - cut {
        c.same_row(Check::BatchedExtend, &rb, i, &all, cut + i)?;
    }
    c.checks.push(Check::BatchedExtend);

    let mut s = fresh(Check::BadRequests)?;
    extend(&mut s, &tokens[..cut], Outputs::NONE, Check::BadRequests)?;
    if s.extend(&[], Outputs::LAST_LOGITS).is_ok() {
        return Err(accepted("an empty extend"));
    }
    if s.truncate(cut + 1).is_ok() {
        return Err(accepted("a truncate past the session's length"));
    }
    let room = model.info().max_context.saturating_sub(cut);
    if room < 1 << 16 {
        let past: Vec<TokenId> = tokens.iter().copied().cycle().take(room + 1).collect();
        if s.extend(&past, Outputs::NONE).is_ok() {
            return Err(accepted("appending past the maximum context"));
        }
    }
    c.checks.push(Check::BadRequests);

    Ok(ConformanceReport {
        checks: c.checks,
        max_difference: c.max_difference,
    })
}

struct Checker {
    tolerance: f32,
    max_difference: f32,
    checks: Vec<Check>,
}

impl Checker {
    /// Row `i` of `got` against row `j` of `want`, logits and hidden states.
    fn same_row(
        &mut self,
        check: Check,
        got: &ExtendOutput,
        i: usize,
        want: &ExtendOutput,
        j: usize,
    ) -> Result<(), ConformanceFailure> {
        for (what, g, w) in [
            ("logits", got.logits_row(i), want.logits_row(j)),
            ("hidden", got.hidden_row(i), want.hidden_row(j)),
        ] {
            let d = g
                .iter()
                .zip(w)
                .map(|(a, b)| (a - b).abs())
                .fold(
                    0.0f32,
                    |m, x| if x.is_nan() { f32::INFINITY } else { m.max(x) },
                );
            self.max_difference = self.max_difference.max(d);
            if d > self.tolerance || g.len() != w.len() {
                return Err(differs(
                    check,
                    format!(
                        "{what} row for position {j} differs by {d} (tolerance {})",
                        self.tolerance
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn extend<S: ModelSession>(
    s: &mut S,
    tokens: &[TokenId],
    outputs: Outputs,
    check: Check,
) -> Result<ExtendOutput, ConformanceFailure> {
    extend_checked(s, tokens, outputs).map_err(|e| match e {
        CoreError::BrokenContract { .. } => differs(Check::Shapes, e.to_string()),
        e => failed(check, e),
    })
}

fn failed(check: Check, source: CoreError) -> ConformanceFailure {
    ConformanceFailure::Failed { check, source }
}

fn differs(check: Check, detail: String) -> ConformanceFailure {
    ConformanceFailure::Differs { check, detail }
}

fn accepted(request: &'static str) -> ConformanceFailure {
    ConformanceFailure::Accepted {
        check: Check::BadRequests,
        request,
    }
}
