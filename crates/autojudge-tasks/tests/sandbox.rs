//! The code sandbox against the escapes found in the hardening review (issue 17): each case
//! is a program that tries to get out, and the test checks from the host that it did not.
//! These tests need bubblewrap and util-linux's prlimit (the test command installs them);
//! without them they fail with the sandbox's own setup error.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autojudge_tasks::{
    Answer, CodeOracle, CodeTask, Isolation, Oracle, ProgramOutcome, Sandbox, SandboxError,
    SandboxLimits, Task,
};

fn sandbox(isolation: Isolation, wall: Duration) -> Sandbox {
    let limits = SandboxLimits {
        wall_time: wall,
        ..SandboxLimits::default()
    };
    Sandbox::new(isolation, Path::new("python3"), limits)
        .unwrap_or_else(|e| panic!("sandbox setup: {e}"))
}

fn strict() -> Sandbox {
    sandbox(Isolation::Bubblewrap, Duration::from_secs(5))
}

/// A token unique to this test run, to find the processes a program left behind.
fn marker(name: &str) -> String {
    format!("ajmark{}x{}x{name}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("urandom");
    u64::from_le_bytes(b) % 1_000_000_007
}

/// Host processes whose command line contains `marker`.
fn survivors(marker: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| e.file_name().to_string_lossy() != me)
        .filter_map(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(marker)
                .then(|| format!("pid {}: {cmd}", e.file_name().to_string_lossy()))
        })
        .collect()
}

