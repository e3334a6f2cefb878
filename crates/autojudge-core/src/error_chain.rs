//! An error with its causes on one line.
//!
//! Every error type of autojudge-rs says its own context in its message and returns its cause
//! as its `source`, never both: a caller that prints the chain (anyhow's `{:?}`, or this type)
//! reads each cause once. [`ErrorChain`] is the one-line form, for a message that is stored
//! (a failed prompt's record) or printed as part of another.

use std::fmt;

/// Displays an error followed by each of its sources, joined by `": "`
/// (`"data.jsonl: No such file or directory (os error 2)"`).
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'a));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            write!(f, ": {cause}")?;
            next = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CoreError;

    #[test]
    fn each_cause_appears_once_in_order() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = CoreError::Backend(Box::new(io));
        let line = ErrorChain(&err).to_string();
        assert_eq!(line, "model backend error: no such file");
        assert_eq!(line.matches("no such file").count(), 1);
    }
}
