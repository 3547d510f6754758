-- Settings → Members shows when each person last signed in: the newest `auth.sign_in` entry
-- of each member, found without reading the whole audit log.
CREATE INDEX audit_log_actor_action ON audit_log (actor_user_id, action, occurred_at);
