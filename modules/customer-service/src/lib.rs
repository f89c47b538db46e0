//! Customer service: the knowledge base and its retrieval engine (Chinese, offline,
//! with a confidence that routes buyer messages), buyer messages, LLM replies and the
//! human review queue. Routes under `/api/v1/cs`.

pub mod retrieval;
