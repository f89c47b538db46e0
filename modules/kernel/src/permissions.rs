//! The kernel's permissions and the roles that hold them by default. Modules declare
//! theirs the same way (`Module::permissions`); the grants table is made from both at
//! start (`rbac::sync_grants`).

use crate::module::Permission;
use crate::module::Role::{Admin, Agent, SuperAdmin, Viewer};

pub const TENANTS_READ: Permission = Permission {
    name: "tenants:read",
    description: "List tenants",
    roles: &[SuperAdmin],
};
pub const TENANTS_CREATE: Permission = Permission {
    name: "tenants:create",
    description: "Create tenants with their first administrator",
    roles: &[SuperAdmin],
};
pub const USERS_READ: Permission = Permission {
    name: "users:read",
    description: "List and read the tenant's users",
    roles: &[SuperAdmin, Admin, Agent, Viewer],
};
pub const USERS_CREATE: Permission = Permission {
    name: "users:create",
    description: "Create users",
    roles: &[SuperAdmin, Admin],
};
pub const USERS_UPDATE: Permission = Permission {
    name: "users:update",
    description: "Change users' passwords and activation; see every API token of the tenant",
    roles: &[SuperAdmin, Admin],
};
pub const USERS_DELETE: Permission = Permission {
    name: "users:delete",
    description: "Delete users",
    roles: &[SuperAdmin, Admin],
};
pub const USERS_ASSIGN_ROLES: Permission = Permission {
    name: "users:assign_roles",
    description: "Give users roles (never more than the caller holds)",
    roles: &[SuperAdmin, Admin],
};
pub const API_TOKENS_READ: Permission = Permission {
    name: "api_tokens:read",
    description: "List one's API tokens",
    roles: &[SuperAdmin, Admin, Agent],
};
pub const API_TOKENS_CREATE: Permission = Permission {
    name: "api_tokens:create",
    description: "Create scoped API tokens for machine callers",
    roles: &[SuperAdmin, Admin, Agent],
};
pub const API_TOKENS_REVOKE: Permission = Permission {
    name: "api_tokens:revoke",
    description: "Revoke API tokens",
    roles: &[SuperAdmin, Admin, Agent],
};
pub const AUDIT_READ: Permission = Permission {
    name: "audit:read",
    description: "Read the tenant's audit log",
    roles: &[SuperAdmin, Admin, Viewer],
};
pub const OPS_READ: Permission = Permission {
    name: "ops:read",
    description: "Read operations views (outside targets)",
    roles: &[SuperAdmin],
};
pub const ALERTS_READ: Permission = Permission {
    name: "alerts:read",
    description: "Read alert history and rules",
    roles: &[SuperAdmin],
};
pub const ALERTS_MANAGE: Permission = Permission {
    name: "alerts:manage",
    description: "Silence alert rules and test channels",
    roles: &[SuperAdmin],
};

/// Every permission the kernel declares.
pub const ALL: &[Permission] = &[
    TENANTS_READ,
    TENANTS_CREATE,
    USERS_READ,
    USERS_CREATE,
    USERS_UPDATE,
    USERS_DELETE,
    USERS_ASSIGN_ROLES,
    API_TOKENS_READ,
    API_TOKENS_CREATE,
    API_TOKENS_REVOKE,
    AUDIT_READ,
    OPS_READ,
    ALERTS_READ,
    ALERTS_MANAGE,
];
