//! Small shared value types.

/// A token id in a model's vocabulary.
pub type TokenId = u32;

/// Index of the largest value (first one on ties, like `torch.argmax`); `None` when empty.
///
/// NaN values are never selected unless every value is NaN.
pub fn argmax(values: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in values.iter().enumerate() {
        match best {
            None => best = Some((i, v)),
            Some((_, b)) if v > b || (b.is_nan() && !v.is_nan()) => best = Some((i, v)),
            _ => {}
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_picks_first_maximum() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, -1.0]), Some(1));
        assert_eq!(argmax(&[]), None);
        assert_eq!(argmax(&[f32::NAN, 0.5, 0.2]), Some(1));
    }
}
