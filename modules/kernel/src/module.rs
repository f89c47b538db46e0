//! The face every feature module shows the binaries: one [`Module`] implementation
//! per crate (in the spirit of loco's `Hooks` and Meilisearch's `configure` + `nest`).
//!
//! A module declares its name (route prefix `/api/v1/{name}`, config section `[name]`,
//! CLI subcommand `shopops {name}`), its OpenAPI document, its permissions with the
//! roles that get them by default, its rate buckets, its error codes, and how it
//! starts: [`Module::start`] builds its state (clients, health checks, alert sources)
//! on the [`Kernel`] and returns its routes and scheduled [`Job`]s. The server and the
//! keepalive worker compose one list of modules and know nothing else about them.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use crate::cli::CliContext;
use crate::context::Kernel;
use crate::error::Catalogue;

/// A role every tenant has (and the platform's `superadmin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The platform's operators (tenant 0, every tenant).
    SuperAdmin,
    /// A tenant's administrators.
    Admin,
    /// A tenant's staff (customer service, shop operators) and their agents.
    Agent,
    /// Read-only members of a tenant.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::SuperAdmin, Role::Admin, Role::Agent, Role::Viewer];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "superadmin",
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }
}

/// A permission (`module:action`), what it allows, and the roles granted it by
/// default. Handlers require these constants; the grants are made from them.
#[derive(Debug)]
pub struct Permission {
    pub name: &'static str,
    pub description: &'static str,
    pub roles: &'static [Role],
}

/// A named rate limit a module applies to its own routes, per user per hour;
/// `SHOPOPS_RATE_LIMIT_BUCKETS` may change the limit of a declared bucket only.
#[derive(Debug)]
pub struct RateBucket {
    pub name: &'static str,
    pub per_hour: u32,
    pub description: &'static str,
}

type JobFn =
    dyn Fn(Kernel) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync;

/// A scheduled job: one run every `period`, never two at once in a process.
#[derive(Clone)]
pub struct Job {
    pub name: &'static str,
    pub period: Duration,
    /// Cluster-wide: one process at a time runs it (the holder of its lease); the
    /// others stand by to take over. Otherwise every process runs it (reloading its
    /// own caches, judging its own metrics).
    pub one_leader: bool,
    run: Arc<JobFn>,
}

impl Job {
    pub fn new<F, Fut>(name: &'static str, period: Duration, run: F) -> Self
    where
        F: Fn(Kernel) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            name,
            period,
            one_leader: false,
            run: Arc::new(move |kernel| Box::pin(run(kernel))),
        }
    }

    /// Makes it cluster-wide: one leader at a time across the processes that share
    /// the Redis (docs/operations.md "Jobs").
    pub fn one_leader(mut self) -> Self {
        self.one_leader = true;
        self
    }

    /// One run.
    pub async fn run_once(&self, kernel: Kernel) -> Result<(), String> {
        (self.run)(kernel).await
    }

    /// Runs every `period` until the process stops (see [`crate::jobs::every`]); a
    /// cluster-wide job only while this process leads it ([`crate::jobs::led`]).
    pub async fn schedule(self, kernel: Kernel) {
        let run = self.run.clone();
        if self.one_leader {
            crate::jobs::led(kernel, self.name, self.period, move |k| run(k)).await
        } else {
            crate::jobs::every(kernel, self.name, self.period, move |k| run(k)).await
        }
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("name", &self.name)
            .field("period", &self.period)
            .field("one_leader", &self.one_leader)
            .finish()
    }
}

/// Registers a module's routes (and the state they use) inside its `/api/v1/{name}`
/// scope; called once per HTTP worker.
pub type Routes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// What a started module hands the binary.
pub struct Started {
    pub routes: Routes,
    pub jobs: Vec<Job>,
}

/// A feature module, as the binaries see it.
#[async_trait::async_trait]
pub trait Module: Send + Sync {
    /// `orders`: routes under `/api/v1/orders`, settings in `[orders]`, `shopops orders`.
    fn name(&self) -> &'static str;

