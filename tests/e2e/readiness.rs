//! `/readyz` follows Redis: 503 naming it while it is down, 200 again when it returns.

use std::time::{Duration, Instant};

use crate::support::{free_port, start_redis, Server, Store};

async fn wait_ready(server: &Server, want: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = server
            .http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "readyz stayed {status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readiness_goes_503_while_redis_is_down_and_recovers() {
    let port = free_port();
    let mut redis = start_redis(port);
    let store = Store::new().await;
    let url = format!("redis://127.0.0.1:{port}");
    let server = Server::start_with(&store, &[("REDIS_URL", &url)]).await;

    let body = wait_ready(&server, 200).await;
    assert_eq!(body["checks"]["redis"]["status"], "up");
    assert_eq!(body["checks"]["database"]["status"], "up");

    redis.stop();
    let body = wait_ready(&server, 503).await;
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["failed"], serde_json::json!(["redis"]));
    assert_eq!(body["checks"]["redis"]["status"], "down");
    // Liveness does not depend on Redis.
    let live = server
        .http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);

    let _redis = start_redis(port);
    let body = wait_ready(&server, 200).await;
    assert_eq!(body["failed"], serde_json::json!([]));
    // And the server works through Redis again (login uses it for throttling).
    assert_eq!(
        server
            .login(
                None,
                crate::support::ROOT_USER,
                crate::support::ROOT_PASSWORD
            )
            .await
            .status,
        200
    );
}
