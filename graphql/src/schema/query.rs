//! The beds context's queries: sites, wards, the bed board and capacity.

use async_graphql::{Context, ID, Object};

use super::types::{Bed, Capacity, Site, SystemCapacity, Ward, reader};
use super::viewer;
use super::virtualwards::virtual_capacity;
use crate::error::{ApiError, GqlError};

/// The beds context's queries.
#[derive(Default)]
pub struct BedsQuery;

#[Object]
impl BedsQuery {
    /// Every hospital site.
    async fn sites(&self, ctx: &Context<'_>) -> Result<Vec<Site>, GqlError> {
        viewer(ctx)?;
        Ok(reader(ctx)?.sites().await?.into_iter().map(Site).collect())
    }

    /// One site.
    async fn site(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Site>, GqlError> {
        viewer(ctx)?;
        Ok(reader(ctx)?.sites().await?.into_iter().find(|s| s.site_id == *id).map(Site))
    }

    /// Every ward, or those of one site.
    async fn wards(&self, ctx: &Context<'_>, site_id: Option<ID>) -> Result<Vec<Ward>, GqlError> {
        viewer(ctx)?;
        Ok(reader(ctx)?.wards(site_id.as_ref().map(|id| id.as_str())).await?.into_iter().map(Ward).collect())
    }

    /// One ward.
    async fn ward(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Ward>, GqlError> {
        viewer(ctx)?;
        Ok(reader(ctx)?.ward(&id).await?.map(Ward))
    }

    /// A ward's bed board: every bed with its state and patient.
    async fn bed_board(&self, ctx: &Context<'_>, ward_id: ID) -> Result<Vec<Bed>, GqlError> {
        viewer(ctx)?;
        let beds = reader(ctx)?.bed_board(&ward_id).await?;
        let beds = beds.ok_or_else(|| ApiError::NotFound(format!("ward {} does not exist", *ward_id)))?;
        Ok(beds.into_iter().map(Bed).collect())
    }

    /// One bed.
    async fn bed(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Bed>, GqlError> {
        viewer(ctx)?;
        Ok(reader(ctx)?.bed(&id).await?.map(Bed))
    }

    /// A ward's capacity.
    async fn ward_capacity(&self, ctx: &Context<'_>, ward_id: ID) -> Result<Capacity, GqlError> {
        viewer(ctx)?;
        let capacity = reader(ctx)?.ward_capacity(&ward_id).await?;
        Ok(capacity
            .map(Into::into)
            .ok_or_else(|| ApiError::NotFound(format!("ward {} does not exist", *ward_id)))?)
    }

    /// Beds and virtual beds across every site: one capacity view of the system.
    async fn system_capacity(&self, ctx: &Context<'_>) -> Result<SystemCapacity, GqlError> {
        viewer(ctx)?;
        let reader = reader(ctx)?;
        let mut beds = Capacity::default();
        for site in reader.sites().await? {
            beds = beds + reader.site_capacity(&site.site_id).await?.unwrap_or_default().into();
        }
        Ok(SystemCapacity { beds, virtual_beds: virtual_capacity(ctx, None).await? })
    }

    /// A site's capacity.
    async fn site_capacity(&self, ctx: &Context<'_>, site_id: ID) -> Result<Capacity, GqlError> {
        viewer(ctx)?;
        let capacity = reader(ctx)?.site_capacity(&site_id).await?;
        Ok(capacity
            .map(Into::into)
            .ok_or_else(|| ApiError::NotFound(format!("site {} does not exist", *site_id)))?)
    }
}
