//! The HTTP listener every binary uses: actix's HTTP/1 service on a socket we bind,
//! with each connection read through the [`head_guard`](super::head_guard), so a
//! request head over our limits gets the error envelope instead of actix's bare status.
//!
//! This is what `actix_web::HttpServer` does (`listen` + `HttpService`), with the one
//! step it cannot take: wrapping the accepted stream. Settings as in the config:
//! workers, header read timeout, keep-alive, graceful stop with `shutdown_grace_secs`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, Request, Response};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_web::dev::AppConfig;
use tokio::net::TcpStream;

use super::context::{refusal_bytes, HttpSettings};
use super::head_guard::{Guarded, HeadLimits, Refusal};
use crate::config::Config;
use crate::error::{AppError, Code};

/// A server bound and started.
pub struct Listening {
    pub server: actix_server::Server,
    pub addr: SocketAddr,
}

/// Binds `config.bind` and serves the app `factory` makes (one per worker).
pub fn serve<F, I, S, B>(
    config: &Config,
    settings: HttpSettings,
    factory: F,
) -> io::Result<Listening>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    B: MessageBody + 'static,
{
    let listener = std::net::TcpListener::bind(config.bind)?;
    let addr = listener.local_addr()?;
    let mut builder = actix_server::Server::build()
        .disable_signals()
        .shutdown_timeout(config.shutdown_grace_secs);
    if config.workers > 0 {
        builder = builder.workers(config.workers);
    }
    let shutdown = builder.graceful_shutdown_signal();
    let limits = HeadLimits {
        request_line: config.max_uri_bytes,
        head: config.max_header_bytes,
    };
    let header_timeout = Duration::from_secs(config.header_read_timeout_secs);
    // actix's default is 5 s; 0 turns into "one request per connection".
    let keep_alive = Duration::from_secs(config.keep_alive_secs);
    let render = Arc::new(move |refusal: Refusal| {
        let error = refusal_error(refusal, limits);
        refusal_bytes(&error, &settings)
    });
    let builder = builder.listen("shopops-http", listener, move || {
        let shutdown = shutdown.clone();
        let render = render.clone();
        let app = factory()
            .into_factory()
            .map_err(|err| err.into().error_response());
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            })
            .client_request_timeout(header_timeout)
            .keep_alive(keep_alive)
            .local_addr(addr)
            // Nothing here reads the app's host or scheme from this config: the
            // redirect and callback URLs we publish are configured explicitly.
            .h1(map_config(app, |_| AppConfig::default()));
        fn_service(move |io: TcpStream| {
            let render = render.clone();
            async move {
                let peer = io.peer_addr().ok();
                // Small answers go out at once rather than waiting to fill a packet.
                let _ = io.set_nodelay(true);
                Ok::<_, actix_http::error::DispatchError>((Guarded::new(io, limits, render), peer))
            }
        })
        .and_then(http)
    })?;
    Ok(Listening {
        server: builder.run(),
        addr,
    })
}

fn refusal_error(refusal: Refusal, limits: HeadLimits) -> AppError {
    match refusal {
        Refusal::UriTooLong => Code::UriTooLong
            .err()
            .with_details(serde_json::json!({ "limit_bytes": limits.request_line })),
        Refusal::HeadersTooLarge => Code::HeadersTooLarge
            .err()
            .with_details(serde_json::json!({ "limit_bytes": limits.head, "max_headers": 96 })),
        Refusal::Malformed => Code::BadRequest.err(),
    }
}
