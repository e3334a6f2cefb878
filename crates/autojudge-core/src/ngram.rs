//! Prompt lookup, the one n-gram search behind every cheap guess in the workspace (the decode
//! loop's n-gram drafter and mining's context lookup): where did these tokens occur before, and
//! what followed them?

use crate::TokenId;

/// The position just after the most recent occurrence of `pattern` in `hay` that ends at or
/// before `end` (so `hay[result..]` is what followed it); `None` when there is none or
/// `pattern` is empty.
pub fn last_match_end(hay: &[TokenId], pattern: &[TokenId], end: usize) -> Option<usize> {
    let g = pattern.len();
    let end = end.min(hay.len());
    if g == 0 || end < g {
        return None;
    }
    (0..=end - g)
        .rev()
        .find(|&i| &hay[i..i + g] == pattern)
        .map(|i| i + g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_most_recent_occurrence_ending_in_bounds() {
        let hay = [1, 2, 3, 1, 2, 4, 1, 2];
        assert_eq!(last_match_end(&hay, &[1, 2], 8), Some(8));
        assert_eq!(last_match_end(&hay, &[1, 2], 7), Some(5));
        assert_eq!(last_match_end(&hay, &[1, 2], 4), Some(2));
        assert_eq!(last_match_end(&hay, &[1, 2], 1), None);
        assert_eq!(last_match_end(&hay, &[9], 8), None);
        assert_eq!(last_match_end(&hay, &[], 8), None);
        assert_eq!(last_match_end(&hay, &[2, 4], 100), Some(6));
    }
}
