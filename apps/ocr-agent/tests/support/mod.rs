//! What the agent's tests share.
pub mod panel;
