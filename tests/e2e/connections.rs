//! An idle connection stays open for `keep_alive_secs` (so a load balancer that reuses
//! it within its own, shorter idle timeout never finds it closed), then the server
//! closes it.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Server, Store};

/// Sends `GET /healthz` on `sock` and reads exactly one answer; its status.
async fn healthz(sock: &mut TcpStream, addr: &str) -> u16 {
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed before answering: {answer:?}");
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .expect("content-length");
        if body.len() >= length {
            return head.split_whitespace().nth(1).unwrap().parse().unwrap();
        }
    }
}

#[tokio::test]
async fn an_idle_connection_stays_open_for_keep_alive_secs_then_closes() {
    let store = Store::new().await;
    let server = Server::start_with(&store, &[("SHOPOPS_KEEP_ALIVE_SECS", "2")]).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut sock = TcpStream::connect(&addr).await.unwrap();

    // Idle for half the keep-alive between requests: the same connection answers.
    for _ in 0..3 {
        assert_eq!(healthz(&mut sock, &addr).await, 200);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(healthz(&mut sock, &addr).await, 200);

    // Idle past it: the server closes the connection (end of stream), not at once,
    // and well before actix's own default of 5 s.
    let idle = Instant::now();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_millis(4500), sock.read(&mut byte))
        .await
        .expect("the server closes an idle connection after keep_alive_secs");
    assert_eq!(read.unwrap(), 0, "nothing is sent on an idle connection");
    assert!(
        idle.elapsed() >= Duration::from_millis(1500),
        "closed after {:?}, before the keep-alive ran out",
        idle.elapsed()
    );
}
