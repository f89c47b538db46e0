//! Authentication: passwords, access and refresh tokens, API tokens, the principal
//! extractor, login throttling, and the `/auth` and `/me` endpoints.

pub mod api;
pub mod password;
pub mod principal;
pub mod service;
pub mod tokens;

pub use principal::{AuthMethod, Principal};
