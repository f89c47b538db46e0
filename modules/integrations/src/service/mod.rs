//! The behaviour, independent of HTTP: one file per capability.

pub mod captcha;
pub mod payments;
pub mod sms;
pub mod sms_reports;
pub mod storage;
