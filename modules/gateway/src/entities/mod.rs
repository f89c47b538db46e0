//! The module's tables (migration `m20261202_000018_gateway`).
pub mod account;
pub mod captcha;
pub mod platform;
