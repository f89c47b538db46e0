//! The retrieval engine: finds the knowledge-base entry that answers a buyer's
//! question, and says how sure it is. Pure (no database, no HTTP): the service keeps
//! one index per tenant and feeds it entries.
