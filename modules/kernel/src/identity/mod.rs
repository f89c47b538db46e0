//! Tenants, users, role assignment and API tokens: the `/tenants`, `/users` and
//! `/api-tokens` endpoints. Every query is scoped to the caller's tenant (from the
//! token, never from the body); a row of another tenant is 404.

pub mod api_tokens;
pub mod tenants;
pub mod users;
