//! Pieces several commands share (commands never import each other): mining and evaluation
//! run helpers, the report files, GSM8K prompts for the benchmarks, the judge tables.

pub mod evaluation;
pub mod gsm8k_questions;
pub mod judge_tables;
pub mod mining;
pub mod plot;
pub mod report_files;
