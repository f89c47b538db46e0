//! The server's OpenAPI document: the kernel's, each module nested at `/api/v1/{name}`,
//! the envelope's `code` as the enum of every code in the catalogue, and the
//! permissions with the roles that hold them by default. [`contract`] then states
//! what every operation shares (error answers, security, operation ids).

mod contract;

use std::fmt::Write as _;

use serde_json::json;
use utoipa::openapi::{OpenApi as Doc, RefOr, Schema};
use utoipa::OpenApi;

pub fn document() -> Doc {
    let mut doc = shopops_kernel::ApiDoc::openapi();
    for module in crate::modules::MODULES {
        doc = doc.nest(format!("/api/v1/{}", module.name()), module.openapi());
    }
    let declarations = crate::modules::declarations();
    doc.info.title = "ShopOps API".into();
    let mut description = String::from(
        "E-commerce seller operations: identity and access, audit, alerts, points, Kuaishou shops, \
         payment/SMS/storage/captcha integrations.\n\n\
         Errors are the envelope `ErrorEnvelope`; `error.code` is one of the codes listed in its \
         enum (catalogue: `/docs/errors`), `error.message` follows `Accept-Language` (zh-CN or en).\n\n\
         ## Permissions\n\n| permission | roles by default | allows |\n|---|---|---|\n",
    );
    for p in &declarations.permissions {
        let roles: Vec<_> = p.roles.iter().map(|r| r.as_str()).collect();
        let _ = writeln!(
            description,
            "| `{}` | {} | {} |",
            p.name,
            roles.join(", "),
            p.description
        );
    }
    doc.info.description = Some(description);
    let codes: Vec<&str> = declarations
        .catalogues
        .iter()
        .flat_map(|c| c.codes.iter().map(|code| code.code))
        .collect();
    set_code_enum(&mut doc, &codes);
    let modules: Vec<&str> = crate::modules::MODULES.iter().map(|m| m.name()).collect();
    contract::complete(doc, &modules)
}

/// `ErrorInfo.code` lists every code of the catalogue.
fn set_code_enum(doc: &mut Doc, codes: &[&str]) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let Some(RefOr::T(Schema::Object(info))) = components.schemas.get_mut("ErrorInfo") else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(code))) = info.properties.get_mut("code") {
        code.enum_values = Some(codes.iter().map(|c| json!(c)).collect());
    }
}
