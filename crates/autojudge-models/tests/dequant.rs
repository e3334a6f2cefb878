//! GGUF dequantization of every supported type against gguf-py (llama.cpp's reference
//! Python implementation), on random blocks and on real SmolLM2 tensors.

mod common;

use autojudge_models::gguf::{dequantize, GgmlType, GgufFile};
use common::*;
use serde_json::Value;

fn ty(name: &str) -> GgmlType {
    GgmlType::SUPPORTED
        .into_iter()
        .find(|t| t.to_string() == name)
        .unwrap_or_else(|| panic!("type {name}"))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn fixture_json() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("dequant.json")).unwrap()).unwrap()
}

#[test]
fn every_supported_type_matches_gguf_py() {
    let v = fixture_json();
    let mut seen = Vec::new();
    for case in v["blocks"].as_array().unwrap() {
        let t = ty(case["type"].as_str().unwrap());
        let want: Vec<f32> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let got = dequantize(t, &hex(case["hex"].as_str().unwrap()));
        assert_eq!(got.len(), want.len(), "{t}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{t} element {i}: {g} vs {w}"
            );
        }
        seen.push(t);
    }
    for t in GgmlType::SUPPORTED {
        assert!(
            t == GgmlType::F32 || seen.contains(&t),
            "no fixture for {t}"
        );
    }
}

#[test]
fn real_smollm2_tensors_match_gguf_py() {
    let path = smollm_path();
    let g = GgufFile::open(&path).unwrap();
    let v = fixture_json();
    let cases = v["smollm_tensors"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let info = g.tensor(case["tensor"].as_str().unwrap()).unwrap();
        let got = dequantize(info.dtype, g.tensor_bytes(info));
        assert_eq!(got.len() as u64, case["count"].as_u64().unwrap());
        let first: Vec<f32> = case["first"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let last: Vec<f32> = case["last"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert!(
            max_abs_diff(&got[..first.len()], &first) < 1e-6,
            "{}",
            info.name
        );
        assert!(
            max_abs_diff(&got[got.len() - last.len()..], &last) < 1e-6,
            "{}",
            info.name
        );
        let sum: f64 = got.iter().map(|&x| x as f64).sum();
        let want = case["sum"].as_f64().unwrap();
        assert!(
            (sum - want).abs() < 1e-6 * want.abs().max(1.0) + 1e-3,
            "{}: sum {sum} vs {want}",
            info.name
        );
    }
}
