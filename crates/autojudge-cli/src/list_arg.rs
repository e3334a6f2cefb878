//! [`ListArg`]: a comma-separated flag value where `none` is the empty list, so a method family
//! of `eval` / `pipeline` (top-k, target-probability, the judge sweep) can be switched off.

use std::fmt::Display;
use std::str::FromStr;

/// A comma-separated list; `none` (or an empty value) parses to no items.
#[derive(Clone, Debug, PartialEq)]
pub struct ListArg<T>(pub Vec<T>);

impl<T> ListArg<T> {
    /// The items.
    pub fn items(&self) -> &[T] {
        &self.0
    }

    /// Parses `s` with `item` for each comma-separated item; `none` (or an empty value) is the
    /// empty list, and an item's error is reported with the item.
    pub fn parse_with(s: &str, item: impl Fn(&str) -> Result<T, String>) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(ListArg(Vec::new()));
        }
        s.split(',')
            .map(|i| {
                let i = i.trim();
                item(i).map_err(|e| format!("list item {i:?}: {e}"))
            })
            .collect::<Result<Vec<T>, String>>()
            .map(ListArg)
    }
}

impl<T: FromStr> FromStr for ListArg<T>
where
    T::Err: Display,
{
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ListArg::parse_with(s, |item| item.parse::<T>().map_err(|e| e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_items_none_and_reports_the_bad_item() {
        assert_eq!("2, 4,8".parse::<ListArg<usize>>().unwrap().0, vec![2, 4, 8]);
        assert!("none".parse::<ListArg<f32>>().unwrap().0.is_empty());
        assert!("".parse::<ListArg<f32>>().unwrap().0.is_empty());
        let err = "2,x".parse::<ListArg<usize>>().unwrap_err();
        assert!(err.contains("\"x\""), "{err}");
    }
}
