//! `autojudge inspect`: a GGUF file's metadata and tensors.

use std::path::PathBuf;

use autojudge_models::gguf::{GgufFile, MetadataValue};
use clap::Args;

/// Arguments of `inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// The `.gguf` file.
    pub path: PathBuf,
    /// Also list every tensor, with what it runs as under `--dtype quant` (the CPU default).
    #[arg(long)]
    pub tensors: bool,
}

fn short(v: &MetadataValue) -> String {
    match v {
        MetadataValue::Array(a) => format!("[{} items]", a.len()),
        MetadataValue::String(s) if s.len() > 80 => format!(
            "{:?}… ({} chars)",
            &s[..s.char_indices().nth(60).map(|(i, _)| i).unwrap_or(s.len())],
            s.len()
        ),
        other => format!("{other:?}"),
    }
}

/// Which host kernels run on this CPU: what `--isa auto` picks, every set it runs, and what
/// `--dtype auto` becomes there.
fn host_kernels_line() -> String {
    use autojudge_models::{ComputeDType, Isa, ProjectionKernel};
    let best = Isa::detected();
    let sets: Vec<&str> = Isa::available().into_iter().map(Isa::name).collect();
    format!(
        "host kernels on this CPU: --isa auto = {best} (runs: {}); --dtype auto = {}",
        sets.join(", "),
        ComputeDType::Auto.resolve(ProjectionKernel::Host, best)
    )
}

/// Runs `inspect`.
pub fn run(a: InspectArgs) -> anyhow::Result<()> {
    if a.path.is_dir() {
        anyhow::bail!(
            "{}: is a directory; inspect reads one .gguf file",
            a.path.display()
        );
    }
    let g = GgufFile::open(&a.path)?;
    println!(
        "{}: GGUF v{}, {} metadata keys, {} tensors",
        a.path.display(),
        g.version,
        g.metadata.len(),
        g.tensors.len()
    );
    for (k, v) in &g.metadata {
        println!("  {k} = {}", short(v));
    }
    let mut by_type = std::collections::BTreeMap::<String, (usize, usize)>::new();
    for t in &g.tensors {
        let e = by_type.entry(t.dtype.to_string()).or_default();
        e.0 += 1;
        e.1 += t.nbytes;
        if a.tensors {
            let runs_as = autojudge_models::quantized_kernel_label(t.dtype, &t.shape());
            println!(
                "  {} {:?} {} → quant: {runs_as}",
                t.name,
                t.shape(),
                t.dtype
            );
        }
    }
    for (ty, (n, bytes)) in by_type {
        println!("  {ty}: {n} tensors, {:.1} MiB", bytes as f64 / 1048576.0);
    }
    println!("{}", host_kernels_line());
    Ok(())
}
