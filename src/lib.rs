pub use autojudge_core as core;
