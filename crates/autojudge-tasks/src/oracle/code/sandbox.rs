//! The sandbox that runs model-written Python for the code oracle.
//!
//! With [`Isolation::Bubblewrap`] each program runs under bubblewrap (`bwrap`, the sandbox
//! Flatpak uses) in new user, PID, network, IPC, UTS and cgroup namespaces, with a read-only
//! view of the whole file system, a private size-limited `/tmp` (its working directory) and
//! `/dev/shm`, no capabilities, no further user namespaces, a new terminal session, and, when
//! the caller is root, an unprivileged uid of its own. `prlimit` (util-linux) sets resource
//! limits on the interpreter before it starts: address space, processes, CPU time, file size,
//! open files, no core dumps. The whole process group is killed on timeout and after every run;
//! with the PID namespace, every process the program started dies with it.
//!
//! The outcome never rests on the exit status: the harness ([`HARNESS`]) writes a per-run
//! random nonce on a private copy of stdout only after the program and its unit tests returned
//! normally. See `docs/sandbox.md` for what is enforced and what is not.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Python harness: reads the nonce and the program from stdin, runs the program and
/// reports the nonce only on a normal return.
pub const HARNESS: &str = include_str!("harness.py");

/// The `PATH` inside the sandbox, also where a bare interpreter name is looked up.
pub const SANDBOX_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The first line the harness writes on its report channel, before the program runs.
const STARTED: &[u8] = b"started\n";

/// How much of the report channel and of stderr is kept (a program may flood them).
const REPORT_CAP: usize = 4096;
const STDERR_CAP: usize = 16 * 1024;

/// How model-written code is isolated from the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// bubblewrap namespaces, read-only file system, private `/tmp`, unprivileged uid, plus
    /// the resource limits and the process-group kill.
    Bubblewrap,
    /// No isolation: the program can read and write the caller's files and reach the network.
    /// Only the resource limits, the process-group kill and the nonce protocol apply. For
    /// machines where bubblewrap cannot run, chosen explicitly (`--unsafe-no-sandbox`).
    UnsafeNone,
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Isolation::Bubblewrap => "bwrap",
            Isolation::UnsafeNone => "none",
        })
    }
}

/// Resource limits for one program run.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxLimits {
    /// Wall-clock limit; the CPU-time limit is this rounded up plus one second.
    pub wall_time: Duration,
    /// Address-space limit of the interpreter (`RLIMIT_AS`), bytes.
    pub address_space: u64,
    /// Process limit (`RLIMIT_NPROC`). Under bubblewrap it counts the sandbox's own processes
    /// (bwrap's two and the interpreter included); without isolation it counts all of the
    /// caller's processes and is not enforced for root.
    pub processes: u64,
    /// Largest file the program may write (`RLIMIT_FSIZE`), bytes.
    pub file_size: u64,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Size of the private writable `/tmp` and of `/dev/shm` (bubblewrap only), bytes each.
    pub scratch: u64,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            wall_time: Duration::from_secs(10),
            address_space: 2 << 30,
            processes: 32,
            file_size: 16 << 20,
            open_files: 64,
            scratch: 64 << 20,
        }
    }
}

impl SandboxLimits {
    /// Checks that every limit leaves room for the interpreter to start and is finite.
    pub fn validate(&self) -> Result<(), SandboxError> {
        let bad =
            |field: &'static str, reason: String| Err(SandboxError::InvalidLimit { field, reason });
        if self.wall_time.is_zero() || self.wall_time > Duration::from_secs(24 * 3600) {
            return bad(
                "wall_time",
                format!("{:?} is not within (0, 24 h]", self.wall_time),
            );
        }
        if self.address_space < 64 << 20 {
            return bad(
                "address_space",
                format!(
                    "{} bytes is below the 64 MiB Python needs",
                    self.address_space
                ),
            );
        }
        if self.processes < 4 {
            return bad(
                "processes",
                format!(
                    "{} leaves no room for bwrap's two processes and the interpreter",
                    self.processes
                ),
            );
        }
        if self.open_files < 16 {
            return bad(
                "open_files",
                format!("{} is below the 16 the interpreter needs", self.open_files),
            );
        }
        if self.file_size == 0 {
            return bad("file_size", "0 bytes".into());
        }
        if self.scratch < 1 << 20 {
            return bad("scratch", format!("{} bytes is below 1 MiB", self.scratch));
        }
        Ok(())
    }