/// Survivors after a short grace (a killed process may take a moment to be reaped).
fn survivors_after_grace(marker: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let left = survivors(marker);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn add_task() -> Task {
    Task {
        index: 0,
        id: "t/0".into(),
        user_prompt: String::new(),
        gold: Some("pass".into()),
        code: Some(CodeTask {
            prompt: "def add(a, b):\n    \"\"\"Add.\"\"\"\n".into(),
            test: "def check(f):\n    assert f(2, 3) == 5\n".into(),
            entry_point: "add".into(),
        }),
    }
}

fn answer(oracle: &CodeOracle, response: &str) -> Answer {
    answer_of(oracle, &add_task(), response)
}

#[test]
fn correct_wrong_and_slow_functions() {
    for isolation in [Isolation::Bubblewrap, Isolation::UnsafeNone] {
        let oracle = CodeOracle::new(sandbox(isolation, Duration::from_secs(2)));
        let ok = "```python\ndef add(a, b):\n    return a + b\n```";
        assert_eq!(answer(&oracle, ok), Answer::found("pass"), "{isolation}");
        assert_eq!(answer(&oracle, "    return a + b\n"), Answer::found("pass"));
        let wrong = "```python\ndef add(a, b):\n    return a - b\n```";
        assert_eq!(answer(&oracle, wrong), Answer::found("fail"));
        let slow = "```python\ndef add(a, b):\n    while True: pass\n```";
        assert_eq!(answer(&oracle, slow), Answer::found("fail"));
        assert!(oracle.name().contains(&format!("sandbox={isolation}")));
    }
}

/// A wrong function followed by an exit that reports success: the exit status decides nothing.
#[test]
fn exits_and_exit_hooks_are_not_passes() {
    let wrong = "def add(a, b):\n    return a - b\n";
    let tails = [
        "import sys\nsys.exit(0)\n",
        "import os\nos._exit(0)\n",
        "import atexit, os\natexit.register(lambda: os._exit(0))\n",
        "raise SystemExit(0)\n",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
        // The check raises; a hook that exits 0 afterwards must not turn that into a pass.
        "import sys\nsys.excepthook = lambda *a: None\n",
    ];
    for isolation in [Isolation::Bubblewrap, Isolation::UnsafeNone] {
        let oracle = CodeOracle::new(sandbox(isolation, Duration::from_secs(5)));
        for tail in tails {
            let response = format!("```python\n{wrong}{tail}```");
            assert_eq!(
                answer(&oracle, &response),
                Answer::found("fail"),
                "{isolation}: {tail}"
            );
        }
        // sys.exit(0) at module level of a right function also stops before the tests ran.
        let right_then_exit =
            "```python\ndef add(a, b):\n    return a + b\nimport sys\nsys.exit(0)\n```";
        assert_eq!(answer(&oracle, right_then_exit), Answer::found("fail"));
        // `if __name__ == "__main__":` blocks do not run (HumanEval's harness semantics).
        let main_exit = "```python\ndef add(a, b):\n    return a + b\nif __name__ == '__main__':\n    import sys\n    sys.exit(1)\n```";
        assert_eq!(answer(&oracle, main_exit), Answer::found("pass"));
    }
}

/// Printing something nonce-shaped on stdout or stderr, or writing to every descriptor, does
/// not forge the report.
#[test]
fn output_cannot_forge_the_report() {
    let sb = strict();
    let flood = "import os\nfor fd in range(3, 64):\n    try: os.write(fd, b'started\\n' + b'0' * 32 + b'\\n')\n    except OSError: pass\nraise AssertionError\n";
    assert_eq!(sb.run(flood).unwrap(), ProgramOutcome::Failed);
    let print = "print('started')\nprint('0' * 32)\nraise AssertionError\n";
    assert_eq!(sb.run(print).unwrap(), ProgramOutcome::Failed);
}

#[test]
fn a_4_gib_allocation_fails() {
    let sb = strict();
    assert_eq!(
        sb.run("b = bytearray(4 << 30)\n").unwrap(),
        ProgramOutcome::Failed
    );
    // Under the limit it works: the limit is what stopped the large one.
    assert_eq!(
        sb.run("b = bytearray(64 << 20)\n").unwrap(),
        ProgramOutcome::Passed
    );
}

#[test]
fn forked_children_do_not_outlive_the_run() {
    let sb = strict();
    let mark = marker("fork");
    let program = format!(
        "import os\nn = 0\nfor _ in range(50):\n    try:\n        if os.fork() == 0:\n            os.execv('/bin/sh', ['sh', '-c', 'sleep 30; : {mark}'])\n        n += 1\n    except OSError:\n        break\nassert n > 0\n"
    );
    assert_eq!(sb.run(&program).unwrap(), ProgramOutcome::Passed);
    assert_eq!(survivors_after_grace(&mark), Vec::<String>::new());
}

#[test]
fn the_process_limit_caps_a_fork_loop() {
    let sb = strict();
    // Count how many children the program could start: bounded by RLIMIT_NPROC.
    let program = "import os, time\nn = 0\nfor _ in range(500):\n    try:\n        if os.fork() == 0:\n            time.sleep(30)\n            os._exit(0)\n        n += 1\n    except OSError:\n        break\nassert n < 32, n\n";
    assert_eq!(sb.run(program).unwrap(), ProgramOutcome::Passed);
}

#[test]
fn a_detached_child_dies_with_a_timed_out_run() {
    let sb = sandbox(Isolation::Bubblewrap, Duration::from_secs(1));
    let mark = marker("detached");
    let program = format!(
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execv('/bin/sh', ['sh', '-c', 'sleep 7; : {mark}'])\n    os._exit(0)\nwhile True:\n    time.sleep(1)\n"
    );
    let start = Instant::now();
    assert_eq!(sb.run(&program).unwrap(), ProgramOutcome::TimedOut);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(survivors_after_grace(&mark), Vec::<String>::new());
}

/// A world-writable host directory: only the mount, not file permissions, keeps the program
/// out of it.
#[test]
fn writes_outside_the_private_tmp_do_not_reach_the_host() {
    use std::os::unix::fs::PermissionsExt;
    let host = tempfile::Builder::new()
        .prefix("aj-sandbox-")
        .tempdir_in("/var/tmp")
        .unwrap();
    std::fs::set_permissions(host.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let sb = strict();
    let target = host.path().join("escaped.txt");
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    for path in [target.clone(), PathBuf::from(&home).join("aj-escaped.txt")] {
        let program = format!("open({:?}, 'w').write('x')\n", path.to_string_lossy());
        assert_eq!(
            sb.run(&program).unwrap(),
            ProgramOutcome::Failed,
            "{}",
            path.display()
        );
        assert!(!path.exists(), "{} was written", path.display());
    }
    // A subprocess does no better.
    let program = format!(
        "import subprocess\nsubprocess.run(['sh', '-c', 'echo x > {}'], check=True)\n",
        target.display()
    );
    assert_eq!(sb.run(&program).unwrap(), ProgramOutcome::Failed);
    assert!(!target.exists());
    // The private /tmp is writable, and bounded.
    assert_eq!(
        sb.run("open('/tmp/f', 'w').write('x' * 1000)\n").unwrap(),
        ProgramOutcome::Passed
    );
    let fill = "with open('/tmp/big', 'wb') as f:\n    for _ in range(100):\n        f.write(b'x' * (1 << 20))\n";
    assert_eq!(sb.run(fill).unwrap(), ProgramOutcome::Failed);
}

/// Every route to the host's loopback that reached it without a namespace: `socket`,
/// `_socket`, a reloaded `socket`, a subprocess.
#[test]
fn no_route_reaches_a_host_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let sb = strict();
    let attempts = [
        format!("import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"),
        format!("import _socket\ns = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\ns.settimeout(1)\ns.connect(('127.0.0.1', {port}))\n"),
        format!("import importlib, socket\nimportlib.reload(socket)\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"),
        format!("import subprocess, sys\nsubprocess.run([sys.executable, '-c', \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=1)\"], check=True)\n"),
    ];
    for program in &attempts {
        assert_eq!(
            sb.run(program).unwrap(),
            ProgramOutcome::Failed,
            "{program}"
        );
    }
    assert!(
        listener.accept().is_err(),
        "a sandboxed program connected to the host"
    );
}

#[test]
fn the_program_is_not_root_and_has_no_capabilities() {
    let sb = strict();
    assert_eq!(
        sb.run("import os\nassert os.getuid() != 0 and os.geteuid() != 0\n")
            .unwrap(),
        ProgramOutcome::Passed
    );
    // No effective capabilities, and no user namespace to get new ones in.
    let caps = "line = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0]\nassert int(line.split()[1], 16) == 0, line\n";
    assert_eq!(sb.run(caps).unwrap(), ProgramOutcome::Passed);
    let userns = "import subprocess\nsubprocess.run(['unshare', '-U', 'true'], check=True)\n";
    assert_eq!(sb.run(userns).unwrap(), ProgramOutcome::Failed);
}

#[test]
fn host_processes_are_invisible() {
    let sb = strict();
    // In a new PID namespace only the sandbox's own processes exist.
    let program = "import os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\nassert len(pids) <= 4, pids\n";
    assert_eq!(sb.run(program).unwrap(), ProgramOutcome::Passed);
}

#[test]
fn limits_out_of_range_are_typed_errors() {
    let cases = [
        SandboxLimits {
            wall_time: Duration::ZERO,
            ..SandboxLimits::default()
        },
        SandboxLimits {
            address_space: 1 << 20,
            ..SandboxLimits::default()
        },
        SandboxLimits {
            processes: 1,
            ..SandboxLimits::default()
        },
        SandboxLimits {
            open_files: 3,
            ..SandboxLimits::default()
        },
    ];
    for limits in cases {
        let e =
            Sandbox::new(Isolation::Bubblewrap, Path::new("python3"), limits.clone()).unwrap_err();
        assert!(
            matches!(e, SandboxError::InvalidLimit { .. }),
            "{limits:?}: {e}"
        );
    }
}

#[test]
fn a_missing_interpreter_is_refused_at_construction() {
    let e = Sandbox::new(
        Isolation::Bubblewrap,
        Path::new("no-such-python"),
        SandboxLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, SandboxError::InterpreterMissing(_)), "{e}");
    let e = Sandbox::new(
        Isolation::Bubblewrap,
        Path::new("/nonexistent/python3"),
        SandboxLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, SandboxError::SetupFailed { .. }), "{e}");
    assert!(e.to_string().contains("--unsafe-no-sandbox"), "{e}");
}

