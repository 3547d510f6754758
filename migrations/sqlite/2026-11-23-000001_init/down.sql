DROP TABLE audit_log;
DROP TABLE credential_usage_daily;
DROP TABLE credentials;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE organizations;
