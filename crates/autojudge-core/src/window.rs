//! The growing proposal window shared by mining's regenerations and the decode loop: double
//! after a proposal the target accepted whole, fall back to the minimum after a rejection, so
//! long agreeing stretches cost fewer target calls and a disagreement costs little.

/// A proposal length in `min..=max` that doubles after a proposal accepted whole and returns to
/// `min` after one that was not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoublingWindow {
    min: usize,
    max: usize,
    current: usize,
}

impl DoublingWindow {
    /// A window starting at `min` (a `max` below `min` is raised to it).
    pub fn new(min: usize, max: usize) -> Self {
        DoublingWindow {
            min,
            max: max.max(min),
            current: min,
        }
    }

    /// A window at length `current` (clamped into `min..=max`), for callers that keep the
    /// length themselves.
    pub fn at(min: usize, max: usize, current: usize) -> Self {
        let max = max.max(min);
        DoublingWindow {
            min,
            max,
            current: current.clamp(min, max),
        }
    }

    /// The current length.
    pub fn current(&self) -> usize {
        self.current
    }

    /// Records the outcome of the last proposal and returns the next length.
    pub fn record(&mut self, accepted_whole: bool) -> usize {
        self.current = if accepted_whole {
            self.current.saturating_mul(2).min(self.max)
        } else {
            self.min
        };
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_falls_back_to_the_minimum() {
        let mut w = DoublingWindow::new(3, 20);
        assert_eq!(w.current(), 3);
        assert_eq!(
            [true, true, true, false, true].map(|a| w.record(a)),
            [6, 12, 20, 3, 6]
        );
        assert_eq!(DoublingWindow::new(5, 2).record(true), 5);
        assert_eq!(DoublingWindow::at(2, 16, 5).record(true), 10);
        assert_eq!(DoublingWindow::at(2, 16, 50).record(false), 2);
    }
}
