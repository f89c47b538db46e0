//! The points permissions and the roles that hold them by default (the grants table is
//! made from [`ALL`] at start). Every handler requires one of these before it touches
//! data.

use shopops_kernel::Permission;
use shopops_kernel::Role::{Admin, Agent, Viewer};

pub const READ: Permission = Permission {
    name: "points:read",
    description: "Read members' balances, ledgers, levels, VIP tags and the points settings",
    roles: &[Admin, Agent, Viewer],
};
pub const EARN: Permission = Permission {
    name: "points:earn",
    description: "Give members points (earn, batch-earn)",
    roles: &[Admin, Agent],
};
pub const SPEND: Permission = Permission {
    name: "points:spend",
    description: "Spend members' points",
    roles: &[Admin, Agent],
};
pub const ADJUST: Permission = Permission {
    name: "points:adjust",
    description: "Adjust balances, freeze and unfreeze points, reverse ledger entries",
    roles: &[Admin],
};
pub const MANAGE: Permission = Permission {
    name: "points:manage",
    description:
        "Manage levels, VIP tags, settings and members' contact data; check the ledger's integrity",
    roles: &[Admin],
};

/// Every permission the points module declares.
pub const ALL: &[Permission] = &[READ, EARN, SPEND, ADJUST, MANAGE];
