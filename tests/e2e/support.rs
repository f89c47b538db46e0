//! Starting servers, fresh databases and HTTP helpers for the end-to-end tests.

#![allow(dead_code)] // not every test file uses every helper

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};

pub const ROOT_USER: &str = "root";
pub const ROOT_PASSWORD: &str = "root-password-e2e";
pub const JWT_SECRET: &str = "e2e-jwt-secret-0123456789abcdef0123456789";

/// A port nobody listens on right now, for processes that cannot bind port 0 and say
/// which port they got (redis-server, an SMTP stand-in); the shopops server binds its
/// own (`Server::start_with`).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A port that refuses every connection for as long as the returned socket lives: it is
/// bound but never listens. A port merely closed again (`free_port`) is not safe for
/// this: a concurrent test may bind it, or the kernel may pick it as the source port of
/// the very connection aimed at it, which then connects to itself.
pub fn refused_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let port = socket.local_addr().expect("bound address").port();
    (socket, port)
}

/// Where a test server keeps its data: a temp dir (SQLite) or a fresh PostgreSQL database.
pub struct Store {
    pub dir: tempfile::TempDir,
    /// `DATABASE_URL` to give the server; None = SQLite in `dir`.
    pub database_url: Option<String>,
    pg_admin_url: Option<String>,
    pg_db_name: Option<String>,
    pub redis_prefix: String,
}

impl Store {
    pub async fn new() -> Store {
        let dir = tempfile::tempdir().expect("temp dir");
        let redis_prefix = format!("e2e:{}:", uuid::Uuid::new_v4().simple());
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            return Store {
                dir,
                database_url: None,
                pg_admin_url: None,
                pg_db_name: None,
                redis_prefix,
            };
        };
        let name = format!("shopops_e2e_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url)
            .await
            .expect("connect TEST_DATABASE_URL");
        admin
            .execute(Statement::from_string(
                admin.get_database_backend(),
                format!("CREATE DATABASE {name}"),
            ))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("TEST_DATABASE_URL ends in /dbname");
        Store {
            dir,
            database_url: Some(format!("{base}/{name}")),
            pg_admin_url: Some(admin_url),
            pg_db_name: Some(name),
            redis_prefix,
        }
    }

    /// The rows `sql` selects, read straight from the store's database: what is at
    /// rest, beside what the API shows.
    pub async fn rows(&self, sql: &str) -> Vec<sea_orm::QueryResult> {
        let db = Database::connect(self.direct_url()).await.unwrap();
        let rows = db
            .query_all(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
        db.close().await.ok();
        rows
    }

    /// The URL a test uses to reach the same database directly.
    pub fn direct_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rw",
                self.dir.path().join("shopops.db").display()
            )
        })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let (Some(url), Some(name)) = (self.pg_admin_url.take(), self.pg_db_name.take()) else {
            return;
        };
        // Drop the database from a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                if let Ok(db) = Database::connect(&url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = db
                        .execute(Statement::from_string(db.get_database_backend(), sql))
                        .await;
                }
            });
            Ok::<(), std::io::Error>(())
        })
        .join();
    }
}

pub struct Server {
    pub base: String,
    child: Child,
    log_path: PathBuf,
    _log_dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_shopops")
}

/// The environment every test server (and CLI call) gets for a store.
pub fn base_env(store: &Store) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "SHOPOPS_DATA_DIR".to_string(),
            store.dir.path().display().to_string(),
        ),
        (
            "SHOPOPS_BOOTSTRAP_ADMIN".into(),
            format!("{ROOT_USER}:{ROOT_PASSWORD}"),
        ),
        ("SHOPOPS_JWT_SECRET".into(), JWT_SECRET.into()),
        ("SHOPOPS_LOG_FORMAT".into(), "json".into()),
        ("SHOPOPS_WORKERS".into(), "2".into()),
        ("SHOPOPS_REDIS_PREFIX".into(), store.redis_prefix.clone()),
    ];
    if let Some(url) = &store.database_url {
        env.push(("DATABASE_URL".into(), url.clone()));
    }
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        env.push(("REDIS_URL".into(), url));
    }
    env
}

pub fn command(store: &Store) -> Command {
    command_of(binary(), store)
}

/// `binary` (the server or the keepalive worker) with the store's environment.
fn command_of(binary: &str, store: &Store) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(base_env(store));
    cmd
}

impl Server {
    pub async fn start(store: &Store) -> Server {
        Server::start_with(store, &[]).await
    }

    /// Starts a server on `store` with extra environment (which wins over the base).
    /// The server binds port 0 itself and logs the address it got, so no other process
    /// can take the port between a choice and the bind.
    pub async fn start_with(store: &Store, extra: &[(&str, &str)]) -> Server {
        let mut cmd = command(store);
        cmd.env("SHOPOPS_BIND", "127.0.0.1:0");
        Server::launch(cmd, extra).await
    }

