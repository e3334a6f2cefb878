//! Run machinery for long, resumable jobs over many prompts: the run directory (a checked
//! settings file and an append-only JSONL commit log, [`JsonlLog`]) and the ordered concurrent
//! driver ([`run_ordered`]) that batches the forwards of many prompts in flight.
//!
//! Mining (`autojudge-search`) and evaluation (`autojudge-eval`) are both built on it; an
//! engine of one's own gets resumable, batched runs by implementing
//! [`autojudge_core::TargetModel`].
#![warn(missing_docs)]

mod atomic;
mod error;
mod log;
mod ordered;
mod settings;

pub use atomic::write_atomic;
pub use error::{RunError, RunResult};
pub use log::{read_committed, read_lines, JsonlLog, TornTail};
pub use ordered::{run_ordered, Event, Flight, Job, Work};
pub use settings::{check_or_write_settings, check_same_settings, first_difference, read_settings};
