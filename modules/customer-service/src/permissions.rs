//! The customer-service permissions and the roles that hold them by default (the
//! grants table is made from [`ALL`] at start). docs/customer-service.md explains who
//! does what.

use shopops_kernel::Permission;
use shopops_kernel::Role::{Admin, Agent, Viewer};

pub const KB_READ: Permission = Permission {
    name: "cs:kb:read",
    description: "Read the knowledge base, its imports and search tests; test searches",
    roles: &[Admin, Agent, Viewer],
};
pub const KB_WRITE: Permission = Permission {
    name: "cs:kb:write",
    description: "Create, change, delete and import knowledge-base entries",
    roles: &[Admin, Agent],
};
pub const SHOPS_READ: Permission = Permission {
    name: "cs:shops:read",
    description:
        "Read shops (agents: the shops assigned to them), their agents and the tenant's settings",
    roles: &[Admin, Agent, Viewer],
};
pub const SHOPS_WRITE: Permission = Permission {
    name: "cs:shops:write",
    description: "Create, change and delete shops, assign their agents, change the tenant's settings; see every shop",
    roles: &[Admin],
};
pub const MESSAGES_READ: Permission = Permission {
    name: "cs:messages:read",
    description: "Read buyer messages, their replies and history (of the caller's shops)",
    roles: &[Admin, Agent, Viewer],
};
pub const MESSAGES_WRITE: Permission = Permission {
    name: "cs:messages:write",
    description: "Post buyer messages (the desktop agent, an operator, another system)",
    roles: &[Admin, Agent],
};
pub const REVIEW: Permission = Permission {
    name: "cs:review",
    description: "Claim, approve and reject drafted replies (of the caller's shops)",
    roles: &[Admin, Agent],
};
pub const STATS_READ: Permission = Permission {
    name: "cs:stats:read",
    description: "Read the daily customer-service statistics",
    roles: &[Admin, Agent, Viewer],
};
pub const AGENT: Permission = Permission {
    name: "cs:agent",
    description:
        "Act as a desktop agent: take replies from the outbox, acknowledge them, send heartbeats",
    roles: &[Admin, Agent],
};

/// Every permission the module declares.
pub const ALL: &[Permission] = &[
    KB_READ,
    KB_WRITE,
    SHOPS_READ,
    SHOPS_WRITE,
    MESSAGES_READ,
    MESSAGES_WRITE,
    REVIEW,
    STATS_READ,
    AGENT,
];
