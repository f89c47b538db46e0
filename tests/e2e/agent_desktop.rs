//! The real `shopops-agent` binary (desktop build) on an X display (Xvfb) with a Tk chat
//! window (tests/e2e/tools/chat_window.py) that shows a drawn chat panel and records
//! what is sent from its input:
//! - a buyer question is answered from the KB, typed into the window once;
//! - a question read while the server is down is answered once it is back;
//! - with no window of the shop's title open, nothing is typed into the window that is
//!   there, and the reply is acknowledged failed.
//!
//! Run by `make test-agent` under `xvfb-run`, after building the agent with `--features
//! desktop`. The tests share one display, so they take turns.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::sync::Mutex;

use crate::agent::{messages, panel, setup, Setup, BUYER, PANEL, TITLE};
use crate::cs_support::FAQ;
use crate::support::{eventually, start};

/// One test at a time on the display: their windows would cover each other.
static DISPLAY: Mutex<()> = Mutex::const_new(());

/// The agent binary next to this test's (`cargo build -p shopops-agent --features
/// desktop` puts it there).
fn agent_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let binary = dir.join("shopops-agent");
    assert!(
        binary.is_file(),
        "{} is missing: run `make test-agent`",
        binary.display()
    );
    binary
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A chat window titled `title` at the screen's top-left, showing the buyer's `question`
/// and the unread badge; returns it and the file its sent lines go to.
async fn chat_window(dir: &Path, title: &str, question: &str) -> (Killed, PathBuf) {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "no DISPLAY: run under xvfb-run (make test-agent)"
    );
    let panel_png = dir.join("panel.png");
    let bubble = panel::Bubble {
        buyer: true,
        header: "tb_buyer88 10:21:33",
        text: question,
    };
    panel::render(&panel::font(), &[bubble], PANEL.0, PANEL.1, true)
        .save(&panel_png)
        .unwrap();
    let sent = dir.join("sent.txt");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/tools/chat_window.py"
    );
    let window = Killed(
        Command::new("/usr/bin/python3")
            .args([
                script,
                title,
                panel_png.to_str().unwrap(),
                sent.to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 with tkinter (apt-get install python3-tk)"),
    );
    let ready = sent.with_extension("txt.ready");
    eventually("the chat window on screen", async || {
        ready.exists().then_some(())
    })
    .await;
    (window, sent)
}

/// The agent's configuration: this server, this shop, its token in a file.
fn agent_config(s: &Setup, dir: &Path) -> PathBuf {
    let token_file = dir.join("token");
    std::fs::write(&token_file, &s.token).unwrap();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "server_url = \"{}\"\ntoken_file = \"{}\"\nshop_ids = [{}]\ninterval_ms = 300\nheartbeat_secs = 5\ndata_dir = \"{}\"\nmodels_dir = \"{}\"\n",
            s.server.base,
            token_file.display(),
            s.shop,
            dir.join("agent").display(),
            std::env::var("SHOPOPS_TEST_OCR_MODELS").expect("SHOPOPS_TEST_OCR_MODELS"),
        ),
    )
    .unwrap();
    config
}

fn run_agent(config: &Path) -> Killed {
    Killed(
        Command::new(agent_binary())
            .args(["run", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The shop's one message once its delivery is `delivery`.
async fn delivered(s: &Setup, delivery: &str) -> serde_json::Value {
    eventually(&format!("the reply {delivery}"), async || {
        let found = messages(s).await;
        (found.first()?["delivery"] == delivery).then(|| found[0].clone())
    })
    .await
}

#[tokio::test]
#[ignore = "needs an X display, the OCR models and the desktop build: make test-agent"]
async fn the_agent_types_the_kb_answer_into_the_chat_window_once() {
    let _display = DISPLAY.lock().await;
    let s = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let (_window, sent) = chat_window(dir.path(), TITLE, "什么时候发货？").await;
    let config = agent_config(&s, dir.path());

    // `check` finds everything, the window included.
    let check = Command::new(agent_binary())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(report.contains("1 window(s) found"), "{report}");

    let _agent = run_agent(&config);
    eventually("the answer sent from the chat window", async || {
        (!lines(&sent).is_empty()).then_some(())
    })
    .await;
    let message = delivered(&s, "sent").await;
    assert_eq!(message["content"], "什么时候发货？");
    assert_eq!(message["customer_id"], BUYER);

    // Seconds more on the same screen: nothing posted or typed again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(lines(&sent), vec![FAQ[0].1.to_string()]);
    assert_eq!(messages(&s).await.len(), 1);

    // The agent's log file is there, without the buyer's text.
    let logs: String = std::fs::read_dir(dir.path().join("agent/logs"))
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    assert!(logs.contains("agent started"), "{logs}");
    assert!(
        !logs.contains("什么时候发货") && !logs.contains(FAQ[0].1),
        "{logs}"
    );
}

#[tokio::test]
#[ignore = "needs an X display, the OCR models and the desktop build: make test-agent"]
async fn a_question_read_while_the_server_is_down_is_answered_once_it_is_back() {
    let _display = DISPLAY.lock().await;
    let mut s = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(&s, dir.path());
    let _agent = run_agent(&config);
    // The agent has its shop's settings once it has said hello.
    eventually("the agent online", async || {
        let r = s.server.get("/api/v1/cs/agents", &s.admin).await;
        (r.body[0]["status"] == "online").then_some(())
    })
    .await;

    s.server.kill();
    let (_window, sent) = chat_window(dir.path(), TITLE, "可以开发票吗").await;
    let journal = dir.path().join("agent/messages.jsonl");
    eventually("the question queued on disk", async || {
        let queued = std::fs::read_to_string(&journal).unwrap_or_default();
        queued.contains("\"queued\"").then_some(())
    })
    .await;

    let port = s.server.base.rsplit(':').next().unwrap().to_string();
    s.server = start(&s.store, &[("SHOPOPS_BIND", format!("127.0.0.1:{port}"))]).await;
    let message = delivered(&s, "sent").await;
    assert_eq!(message["content"], "可以开发票吗");
    assert_eq!(lines(&sent), vec![FAQ[1].1.to_string()]);
    assert_eq!(messages(&s).await.len(), 1);
}

#[tokio::test]
#[ignore = "needs an X display, the OCR models and the desktop build: make test-agent"]
async fn with_no_window_of_the_shop_nothing_is_typed_into_another() {
    let _display = DISPLAY.lock().await;
    let s = setup().await;
    let dir = tempfile::tempdir().unwrap();
    // Another program's window shows the question where the shop's region is.
    let (_other, typed_into_other) =
        chat_window(dir.path(), "记事本 - Notepad", "支持七天无理由退货吗").await;
    let _agent = run_agent(&agent_config(&s, dir.path()));

    let failed = eventually("the failure acknowledged", async || {
        let found = messages(&s).await;
        let m = found.first()?.clone();
        (m["delivery_attempts"].as_i64() >= Some(1)).then_some(m)
    })
    .await;
    let error = failed["delivery_error"].as_str().unwrap();
    assert!(error.contains("no window titled like"), "{failed}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(lines(&typed_into_other).is_empty());
}