    fn cpu_seconds(&self) -> u64 {
        self.wall_time.as_secs() + u64::from(self.wall_time.subsec_nanos() > 0) + 1
    }
}

/// How one program run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgramOutcome {
    /// The program and its tests returned normally (the harness reported the nonce).
    Passed,
    /// It raised, exited, was killed by a limit, or its report was not exactly the nonce.
    Failed,
    /// It ran past the wall-clock limit and was killed.
    TimedOut,
}

/// The sandbox could not be set up or could not run a program.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A tool the isolation needs is not installed.
    #[error("the code sandbox needs `{tool}` ({purpose}), which is not on PATH: {hint}")]
    ToolMissing {
        /// The executable's name.
        tool: &'static str,
        /// What it is for.
        purpose: &'static str,
        /// How to get it.
        hint: &'static str,
    },
    /// The interpreter was not found.
    #[error("python interpreter `{0}` not found (looked in {SANDBOX_PATH})")]
    InterpreterMissing(PathBuf),
    /// A limit is out of range.
    #[error("sandbox limit `{field}` is invalid: {reason}")]
    InvalidLimit {
        /// The [`SandboxLimits`] field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The probe (a trivial program run at construction) did not behave.
    #[error(
        "the code sandbox ({isolation}) cannot be set up on this machine: {detail}. It needs \
         bubblewrap (Debian: `apt-get install bubblewrap`), util-linux's prlimit, unprivileged \
         user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0) \
         and an interpreter the sandbox user may read; see docs/sandbox.md. To run model-written \
         code without isolation anyway, pass --unsafe-no-sandbox"
    )]
    SetupFailed {
        /// The isolation that failed.
        isolation: Isolation,
        /// What went wrong (the sandbox's stderr, or the unexpected outcome).
        detail: String,
    },
    /// The sandbox or the interpreter failed before the program could run.
    #[error("the sandboxed interpreter did not start (status {status}): {stderr}")]
    DidNotStart {
        /// Exit status of the sandbox process.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// Starting or talking to the sandbox process failed.
    #[error("cannot run the code sandbox `{program}`")]
    Spawn {
        /// The executable.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Runs Python programs in isolation; construct with [`Sandbox::new`], which proves the
/// isolation works on this machine before any model-written code runs.
#[derive(Clone, Debug)]
pub struct Sandbox {
    python: PathBuf,
    limits: SandboxLimits,
    /// The bubblewrap executable; `None` exactly for [`Isolation::UnsafeNone`].
    bwrap: Option<PathBuf>,
    prlimit: PathBuf,
}

impl Sandbox {
    /// A sandbox running `python` (a path, or a name looked up in [`SANDBOX_PATH`]) under
    /// `isolation` and `limits`. Fails with a clear error, naming what the machine lacks, when
    /// a tool is missing or a trivial program does not run as expected.
    pub fn new(
        isolation: Isolation,
        python: &Path,
        limits: SandboxLimits,
    ) -> Result<Sandbox, SandboxError> {
        limits.validate()?;
        let bwrap = match isolation {
            Isolation::Bubblewrap => Some(find_tool("bwrap").ok_or(SandboxError::ToolMissing {
                tool: "bwrap",
                purpose: "namespaces and a read-only file system",
                hint: "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`), or pass \
                       --unsafe-no-sandbox to run model-written code without isolation",
            })?),
            Isolation::UnsafeNone => None,
        };
        let prlimit = find_tool("prlimit").ok_or(SandboxError::ToolMissing {
            tool: "prlimit",
            purpose: "resource limits",
            hint: "install util-linux",
        })?;
        let python = if python.components().count() > 1 {
            python.to_path_buf()
        } else {
            find_in(python.as_os_str(), SANDBOX_PATH)
                .ok_or_else(|| SandboxError::InterpreterMissing(python.to_path_buf()))?
        };
        let sandbox = Sandbox {
            python,
            limits,
            bwrap,
            prlimit,
        };
        sandbox.probe()?;
        Ok(sandbox)
    }

    /// The isolation in force.
    pub fn isolation(&self) -> Isolation {
        match self.bwrap {
            Some(_) => Isolation::Bubblewrap,
            None => Isolation::UnsafeNone,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// The interpreter (resolved path).
    pub fn python(&self) -> &Path {
        &self.python
    }

    /// A passing, an exiting and a failing program must come out as such.
    fn probe(&self) -> Result<(), SandboxError> {
        let setup = |detail: String| SandboxError::SetupFailed {
            isolation: self.isolation(),
            detail,
        };
        let cases = [
            ("x = 1\n", ProgramOutcome::Passed),
            ("import sys\nsys.exit(0)\n", ProgramOutcome::Failed),
            ("assert False\n", ProgramOutcome::Failed),
        ];
        for (program, expected) in cases {
            match self.run(program) {
                Ok(outcome) if outcome == expected => {}
                Ok(outcome) => {
                    return Err(setup(format!(
                        "the probe {program:?} came out {outcome:?}, expected {expected:?}"
                    )))
                }
                Err(e) => return Err(setup(e.to_string())),
            }
        }
        Ok(())
    }

    /// Runs `program` (Python source) once and reports how it ended. An `Err` means the
    /// sandbox itself failed, not the program.
    pub fn run(&self, program: &str) -> Result<ProgramOutcome, SandboxError> {
        let nonce = nonce()?;
        let scratch_dir; // kept alive until the run ends (no isolation: the working dir)
        let mut cmd = match &self.bwrap {
            Some(bwrap) => {
                let scratch = self.limits.scratch.to_string();
                let mut c = Command::new(bwrap);
                c.args(["--unshare-all", "--unshare-user", "--disable-userns"])
                    .args(["--die-with-parent", "--new-session", "--cap-drop", "ALL"])
                    .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
                    .args(["--size", &scratch, "--tmpfs", "/tmp"])
                    .args(["--size", &scratch, "--tmpfs", "/dev/shm"])
                    .args([
                        "--chdir",
                        "/tmp",
                        "--clearenv",
                        "--setenv",
                        "PATH",
                        SANDBOX_PATH,
                    ])
                    .args(["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"])
                    .args(["--setenv", "OPENBLAS_NUM_THREADS", "1", "--"])
                    .arg(&self.prlimit);
                scratch_dir = None;
                if is_root() {
                    let uid = sandbox_uid();
                    std::os::unix::process::CommandExt::uid(&mut c, uid);
                    std::os::unix::process::CommandExt::gid(&mut c, uid);
                }
                c
            }
            None => {
                let dir = tempfile::tempdir().map_err(|source| SandboxError::Spawn {
                    program: "tempdir".into(),
                    source,
                })?;
                let mut c = Command::new(&self.prlimit);
                c.current_dir(dir.path())
                    .env_clear()
                    .env("PATH", SANDBOX_PATH)
                    .env("HOME", dir.path())
                    .env("TMPDIR", dir.path())
                    .env("OPENBLAS_NUM_THREADS", "1");
                scratch_dir = Some(dir);
                c
            }
        };
        let l = &self.limits;
        cmd.arg(format!("--as={}", l.address_space))
            .arg(format!("--nproc={}", l.processes))
            .arg(format!("--cpu={}", l.cpu_seconds()))
            .arg(format!("--fsize={}", l.file_size))
            .arg(format!("--nofile={}", l.open_files))
            .arg("--core=0")
            .arg("--")
            .arg(&self.python)
            .args(["-I", "-B", "-c", HARNESS])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let program_name = cmd.get_program().into();
        let mut child = cmd.spawn().map_err(|source| SandboxError::Spawn {
            program: program_name,
            source,
        })?;
        let group = ProcessGroup(child.id());
        let report = capture(child.stdout.take(), REPORT_CAP);
        let stderr = capture(child.stderr.take(), STDERR_CAP);
        if let Some(mut stdin) = child.stdin.take() {
            let mut input = Vec::with_capacity(nonce.len() + 1 + program.len());
            input.extend_from_slice(nonce.as_bytes());
            input.push(b'\n');
            input.extend_from_slice(program.as_bytes());
            // The harness reads all of stdin first; a sandbox that died early closes the pipe
            // (EPIPE), which the missing "started" line reports below.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let (status, timed_out) = wait_until(&mut child, &group, self.limits.wall_time)?;
        group.kill();
        drop(scratch_dir);
        let report = report.finish();
        let ended = if timed_out {
            ProgramOutcome::TimedOut
        } else {
            ProgramOutcome::Failed
        };
        if !report.starts_with(STARTED) {
            if timed_out {
                return Ok(ProgramOutcome::TimedOut);
            }
            let stderr = String::from_utf8_lossy(&stderr.finish()).trim().to_string();
            return Err(SandboxError::DidNotStart {
                status: status.to_string(),
                stderr,
            });
        }
        let expected: Vec<u8> = [STARTED, nonce.as_bytes(), b"\n"].concat();
        Ok(if report == expected {
            ProgramOutcome::Passed
        } else {
            ended
        })
    }
}

/// The child's process group, killed whole.
struct ProcessGroup(u32);

impl ProcessGroup {
    fn kill(&self) {
        // SAFETY: kill(2) with a negative pid signals the process group; no memory is shared.
        // ESRCH (the group is gone) is the normal case after a clean exit.
        unsafe {
            libc::kill(-(self.0 as libc::pid_t), libc::SIGKILL);
        }
    }
}

/// Waits for `child` up to `limit`; on timeout kills its group. Returns the status and
/// whether the limit was hit.
fn wait_until(
    child: &mut Child,
    group: &ProcessGroup,
    limit: Duration,
) -> Result<(ExitStatus, bool), SandboxError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        let polled = child.try_wait().map_err(|source| SandboxError::Spawn {
            program: "wait".into(),
            source,
        })?;
        if let Some(status) = polled {
            return Ok((status, false));
        }
        if start.elapsed() > limit {
            group.kill();
            let status = child.wait().map_err(|source| SandboxError::Spawn {
                program: "wait".into(),
                source,
            })?;
            return Ok((status, true));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// A pipe drained by a thread into a bounded buffer.
struct Capture {
    buffer: Arc<Mutex<Vec<u8>>>,
    done: std::sync::mpsc::Receiver<()>,
}

fn capture<R: Read + Send + 'static>(pipe: Option<R>, cap: usize) -> Capture {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let (tx, done) = std::sync::mpsc::channel();
    if let Some(mut pipe) = pipe {
        let sink = Arc::clone(&buffer);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut b = sink.lock().unwrap_or_else(|p| p.into_inner());
                let room = cap.saturating_sub(b.len());
                b.extend_from_slice(&chunk[..n.min(room)]);
            }
            let _ = tx.send(());
        });
    }
    Capture { buffer, done }
}

impl Capture {
    /// What was read; waits briefly for end of file (a process that escaped the group may
    /// hold the pipe open: what arrived so far is used).
    fn finish(self) -> Vec<u8> {
        let _ = self.done.recv_timeout(Duration::from_secs(1));
        let b = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        b.clone()
    }
}

/// 128 random bits, hex.
fn nonce() -> Result<String, SandboxError> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| SandboxError::Spawn {
            program: "/dev/urandom".into(),
            source,
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// A uid of its own for each run when the caller is root, far above the ranges distributions
/// hand out (system, regular and subordinate ids), so that the process limit counts this
/// run's processes only and no file on the host belongs to it.
fn sandbox_uid() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const BASE: u32 = 0x5000_0000;
    const SPAN: u32 = 0x1000_0000;
    let salt = std::process::id().wrapping_mul(0x9E37_79B9);
    BASE + salt.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN
}

fn find_tool(name: &str) -> Option<PathBuf> {
    find_in(name.as_ref(), &std::env::var("PATH").unwrap_or_default())
}

fn find_in(name: &std::ffi::OsStr, dirs: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    dirs.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
