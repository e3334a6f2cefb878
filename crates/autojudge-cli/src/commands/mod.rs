//! One module per subcommand.

pub mod bench_decode;
pub mod bench_model;
pub mod draft_sweep;
pub mod generate;
pub mod inspect;
