//! Tasks (one dataset line each) and the dataset readers that produce them: GSM8K JSONL and
//! HumanEval JSONL(.gz). A line that cannot be read becomes a per-line error, never a stop.

use std::io::Read;
use std::path::Path;

use crate::{TaskError, TaskResult};

/// One problem to mine or evaluate.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Task {
    /// 0-based line number in the dataset file: the stable key for sharding and resume.
    pub index: usize,
    /// Dataset identity of the problem (`gsm8k:12`, `HumanEval/0`).
    pub id: String,
    /// The user message sent to the model.
    pub user_prompt: String,
    /// Gold answer, normalised the way the task's oracle normalises answers.
    pub gold: Option<String>,
    /// Unit tests for code tasks.
    pub code: Option<CodeTask>,
}

/// What a code task needs to run its tests.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CodeTask {
    /// Function signature and docstring (HumanEval `prompt`).
    pub prompt: String,
    /// Test code defining `check(candidate)`.
    pub test: String,
    /// Name of the function under test.
    pub entry_point: String,
}

/// The first line of the reference's zero-shot GSM8K prompt (`prompt_with_0_shots` in its
/// `find_important_tokens.py`), placed before the question.
pub const GSM8K_PREAMBLE: &str =
    "Given the following problem, reason and give a final answer to the problem.";

/// The GSM8K instruction placed after each question (the reference's `formatting_prompt`).
pub const GSM8K_INSTRUCTION: &str = "Your response should end with \"The final answer is [answer]\" where [answer] is the response to the problem.";

/// The instruction wrapped around a HumanEval prompt.
pub const HUMANEVAL_INSTRUCTION: &str =
    "Complete the following Python function. Reply with the whole function in one ```python code block.";

/// One dataset line: a task, or why the line could not become one. Either way it knows its
/// 0-based line number ([`TaskLine::index`]), the key mining and evaluation commit it under (an
/// unreadable line is committed as a failure, never skipped silently).
#[derive(Debug)]
pub enum TaskLine {
    /// A task; its line is [`Task::index`].
    Task(Task),
    /// A line that could not be read as a task.
    Unreadable {
        /// 0-based line number in the dataset file.
        index: usize,
        /// Why (names the file, the line and the field).
        error: TaskError,
    },
}

impl TaskLine {
    /// 0-based line number in the dataset file.
    pub fn index(&self) -> usize {
        match self {
            TaskLine::Task(t) => t.index,
            TaskLine::Unreadable { index, .. } => *index,
        }
    }

    /// The task, or why the line is none.
    pub fn task(&self) -> Result<&Task, &TaskError> {
        match self {
            TaskLine::Task(t) => Ok(t),
            TaskLine::Unreadable { error, .. } => Err(error),
        }
    }

    /// The task by value, or why the line is none.
    pub fn into_task(self) -> Result<Task, TaskError> {
        match self {
            TaskLine::Task(t) => Ok(t),
            TaskLine::Unreadable { error, .. } => Err(error),
        }
    }
}

impl From<Task> for TaskLine {
    fn from(t: Task) -> Self {
        TaskLine::Task(t)
    }
}

/// The lines of a dataset file (gunzipped when it ends in `.gz`), each decoded as UTF-8 on its
/// own. The file is read whole first, so a read error (a directory, a corrupt archive) is one
/// [`TaskError::File`] naming the path, never an endless run of failing line reads.
fn lines_of(path: &Path) -> TaskResult<Vec<Result<String, std::str::Utf8Error>>> {
    let file = std::fs::File::open(path).map_err(|e| TaskError::file(path, e))?;
    let meta = file.metadata().map_err(|e| TaskError::file(path, e))?;
    if meta.is_dir() {
        return Err(TaskError::file(
            path,
            std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory; a dataset file (JSONL) is needed",
            ),
        ));
    }
    let mut reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| TaskError::file(path, e))?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(bytes
        .split(|&b| b == b'\n')
        .map(|line| {
            std::str::from_utf8(line.strip_suffix(b"\r").unwrap_or(line)).map(str::to_owned)
        })
        .collect())
}

fn field<'a>(
    v: &'a serde_json::Value,
    name: &str,
    path: &Path,
    line: usize,
) -> Result<&'a str, TaskError> {
    v.get(name)
        .and_then(|x| x.as_str())
        .ok_or_else(|| TaskError::BadRecord {
            path: path.display().to_string(),
            line,
            reason: format!("missing or non-string field `{name}`"),
        })
}

fn parse_lines(
    path: &Path,
    make: impl Fn(usize, &serde_json::Value) -> Result<Task, TaskError>,
) -> TaskResult<Vec<TaskLine>> {
    Ok(lines_of(path)?
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let bad = |reason: String| TaskError::BadRecord {
                path: path.display().to_string(),
                line: i + 1,
                reason,
            };
            let task = line
                .map_err(|e| bad(format!("not UTF-8: {e}")))
                .and_then(|line| {
                    serde_json::from_str::<serde_json::Value>(&line)
                        .map_err(|e| bad(format!("not JSON: {e}")))
                })
                .and_then(|v| make(i, &v));
            match task {
                Ok(t) => TaskLine::Task(t),
                Err(error) => TaskLine::Unreadable { index: i, error },
            }
        })
        .collect())
}

