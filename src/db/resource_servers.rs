use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::resource_servers as r;
use super::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = r)]
pub struct ResourceServer {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub display_prefix: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, server: &ResourceServer) -> QueryResult<()> {
    diesel::insert_into(r::table).values(server).execute(conn).map(drop)
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<ResourceServer>> {
    r::table.filter(r::name.eq(name)).select(ResourceServer::as_select()).get_result(conn).optional()
}

pub fn find_by_hash(conn: &mut DbConnection, hash_hex: &str) -> QueryResult<Option<ResourceServer>> {
    r::table
        .filter(r::secret_hash.eq(hash_hex))
        .select(ResourceServer::as_select())
        .get_result(conn)
        .optional()
}
