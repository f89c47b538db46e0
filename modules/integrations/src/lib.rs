//! Integrations: payment (WeChat Pay, Alipay), SMS (Tencent Cloud, Aliyun), storage
//! (Tencent COS, S3-compatible, local files) and captcha (Chaojiying) providers behind
//! one adapter interface per capability (routes under `/api/v1/integrations`).
//!
//! - [`client`]: each provider's protocol as pure functions, proven by the vectors;
//! - [`dry_run`]: `shopops integrations sign --vector FILE`.

pub mod client;
pub mod config;
pub mod dry_run;
pub mod entities;
pub mod providers;
