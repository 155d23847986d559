-- The air-gapped deployment epic: deployments and what they installed, local models, caches,
-- jobs, certificates, security configuration, resources, docs, help and validation.
-- Column lists as the epic specifies them; keys, references, checks and indexes added where
-- kubechat's queries need them.

CREATE TABLE airgap_deployments (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    deployment_name VARCHAR(255) NOT NULL,
    version VARCHAR(50) NOT NULL,
    deployment_type VARCHAR(50),
    installation_path TEXT,
    configuration JSONB,
    status VARCHAR(20) DEFAULT 'pending',
    installed_at TIMESTAMP,
    last_health_check TIMESTAMP,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT airgap_deployments_status_check
        CHECK (status IN ('pending', 'installed', 'failed', 'uninstalled')),
    -- an installed deployment says when
    CONSTRAINT airgap_deployments_installed_at_check
        CHECK (status <> 'installed' OR installed_at IS NOT NULL)
);
-- rollback protection and history: "highest installed version of bundle X"
CREATE INDEX airgap_deployments_name_status_idx ON airgap_deployments (deployment_name, status);
CREATE INDEX airgap_deployments_created_at_idx ON airgap_deployments (created_at);

CREATE TABLE offline_packages (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- the install that brought the package (added: the epic lists packages without their deployment)
    deployment_id UUID REFERENCES airgap_deployments (id) ON DELETE CASCADE,
    package_name VARCHAR(255) NOT NULL,
    package_version VARCHAR(50) NOT NULL,
    package_type VARCHAR(50),
    file_path TEXT,
    checksum VARCHAR(64),
    size_bytes BIGINT,
    dependencies JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT offline_packages_type_check CHECK (package_type IN ('image', 'chart', 'model', 'file')),
    CONSTRAINT offline_packages_checksum_check CHECK (checksum ~ '^[0-9a-f]{64}$'),
    CONSTRAINT offline_packages_size_check CHECK (size_bytes >= 0),
    CONSTRAINT offline_packages_deployment_package_key
        UNIQUE (deployment_id, package_type, package_name, package_version)
);
CREATE INDEX offline_packages_name_idx ON offline_packages (package_name, package_version);
CREATE INDEX offline_packages_checksum_idx ON offline_packages (checksum);

CREATE TABLE local_ai_models (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    model_name VARCHAR(255) NOT NULL,
    model_version VARCHAR(50),
    model_type VARCHAR(50),
    file_path TEXT,
    file_size BIGINT,
    checksum VARCHAR(64),
    status VARCHAR(20) DEFAULT 'available',
    loaded_at TIMESTAMP,
    last_used TIMESTAMP,
    usage_count INTEGER DEFAULT 0,
    resource_requirements JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT local_ai_models_name_version_key UNIQUE (model_name, model_version),
    CONSTRAINT local_ai_models_status_check
        CHECK (status IN ('available', 'loading', 'loaded', 'unavailable', 'failed', 'retired')),
    CONSTRAINT local_ai_models_usage_count_check CHECK (usage_count >= 0),
    CONSTRAINT local_ai_models_file_size_check CHECK (file_size >= 0)
);

CREATE TABLE ai_inference_logs (
    id BIGSERIAL PRIMARY KEY,
    model_id UUID REFERENCES local_ai_models (id) ON DELETE SET NULL,
    user_id UUID REFERENCES users (id) ON DELETE SET NULL,
    query_text TEXT NOT NULL,
    response_text TEXT,
    response_time_ms INTEGER,
    tokens_used INTEGER,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    session_id UUID,
    CONSTRAINT ai_inference_logs_response_time_check CHECK (response_time_ms >= 0),
    CONSTRAINT ai_inference_logs_tokens_check CHECK (tokens_used >= 0)
);
CREATE INDEX ai_inference_logs_model_time_idx ON ai_inference_logs (model_id, timestamp);
CREATE INDEX ai_inference_logs_user_time_idx ON ai_inference_logs (user_id, timestamp);
CREATE INDEX ai_inference_logs_session_idx ON ai_inference_logs (session_id);

CREATE TABLE model_catalog (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    model_name VARCHAR(255) NOT NULL,
    display_name VARCHAR(255),
    description TEXT,
    version VARCHAR(50) NOT NULL,
    author VARCHAR(255),
    license VARCHAR(100),
    size_bytes BIGINT,
    checksum VARCHAR(64),
    digital_signature TEXT,
    metadata JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT model_catalog_model_name_version_key UNIQUE (model_name, version),
    CONSTRAINT model_catalog_size_check CHECK (size_bytes >= 0)
);

CREATE TABLE model_distributions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    catalog_id UUID REFERENCES model_catalog (id) ON DELETE CASCADE,
    distribution_method VARCHAR(50),
    package_path TEXT,
    distributed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    distributed_by UUID REFERENCES users (id) ON DELETE SET NULL,
    distribution_status VARCHAR(20) DEFAULT 'pending',
    CONSTRAINT model_distributions_status_check
        CHECK (distribution_status IN ('pending', 'in_progress', 'completed', 'failed'))
);
CREATE INDEX model_distributions_catalog_idx ON model_distributions (catalog_id);

