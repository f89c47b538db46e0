//! The server's OpenAPI document: the kernel's, with each module nested at its prefix.

use utoipa::OpenApi;

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = shopops_kernel::ApiDoc::openapi()
        .nest("/api/v1/points", shopops_points::ApiDoc::openapi())
        .nest("/api/v1/kuaishou", shopops_kuaishou::ApiDoc::openapi())
        .nest(
            "/api/v1/integrations",
            shopops_integrations::ApiDoc::openapi(),
        );
    doc.info.title = "ShopOps API".into();
    doc.info.description = Some(
        "E-commerce seller operations: identity and access, audit, alerts, points, Kuaishou shops, payment/SMS/storage/captcha integrations."
            .into(),
    );
    doc
}