    /// One line for the CLI help and the OpenAPI tag.
    fn about(&self) -> &'static str;

    /// The module's OpenAPI document, paths relative to `/api/v1/{name}`.
    fn openapi(&self) -> utoipa::openapi::OpenApi;

    fn permissions(&self) -> &'static [Permission];

    fn rate_buckets(&self) -> &'static [RateBucket] {
        &[]
    }

    fn errors(&self) -> Catalogue;

    /// The prefix of the environment variables of its `[name]` config section
    /// (`KUAISHOU_`), when it has settings.
    fn config_env_prefix(&self) -> Option<&'static str> {
        None
    }

    /// Reads its settings as `start` will (a misspelt or unknown key of its section or
    /// its variables is an error naming it), without starting anything: the server
    /// checks every module this way before it starts any, and `shopops config check`
    /// does only this.
    fn check_config(&self, _config: &crate::config::Config) -> anyhow::Result<()> {
        Ok(())
    }

    /// Builds the module's state on the kernel; its routes and jobs.
    async fn start(&self, kernel: &Kernel) -> anyhow::Result<Started>;

    /// Its `shopops {name} …` subcommands, if any.
    fn cli(&self) -> Option<clap::Command> {
        None
    }

    /// Runs one of its subcommands (`matches` are the subcommand's own).
    async fn run_cli(
        &self,
        _matches: &clap::ArgMatches,
        _ctx: &CliContext,
    ) -> anyhow::Result<ExitCode> {
        anyhow::bail!("`shopops {}` has no subcommands", self.name())
    }
}

/// Everything the modules declare, gathered once, for the kernel to check and use.
#[derive(Clone, Default)]
pub struct Declarations {
    pub permissions: Vec<&'static Permission>,
    pub rate_buckets: Vec<&'static RateBucket>,
    pub catalogues: Vec<Catalogue>,
    /// `(section, env prefix)` of every module with settings.
    pub config_sections: Vec<(&'static str, &'static str)>,
}

impl Declarations {
    /// The kernel's own declarations plus each module's.
    pub fn of(modules: &[&dyn Module]) -> Self {
        let mut all = Declarations {
            permissions: crate::permissions::ALL.iter().collect(),
            rate_buckets: Vec::new(),
            catalogues: vec![crate::error::CATALOGUE],
            config_sections: Vec::new(),
        };
        for module in modules {
            all.permissions.extend(module.permissions());
            all.rate_buckets.extend(module.rate_buckets());
            all.catalogues.push(module.errors());
            if let Some(prefix) = module.config_env_prefix() {
                all.config_sections.push((module.name(), prefix));
            }
        }
        all
    }

    /// Refuses declarations that contradict each other: a code or permission or
    /// bucket declared twice, a permission not named `module:action`.
    pub fn check(&self) -> Result<(), String> {
        crate::error::catalogue::check(&self.catalogues)?;
        let mut names = std::collections::HashSet::new();
        for p in &self.permissions {
            let well_formed = p.name.split_once(':').is_some_and(|(m, a)| {
                !m.is_empty()
                    && !a.is_empty()
                    && p.name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b"_:".contains(&b))
            });
            if !well_formed {
                return Err(format!("permission `{}` is not `module:action`", p.name));
            }
            if !names.insert(p.name) {
                return Err(format!("permission `{}` is declared twice", p.name));
            }
        }
        let mut buckets = std::collections::HashSet::new();
        for b in &self.rate_buckets {
            if !buckets.insert(b.name) {
                return Err(format!("rate bucket `{}` is declared twice", b.name));
            }
        }
        Ok(())
    }

    /// `(role, permission)` grants the declared permissions make.
    pub fn grants(&self) -> Vec<(&'static str, &'static str)> {
        let mut grants: Vec<_> = self
            .permissions
            .iter()
            .flat_map(|p| p.roles.iter().map(move |r| (r.as_str(), p.name)))
            .collect();
        grants.sort_unstable();
        grants
    }
}
