//! One module per subcommand.

pub mod bench_decode;
pub mod bench_model;
pub mod draft_sweep;
pub mod dtype_agreement;
pub mod eval;
pub mod generate;
pub mod inspect;
pub mod learning_curve;
pub mod merge;
pub mod mine;
pub mod operating_points;
pub mod pipeline;
pub mod refeature;
pub mod report;
pub mod serve;
pub mod train;
