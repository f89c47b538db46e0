//! The module's permissions and the roles that hold them by default. Handlers require
//! them (`principal.require(&kernel, &permissions::PAY)`); the grants table is made
//! from [`ALL`] at start.
//!
//! Providers are the platform's (one account per provider for every tenant), so only
//! superadmins see their configuration and change them; payments and refunds move a
//! tenant's money, so they are its administrators'.

use shopops_kernel::module::Role::{Admin, Agent, SuperAdmin, Viewer};
use shopops_kernel::Permission;

pub const READ: Permission = Permission {
    name: "integrations:read",
    description:
        "Read payments, SMS messages, stored objects, captcha balances and provider health",
    roles: &[SuperAdmin, Admin, Agent, Viewer],
};
pub const PAY: Permission = Permission {
    name: "integrations:pay",
    description: "Create and close payments",
    roles: &[Admin],
};
pub const REFUND: Permission = Permission {
    name: "integrations:refund",
    description: "Refund payments",
    roles: &[Admin],
};
pub const SMS: Permission = Permission {
    name: "integrations:sms",
    description: "Send SMS messages",
    roles: &[Admin, Agent],
};
pub const STORAGE: Permission = Permission {
    name: "integrations:storage",
    description: "Upload, delete and presign stored objects",
    roles: &[Admin, Agent],
};
pub const CAPTCHA: Permission = Permission {
    name: "integrations:captcha",
    description: "Recognise captchas and report wrong answers",
    roles: &[Admin, Agent],
};
pub const MANAGE: Permission = Permission {
    name: "integrations:manage",
    description: "See the providers' configuration and change their enabling, priority and limits",
    roles: &[SuperAdmin],
};

/// Every permission the module declares.
pub const ALL: &[Permission] = &[READ, PAY, REFUND, SMS, STORAGE, CAPTCHA, MANAGE];

#[cfg(test)]
mod tests {
    use shopops_kernel::module::Declarations;

    #[test]
    fn the_declarations_hold_together_and_grant_what_the_roles_had() {
        let declared = Declarations::of(&[&crate::IntegrationsModule]);
        assert_eq!(declared.check(), Ok(()));
        let ours: Vec<_> = declared
            .grants()
            .into_iter()
            .filter(|(_, p)| p.starts_with("integrations:"))
            .collect();
        let mut expected = vec![
            ("admin", "integrations:read"),
            ("admin", "integrations:pay"),
            ("admin", "integrations:refund"),
            ("admin", "integrations:sms"),
            ("admin", "integrations:storage"),
            ("admin", "integrations:captcha"),
            ("superadmin", "integrations:read"),
            ("superadmin", "integrations:manage"),
            ("agent", "integrations:read"),
            ("agent", "integrations:sms"),
            ("agent", "integrations:storage"),
            ("agent", "integrations:captcha"),
            ("viewer", "integrations:read"),
        ];
        expected.sort_unstable();
        assert_eq!(ours, expected);
    }
}
