//! The desktop agent (`shopops-agent`'s loop) with the real server: a chat window on a
//! stand-in desktop shows a buyer message and the unread badge; the agent reads it with
//! the real OCR models, the server answers from the KB, and the agent types the answer
//! into the window once. Also: the server down while the agent reads (the message
//! arrives when it is back), and the chat window closed (acknowledged failed, nothing
//! typed). Needs the OCR models and a CJK font: `make test-agent`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use image::RgbImage;
use serde_json::{json, Value};
use shopops_agent::agent::Agent;
use shopops_agent::client;
use shopops_agent::config::AgentConfig;
use shopops_agent::desktop::{Desktop, DesktopError};
use shopops_agent::ocr::Ocr;
use shopops_agent::unread::{BadgeRed, Region};

use crate::cs_support::{agent, shop, FAQ};
use crate::support::{eventually, start, Server, Store};

#[path = "../../apps/ocr-agent/tests/support/panel.rs"]
pub mod panel;

pub const PANEL: (u32, u32) = (480, 420);
pub const TITLE: &str = "旗舰店 - 千牛接待台";

fn ocr() -> Arc<Ocr> {
    static OCR: OnceLock<Arc<Ocr>> = OnceLock::new();
    OCR.get_or_init(|| {
        let dir = std::env::var("SHOPOPS_TEST_OCR_MODELS")
            .map(PathBuf::from)
            .expect("SHOPOPS_TEST_OCR_MODELS: run `make test-agent`");
        Arc::new(Ocr::load(&dir).unwrap())
    })
    .clone()
}

/// The seller's desktop as the agent sees it: one chat window whose screen the test
/// sets, and what was pasted into it.
#[derive(Default)]
struct Window {
    screen: Mutex<Option<RgbImage>>,
    title: Mutex<String>,
    typed: Mutex<Vec<String>>,
}

#[derive(Clone)]
struct StandInDesktop(Arc<Window>);

impl Desktop for StandInDesktop {
    fn capture(&mut self, region: Region) -> Result<RgbImage, DesktopError> {
        let screen = self.0.screen.lock().unwrap();
        let screen = screen
            .as_ref()
            .ok_or_else(|| DesktopError::Failed("no screen".into()))?;
        let r = region.clip(screen.width(), screen.height()).unwrap();
        Ok(image::imageops::crop_imm(screen, r.x, r.y, r.width, r.height).to_image())
    }

    fn window_exists(&mut self, title: &str) -> Result<bool, DesktopError> {
        Ok(self.0.title.lock().unwrap().contains(title))
    }

    fn type_reply(&mut self, title: &str, text: &str) -> Result<(), DesktopError> {
        if !self.window_exists(title)? {
            return Err(DesktopError::WindowNotFound(title.into()));
        }
        self.0.typed.lock().unwrap().push(text.into());
        Ok(())
    }
}

impl Window {
    fn titled(title: &str) -> Arc<Window> {
        let window = Arc::new(Window::default());
        window.retitle(title);
        window
    }
    fn retitle(&self, title: &str) {
        *self.title.lock().unwrap() = title.into();
    }
    /// The panel with one message of the buyer (header `tb_buyer88 {time}`), and the
    /// unread badge.
    fn show_question(&self, time: &str, question: &str) {
        let header = format!("{BUYER} {time}");
        let bubble = panel::Bubble {
            buyer: true,
            header: &header,
            text: question,
        };
        let panel = panel::render(&panel::font(), &[bubble], PANEL.0, PANEL.1, true);
        *self.screen.lock().unwrap() = Some(panel);
    }
    fn typed(&self) -> Vec<String> {
        self.typed.lock().unwrap().clone()
    }
}

pub struct Setup {
    pub store: Store,
    pub server: Server,
    pub admin: String,
    pub shop: i64,
    pub token: String,
}

