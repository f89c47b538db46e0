//! The module's permissions and the roles that hold them by default; handlers require
//! these constants and the kernel makes the grants from [`ALL`] at start.

use shopops_kernel::Permission;
use shopops_kernel::Role::{Admin, Agent, Viewer};

/// Everything a tenant's members look at: shops and their token health, shop
/// information from the platform, message-push events, synced orders and refunds, the
/// multi-shop order query.
pub const READ: Permission = Permission {
    name: "kuaishou:read",
    description: "See the tenant's Kuaishou shops, events, orders and refunds; query orders and shop information at the platform",
    roles: &[Admin, Agent, Viewer],
};

/// What changes a shop's connection or acts for it at the platform.
pub const MANAGE: Permission = Permission {
    name: "kuaishou:manage",
    description: "Authorise, refresh, sync and disconnect Kuaishou shops; call any platform method for a shop",
    roles: &[Admin],
};

/// Every permission of the module.
pub const ALL: &[Permission] = &[READ, MANAGE];
