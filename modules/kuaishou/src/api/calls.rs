//! Any open-platform method by name, for a shop.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{Code as KernelCode, ErrorEnvelope};
use shopops_kernel::http::RequestContext;
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::catalogue::{self, ParamError};
use crate::error;
use crate::permissions;
use crate::platform::Platform;
use crate::service::shops;
use crate::store;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// Any method of the catalogue, e.g. `open.item.list.get`.
    #[schema(min_length = 1, max_length = 128)]
    pub method: String,
    /// Business parameters by wire name; sent in the catalogue's order.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// Call any open-platform method for a shop by name (permission `kuaishou:manage`):
/// verb and version from the catalogue, the shop's token, the platform's `data` back.
#[utoipa::path(post, path = "/shops/{id}/call", tag = "kuaishou", params(("id" = i64, Path)), request_body = CallRequest,
    responses((status = 200, body = Object, description = "the platform's `data`"), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope), (status = 409, description = "KUAISHOU_SHOP_REVOKED", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn call_method(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<CallRequest>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let body = body.into_inner();
    let method =
        catalogue::find(&body.method).ok_or_else(|| error::unknown_method(&body.method))?;
    let param = catalogue::param_json(method, &body.params).map_err(|e| match e {
        ParamError::Unknown {
            method: name,
            param,
        } => KernelCode::InvalidRequestBody
            .err()
            .with_message(tr!(
                "`{param}` 不是 {name} 的参数",
                "`{param}` is not a parameter of {name}"
            ))
            .with_details(json!({
                "valid_params": method.accepted().map(|p| &p.name).collect::<Vec<_>>()
            })),
        ParamError::Encode(e) => AppError::internal(e),
    })?;
    let found = store::shop(&kernel.db, principal.tenant_id, id.into_inner()).await?;
    tracing::info!(request_id = %ctx.request_id, shop = found.id, method = %method.method, "Kuaishou call by name");
    let data = shops::call(&kernel, &platform, &found, &method.method, param.as_deref()).await?;
    Ok(super::raw_json(&data))
}