    /// Starts the keepalive worker (`shopops-keepalive`) on `store`; its probes and
    /// `/metrics` are at `base`.
    pub async fn start_worker(store: &Store, extra: &[(&str, &str)]) -> Server {
        let mut cmd = command_of(env!("CARGO_BIN_EXE_shopops-keepalive"), store);
        cmd.env("KEEPALIVE_BIND", "127.0.0.1:0");
        Server::launch(cmd, extra).await
    }

    async fn launch(mut cmd: Command, extra: &[(&str, &str)]) -> Server {
        let log_dir = tempfile::tempdir().expect("log dir");
        let log_path = log_dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start shopops");
        let mut server = Server {
            base: String::new(),
            child,
            log_path,
            _log_dir: log_dir,
            http: http_client(),
        };
        server.base = format!("http://{}", server.listening_addr().await);
        server.wait_live().await;
        server
    }

    /// The address from the server's `listening` log line.
    async fn listening_addr(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let found = self.logs().lines().find_map(|line| {
                let entry: Value = serde_json::from_str(line).ok()?;
                (entry["message"] == "listening")
                    .then(|| entry["addr"].as_str().map(str::to_string))
                    .flatten()
            });
            if let Some(addr) = found {
                return addr;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server exited ({status}) before listening; log:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server never said where it listens; log:\n{}", self.logs());
    }

    async fn wait_live(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not become live; log:\n{}", self.logs());
    }

    /// The Prometheus text `/metrics` serves.
    pub async fn metrics(&self) -> String {
        let res = self.http.get(format!("{}/metrics", self.base)).send().await;
        res.expect("/metrics").text().await.expect("/metrics text")
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let reply = Reply::from_response(req.send().await.expect("request")).await;
        let content_type = reply.header("content-type").unwrap_or_default().to_string();
        crate::spec::check(
            &method,
            &url,
            reply.status.as_u16(),
            &content_type,
            &reply.body,
        );
        reply
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn login(&self, tenant: Option<&str>, username: &str, password: &str) -> Reply {
        let mut body = json!({ "username": username, "password": password });
        if let Some(t) = tenant {
            body["tenant"] = json!(t);
        }
        self.call(Method::POST, "/api/v1/auth/login", None, Some(body))
            .await
    }

    /// Signs in and returns the access token, failing the test otherwise.
    pub async fn token(&self, tenant: Option<&str>, username: &str, password: &str) -> String {
        let r = self.login(tenant, username, password).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {}", r.body);
        r.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    pub async fn root_token(&self) -> String {
        self.token(None, ROOT_USER, ROOT_PASSWORD).await
    }

    /// Creates a tenant with admin `admin`/`admin-password`; returns (tenant id, admin token).
    pub async fn tenant(&self, root: &str, code: &str) -> (i64, String) {
        let r = self
            .post(
                "/api/v1/tenants",
                root,
                json!({ "code": code, "name": format!("Tenant {code}"),
                        "admin": { "username": "admin", "password": "admin-password" } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_i64().expect("tenant id");
        (id, self.token(Some(code), "admin", "admin-password").await)
    }

    /// Creates a user in the caller's tenant; returns its id.
    pub async fn user(&self, admin: &str, username: &str, roles: &[&str]) -> i64 {
        let r = self
            .post(
                "/api/v1/users",
                admin,
                json!({ "username": username, "password": "user-password", "roles": roles }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_i64().expect("user id")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL): no shutdown, no lease handed back.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself; its exit code, or None on timeout.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http_client() -> reqwest::Client {
    shopops_kernel::outside::install_crypto_provider();
    // The server closes a connection idle for 5 s (actix's keep-alive); a pooled
    // connection reused just as it closes fails the request with IncompleteMessage.
    // Dropping idle connections sooner on this side removes that race.
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .expect("HTTP client")
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn from_response(res: reqwest::Response) -> Reply {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error envelope (docs/errors.md): status, code, every field, and the request id
    /// equal to the `X-Request-Id` header.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["success"], json!(false), "{}", self.body);
        let error = &self.body["error"];
        assert_eq!(error["code"], json!(code), "{}", self.body);
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.body
        );
        assert!(error["details"].is_object(), "{}", self.body);
        let rid = self.header("x-request-id").expect("x-request-id header");
        assert_eq!(error["request_id"], json!(rid));
        let ts = error["timestamp"].as_str().expect("timestamp");
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        assert_eq!(
            error["documentation_url"],
            json!(format!("/docs/errors#{}", code.to_ascii_lowercase()))
        );
        &error["details"]
    }
}

pub fn run_cli(store: &Store, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    let mut cmd = command(store);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("run shopops");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait shopops");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A Redis of the test's own, that the test can stop and start; killed when dropped,
/// so a failing test leaves no server behind.
pub struct TestRedis {
    child: Child,
}

impl TestRedis {
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn start_redis(port: u16) -> TestRedis {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed for this test (.ci/run installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    TestRedis { child }
}

/// Starts the server with `env` given as owned values (tests build some of them).
pub async fn start(store: &Store, env: &[(&'static str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with(store, &env).await
}

/// Polls `check` every 200 ms until it yields a value (30 s at most, then fails naming
/// `what`). A condition without a value: `cond.then_some(())`.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
