//! The module's Prometheus series, on the kernel's registry (so `/metrics` shows
//! them): knowledge-base searches by how they were answered and their latency,
//! entries embedded, import rows, and the message loop (routing decisions and their
//! latency, the reply cache, reviews, deliveries).

use prometheus::{Histogram, HistogramVec, IntCounterVec, Registry};
use shopops_kernel::telemetry::metrics::{counter_vec, latency_histogram_vec};

pub struct CsMetrics {
    /// `retrieval`: `lexical`, `hybrid`, or `lexical_fallback` (the dense side
    /// failed: the embeddings provider or the vector store).
    pub searches: IntCounterVec,
    pub search_seconds: HistogramVec,
    /// `outcome`: `ok` or `failed`.
    pub embedded_entries: IntCounterVec,
    /// `outcome`: `stored` or `refused`.
    pub import_rows: IntCounterVec,
    /// `decided_by`: the rule that routed each message (`kb_auto`, `kb_assist`, …).
    pub messages: IntCounterVec,
    /// From a message's arrival to its routing decision (LLM draft included).
    pub decision_seconds: Histogram,
    /// `outcome`: `hit` or `miss`.
    pub reply_cache: IntCounterVec,
    /// `outcome`: `approved_unedited`, `approved_edited`, `rejected`.
    pub reviews: IntCounterVec,
    /// `outcome`: `sent`, `send_failed`, `delivery_failed`.
    pub deliveries: IntCounterVec,
}

impl CsMetrics {
    pub fn new(registry: &Registry) -> Self {
        Self {
            searches: counter_vec(
                registry,
                "cs_kb_searches_total",
                "Knowledge-base searches by retrieval (lexical, hybrid, lexical_fallback)",
                &["retrieval"],
            ),
            search_seconds: latency_histogram_vec(
                registry,
                "cs_kb_search_duration_seconds",
                "Knowledge-base search latency (query encoding included) by retrieval",
                &["retrieval"],
            ),
            embedded_entries: counter_vec(
                registry,
                "cs_kb_embedded_entries_total",
                "Knowledge-base entries embedded by the embedding job, by outcome",
                &["outcome"],
            ),
            import_rows: counter_vec(
                registry,
                "cs_kb_import_rows_total",
                "Knowledge-base import rows by outcome (stored, refused)",
                &["outcome"],
            ),
            messages: counter_vec(
                registry,
                "cs_messages_total",
                "Buyer messages routed, by the rule that decided",
                &["decided_by"],
            ),
            decision_seconds: latency_histogram_vec(
                registry,
                "cs_message_decision_seconds",
                "From a message's arrival to its routing decision (LLM draft included)",
                &[],
            )
            .with_label_values(&[] as &[&str]),
            reply_cache: counter_vec(
                registry,
                "cs_reply_cache_total",
                "LLM reply cache lookups by outcome (hit, miss)",
                &["outcome"],
            ),
            reviews: counter_vec(
                registry,
                "cs_reviews_total",
                "Review decisions by outcome (approved_unedited, approved_edited, rejected)",
                &["outcome"],
            ),
            deliveries: counter_vec(
                registry,
                "cs_deliveries_total",
                "Agent acknowledgements by outcome (sent, send_failed, delivery_failed)",
                &["outcome"],
            ),
        }
    }
}
