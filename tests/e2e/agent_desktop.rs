//! The real `shopops-agent` binary (desktop build) on an X display (Xvfb): a chat window
//! (tests/e2e/tools/chat_window.py, Tk) shows a buyer question and the unread badge; the
//! agent captures the screen, reads the question, the server answers from the KB, and
//! the agent pastes the answer into the window's input and presses Enter — once. Run by
//! `make test-agent` under `xvfb-run`, after building the agent with `--features desktop`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::agent::{messages, panel, setup, BUYER, PANEL, TITLE};
use crate::cs_support::FAQ;
use crate::support::eventually;

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

#[tokio::test]
#[ignore = "needs an X display, the OCR models and the desktop build: make test-agent"]
async fn the_agent_types_the_kb_answer_into_the_chat_window_once() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "no DISPLAY: run under xvfb-run (make test-agent)"
    );
    let s = setup().await;
    let dir = tempfile::tempdir().unwrap();

    // The chat window, showing a buyer's question and the badge.
    let panel_png = dir.path().join("panel.png");
    let question = panel::Bubble {
        buyer: true,
        header: "tb_buyer88 10:21:33",
        text: "什么时候发货？",
    };
    panel::render(&panel::font(), &[question], PANEL.0, PANEL.1, true)
        .save(&panel_png)
        .unwrap();
    let sent = dir.path().join("sent.txt");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/tools/chat_window.py"
    );
    let _window = Killed(
        Command::new("/usr/bin/python3")
            .args([
                script,
                TITLE,
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

    // The agent's configuration: this server, this shop, its token in a file.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &s.token).unwrap();
    let config = dir.path().join("agent.toml");
    let data_dir = dir.path().join("agent");
    std::fs::write(
        &config,
        format!(
            "server_url = \"{}\"\ntoken_file = \"{}\"\nshop_ids = [{}]\ninterval_ms = 300\ndata_dir = \"{}\"\nmodels_dir = \"{}\"\n",
            s.server.base,
            token_file.display(),
            s.shop,
            data_dir.display(),
            std::env::var("SHOPOPS_TEST_OCR_MODELS").expect("SHOPOPS_TEST_OCR_MODELS"),
        ),
    )
    .unwrap();

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

    let _agent = Killed(
        Command::new(agent_binary())
            .args(["run", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    eventually("the answer sent from the chat window", async || {
        (!lines(&sent).is_empty()).then_some(())
    })
    .await;
    let delivered = eventually("the delivery acknowledged", async || {
        let found = messages(&s).await;
        (found.first()?["delivery"] == "sent").then(|| found[0].clone())
    })
    .await;
    assert_eq!(delivered["content"], "什么时候发货？");
    assert_eq!(delivered["customer_id"], BUYER);

    // Seconds more on the same screen: nothing posted or typed again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(lines(&sent), vec![FAQ[0].1.to_string()]);
    assert_eq!(messages(&s).await.len(), 1);

    // The agent's log file is there, without the buyer's text.
    let logs: String = std::fs::read_dir(data_dir.join("logs"))
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    assert!(logs.contains("agent started"), "{logs}");
    assert!(
        !logs.contains("什么时候发货") && !logs.contains(FAQ[0].1),
        "{logs}"
    );
}