/// Every HumanEval problem's canonical solution passes in the sandbox (the limits leave room
/// for real programs), and the same problems with a body that returns `None` do not.
#[test]
fn all_164_canonical_humaneval_solutions_pass_and_stubs_fail() {
    use std::io::BufRead;
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/humaneval/HumanEval.jsonl.gz");
    let tasks = autojudge_tasks::read_humaneval(&path).expect("HumanEval data");
    let file = std::fs::File::open(&path).unwrap();
    let solutions: Vec<String> = std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
            v["canonical_solution"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(tasks.len(), 164);
    let oracle = CodeOracle::new(strict());
    let mut failed = Vec::new();
    let mut stub_passed = Vec::new();
    for (line, solution) in tasks.iter().zip(&solutions) {
        let task = line.task().unwrap();
        if answer_of(&oracle, task, solution) != Answer::found("pass") {
            failed.push(task.id.clone());
        }
        if answer_of(&oracle, task, "    return None\n") == Answer::found("pass") {
            stub_passed.push(task.id.clone());
        }
    }
    assert_eq!(
        failed,
        Vec::<String>::new(),
        "canonical solutions that failed"
    );
    assert_eq!(stub_passed, Vec::<String>::new(), "stubs that passed");
}

fn answer_of(oracle: &CodeOracle, task: &Task, response: &str) -> Answer {
    oracle.answer(task, response).expect("oracle ran")
}
