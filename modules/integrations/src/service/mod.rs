//! The behaviour, independent of HTTP: one file per capability (payments in three:
//! creating and reading them, refunds, the providers' notifications), the providers'
//! operational settings, and the states things go through ([`states`]).

pub mod callbacks;
pub mod captcha;
pub mod payments;
pub mod providers;
pub mod refunds;
pub mod sms;
pub mod sms_reports;
pub mod states;
pub mod storage;
