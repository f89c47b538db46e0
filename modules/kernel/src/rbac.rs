//! Role-based access control with casbin (RBAC with domains; a domain is a tenant).
//!
//! The database is the source of truth: `role_permissions` (role → `module:action`)
//! and `user_roles` (user → role in a tenant; tenant 0 = every tenant, for
//! superadmins). Each replica builds a casbin enforcer from those rows and swaps it in
//! whole; a change anywhere writes a new `rbac_version`, which every replica polls, so
//! a role granted on one replica is enforced by all within `rbac_reload_secs`.
//!
//! Every authorised request asks for one decision. casbin evaluates its matcher as a
//! script (rhai) each time, so each snapshot remembers its decisions: a snapshot never
//! changes, and a policy change brings a new snapshot with an empty memory, so a
//! remembered decision never outlives the policies it was made from.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait};

use crate::db;
use crate::entities::{role_permission, user_role};
use crate::module::Role;

/// Built-in roles: `superadmin` belongs to the platform, these exist inside a tenant.
pub const TENANT_ROLES: &[&str] = &[
    Role::Admin.as_str(),
    Role::Agent.as_str(),
    Role::Viewer.as_str(),
];
const VERSION_KEY: &str = "rbac_version";
const ALL_DOMAINS: &str = "*";

const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = (g(r.sub, p.sub, r.dom) || g(r.sub, p.sub, "*")) && r.obj == p.obj && r.act == p.act
"#;

/// Decisions a snapshot remembers: (user, tenant, permission) → allowed. Bounded, as
/// users and tenants are many: the least used decisions go first and are decided again
/// by casbin when asked.
type Decisions = moka::sync::Cache<(i64, i64, String), bool>;
const REMEMBERED_DECISIONS: u64 = 10_000;

struct Snapshot {
    version: String,
    enforcer: Enforcer,
    decisions: Decisions,
    role_permissions: HashMap<String, BTreeSet<String>>,
    user_roles: HashMap<i64, BTreeSet<String>>,
}

#[derive(Clone)]
pub struct Rbac {
    current: Arc<RwLock<Arc<Snapshot>>>,
}

fn subject(user_id: i64) -> String {
    format!("u:{user_id}")
}

fn domain(tenant_id: i64) -> String {
    if tenant_id == 0 {
        ALL_DOMAINS.to_string()
    } else {
        format!("t:{tenant_id}")
    }
}

