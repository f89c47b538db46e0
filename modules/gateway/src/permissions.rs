//! The gateway's permissions and the roles that hold them by default (docs/gateway.md).

use shopops_kernel::Permission;
use shopops_kernel::Role::{Admin, Agent, Viewer};

pub const READ: Permission = Permission {
    name: "gateway:read",
    description: "Read platforms (secrets masked) and their sessions",
    roles: &[Admin, Agent, Viewer],
};
pub const WRITE: Permission = Permission {
    name: "gateway:write",
    description: "Create, change and delete platforms and their accounts",
    roles: &[Admin],
};
pub const CALL: Permission = Permission {
    name: "gateway:call",
    description: "Call a platform through its session, force a fresh login",
    roles: &[Admin, Agent],
};
pub const CAPTCHA: Permission = Permission {
    name: "gateway:captcha",
    description: "See captchas waiting for a person and answer them",
    roles: &[Admin, Agent],
};

/// Every permission the module declares.
pub const ALL: &[Permission] = &[READ, WRITE, CALL, CAPTCHA];
