// One schema for both backends; the two migration folders must keep it true.

diesel::table! {
    organizations (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        plan -> Text,
        credential_cap -> Nullable<Integer>,
        api_access -> Bool,
        max_lifetime_days -> Nullable<Integer>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        display_name -> Text,
        oidc_issuer -> Nullable<Text>,
        oidc_subject -> Nullable<Text>,
        is_operator -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    memberships (org_id, user_id) {
        org_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    credentials (id) {
        id -> Text,
        org_id -> Text,
        kind -> Text,
        name -> Text,
        description -> Nullable<Text>,
        secret_hash -> Text,
        display_prefix -> Text,
        grants -> Text,
        passphrase_hash -> Nullable<Text>,
        active -> Bool,
        rate_limit_per_minute -> Nullable<Integer>,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        created_by -> Text,
        owner_user_id -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
        rotated_from -> Nullable<Text>,
        last_used_at -> Nullable<Timestamp>,
        last_used_ip -> Nullable<Text>,
        usage_count -> BigInt,
    }
}

diesel::table! {
    credential_usage_daily (credential_id, day) {
        credential_id -> Text,
        day -> Date,
        request_count -> BigInt,
        failed_count -> BigInt,
    }
}

diesel::table! {
    credential_addresses (credential_id, ip) {
        credential_id -> Text,
        ip -> Text,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    resource_servers (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        display_prefix -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        occurred_at -> Timestamp,
        org_id -> Nullable<Text>,
        actor_user_id -> Nullable<Text>,
        actor_credential_id -> Nullable<Text>,
        actor_label -> Text,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        target_label -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        details -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        public_id -> Text,
        user_id -> Nullable<Text>,
        state -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    change_feed (seq) {
        seq -> BigInt,
        kind -> Text,
        subject_id -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::joinable!(memberships -> organizations (org_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(credentials -> organizations (org_id));
diesel::joinable!(credential_usage_daily -> credentials (credential_id));
diesel::joinable!(credential_addresses -> credentials (credential_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    users,
    memberships,
    credentials,
    credential_usage_daily,
    credential_addresses,
    resource_servers,
    audit_log,
    sessions,
    change_feed,
);
