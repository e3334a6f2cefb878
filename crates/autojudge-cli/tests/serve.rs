//! `autojudge serve` on a tiny random GGUF model, as a client meets it over TCP: its greedy
//! text equals `autojudge generate` (target-only and lossless), its AutoJudge generation equals
//! `autojudge eval`'s line for the same prompt and threshold, and SIGTERM lets a stream in
//! flight finish before the process exits.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use autojudge_tasks::{read_gsm8k, Gsm8kWording};
use common::{bin, mined_and_relabelled, setup, train_dd_dt, TINY_PAIR};
use serde_json::{json, Value};

/// A server process and the address it listens on.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(args: &[&std::ffi::OsStr]) -> Server {
        let mut child = bin()
            .arg("serve")
            .args(args)
            .args(["--port", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server printed its address")
                .unwrap();
            if let Some(rest) = line.split("on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    /// One HTTP/1.1 request; the status and the raw body.
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = raw.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
        (status, body)
    }

    fn complete(&self, body: Value) -> Value {
        let (status, b) = self.request("POST", "/v1/completions", &body.to_string());
        assert_eq!(status, 200, "{b}");
        serde_json::from_str(&b).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn generate(model: &Path, prompt: &str, extra: &[&str]) -> String {
    let o = bin()
        .arg("generate")
        .arg("--model")
        .arg(model)
        .args(["--prompt", prompt, "--max-new-tokens", "24"])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    out.strip_suffix('\n').unwrap_or(&out).to_string()
}

#[test]
fn served_text_equals_generate_and_eval_and_sigterm_drains_a_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, data) = setup(tmp.path(), 24);
    // A judge for the tiny pair.
    let mined = tmp.path().join("mined");
    mined_and_relabelled(&model, &data, &mined, 24);
    let judge = tmp.path().join("judge.safetensors");
    train_dd_dt(&mined, &judge);

    // eval's lines for test prompt 0: target-only, lossless and the judge at its threshold.
    let eval = tmp.path().join("eval");
    let o = bin()
        .arg("eval")
        .args(TINY_PAIR)
        .args([
            "--max-new-tokens",
            "24",
            "--k",
            "4",
            "--prompts",
            "1",
            "--prefill",
            "per-method",
        ])
        .args([
            "--topk",
            "none",
            "--prob",
            "none",
            "--judge-quantiles",
            "none",
        ])
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(&data)
        .arg("--judge")
        .arg(&judge)
        .arg("--out")
        .arg(&eval)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Value> = std::fs::read_to_string(eval.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let judged = lines
        .iter()
        .find(|l| l["family"].as_str().unwrap().starts_with("autojudge"))
        .expect("a judge line");
    let prompt = read_gsm8k(&data, Gsm8kWording::Short).unwrap()[0]
        .task()
        .unwrap()
        .user_prompt
        .clone();

    let server = Server::start(&[
        "--model".as_ref(),
        model.as_os_str(),
        "--draft".as_ref(),
        "self:exit:2".as_ref(),
        "--judge".as_ref(),
        judge.as_os_str(),
        "--k".as_ref(),
        "4".as_ref(),
    ]);
    let name = model.file_stem().unwrap().to_str().unwrap();
    let ask = |method: &str| {
        server.complete(json!({
            "model": name, "prompt": prompt, "max_tokens": 24, "method": method
        }))
    };
    let only = ask("target-only");
    assert_eq!(only["choices"][0]["text"], generate(&model, &prompt, &[]));
    let lossless = ask("lossless");
    assert_eq!(
        lossless["choices"][0]["text"],
        generate(&model, &prompt, &["--draft", "self:exit:2", "--k", "4"])
    );
    let auto = ask("autojudge");
    let (u, stats) = (&auto["usage"], &judged["stats"]);
    assert_eq!(u["completion_tokens"], judged["tokens"], "{u} vs {judged}");
    assert_eq!(u["accepted_tokens"], stats["accepted"], "{u} vs {stats}");
    assert_eq!(u["cycles"], stats["cycles"], "{u} vs {stats}");
    assert_eq!(u["target_calls"], stats["target_calls"], "{u} vs {stats}");
    let target_only_line = lines.iter().find(|l| l["method"] == "target-only").unwrap();
    assert_eq!(
        only["usage"]["completion_tokens"],
        target_only_line["tokens"]
    );

    // SIGTERM while a stream is in flight: the stream still ends with [DONE], then the
    // process exits successfully.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    let body = json!({"model": name, "prompt": prompt, "max_tokens": 100, "stream": true,
                      "method": "target-only"})
    .to_string();
    write!(
        stream,
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut first = [0u8; 64];
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let n = stream.read(&mut first).unwrap();
    assert!(n > 0);
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stream.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("data: [DONE]"), "the stream was cut: {rest}");
    let mut server = server;
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit}");
}