/// A tenant with a shop whose region is the whole panel (the badge is 0.1 % of it) and
/// the FAQ as its KB, and an agent user's API token with the agent's scopes.
pub async fn setup() -> Setup {
    let store = Store::new().await;
    let server = start(&store, &[]).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "desk").await;
    let region = json!([0, 0, PANEL.0, PANEL.1]);
    let fields = json!({ "ai_model": "stub", "ocr_region": region, "unread_threshold": 0.0005 });
    let shop = shop(&server, &admin, "旗舰店", fields).await;
    let (_, login) = agent(&server, &admin, "desk", "desk-agent", &[shop]).await;
    let scopes = ["cs:agent", "cs:messages:write", "cs:shops:read"];
    let r = server
        .post(
            "/api/v1/api-tokens",
            &login,
            json!({ "name": "desktop", "scopes": scopes }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let token = r.body["token"].as_str().unwrap().to_string();
    Setup {
        store,
        server,
        admin,
        shop,
        token,
    }
}

fn start_agent(
    base: &str,
    s: &Setup,
    window: &Arc<Window>,
    data: &tempfile::TempDir,
) -> Agent<StandInDesktop> {
    let config = AgentConfig {
        server_url: base.into(),
        token_file: data.path().join("token"),
        shop_ids: vec![s.shop],
        interval_ms: 200,
        heartbeat_secs: 30,
        settings_secs: 60,
        data_dir: data.path().join("agent"),
        models_dir: PathBuf::new(),
        badge: BadgeRed::default(),
        log_level: "info".into(),
    };
    let server = client::Server::new(base, s.token.clone()).unwrap();
    Agent::new(config, server, StandInDesktop(window.clone()), ocr()).unwrap()
}

pub async fn messages(s: &Setup) -> Vec<Value> {
    let r = s
        .server
        .get(&format!("/api/v1/cs/messages?shop_id={}", s.shop), &s.admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].as_array().unwrap().clone()
}

pub const BUYER: &str = "tb_buyer88";

#[tokio::test]
#[ignore = "needs the OCR models: make test-agent"]
async fn a_buyer_question_on_screen_is_answered_from_the_kb_once() {
    let s = setup().await;
    let data = tempfile::tempdir().unwrap();
    let window = Window::titled(TITLE);
    window.show_question("10:21:33", "什么时候发货？");
    let mut agent = start_agent(&s.server.base, &s, &window, &data);

    let first = agent.turn().await.unwrap();
    assert_eq!(
        (first.frames_read, first.queued, first.posted),
        (1, 1, 1),
        "{first:?}"
    );
    eventually("the KB answer typed", async || {
        agent.turn().await.unwrap();
        (!window.typed().is_empty()).then_some(())
    })
    .await;
    // More turns over the same screen: nothing read, posted or typed again.
    for _ in 0..3 {
        let turn = agent.turn().await.unwrap();
        assert_eq!(
            (turn.frames_read, turn.posted, turn.typed),
            (0, 0, 0),
            "{turn:?}"
        );
    }
    assert_eq!(window.typed(), vec![FAQ[0].1.to_string()]);
    let found = messages(&s).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let m = &found[0];
    assert_eq!(
        (m["content"].as_str(), m["customer_id"].as_str()),
        (Some("什么时候发货？"), Some(BUYER))
    );
    assert_eq!(
        (m["source"].as_str(), m["decided_by"].as_str()),
        (Some("qianniu"), Some("kb_auto"))
    );
    // One delivery: the one that typed it.
    assert_eq!(
        (m["delivery"].as_str(), m["delivery_attempts"].as_i64()),
        (Some("sent"), Some(1))
    );

    // A restarted agent remembers what it read and typed.
    drop(agent);
    let mut agent = start_agent(&s.server.base, &s, &window, &data);
    let turn = agent.turn().await.unwrap();
    assert_eq!(
        (turn.frames_read, turn.queued, turn.typed),
        (1, 0, 0),
        "{turn:?}"
    );
    assert_eq!(messages(&s).await.len(), 1);
}

#[tokio::test]
#[ignore = "needs the OCR models: make test-agent"]
async fn a_message_read_while_the_server_is_down_arrives_when_it_is_back() {
    let mut s = setup().await;
    let data = tempfile::tempdir().unwrap();
    let window = Window::titled(TITLE);
    let base = s.server.base.clone();
    let mut agent = start_agent(&base, &s, &window, &data);
    agent.turn().await.unwrap(); // the shop's settings, while the server is up

    s.server.kill();
    window.show_question("11:02:10", "可以开发票吗");
    let turn = agent.turn().await.unwrap();
    assert_eq!((turn.queued, turn.posted), (1, 0), "{turn:?}");
    assert_eq!(agent.queued(), 1);
    // Restarted, the agent still holds it on disk.
    drop(agent);
    let mut agent = start_agent(&base, &s, &window, &data);
    assert_eq!(agent.queued(), 1);

    let port = base.rsplit(':').next().unwrap().to_string();
    s.server = start(&s.store, &[("SHOPOPS_BIND", format!("127.0.0.1:{port}"))]).await;
    eventually("the queued message posted", async || {
        agent.turn().await.unwrap();
        (agent.queued() == 0).then_some(())
    })
    .await;
    let found = messages(&s).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["content"], "可以开发票吗");
    eventually("the answer typed", async || {
        agent.turn().await.unwrap();
        (!window.typed().is_empty()).then_some(())
    })
    .await;
    assert_eq!(window.typed(), vec![FAQ[1].1.to_string()]);
}

#[tokio::test]
#[ignore = "needs the OCR models: make test-agent"]
async fn with_the_chat_window_closed_the_reply_is_acknowledged_failed_and_nothing_typed() {
    let s = setup().await;
    let data = tempfile::tempdir().unwrap();
    let window = Window::titled("记事本");
    window.show_question("12:00:00", "支持七天无理由退货吗");
    let mut agent = start_agent(&s.server.base, &s, &window, &data);
    let failed = eventually("the failure acknowledged", async || {
        agent.turn().await.unwrap();
        let found = messages(&s).await;
        let m = found.first()?.clone();
        (m["delivery_attempts"].as_i64() == Some(1)).then_some(m)
    })
    .await;
    assert!(
        failed["delivery_error"]
            .as_str()
            .unwrap()
            .contains("no window titled like"),
        "{failed}"
    );
    assert!(window.typed().is_empty());

    // The window is back: the reply, offered again, is typed once.
    window.retitle(TITLE);
    eventually("the reply typed", async || {
        agent.turn().await.unwrap();
        (!window.typed().is_empty()).then_some(())
    })
    .await;
    assert_eq!(window.typed(), vec![FAQ[2].1.to_string()]);
    let sent = eventually("the reply acknowledged sent", async || {
        let found = messages(&s).await;
        (found[0]["delivery"] == "sent").then(|| found[0].clone())
    })
    .await;
    // The failed delivery and the one that typed it.
    assert_eq!(sent["delivery_attempts"], 2);
}