CREATE TABLE local_cache (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    cache_key VARCHAR(255) UNIQUE NOT NULL,
    cache_value JSONB,
    cache_type VARCHAR(50),
    ttl_seconds INTEGER,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMP,
    hit_count INTEGER DEFAULT 0,
    last_accessed TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT local_cache_ttl_check CHECK (ttl_seconds >= 0),
    CONSTRAINT local_cache_hit_count_check CHECK (hit_count >= 0)
);
-- expiry sweeps
CREATE INDEX local_cache_expires_at_idx ON local_cache (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE processing_jobs (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    job_type VARCHAR(100) NOT NULL,
    job_data JSONB,
    status VARCHAR(20) DEFAULT 'pending',
    priority INTEGER DEFAULT 5,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    error_message TEXT,
    retry_count INTEGER DEFAULT 0,
    CONSTRAINT processing_jobs_status_check CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    CONSTRAINT processing_jobs_retry_count_check CHECK (retry_count >= 0)
);
-- workers pick the next job by status and priority
CREATE INDEX processing_jobs_status_priority_idx ON processing_jobs (status, priority, created_at);
-- the install resume journal: one job per artifact key per install identity
CREATE UNIQUE INDEX processing_jobs_install_key_idx
    ON processing_jobs ((job_data ->> 'install'), (job_data ->> 'key'))
    WHERE job_data ? 'install';

CREATE TABLE airgap_certificates (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    cert_name VARCHAR(255) NOT NULL,
    cert_type VARCHAR(20) DEFAULT 'tls',
    pem_data TEXT NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_until TIMESTAMP NOT NULL,
    status VARCHAR(20) DEFAULT 'active',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT airgap_certificates_validity_check CHECK (valid_until > valid_from),
    CONSTRAINT airgap_certificates_status_check CHECK (status IN ('active', 'expired', 'revoked', 'superseded'))
);
CREATE INDEX airgap_certificates_name_idx ON airgap_certificates (cert_name);
-- renewal: what expires next
CREATE INDEX airgap_certificates_valid_until_idx ON airgap_certificates (valid_until) WHERE status = 'active';

CREATE TABLE airgap_security_config (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    config_key VARCHAR(100) NOT NULL UNIQUE,
    config_value TEXT,
    description TEXT,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE resource_allocations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    resource_type VARCHAR(50) NOT NULL,
    allocated_to VARCHAR(255),
    allocation_amount DECIMAL(10,2),
    allocation_unit VARCHAR(20),
    allocated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    released_at TIMESTAMP,
    status VARCHAR(20) DEFAULT 'active',
    CONSTRAINT resource_allocations_amount_check CHECK (allocation_amount >= 0),
    CONSTRAINT resource_allocations_status_check CHECK (status IN ('active', 'released'))
);
CREATE INDEX resource_allocations_active_idx ON resource_allocations (resource_type, allocated_to)
    WHERE status = 'active';

CREATE TABLE performance_metrics (
    id BIGSERIAL PRIMARY KEY,
    metric_name VARCHAR(100) NOT NULL,
    metric_value DECIMAL(15,4),
    metric_unit VARCHAR(20),
    resource_id UUID,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    tags JSONB
);
CREATE INDEX performance_metrics_name_time_idx ON performance_metrics (metric_name, timestamp);
CREATE INDEX performance_metrics_resource_time_idx ON performance_metrics (resource_id, timestamp);

CREATE TABLE offline_documentation (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    doc_title VARCHAR(255) NOT NULL,
    doc_category VARCHAR(100),
    doc_content TEXT NOT NULL,
    doc_format VARCHAR(20),
    searchable_text TEXT,
    version VARCHAR(50),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX offline_documentation_category_idx ON offline_documentation (doc_category);
-- offline full-text search over the docs
CREATE INDEX offline_documentation_search_idx ON offline_documentation
    USING gin (to_tsvector('simple', coalesce(doc_title, '') || ' ' || coalesce(searchable_text, '')));

CREATE TABLE help_interactions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES users (id) ON DELETE SET NULL,
    query TEXT NOT NULL,
    doc_id UUID REFERENCES offline_documentation (id) ON DELETE SET NULL,
    interaction_type VARCHAR(50),
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX help_interactions_user_idx ON help_interactions (user_id);
CREATE INDEX help_interactions_doc_idx ON help_interactions (doc_id);

CREATE TABLE airgap_tests (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    test_name VARCHAR(255) NOT NULL,
    test_category VARCHAR(100),
    test_status VARCHAR(20),
    test_results JSONB,
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    duration_ms INTEGER,
    created_by UUID REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT airgap_tests_status_check
        CHECK (test_status IN ('pending', 'running', 'passed', 'failed', 'skipped', 'error')),
    CONSTRAINT airgap_tests_duration_check CHECK (duration_ms >= 0)
);
CREATE INDEX airgap_tests_name_started_idx ON airgap_tests (test_name, started_at);
CREATE INDEX airgap_tests_created_by_idx ON airgap_tests (created_by);

CREATE TABLE validation_reports (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    deployment_id UUID REFERENCES airgap_deployments (id) ON DELETE CASCADE,
    validation_type VARCHAR(100),
    validation_results JSONB,
    passed BOOLEAN,
    generated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX validation_reports_deployment_idx ON validation_reports (deployment_id, generated_at);
