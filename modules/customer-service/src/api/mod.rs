//! `/api/v1/cs`: HTTP handlers only — extract, authorise, call the service, map.

pub mod imports;
pub mod kb;
pub mod messages;
pub mod outbox;
pub mod reviews;
pub mod search;
pub mod shops;
pub mod stats;

use actix_web::web;
use utoipa::OpenApi;

/// What the handlers share: the module's services.
pub type State = crate::service::Services;

/// Routes, inside the module's `/api/v1/cs` scope.
pub fn routes(cfg: &mut web::ServiceConfig, state: &web::Data<State>) {
    use web::{delete, get, patch, post, put, resource};
    cfg.app_data(state.clone())
        .service(
            resource("/kb/entries")
                .route(get().to(kb::list_entries))
                .route(post().to(kb::create_entry)),
        )
        .service(
            resource("/kb/entries/{id}")
                .route(get().to(kb::get_entry))
                .route(patch().to(kb::update_entry))
                .route(delete().to(kb::delete_entry)),
        )
        .service(resource("/kb/import").route(post().to(imports::import)))
        .service(resource("/kb/imports/{id}").route(get().to(imports::get_import)))
        .service(resource("/kb/search").route(post().to(search::search)))
        .service(resource("/kb/search-history").route(get().to(search::history)))
        .service(
            resource("/shops")
                .route(get().to(shops::list_shops))
                .route(post().to(shops::create_shop)),
        )
        .service(
            resource("/shops/{id}")
                .route(get().to(shops::get_shop))
                .route(patch().to(shops::update_shop))
                .route(delete().to(shops::delete_shop)),
        )
        .service(
            resource("/shops/{id}/agents")
                .route(get().to(shops::get_agents))
                .route(put().to(shops::set_agents)),
        )
        .service(
            resource("/settings")
                .route(get().to(shops::get_settings))
                .route(put().to(shops::put_settings)),
        )
        .service(
            resource("/messages")
                .route(get().to(messages::list_messages))
                .route(post().to(messages::post_message)),
        )
        .service(resource("/messages/{id}").route(get().to(messages::get_message)))
        .service(resource("/reviews").route(get().to(reviews::list_reviews)))
        .service(resource("/reviews/{id}/claim").route(post().to(reviews::claim)))
        .service(resource("/reviews/{id}/approve").route(post().to(reviews::approve)))
        .service(resource("/reviews/{id}/reject").route(post().to(reviews::reject)))
        .service(resource("/outbox").route(get().to(outbox::take)))
        .service(resource("/outbox/{id}/ack").route(post().to(outbox::ack)))
        .service(resource("/agents").route(get().to(outbox::list_agents)))
        .service(resource("/agents/heartbeat").route(post().to(outbox::heartbeat)))
        .service(resource("/agents/{id}").route(delete().to(outbox::delete_agent)))
        .service(resource("/stats/daily").route(get().to(stats::daily)));
}

/// The module's part of the OpenAPI document (paths relative to `/api/v1/cs`).
#[derive(OpenApi)]
#[openapi(
    paths(
        kb::create_entry, kb::list_entries, kb::get_entry, kb::update_entry, kb::delete_entry,
        imports::import, imports::get_import,
        search::search, search::history,
        shops::create_shop, shops::list_shops, shops::get_shop, shops::update_shop, shops::delete_shop,
        shops::set_agents, shops::get_agents, shops::get_settings, shops::put_settings,
        messages::post_message, messages::list_messages, messages::get_message,
        reviews::list_reviews, reviews::claim, reviews::approve, reviews::reject,
        outbox::take, outbox::ack, outbox::heartbeat, outbox::list_agents, outbox::delete_agent,
        stats::daily,
    ),
    // Enums used only as query parameters are not collected from the paths.
    components(schemas(reviews::ReviewStatus)),
    tags((name = "cs", description = "Customer service: shops, the knowledge base and its search, buyer messages, review, the desktop agents' outbox, statistics"))
)]
pub struct ApiDoc;
