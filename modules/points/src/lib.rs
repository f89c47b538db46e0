//! Points: a multi-tenant points ledger that never loses, invents or double-applies a
//! point — balances, an immutable ledger, lots that expire, levels, VIP tags
//! (docs/points.md). The binaries see only [`PointsModule`].
//!
//! - [`api`]: the HTTP handlers under `/api/v1/points`; [`cli`]: `shopops points …`;
//! - [`service`]: the behaviour and the domain's values;
//! - [`store`] + [`entities`]: the ledger's SQL and the tables;
//! - [`permissions`], [`error`]: what the module declares to the kernel.

pub mod api;
pub mod cli;
pub mod entities;
pub mod error;
pub mod permissions;
pub mod service;
pub mod store;

use std::process::ExitCode;
use std::sync::Arc;

use shopops_kernel::cli::CliContext;
use shopops_kernel::error::Catalogue;
use shopops_kernel::{Kernel, Module, Permission, RateBucket, Started};
use utoipa::OpenApi;

/// The points module.
pub struct PointsModule;

#[async_trait::async_trait]
impl Module for PointsModule {
    fn name(&self) -> &'static str {
        "points"
    }

    fn about(&self) -> &'static str {
        "Points ledger: earn, spend, adjust, freeze, reverse, levels, VIP tags"
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        api::ApiDoc::openapi()
    }

    fn permissions(&self) -> &'static [Permission] {
        permissions::ALL
    }

    fn rate_buckets(&self) -> &'static [RateBucket] {
        &[api::OPERATIONS_BUCKET]
    }

    fn errors(&self) -> Catalogue {
        Catalogue {
            owner: "points",
            codes: error::Code::ALL,
        }
    }

    /// No state of its own beyond the kernel's: the routes, and the expiry job.
    async fn start(&self, _kernel: &Kernel) -> anyhow::Result<Started> {
        Ok(Started {
            routes: Arc::new(api::routes),
            jobs: vec![service::expiry::job()],
        })
    }

    fn cli(&self) -> Option<clap::Command> {
        Some(cli::command(self.name(), self.about()))
    }

    async fn run_cli(
        &self,
        matches: &clap::ArgMatches,
        ctx: &CliContext,
    ) -> anyhow::Result<ExitCode> {
        cli::run(matches, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopops_kernel::module::Declarations;

    #[test]
    fn the_declarations_agree_with_the_kernel() {
        let declared = Declarations::of(&[&PointsModule]);
        assert_eq!(declared.check(), Ok(()));
        // The grants the points migration made, now made from `permissions::ALL`.
        let points: Vec<_> = declared
            .grants()
            .into_iter()
            .filter(|(_, p)| p.starts_with("points:"))
            .collect();
        assert_eq!(
            points,
            [
                ("admin", "points:adjust"),
                ("admin", "points:earn"),
                ("admin", "points:manage"),
                ("admin", "points:read"),
                ("admin", "points:spend"),
                ("agent", "points:earn"),
                ("agent", "points:read"),
                ("agent", "points:spend"),
                ("viewer", "points:read"),
            ]
        );
        let bucket = PointsModule.rate_buckets()[0].per_hour;
        assert_eq!(bucket, 500);
        assert_eq!(
            PointsModule.cli().map(|c| c.get_name().to_string()),
            Some("points".into())
        );
    }
}
