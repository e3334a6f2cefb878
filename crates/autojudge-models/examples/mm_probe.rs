use burn::tensor::{Distribution, Tensor};
use std::time::Instant;
type B = burn::backend::Flex;
fn main() {
    let dev = Default::default();
    for (kin, nout) in [
        (576usize, 1728usize),
        (576, 3072),
        (1536, 576),
        (576, 49152),
    ] {
        let w = Tensor::<B, 2>::random([kin, nout], Distribution::Default, &dev);
        let wt = Tensor::<B, 2>::random([nout, kin], Distribution::Default, &dev);
        for m in [1usize, 8, 16] {
            let x = Tensor::<B, 2>::random([m, kin], Distribution::Default, &dev);
            let _ = x.clone().matmul(w.clone()).into_data();
            let reps = 50;
            let t = Instant::now();
            for _ in 0..reps {
                let _ = x.clone().matmul(w.clone()).into_data();
            }
            let a = t.elapsed().as_secs_f64() / reps as f64 * 1e3;
            let t = Instant::now();
            for _ in 0..reps {
                let _ = x.clone().matmul(wt.clone().transpose()).into_data();
            }
            let b = t.elapsed().as_secs_f64() / reps as f64 * 1e3;
            let t = Instant::now();
            for _ in 0..reps {
                let _ = wt
                    .clone()
                    .matmul(x.clone().transpose())
                    .transpose()
                    .into_data();
            }
            let c = t.elapsed().as_secs_f64() / reps as f64 * 1e3;
            println!("[{m}x{kin}]x[{kin}x{nout}]: row-major W {a:.3} ms, transposed view {b:.3} ms, W·xT {c:.3} ms");
        }
    }
}
