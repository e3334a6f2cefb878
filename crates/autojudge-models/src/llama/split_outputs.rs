//! Splits the stacked output rows of a batched forward into one `ExtendOutput` per item.

use autojudge_core::ExtendOutput;

/// `logits` (`Σ logit rows × vocab`) and `hidden` (`Σ hidden rows × hidden_size`) stacked in
/// item order, `counts[i]` = item `i`'s (logit rows, hidden rows). The first item takes the
/// stacked buffers' allocation (a batch of one copies nothing); the others get their tails.
pub fn split_outputs(
    mut logits: Vec<f32>,
    mut hidden: Vec<f32>,
    vocab_size: usize,
    hidden_size: usize,
    counts: &[(usize, usize)],
) -> Vec<ExtendOutput> {
    let mut outs = Vec::with_capacity(counts.len());
    let (mut at_l, mut at_h) = (logits.len(), hidden.len());
    for &(nl, nh) in counts.iter().rev() {
        at_l -= nl * vocab_size;
        at_h -= nh * hidden_size;
        outs.push(ExtendOutput {
            logits: tail(&mut logits, at_l),
            vocab_size,
            hidden: tail(&mut hidden, at_h),
            hidden_size,
        });
    }
    outs.reverse();
    outs
}

/// Elements `at..` of `v`, moved out (the whole buffer when `at` is 0: no copy, no allocation).
fn tail(v: &mut Vec<f32>, at: usize) -> Vec<f32> {
    if at == 0 {
        std::mem::take(v)
    } else {
        v.split_off(at)
    }
}