/// The worked examples of the reference's eight-shot GSM8K prompt (`prompt_with_8_shots` in
/// its `find_important_tokens.py`, the default of its mining script): the chain-of-thought
/// exemplars of Wei et al. (2022) as lm-eval's `gsm8k_cot_llama` words them, each a problem
/// and a solution ending in "The final answer is N".
pub const GSM8K_SHOTS: [(&str, &str); 8] = [
    (
        "There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there will be 21 trees. How many trees did the grove workers plant today?",
        "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6. The final answer is 6",
    ),
    (
        "If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
        "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The final answer is 5",
    ),
    (
        "Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
        "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, they had 74 - 35 = 39. The final answer is 39",
    ),
    (
        "Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did Jason give to Denny?",
        "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8. The final answer is 8",
    ),
    (
        "Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have now?",
        "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9. The final answer is 9",
    ),
    (
        "There were nine computers in the server room. Five more computers were installed each day, from monday to thursday. How many computers are now in the server room?",
        "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 computers were added. 9 + 20 is 29. The final answer is 29",
    ),
    (
        "Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf balls did he have at the end of wednesday?",
        "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, he had 35 - 2 = 33 golf balls. The final answer is 33",
    ),
    (
        "Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
        "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars left. 23 - 15 is 8. The final answer is 8",
    ),
];

/// How a GSM8K question becomes the user turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gsm8kWording {
    /// The reference's zero-shot prompt: [`GSM8K_PREAMBLE`], the question, then
    /// [`GSM8K_INSTRUCTION`], one per line.
    #[default]
    Reference,
    /// The reference's eight-shot prompt (its mining script's default): each of
    /// [`GSM8K_SHOTS`] as the preamble, `Problem: ` and the problem, the instruction and the
    /// solution, then the question worded the same way. One user message; the shots teach the
    /// model to end with "The final answer is N", which lm-eval's strict match reads.
    ReferenceEightShot,
    /// The question, then [`GSM8K_INSTRUCTION`] (no preamble).
    Short,
}

impl Gsm8kWording {
    /// The user turn for `question`.
    pub fn user_prompt(self, question: &str) -> String {
        match self {
            Gsm8kWording::Reference => {
                format!("{GSM8K_PREAMBLE}\n{question}\n{GSM8K_INSTRUCTION}")
            }
            Gsm8kWording::ReferenceEightShot => {
                let mut text = String::new();
                for (problem, solution) in GSM8K_SHOTS {
                    text.push_str(&format!(
                        "{GSM8K_PREAMBLE}\nProblem: {problem}\n{GSM8K_INSTRUCTION}\n {solution}\n\n"
                    ));
                }
                text.push_str(&format!(
                    "{GSM8K_PREAMBLE}\nProblem: {question}\n{GSM8K_INSTRUCTION}"
                ));
                text
            }
            Gsm8kWording::Short => format!("{question}\n{GSM8K_INSTRUCTION}"),
        }
    }
}

impl std::fmt::Display for Gsm8kWording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Gsm8kWording::Reference => "reference",
            Gsm8kWording::ReferenceEightShot => "reference-8shot",
            Gsm8kWording::Short => "short",
        })
    }
}

impl std::str::FromStr for Gsm8kWording {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reference" => Ok(Gsm8kWording::Reference),
            "reference-8shot" => Ok(Gsm8kWording::ReferenceEightShot),
            "short" => Ok(Gsm8kWording::Short),
            _ => Err(format!(
                "unknown GSM8K wording `{s}` (expected reference, reference-8shot or short)"
            )),
        }
    }
}

/// Reads GSM8K JSONL (`question`, `answer` with the gold after `####`), worded as `wording`.
pub fn read_gsm8k(path: &Path, wording: Gsm8kWording) -> TaskResult<Vec<TaskLine>> {
    parse_lines(path, |i, v| {
        let question = field(v, "question", path, i + 1)?;
        let gold = v
            .get("answer")
            .and_then(|a| a.as_str())
            .and_then(|a| a.rsplit("####").next().map(str::trim))
            .and_then(crate::oracle::gsm8k::normalize_number);
        Ok(Task {
            index: i,
            id: format!("gsm8k:{i}"),
            user_prompt: wording.user_prompt(question),
            gold,
            code: None,
        })
    })
}

