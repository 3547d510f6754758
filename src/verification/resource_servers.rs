//! Platform resource servers (introspection callers) by secret hash: few, and they introspect
//! often, so each is read from the database once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::credentials::SecretHash;
use crate::db::resource_servers::{self, ResourceServer};
use crate::db::{self, DbPool};
use crate::error::AppError;

/// Resource servers by secret hash; there are few, and they introspect often.
#[derive(Default)]
pub struct ResourceServers(RwLock<HashMap<SecretHash, Arc<ResourceServer>>>);

impl ResourceServers {
    pub async fn find(
        &self,
        pool: &DbPool,
        hash: SecretHash,
    ) -> Result<Option<Arc<ResourceServer>>, AppError> {
        if let Some(found) = self.0.read().ok().and_then(|m| m.get(&hash).cloned()) {
            return Ok(Some(found));
        }
        let hex = hash.to_hex();
        let Some(found) = db::run(pool, move |conn| Ok(resource_servers::find_by_hash(conn, &hex)?)).await?
        else {
            return Ok(None);
        };
        let found = Arc::new(found);
        if let Ok(mut cache) = self.0.write() {
            cache.insert(hash, found.clone());
        }
        Ok(Some(found))
    }
}