impl Rbac {
    pub async fn load(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let snapshot = build(db).await?;
        Ok(Self {
            current: Arc::new(RwLock::new(Arc::new(snapshot))),
        })
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a panic happened while swapping an Arc; the Arc
        // inside is still whole.
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Rebuilds the enforcer from the database.
    pub async fn reload(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let snapshot = Arc::new(build(db).await?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = snapshot;
        Ok(())
    }

    /// Reloads when another replica (or this one) changed the policies.
    pub async fn reload_if_changed(&self, db: &DatabaseConnection) -> Result<bool, DbErr> {
        let stored = db::get_setting(db, VERSION_KEY).await?.unwrap_or_default();
        if stored == self.snapshot().version {
            return Ok(false);
        }
        self.reload(db).await?;
        Ok(true)
    }

    /// Does the user hold `permission` (`module:action`) in the tenant?
    pub fn allows(&self, user_id: i64, tenant_id: i64, permission: &str) -> bool {
        let Some((obj, act)) = permission.split_once(':') else {
            return false;
        };
        let snapshot = self.snapshot();
        let key = (user_id, tenant_id, permission.to_string());
        if let Some(allowed) = snapshot.decisions.get(&key) {
            return allowed;
        }
        let allowed = snapshot
            .enforcer
            .enforce((subject(user_id), domain(tenant_id), obj, act))
            .unwrap_or(false);
        snapshot.decisions.insert(key, allowed);
        allowed
    }

    pub fn roles_of(&self, user_id: i64) -> Vec<String> {
        self.snapshot()
            .user_roles
            .get(&user_id)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn permissions_of(&self, user_id: i64) -> Vec<String> {
        let snapshot = self.snapshot();
        let mut all = BTreeSet::new();
        for role in snapshot.user_roles.get(&user_id).into_iter().flatten() {
            if let Some(perms) = snapshot.role_permissions.get(role) {
                all.extend(perms.iter().cloned());
            }
        }
        all.into_iter().collect()
    }

    pub fn permissions_of_role(&self, role: &str) -> Vec<String> {
        self.snapshot()
            .role_permissions
            .get(role)
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Makes `role_permissions` hold exactly `grants` (the permissions the kernel and the
/// modules declare, with their default roles): missing grants are added, grants of
/// permissions no longer declared are removed. Run at start by every replica; safe
/// when several do it at once. Bumps the version when something changed, so running
/// replicas reload.
pub async fn sync_grants(
    db: &DatabaseConnection,
    grants: &[(&'static str, &'static str)],
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::OnConflict;
    use sea_orm::{QueryFilter, Set};

    let txn = crate::db::begin_write(db).await?;
    let held: BTreeSet<(String, String)> = role_permission::Entity::find()
        .all(&txn)
        .await?
        .into_iter()
        .map(|r| (r.role, r.permission))
        .collect();
    let wanted: BTreeSet<(String, String)> = grants
        .iter()
        .map(|(r, p)| (r.to_string(), p.to_string()))
        .collect();
    let mut changed = false;
    for (role, permission) in wanted.difference(&held) {
        let row = role_permission::ActiveModel {
            role: Set(role.clone()),
            permission: Set(permission.clone()),
        };
        role_permission::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    role_permission::Column::Role,
                    role_permission::Column::Permission,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        changed = true;
    }
    for (role, permission) in held.difference(&wanted) {
        role_permission::Entity::delete_many()
            .filter(sea_orm::ColumnTrait::eq(
                &role_permission::Column::Role,
                role,
            ))
            .filter(sea_orm::ColumnTrait::eq(
                &role_permission::Column::Permission,
                permission,
            ))
            .exec(&txn)
            .await?;
        changed = true;
    }
    if changed {
        bump_version(&txn).await?;
    }
    txn.commit().await?;
    Ok(changed)
}

/// Records that policies changed; call inside the transaction that changed them.
pub async fn bump_version<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    // A fresh random value rather than a counter: two concurrent changes can never
    // write the same version and hide one from the pollers.
    db::set_setting(db, VERSION_KEY, &uuid::Uuid::new_v4().to_string()).await
}

async fn build(db: &DatabaseConnection) -> Result<Snapshot, DbErr> {
    let version = db::get_setting(db, VERSION_KEY).await?.unwrap_or_default();
    let permissions = role_permission::Entity::find().all(db).await?;
    let assignments = user_role::Entity::find().all(db).await?;

    let mut role_permissions: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut policies = Vec::with_capacity(permissions.len());
    for row in permissions {
        if let Some((obj, act)) = row.permission.split_once(':') {
            policies.push(vec![row.role.clone(), obj.to_string(), act.to_string()]);
        }
        role_permissions
            .entry(row.role)
            .or_default()
            .insert(row.permission);
    }
    let mut user_roles: HashMap<i64, BTreeSet<String>> = HashMap::new();
    let mut groupings = Vec::with_capacity(assignments.len());
    for row in assignments {
        groupings.push(vec![
            subject(row.user_id),
            row.role.clone(),
            domain(row.tenant_id),
        ]);
        user_roles.entry(row.user_id).or_default().insert(row.role);
    }

    let casbin_err = |e: casbin::Error| DbErr::Custom(format!("casbin: {e}"));
    let model = DefaultModel::from_str(MODEL).await.map_err(casbin_err)?;
    let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
        .await
        .map_err(casbin_err)?;
    enforcer.enable_auto_save(false);
    if !policies.is_empty() {
        enforcer.add_policies(policies).await.map_err(casbin_err)?;
    }
    if !groupings.is_empty() {
        enforcer
            .add_grouping_policies(groupings)
            .await
            .map_err(casbin_err)?;
    }
    Ok(Snapshot {
        version,
        enforcer,
        decisions: Decisions::new(REMEMBERED_DECISIONS),
        role_permissions,
        user_roles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopops_migrations::{Migrator, MigratorTrait};

    #[tokio::test]
    async fn grants_follow_the_declarations_and_a_change_bumps_the_version() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        let declared = crate::module::Declarations::of(&[]);
        let grants = declared.grants();
        assert!(grants.len() > 20, "{}", grants.len());
        assert!(sync_grants(&db, &grants).await.unwrap());
        let version = db::get_setting(&db, VERSION_KEY).await.unwrap();
        assert!(
            !sync_grants(&db, &grants).await.unwrap(),
            "nothing to change"
        );
        assert_eq!(db::get_setting(&db, VERSION_KEY).await.unwrap(), version);
        let rbac = Rbac::load(&db).await.unwrap();
        assert!(rbac
            .permissions_of_role("viewer")
            .contains(&"audit:read".to_string()));
        // A permission no longer declared loses its grants.
        let fewer: Vec<_> = grants
            .into_iter()
            .filter(|(_, p)| *p != "audit:read")
            .collect();
        assert!(sync_grants(&db, &fewer).await.unwrap());
        rbac.reload(&db).await.unwrap();
        assert!(!rbac
            .permissions_of_role("viewer")
            .contains(&"audit:read".to_string()));
        assert_ne!(db::get_setting(&db, VERSION_KEY).await.unwrap(), version);
    }

    #[tokio::test]
    async fn a_remembered_decision_does_not_outlive_a_role_change() {
        use sea_orm::{ActiveModelTrait, ModelTrait, Set};
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        let grants = crate::module::Declarations::of(&[]).grants();
        sync_grants(&db, &grants).await.unwrap();
        let row = user_role::ActiveModel {
            user_id: Set(7),
            role: Set("viewer".into()),
            tenant_id: Set(3),
        }
        .insert(&db)
        .await
        .unwrap();
        bump_version(&db).await.unwrap();
        let rbac = Rbac::load(&db).await.unwrap();
        for _ in 0..2 {
            assert!(rbac.allows(7, 3, "audit:read"), "granted by the role");
            assert!(!rbac.allows(7, 4, "audit:read"), "another tenant");
            assert!(!rbac.allows(7, 3, "users:delete"), "not a viewer's");
            assert!(!rbac.allows(7, 3, "no-colon"), "malformed");
        }
        // The role goes: the next snapshot decides afresh.
        row.delete(&db).await.unwrap();
        bump_version(&db).await.unwrap();
        assert!(rbac.reload_if_changed(&db).await.unwrap());
        assert!(!rbac.allows(7, 3, "audit:read"));
    }
}
