//! Kuaishou shop open-platform bridge.
//!
//! This first part is the client core every other piece stands on: requests signed
//! byte-for-byte like the official SDK's ([`client`]), the method [`catalogue`], the
//! classification of the platform's answers, and the dry run behind
//! `shopops kuaishou sign`. Shop authorisation, order sync and message push come next
//! (see the issue notes).

pub mod catalogue;
pub mod client;
pub mod dry_run;
