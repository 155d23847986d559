-- Admin user tracking (the admin secret), local certificates and offline security policies.

ALTER TABLE users ADD COLUMN is_system_user BOOLEAN DEFAULT false;
ALTER TABLE users ADD COLUMN password_source VARCHAR(50) DEFAULT 'manual'; -- 'manual' or 'secret'
ALTER TABLE users ADD CONSTRAINT users_password_source_check CHECK (password_source IN ('manual', 'secret'));

-- Audit trail of admin password changes (never the password itself)
CREATE TABLE admin_password_changes (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES users (id) ON DELETE CASCADE,
    changed_via VARCHAR(50), -- 'secret_update', 'manual_change'
    changed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    ip_address VARCHAR(45),
    user_agent TEXT,
    CONSTRAINT admin_password_changes_via_check CHECK (changed_via IN ('secret_update', 'manual_change'))
);
CREATE INDEX admin_password_changes_user_time_idx ON admin_password_changes (user_id, changed_at);

CREATE TABLE local_certificates (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    certificate_name VARCHAR(255) NOT NULL,
    certificate_type VARCHAR(50),
    pem_data TEXT NOT NULL,
    private_key_path TEXT, -- a path, never key material
    issuer VARCHAR(255),
    subject VARCHAR(255),
    valid_from TIMESTAMP NOT NULL,
    valid_until TIMESTAMP NOT NULL,
    status VARCHAR(20) DEFAULT 'active',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT local_certificates_validity_check CHECK (valid_until > valid_from),
    CONSTRAINT local_certificates_status_check CHECK (status IN ('active', 'expired', 'revoked', 'superseded')),
    CONSTRAINT local_certificates_no_key_material_check CHECK (pem_data NOT LIKE '%PRIVATE KEY%')
);
CREATE INDEX local_certificates_name_idx ON local_certificates (certificate_name);
CREATE INDEX local_certificates_valid_until_idx ON local_certificates (valid_until) WHERE status = 'active';

CREATE TABLE offline_security_policies (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_name VARCHAR(255) NOT NULL,
    policy_type VARCHAR(50),
    policy_rules JSONB,
    enforcement_level VARCHAR(20),
    last_updated TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    created_by UUID REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT offline_security_policies_name_key UNIQUE (policy_name),
    CONSTRAINT offline_security_policies_enforcement_check
        CHECK (enforcement_level IN ('enforce', 'warn', 'audit', 'disabled'))
);
