//! `autojudge_core::check_conformance` on the pure-Rust mock engine: the sound engine passes
//! every check bit-exactly, and each kind of broken engine fails with the check it breaks.

use autojudge_core::{check_conformance, Check, ConformanceFailure, TokenId};
use autojudge_decode::testing::{Fault, Faulty, MockLm};

fn tokens() -> Vec<TokenId> {
    (0..12).map(|i| (i * 7 + 3) % 50).collect()
}

#[test]
fn the_mock_engine_conforms_bit_exactly() {
    let report = check_conformance(&MockLm::new(1, 50, 3.0), &tokens(), 0.0).unwrap();
    assert_eq!(report.max_difference, 0.0);
    assert_eq!(
        report.checks,
        vec![
            Check::Shapes,
            Check::ChunkedExtend,
            Check::TailRows,
            Check::TruncateThenExtend,
            Check::ForkIndependence,
            Check::BatchedExtend,
            Check::BadRequests,
        ]
    );
}

#[test]
fn broken_engines_fail_naming_the_check() {
    for fault in [
        Fault::DropHiddenRow,
        Fault::DropLogitsRow,
        Fault::WideLogits,
        Fault::NarrowHidden,
        Fault::ForgetTokens,
    ] {
        let engine = Faulty::new(MockLm::new(1, 50, 3.0), fault);
        let err = check_conformance(&engine, &tokens(), 0.0).unwrap_err();
        assert!(
            matches!(
                err,
                ConformanceFailure::Differs {
                    check: Check::Shapes,
                    ..
                }
            ),
            "{fault:?}: {err}"
        );
    }
    // NaN logits never equal themselves: the rows differ.
    let engine = Faulty::new(MockLm::new(1, 50, 3.0), Fault::NanLogits);
    let err = check_conformance(&engine, &tokens(), 1e-3).unwrap_err();
    assert!(matches!(err, ConformanceFailure::Differs { .. }), "{err}");
}
