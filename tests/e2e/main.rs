//! End-to-end tests: each starts the real `shopops` binary on a free port and speaks
//! HTTP to it. SQLite by default; PostgreSQL and Redis when `TEST_DATABASE_URL` and
//! `TEST_REDIS_URL` are set (`make test-services`).

// A failed unwrap is a failed test here.
#![allow(clippy::unwrap_used)]

mod spec;
mod support;

mod agent;
mod agent_desktop;
mod alerts;
mod audit;
mod auth;
mod cli;
mod connections;
mod contract;
mod cs_embeddings;
mod cs_kb;
mod cs_loop;
mod cs_ops;
mod cs_shops;
mod cs_support;
mod envelope;
mod fake_platform;
mod fake_providers;
mod gateway;
mod gateway_processes;
mod idempotency;
mod integrations;
mod integrations_payments;
mod integrations_sms;
mod integrations_storage;
mod kuaishou;
mod kuaishou_orders;
mod kuaishou_push;
mod points;
mod points_robustness;
mod points_safeguards;
mod rate_limit;
mod readiness;
mod shutdown;
mod telemetry;
mod tenancy;
