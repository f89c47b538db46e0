//! The composition of ShopOps: the one list of modules ([`modules`]), the server
//! ([`serve`]), the command line ([`cli`]) and the OpenAPI document ([`openapi`]).
//! Two binaries use it: `shopops` (this crate's) and `shopops-keepalive`
//! (`apps/keepalive`), so both compose the same modules.

pub mod cli;
mod docs_pages;
pub mod modules;
pub mod openapi;
pub mod serve;
