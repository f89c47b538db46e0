//! SIGTERM during a slow request: readiness goes 503 first, the request completes,
//! the process exits 0.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Server, Store, ROOT_PASSWORD, ROOT_USER};

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let store = Store::new().await;
    let mut server = Server::start_with(&store, &[("SHOPOPS_SHUTDOWN_DELAY_SECS", "1")]).await;
    let addr = server.base.trim_start_matches("http://").to_string();

    // A slow client: the request head and half of the body now, the rest later.
    let body = format!(r#"{{"username":"{ROOT_USER}","password":"{ROOT_PASSWORD}"}}"#);
    let (first, rest) = body.split_at(10);
    let mut sock = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Readiness turns 503 at once (while the listener still accepts during the delay).
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let r = server
            .http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            let body: serde_json::Value = r.json().await.unwrap();
            assert!(body["failed"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("shutdown")));
            break;
        }
        assert!(Instant::now() < deadline, "readyz never went 503");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The slow request finishes after the listener has closed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        TcpStream::connect(&addr).await.is_err(),
        "no new connections after the delay"
    );
    sock.write_all(rest.as_bytes()).await.unwrap();
    let mut response = String::new();
    sock.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("access_token"));

    let code = server.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", server.logs());
}
