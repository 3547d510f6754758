DROP INDEX audit_log_time;
DROP TABLE credential_addresses;
