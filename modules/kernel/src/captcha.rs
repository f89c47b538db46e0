//! The captcha-solving port (docs/ARCHITECTURE.md "A module's shape"). A module
//! never imports another, so a module that can read captchas (a captcha provider, a
//! local model, a queue for people) registers a [`CaptchaSolver`] here at start, and a
//! module that needs captchas read asks for it by name.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// One captcha to read.
#[derive(Debug, Clone, Copy)]
pub struct CaptchaImage<'a> {
    /// The tenant the answer is for (providers bill and record per tenant).
    pub tenant_id: i64,
    /// The image as the platform served it (PNG, JPEG or GIF).
    pub image: &'a [u8],
    /// The provider's type code (1004 at the usual provider: 1–4 letters and digits).
    pub code_type: u32,
    /// The characters the answer can contain, when the platform says (`0-9a-z`
    /// spelt out); solvers that can restrict their output do.
    pub charset: Option<&'a str>,
    /// What a person answering by hand is shown (`platform "crm" account 3`).
    pub label: &'a str,
}

/// A solver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptchaSolution {
    pub text: String,
    /// The solver that gave it.
    pub solver: &'static str,
    /// What [`CaptchaSolver::report_wrong`] needs to tell the solver (a provider's
    /// picture id); `None` when there is nothing to report to.
    pub report_id: Option<String>,
}

/// Why a solver gave no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CaptchaError {
    /// The solver cannot work now (no model, provider down, nobody answered in time);
    /// the next solver in the platform's order is tried.
    #[error("{0}")]
    Unavailable(String),
    /// The solver looked and could not read it.
    #[error("{0}")]
    Unreadable(String),
}

#[async_trait::async_trait]
pub trait CaptchaSolver: Send + Sync {
    /// The name callers list in their order of solvers (`local`, `manual` …).
    fn name(&self) -> &'static str;

    async fn solve(&self, captcha: CaptchaImage<'_>) -> Result<CaptchaSolution, CaptchaError>;

    /// The platform refused `solution`: providers refund it, models count it.
    async fn report_wrong(&self, tenant_id: i64, solution: &CaptchaSolution);
}

/// The solvers registered at start, by name.
#[derive(Default)]
pub struct CaptchaSolvers {
    solvers: RwLock<BTreeMap<&'static str, Arc<dyn CaptchaSolver>>>,
}

impl CaptchaSolvers {
    /// Adds (or replaces) the solver of that name.
    pub fn register(&self, solver: Arc<dyn CaptchaSolver>) {
        let mut solvers = self.solvers.write().unwrap_or_else(|e| e.into_inner());
        solvers.insert(solver.name(), solver);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn CaptchaSolver>> {
        let solvers = self.solvers.read().unwrap_or_else(|e| e.into_inner());
        solvers.get(name).cloned()
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let solvers = self.solvers.read().unwrap_or_else(|e| e.into_inner());
        solvers.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str);

    #[async_trait::async_trait]
    impl CaptchaSolver for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        async fn solve(&self, c: CaptchaImage<'_>) -> Result<CaptchaSolution, CaptchaError> {
            Ok(CaptchaSolution {
                text: format!("{}-{}", self.0, c.image.len()),
                solver: self.0,
                report_id: None,
            })
        }
        async fn report_wrong(&self, _: i64, _: &CaptchaSolution) {}
    }

    #[tokio::test]
    async fn solvers_are_found_by_name_and_replaced() {
        let solvers = CaptchaSolvers::default();
        solvers.register(Arc::new(Fixed("manual")));
        solvers.register(Arc::new(Fixed("local")));
        assert_eq!(solvers.names(), vec!["local", "manual"]);
        assert!(solvers.get("provider").is_none());
        let image = CaptchaImage {
            tenant_id: 1,
            image: b"abc",
            code_type: 1004,
            charset: None,
            label: "t",
        };
        let answer = solvers.get("local").unwrap().solve(image).await.unwrap();
        assert_eq!(answer.text, "local-3");
        solvers.register(Arc::new(Fixed("local")));
        assert_eq!(solvers.names().len(), 2);
    }
}
