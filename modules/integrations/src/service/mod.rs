//! The behaviour, independent of HTTP: one file per capability.

pub mod captcha;
pub mod payments;
pub mod sms;
pub mod storage;