/// Reads HumanEval JSONL or JSONL.gz (`task_id`, `prompt`, `test`, `entry_point`).
pub fn read_humaneval(path: &Path) -> TaskResult<Vec<TaskLine>> {
    parse_lines(path, |i, v| {
        let code = CodeTask {
            prompt: field(v, "prompt", path, i + 1)?.to_string(),
            test: field(v, "test", path, i + 1)?.to_string(),
            entry_point: field(v, "entry_point", path, i + 1)?.to_string(),
        };
        Ok(Task {
            index: i,
            id: field(v, "task_id", path, i + 1)?.to_string(),
            user_prompt: format!("{HUMANEVAL_INSTRUCTION}\n\n```python\n{}```", code.prompt),
            gold: Some("pass".into()),
            code: Some(code),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm8k_lines_parse_and_bad_lines_are_reported_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.jsonl");
        std::fs::write(
            &p,
            "{\"question\":\"Q1?\",\"answer\":\"so\\n#### 1,200\"}\nnot json\n{\"answer\":\"x\"}\n{\"question\":\"Q4\",\"answer\":\"#### 7\"}\n",
        )
        .unwrap();
        let tasks = read_gsm8k(&p, Gsm8kWording::Short).unwrap();
        assert_eq!(tasks.len(), 4);
        let t0 = tasks[0].task().unwrap();
        assert_eq!(t0.gold.as_deref(), Some("1200"));
        assert!(t0.user_prompt.starts_with("Q1?\n"));
        let reference = read_gsm8k(&p, Gsm8kWording::Reference).unwrap();
        assert_eq!(
            reference[0].task().unwrap().user_prompt,
            format!("{GSM8K_PREAMBLE}\nQ1?\n{GSM8K_INSTRUCTION}")
        );
        let e1 = tasks[1].task().unwrap_err().to_string();
        assert!(e1.contains("g.jsonl:2") && e1.contains("not JSON"), "{e1}");
        let e2 = tasks[2].task().unwrap_err().to_string();
        assert!(e2.contains(":3") && e2.contains("`question`"), "{e2}");
        assert_eq!(tasks[3].task().unwrap().index, 3);
        let indices: Vec<usize> = tasks.iter().map(TaskLine::index).collect();
        assert_eq!(indices, [0, 1, 2, 3]);
    }

    #[test]
    fn the_eight_shot_wording_is_the_references_prompt_byte_for_byte() {
        use sha2::Digest;
        // SHA-256 of the reference's `prompt_with_8_shots + question + "\n" + formatting_prompt`
        // (its `find_important_tokens.py`) for the question "Q?", 3,880 bytes: computed with
        // Python's hashlib from the reference's string literals.
        let text = Gsm8kWording::ReferenceEightShot.user_prompt("Q?");
        assert_eq!(text.len(), 3880);
        let digest = format!("{:x}", sha2::Sha256::digest(text.as_bytes()));
        assert_eq!(
            digest,
            "411606b5fdd04b93da71d2124a9b333cde1f96cad24b48ccc13bfc8334c52c59"
        );
        assert!(text.ends_with(&format!("Problem: Q?\n{GSM8K_INSTRUCTION}")));
        for w in [
            Gsm8kWording::Reference,
            Gsm8kWording::ReferenceEightShot,
            Gsm8kWording::Short,
        ] {
            assert_eq!(w.to_string().parse::<Gsm8kWording>(), Ok(w));
        }
    }

    #[test]
    fn read_a_directory_is_one_file_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("humaneval.jsonl.gz");
        std::fs::create_dir(&gz).unwrap();
        let results = [
            (
                dir.path().to_path_buf(),
                read_gsm8k(dir.path(), Gsm8kWording::Short),
            ),
            (dir.path().to_path_buf(), read_humaneval(dir.path())),
            (gz.clone(), read_humaneval(&gz)),
        ];
        for (path, r) in results {
            let e = r.unwrap_err();
            let TaskError::File { path: p, source } = &e else {
                panic!("not a file error: {e:?}");
            };
            assert_eq!(p, &path.display().to_string());
            let io = source
                .downcast_ref::<std::io::Error>()
                .unwrap_or_else(|| panic!("source is not an io::Error: {source:?}"));
            assert_eq!(io.kind(), std::io::ErrorKind::IsADirectory);
            assert!(
                autojudge_core::ErrorChain(&e)
                    .to_string()
                    .contains("is a directory"),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_corrupt_archive_is_one_file_error_and_bad_utf8_one_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("h.jsonl.gz");
        std::fs::write(&gz, b"\x1f\x8b\x08\x00not deflate at all").unwrap();
        let e = read_humaneval(&gz).unwrap_err();
        assert!(matches!(e, TaskError::File { .. }), "{e:?}");
        let p = dir.path().join("g.jsonl");
        std::fs::write(
            &p,
            b"\xff\xfe\r\n{\"question\":\"Q\",\"answer\":\"#### 2\"}\r\n",
        )
        .unwrap();
        let tasks = read_gsm8k(&p, Gsm8kWording::Short).unwrap();
        assert_eq!(tasks.len(), 2);
        let e0 = tasks[0].task().unwrap_err().to_string();
        assert!(e0.contains("g.jsonl:1") && e0.contains("not UTF-8"), "{e0}");
        assert_eq!(tasks[1].task().unwrap().gold.as_deref(), Some("2"));
    }
}
