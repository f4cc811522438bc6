//! Where the HCP Packer calls go: the organization and project given, else
//! the only organization the service principal sees and its oldest project.

use super::SERVICE;
use super::api::{Client, Page, Pagination, page};
use crate::remote::Failure;
use serde::Deserialize;
use std::ops::ControlFlow;

/// Resource-manager API prefix.
const RM: [&str; 2] = ["resource-manager", "2019-12-10"];
#[derive(Deserialize)]
struct Organization {
    id: String,
}

#[derive(Deserialize)]
struct OrganizationList {
    #[serde(default)]
    organizations: Vec<Organization>,
    #[serde(default)]
    pagination: Option<Pagination>,
}
page!(OrganizationList);

#[derive(Deserialize)]
struct Project {
    id: String,
    #[serde(default)]
    created_at: String,
    /// `ACTIVE`, `CREATING`, `DELETING`, ... (resource-manager's ProjectState).
    #[serde(default)]
    state: String,
}

#[derive(Deserialize)]
struct ProjectList {
    #[serde(default)]
    projects: Vec<Project>,
    #[serde(default)]
    pagination: Option<Pagination>,
}
page!(ProjectList);

impl Client {
    /// The organization and project: the given ones, else the only
    /// organization the principal sees and its oldest project.
    pub async fn resolve_location(
        &self,
        org: Option<&str>,
        project: Option<&str>,
    ) -> Result<(String, String), Failure> {
        let org = match org {
            Some(o) => o.to_string(),
            None => self.only_organization().await?,
        };
        let project = match project {
            Some(p) => p.to_string(),
            None => self.oldest_project(&org).await?,
        };
        Ok((org, project))
    }

    async fn only_organization(&self) -> Result<String, Failure> {
        let what = "find the HCP organization";
        let mut orgs = Vec::new();
        let path = [RM[0], RM[1], "organizations"];
        let more = self
            .pages(&path, &[], what, |page: OrganizationList| {
                orgs.extend(page.organizations.into_iter().filter(|o| !o.id.is_empty()));
                if orgs.len() > 1 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })
            .await
            .map_err(|mut f| {
                if f.status == Some(403) {
                    f.errors.push("the service principal cannot list organizations: set hcp-organization-id (HCP_ORGANIZATION_ID) and hcp-project-id (HCP_PROJECT_ID)".into());
                }
                f
            })?;
        match orgs.as_slice() {
            [one] if !more => Ok(one.id.clone()),
            [] => Err(Failure::status(SERVICE, what, 200, vec!["the service principal sees no organization: set hcp-organization-id (HCP_ORGANIZATION_ID)".into()])),
            _ => Err(Failure::status(
                SERVICE,
                what,
                200,
                vec!["the service principal sees more than one organization: set hcp-organization-id (HCP_ORGANIZATION_ID)".into()],
            )),
        }
    }

    async fn oldest_project(&self, org: &str) -> Result<String, Failure> {
        let what = format!("find the oldest project of HCP organization {org}");
        let what = what.as_str();
        let mut projects = Vec::new();
        let path = [RM[0], RM[1], "projects"];
        let query = [("scope.type", "ORGANIZATION"), ("scope.id", org)];
        self.pages(&path, &query, what, |page: ProjectList| {
            projects.extend(page.projects.into_iter().filter(|p| !p.id.is_empty()));
            ControlFlow::Continue(())
        })
        .await
        .map_err(|mut f| {
            if f.status == Some(403) {
                f.errors.push("the service principal cannot list the organization's projects (a project-level service principal?): set hcp-project-id (HCP_PROJECT_ID)".into());
            }
            f
        })?;
        // A project being created or deleted is never chosen while an
        // active one exists (an answer without states is taken as is).
        if projects.iter().any(|p| p.state == "ACTIVE") {
            projects.retain(|p| p.state == "ACTIVE");
        }
        projects
            .iter()
            .min_by_key(|p| {
                let t = crate::time::rfc3339(&p.created_at);
                (t.is_none(), t)
            })
            .map(|p| p.id.clone())
            .ok_or_else(|| {
                Failure::status(
                    SERVICE,
                    what,
                    200,
                    vec!["the organization has no project: set hcp-project-id (HCP_PROJECT_ID)".into()],
                )
            })
    }
}
