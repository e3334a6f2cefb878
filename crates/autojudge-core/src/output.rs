//! What one `extend` call returns: next-token logits and optional last-layer hidden states.

/// Which appended positions an output is wanted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputRows {
    /// Not wanted.
    #[default]
    None,
    /// Only the last appended position (prefill, plain decoding).
    Last,
    /// Every appended position (verification, mining, feature extraction).
    All,
    /// The last `n` appended positions: a call that first catches the cache up on tokens whose
    /// outputs are not wanted, then verifies a proposal (one forward instead of two).
    Tail(usize),
}

impl OutputRows {
    /// Number of rows this request yields for `appended` new positions.
    pub fn count(self, appended: usize) -> usize {
        self.range(appended).len()
    }

    /// Which of `appended` new positions (0-based, in order) this request yields rows for.
    pub fn range(self, appended: usize) -> std::ops::Range<usize> {
        let n = match self {
            OutputRows::None => 0,
            OutputRows::Last => 1,
            OutputRows::All => appended,
            OutputRows::Tail(n) => n,
        };
        appended - n.min(appended)..appended
    }
}

/// The outputs requested from one `extend` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outputs {
    /// Next-token logits rows.
    pub logits: OutputRows,
    /// Last-layer hidden states (after the final norm: the judge's features).
    pub hidden: OutputRows,
}

impl Outputs {
    /// Logits for the last position only.
    pub const LAST_LOGITS: Outputs = Outputs {
        logits: OutputRows::Last,
        hidden: OutputRows::None,
    };
    /// Logits for every appended position.
    pub const ALL_LOGITS: Outputs = Outputs {
        logits: OutputRows::All,
        hidden: OutputRows::None,
    };
    /// Logits and hidden states for every appended position.
    pub const ALL_LOGITS_AND_HIDDEN: Outputs = Outputs {
        logits: OutputRows::All,
        hidden: OutputRows::All,
    };
    /// Nothing (KV cache fill only).
    pub const NONE: Outputs = Outputs {
        logits: OutputRows::None,
        hidden: OutputRows::None,
    };
}

/// Row-major outputs of one `extend` call.
///
/// Rows always describe the *last* appended positions: with `OutputRows::Last` there is one row
/// for the final token, with `OutputRows::All` row `i` belongs to the `i`-th appended token,
/// with `OutputRows::Tail(n)` row `i` to appended token `appended - n + i`.
/// Row `i`'s logits predict the token that follows appended token `i`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtendOutput {
    /// Logits, `logit_rows × vocab_size`.
    pub logits: Vec<f32>,
    /// Vocabulary size (row width of `logits`).
    pub vocab_size: usize,
    /// Hidden states, `hidden_rows × hidden_size`.
    pub hidden: Vec<f32>,
    /// Hidden size (row width of `hidden`).
    pub hidden_size: usize,
}

impl ExtendOutput {
    /// Number of logits rows.
    pub fn logit_rows(&self) -> usize {
        self.logits.len().checked_div(self.vocab_size).unwrap_or(0)
    }

    /// Number of hidden-state rows.
    pub fn hidden_rows(&self) -> usize {
        self.hidden.len().checked_div(self.hidden_size).unwrap_or(0)
    }

    /// Logits of row `i`. Panics when the output holds no row `i`: outputs of an engine are
    /// checked against the request first ([`Self::check`], [`crate::extend_checked`]).
    pub fn logits_row(&self, i: usize) -> &[f32] {
        &self.logits[i * self.vocab_size..(i + 1) * self.vocab_size]
    }

    /// Hidden state of row `i`. Panics when the output holds no row `i`: outputs of an engine
    /// are checked against the request first ([`Self::check`], [`crate::extend_checked`]).
    pub fn hidden_row(&self, i: usize) -> &[f32] {
        &self.hidden[i * self.hidden_size..(i + 1) * self.hidden_size]
    }

    /// Greedy next token of row `i`.
    pub fn argmax_row(&self, i: usize) -> crate::TokenId {
        crate::argmax(self.logits_row(i)).unwrap_or(0) as crate::TokenId
    }

    /// Greedy next token of every row.
    pub fn argmax_rows(&self) -> Vec<crate::TokenId> {
        (0..self.logit_rows()).map(|i| self.argmax_row(i)).collect()
    }
}
