//! The behaviour, without HTTP types: what the handlers, the jobs and the command line
//! call.
//!
//! - [`shops`]: the OAuth round trip, tokens encrypted at rest and refreshed once per
//!   shop across replicas, calls with a shop's token;
//! - [`calls`]: typed calls for a shop, paged methods as streams;
//! - [`sync`]: order sync from a per-shop checkpoint, and its job;
//! - [`batch`]: several shops' orders at once;
//! - [`push`]: message push verified, decrypted and stored once per holding shop;
//! - [`events`]: stored messages typed and dispatched to handlers, and the sweep job.

pub mod batch;
pub mod calls;
pub mod events;
pub mod push;
pub mod shops;
pub mod sync;
