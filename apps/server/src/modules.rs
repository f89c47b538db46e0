//! The one list of feature modules this binary composes. Everything else in the server
//! (routes, the OpenAPI document, jobs, the command line, the error catalogue) is made
//! by iterating it; adding a module is one entry here (docs/ARCHITECTURE.md).

use shopops_kernel::module::Declarations;
use shopops_kernel::Module;

pub const MODULES: &[&dyn Module] = &[
    &shopops_points::PointsModule,
    &shopops_kuaishou::KuaishouModule,
    &shopops_integrations::IntegrationsModule,
    &shopops_customer_service::CustomerServiceModule,
    &shopops_gateway::GatewayModule,
];

/// What the kernel and every module declare.
pub fn declarations() -> Declarations {
    Declarations::of(MODULES)
}

/// The modules' config sections (`[kuaishou]` …), which the kernel's loader leaves to them.
pub fn config_sections() -> Vec<&'static str> {
    declarations()
        .config_sections
        .into_iter()
        .map(|(section, _)| section)
        .collect()
}
