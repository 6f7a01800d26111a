//! Organizations: creating one (its creator becomes the owner), reading and updating it.

use kernel::audit::{self, AuditEntry, changes_of};
use kernel::auth::{OrgScope, Role};
use kernel::id::{OrgId, UserId};
use kernel::time::now;
use kernel::{AppError, AppResult};
use serde_json::json;

use super::IdentityService;
use crate::domain;
use crate::events::{ORG_CREATED, OrgCreated};
use crate::model::{CreateOrg, Organization, UpdateOrg};
use crate::store::orgs as store;

impl IdentityService {
    pub async fn create_org(&self, user: UserId, req: CreateOrg) -> AppResult<Organization> {
        let name = domain::required_text("name", &req.name, domain::ORG_NAME_MAX)?;
        let slug = match &req.slug {
            Some(s) => domain::slug("slug", s)?,
            None => domain::slugify(&name),
        };
        let description = domain::optional_text("description", req.description.as_deref(), domain::DESCRIPTION_MAX)?;
        let website = domain::optional_url("website", req.website.as_deref())?;
        let id = OrgId::new();
        let row = store::NewOrg {
            id,
            name: &name,
            slug: &slug,
            description: description.as_deref(),
            website: website.as_deref(),
            created_by: user,
            at: now(),
        };
        let mut tx = self.db().begin().await?;
        if !store::insert_org_with_owner(&mut tx, &row).await? {
            return Err(AppError::conflict("slug_taken", format!("the slug `{slug}` is taken; choose another")));
        }
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(id),
                action: "org.created",
                resource_type: "organization",
                resource_id: id.to_string(),
                changes: json!({ "name": name, "slug": slug }),
            },
        )
        .await?;
        self.publish(&mut tx, &ORG_CREATED, &OrgCreated { org_id: id, name: name.clone(), created_by: user }).await?;
        self.kernel.commit(tx).await?;
        // The id was made above, not taken from the request, and `user` now owns it.
        self.org_as(&OrgScope::platform(id), Some(Role::Owner)).await
    }

    /// The organization of the scope, with the caller's role.
    pub async fn org(&self, scope: &OrgScope) -> AppResult<Organization> {
        self.org_as(scope, Some(scope.role())).await
    }

    /// The organization of the scope, with `my_role` as given (a platform scope's role is
    /// nobody's).
    pub(super) async fn org_as(&self, scope: &OrgScope, my_role: Option<Role>) -> AppResult<Organization> {
        let org = store::org(self.db(), scope).await?.ok_or(AppError::not_found("organization"))?;
        Ok(Organization { my_role, ..org })
    }

    /// The organizations the user belongs to, in the order they joined.
    pub async fn my_orgs(&self, user: UserId) -> AppResult<Vec<Organization>> {
        store::orgs_of_user(self.db(), user).await
    }

    /// Updates the organization (the caller must be admin; the handler checks).
    pub async fn update_org(&self, scope: &OrgScope, req: UpdateOrg) -> AppResult<Organization> {
        let cur = self.org(scope).await?;
        let name = match &req.name {
            Some(n) => domain::required_text("name", n, domain::ORG_NAME_MAX)?,
            None => cur.name,
        };
        let slug = match &req.slug {
            Some(s) => domain::slug("slug", s)?,
            None => cur.slug,
        };
        let description = if req.description.is_some() {
            domain::optional_text("description", req.description.as_deref(), domain::DESCRIPTION_MAX)?
        } else {
            cur.description
        };
        let website = if req.website.is_some() { domain::optional_url("website", req.website.as_deref())? } else { cur.website };
        let fields =
            store::OrgFields { name: &name, slug: &slug, description: description.as_deref(), website: website.as_deref() };
        let mut tx = self.db().begin().await?;
        store::update_org(&mut tx, scope, &fields, now()).await.map_err(|e| match e {
            AppError::Conflict { .. } => AppError::conflict("slug_taken", "that slug is taken"),
            other => other,
        })?;
        audit::record(
            &mut tx,
            AuditEntry {
                org_id: Some(scope.org()),
                action: "org.updated",
                resource_type: "organization",
                resource_id: scope.org().to_string(),
                changes: changes_of(&req),
            },
        )
        .await?;
        self.kernel.commit(tx).await?;
        self.org(scope).await
    }
}
