// Package config loads a LiteLLM Proxy config.yaml strictly.
//
// Switchboard promises to read the same file LiteLLM Proxy reads. The promise
// has two halves: every key LiteLLM documents is accepted (keys Switchboard
// does not act on yet produce a Warning naming them, never silence), and every
// key LiteLLM does not know is an error with its file, line, column and a
// suggestion, because a typo that is silently ignored is a production outage
// waiting to happen. All problems in a file are collected and reported
// together so a user fixes a config in one pass, not one error per restart.
//
// Loading runs in stages: parse every file (following include:), merge the
// sections, resolve os.environ/NAME and ${NAME} references, decode into the
// typed Config below, apply defaults, then validate across sections
// (providers, fallbacks, duplicate ids, ...).
package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is a whole config.yaml after includes, secret resolution and defaults.
type Config struct {
	ModelList       []ModelEntry    `yaml:"model_list"`
	RouterSettings  RouterSettings  `yaml:"router_settings"`
	LiteLLMSettings LiteLLMSettings `yaml:"litellm_settings"`
	GeneralSettings GeneralSettings `yaml:"general_settings"`
	// EnvironmentVariables are exported by LiteLLM at start-up; the app does
	// the same with os.Setenv. They are already visible to secret references
	// in the file.
	EnvironmentVariables map[string]string `yaml:"environment_variables"`
	// Include lists the files pulled in by include: (nested ones too), in
	// load order, named like Files.
	Include []string `yaml:"include"`

	// The remaining LiteLLM sections are parsed loosely (their schemas are
	// large and belong to features Switchboard does not have yet) and
	// produce a "not implemented" warning when present.
	CredentialList      []Credential     `yaml:"credential_list"`
	Guardrails          []map[string]any `yaml:"guardrails"`
	CallbackSettings    map[string]any   `yaml:"callback_settings"`
	MCPServers          map[string]any   `yaml:"mcp_servers"`
	SearchTools         []map[string]any `yaml:"search_tools"`
	AssistantSettings   map[string]any   `yaml:"assistant_settings"`
	FilesSettings       []map[string]any `yaml:"files_settings"`
	FinetuneSettings    []map[string]any `yaml:"finetune_settings"`
	VectorStoreRegistry []map[string]any `yaml:"vector_store_registry"`
	Prompts             []map[string]any `yaml:"prompts"`

	// Files lists every file read, the main one first, for reload watchers
	// and messages.
	Files []string `yaml:"-"`
}

// ModelEntry is one model_list item: a deployment of a model group.
type ModelEntry struct {
	ModelName string        `yaml:"model_name"`
	Params    LiteLLMParams `yaml:"litellm_params"`
	Info      ModelInfo     `yaml:"model_info"`

	// Set by the loader, not read from YAML.
	File          string `yaml:"-"` // file the entry came from
	Line          int    `yaml:"-"` // line of the entry in File
	Provider      string `yaml:"-"` // resolved provider, e.g. "openai"; "*" for a model: "*" catch-all (resolved per request)
	UpstreamModel string `yaml:"-"` // model id after the provider prefix, e.g. "gpt-4o"
	// ID is model_info.id, or else a deterministic hash of model_name and the
	// litellm_params as written (before secrets are resolved, so rotating a
	// key does not change ids and no secret is hashed into a public id).
	ID string `yaml:"-"`
}

// LiteLLMParams are the litellm_params of a deployment: what LiteLLM passes to
// litellm.completion(). Core keys are typed; the other completion kwargs and
// provider-specific keys LiteLLM accepts are kept in Extra.
type LiteLLMParams struct {
	Model         string   `yaml:"model"`
	APIKey        string   `yaml:"api_key"`
	APIBase       string   `yaml:"api_base"`
	APIVersion    string   `yaml:"api_version"`
	Organization  string   `yaml:"organization"`
	Timeout       Duration `yaml:"timeout"`        // whole call; 0 = not set
	StreamTimeout Duration `yaml:"stream_timeout"` // time to first chunk; 0 = not set

	MaxRetries          *int      `yaml:"max_retries"` // provider client retries, not router retries
	RPM                 *int64    `yaml:"rpm"`
	TPM                 *int64    `yaml:"tpm"`
	Weight              *float64  `yaml:"weight"`
	Order               *int      `yaml:"order"`
	MaxParallelRequests *int      `yaml:"max_parallel_requests"`
	CooldownTime        *Duration `yaml:"cooldown_time"`

	InputCostPerToken           *float64 `yaml:"input_cost_per_token"`
	OutputCostPerToken          *float64 `yaml:"output_cost_per_token"`
	InputCostPerSecond          *float64 `yaml:"input_cost_per_second"`
	OutputCostPerSecond         *float64 `yaml:"output_cost_per_second"`
	CacheReadInputTokenCost     *float64 `yaml:"cache_read_input_token_cost"`
	CacheCreationInputTokenCost *float64 `yaml:"cache_creation_input_token_cost"`

	Tags         []string          `yaml:"tags"`
	ExtraHeaders map[string]string `yaml:"extra_headers"`
	RegionName   string            `yaml:"region_name"`
	DropParams   *bool             `yaml:"drop_params"`
	MockResponse *string           `yaml:"mock_response"`

	// Extra holds the known untyped keys (see the model_list.litellm_params
	// entries of features()): completion defaults such as temperature, and
	// provider-specific settings such as aws_region_name. Values are as YAML
	// decodes them: string, int, float64, bool, []any, map[string]any.
	Extra map[string]any `yaml:",inline"`
}

// ModelInfo is a deployment's model_info. LiteLLM treats it as free-form
// metadata returned by /model/info, so unknown keys are kept in Extra.
type ModelInfo struct {
	ID                           string              `yaml:"id"`
	Mode                         string              `yaml:"mode"`
	BaseModel                    string              `yaml:"base_model"`
	MaxInputTokens               *int64              `yaml:"max_input_tokens"`
	MaxOutputTokens              *int64              `yaml:"max_output_tokens"`
	MaxTokens                    *int64              `yaml:"max_tokens"`
	InputCostPerToken            *float64            `yaml:"input_cost_per_token"`
	OutputCostPerToken           *float64            `yaml:"output_cost_per_token"`
	AccessGroups                 []string            `yaml:"access_groups"`
	SupportedEnvironments        []string            `yaml:"supported_environments"`
	HealthCheckTimeout           *Duration           `yaml:"health_check_timeout"`
	HealthCheckMaxTokens         *int                `yaml:"health_check_max_tokens"`
	DisableBackgroundHealthCheck *bool               `yaml:"disable_background_health_check"`
	AllowedFails                 *int                `yaml:"allowed_fails"`
	AllowedFailsPolicy           *AllowedFailsPolicy `yaml:"allowed_fails_policy"`
	CooldownTime                 *Duration           `yaml:"cooldown_time"`

	Extra map[string]any `yaml:",inline"`
}

// Fallbacks is LiteLLM's fallback list: [{"gpt-4": ["gpt-3.5-turbo", "claude"]}].
// A "*" key applies to every model group.
type Fallbacks []map[string][]string

// RetryPolicy sets the number of retries per error class.
type RetryPolicy struct {
	BadRequestErrorRetries             *int `yaml:"BadRequestErrorRetries"`
	AuthenticationErrorRetries         *int `yaml:"AuthenticationErrorRetries"`
	TimeoutErrorRetries                *int `yaml:"TimeoutErrorRetries"`
	RateLimitErrorRetries              *int `yaml:"RateLimitErrorRetries"`
	ContentPolicyViolationErrorRetries *int `yaml:"ContentPolicyViolationErrorRetries"`
	InternalServerErrorRetries         *int `yaml:"InternalServerErrorRetries"`
}

// AllowedFailsPolicy sets, per error class, how many failures a deployment may
// have in a minute before it is cooled down.
type AllowedFailsPolicy struct {
	BadRequestErrorAllowedFails             *int `yaml:"BadRequestErrorAllowedFails"`
	AuthenticationErrorAllowedFails         *int `yaml:"AuthenticationErrorAllowedFails"`
	TimeoutErrorAllowedFails                *int `yaml:"TimeoutErrorAllowedFails"`
	RateLimitErrorAllowedFails              *int `yaml:"RateLimitErrorAllowedFails"`
	ContentPolicyViolationErrorAllowedFails *int `yaml:"ContentPolicyViolationErrorAllowedFails"`
	InternalServerErrorAllowedFails         *int `yaml:"InternalServerErrorAllowedFails"`
}

// ProviderBudget is one provider_budget_config entry: {budget_limit: 100, time_period: 1d}.
type ProviderBudget struct {
	BudgetLimit *float64 `yaml:"budget_limit"`
	TimePeriod  Duration `yaml:"time_period"`
}

// AliasTarget is a model_group_alias value. LiteLLM accepts either a model
// group name or {model: name, hidden: true} (hidden aliases are not listed).
type AliasTarget struct {
	Model  string
	Hidden bool
}

// RouterSettings is router_settings (litellm.md §2.2).
type RouterSettings struct {
	RoutingStrategy     string         `yaml:"routing_strategy"`
	RoutingStrategyArgs map[string]any `yaml:"routing_strategy_args"`

	NumRetries            *int                   `yaml:"num_retries"`
	RetryAfter            *Duration              `yaml:"retry_after"`
	RetryPolicy           *RetryPolicy           `yaml:"retry_policy"`
	ModelGroupRetryPolicy map[string]RetryPolicy `yaml:"model_group_retry_policy"`
	Timeout               Duration               `yaml:"timeout"`
	StreamTimeout         Duration               `yaml:"stream_timeout"`

	Fallbacks              Fallbacks `yaml:"fallbacks"`
	ContextWindowFallbacks Fallbacks `yaml:"context_window_fallbacks"`
	ContentPolicyFallbacks Fallbacks `yaml:"content_policy_fallbacks"`
	DefaultFallbacks       []string  `yaml:"default_fallbacks"`
	MaxFallbacks           *int      `yaml:"max_fallbacks"`

	AllowedFails       *int                `yaml:"allowed_fails"`
	AllowedFailsPolicy *AllowedFailsPolicy `yaml:"allowed_fails_policy"`
	CooldownTime       *Duration           `yaml:"cooldown_time"`
	DisableCooldowns   *bool               `yaml:"disable_cooldowns"`
	// MaxCooldownShare is Switchboard's own (LiteLLM has none): at most this
	// share of a group is cooled down while the rest serve (default 0.5).
	MaxCooldownShare *float64 `yaml:"max_cooldown_share"`

	EnablePreCallChecks   *bool    `yaml:"enable_pre_call_checks"`
	OptionalPreCallChecks []string `yaml:"optional_pre_call_checks"`
	EnableTagFiltering    *bool    `yaml:"enable_tag_filtering"`
	TagFilteringMatchAny  *bool    `yaml:"tag_filtering_match_any"`

	ModelGroupAlias            map[string]AliasTarget `yaml:"model_group_alias"`
	DefaultMaxParallelRequests *int                   `yaml:"default_max_parallel_requests"`

	RedisHost     string         `yaml:"redis_host"`
	RedisPort     *int           `yaml:"redis_port,numstr"` // LiteLLM's docs write it as a string
	RedisPassword string         `yaml:"redis_password"`
	RedisURL      string         `yaml:"redis_url"`
	RedisDB       *int           `yaml:"redis_db,numstr"`
	CacheKwargs   map[string]any `yaml:"cache_kwargs"`

	ProviderBudgetConfig map[string]ProviderBudget `yaml:"provider_budget_config"`
	DefaultLiteLLMParams map[string]any            `yaml:"default_litellm_params"`
	ClientTTL            *Duration                 `yaml:"client_ttl"`
	CacheResponses       *bool                     `yaml:"cache_responses"`
	CachingGroups        [][]string                `yaml:"caching_groups"`

	DeploymentAffinityTTLSeconds     *int           `yaml:"deployment_affinity_ttl_seconds"`
	ModelGroupAffinityConfig         map[string]any `yaml:"model_group_affinity_config"`
	IgnoreInvalidDeployments         *bool          `yaml:"ignore_invalid_deployments"`
	EnableHealthCheckRouting         *bool          `yaml:"enable_health_check_routing"`
	HealthCheckStalenessThreshold    *Duration      `yaml:"health_check_staleness_threshold"`
	HealthCheckIgnoreTransientErrors *bool          `yaml:"health_check_ignore_transient_errors"`
	PollingInterval                  *Duration      `yaml:"polling_interval"`
	DefaultPriority                  *int           `yaml:"default_priority"`
	DebugLevel                       string         `yaml:"debug_level"`
	SetVerbose                       *bool          `yaml:"set_verbose"`

	// SDK-level Router arguments LiteLLM also accepts here.
	RouterGeneralSettings map[string]any   `yaml:"router_general_settings"`
	AlertingConfig        map[string]any   `yaml:"alerting_config"`
	AssistantsConfig      map[string]any   `yaml:"assistants_config"`
	SearchTools           []map[string]any `yaml:"search_tools"`
	GuardrailList         []map[string]any `yaml:"guardrail_list"`
}

// LiteLLMSettings is litellm_settings (litellm.md §2.3): LiteLLM module-level
// settings, including the router keys LiteLLM also accepts here
// (router_settings wins when both are set).
type LiteLLMSettings struct {
	// Callbacks and logging.
	Callbacks                      []string         `yaml:"callbacks"`
	SuccessCallback                []string         `yaml:"success_callback"`
	FailureCallback                []string         `yaml:"failure_callback"`
	ServiceCallbacks               []string         `yaml:"service_callbacks"`
	TurnOffMessageLogging          *bool            `yaml:"turn_off_message_logging"`
	RedactUserAPIKeyInfo           *bool            `yaml:"redact_user_api_key_info"`
	RedactMessagesInExceptions     *bool            `yaml:"redact_messages_in_exceptions"`
	LangfuseDefaultTags            []string         `yaml:"langfuse_default_tags"`
	JSONLogs                       *bool            `yaml:"json_logs"`
	SetVerbose                     *bool            `yaml:"set_verbose"`
	S3CallbackParams               map[string]any   `yaml:"s3_callback_params"`
	PrometheusMetricsConfig        []map[string]any `yaml:"prometheus_metrics_config"`
	CustomPrometheusMetadataLabels []string         `yaml:"custom_prometheus_metadata_labels"`
	GlobalDisableNoLogParam        *bool            `yaml:"global_disable_no_log_param"`
	Telemetry                      *bool            `yaml:"telemetry"`

	// Networking.
	RequestTimeout Duration `yaml:"request_timeout"` // default 6000s, applied after decode
	ForceIPv4      *bool    `yaml:"force_ipv4"`
	SSLVerify      any      `yaml:"ssl_verify"` // bool, or a path to a CA bundle
	SSLCertificate string   `yaml:"ssl_certificate"`
	NetworkMock    *bool    `yaml:"network_mock"`

	// Request parameters.
	DropParams                 *bool `yaml:"drop_params"`
	ModifyParams               *bool `yaml:"modify_params"`
	EnablePreviewFeatures      *bool `yaml:"enable_preview_features"`
	ReturnResponseHeaders      *bool `yaml:"return_response_headers"`
	EnableJSONSchemaValidation *bool `yaml:"enable_json_schema_validation"`

	// Router keys also accepted here (legacy location).
	NumRetries             *int              `yaml:"num_retries"`
	AllowedFails           *int              `yaml:"allowed_fails"`
	Fallbacks              Fallbacks         `yaml:"fallbacks"`
	DefaultFallbacks       []string          `yaml:"default_fallbacks"`
	ContextWindowFallbacks Fallbacks         `yaml:"context_window_fallbacks"`
	ContentPolicyFallbacks Fallbacks         `yaml:"content_policy_fallbacks"`
	ModelAliasMap          map[string]string `yaml:"model_alias_map"`

	// Caching.
	Cache                *bool          `yaml:"cache"`
	CacheParams          map[string]any `yaml:"cache_params"`
	EnableRedisAuthCache *bool          `yaml:"enable_redis_auth_cache"`

	// Budgets and key/user/team defaults.
	MaxBudget                                *float64         `yaml:"max_budget"`
	BudgetDuration                           *Duration        `yaml:"budget_duration"`
	MaxEndUserBudget                         *float64         `yaml:"max_end_user_budget"`
	MaxEndUserBudgetID                       string           `yaml:"max_end_user_budget_id"`
	MaxInternalUserBudget                    *float64         `yaml:"max_internal_user_budget"`
	InternalUserBudgetDuration               *Duration        `yaml:"internal_user_budget_duration"`
	Timezone                                 string           `yaml:"timezone"`
	UpperboundKeyGenerateParams              map[string]any   `yaml:"upperbound_key_generate_params"`
	DefaultKeyGenerateParams                 map[string]any   `yaml:"default_key_generate_params"`
	KeyGenerationSettings                    map[string]any   `yaml:"key_generation_settings"`
	DefaultInternalUserParams                map[string]any   `yaml:"default_internal_user_params"`
	DefaultTeamParams                        map[string]any   `yaml:"default_team_params"`
	DefaultTeamSettings                      []map[string]any `yaml:"default_team_settings"`
	DisableEndUserCostTracking               *bool            `yaml:"disable_end_user_cost_tracking"`
	DisableEndUserCostTrackingPrometheusOnly *bool            `yaml:"disable_end_user_cost_tracking_prometheus_only"`
	CostDiscountConfig                       map[string]any   `yaml:"cost_discount_config"`
	CostMarginConfig                         map[string]any   `yaml:"cost_margin_config"`
	IncludeCostInStreamingUsage              *bool            `yaml:"include_cost_in_streaming_usage"`
	TagBudgetConfig                          map[string]any   `yaml:"tag_budget_config"`
	EnableKeyAliasFormatValidation           *bool            `yaml:"enable_key_alias_format_validation"`

	// Guardrails (old style) and other module settings.
	Guardrails                                    []map[string]any  `yaml:"guardrails"`
	SkipSystemMessageInGuardrail                  *bool             `yaml:"skip_system_message_in_guardrail"`
	RequireAuthForMetricsEndpoint                 *bool             `yaml:"require_auth_for_metrics_endpoint"`
	MCPAliases                                    map[string]string `yaml:"mcp_aliases"`
	DisableHFTokenizerDownload                    *bool             `yaml:"disable_hf_tokenizer_download"`
	DisableAddTransformInlineImageBlock           *bool             `yaml:"disable_add_transform_inline_image_block"`
	UseChatCompletionsURLForAnthropicMessages     *bool             `yaml:"use_chat_completions_url_for_anthropic_messages"`
	DisableCopilotSystemToAssistant               *bool             `yaml:"disable_copilot_system_to_assistant"`
	PriorityReservation                           map[string]any    `yaml:"priority_reservation"`
	CustomProviderMap                             []map[string]any  `yaml:"custom_provider_map"`
	EnableLoadbalancingOnBatchEndpoints           *bool             `yaml:"enable_loadbalancing_on_batch_endpoints"`
	DisableTokenCounter                           *bool             `yaml:"disable_token_counter"`
	StoreAuditLogs                                *bool             `yaml:"store_audit_logs"`
	EnableAzureADTokenRefresh                     *bool             `yaml:"enable_azure_ad_token_refresh"`
	CheckProviderEndpoint                         *bool             `yaml:"check_provider_endpoint"`
	ExtraSpendTagHeaders                          []string          `yaml:"extra_spend_tag_headers"`
	PrometheusInitializeBudgetMetrics             *bool             `yaml:"prometheus_initialize_budget_metrics"`
	EnableCachingOnProviderSpecificOptionalParams *bool             `yaml:"enable_caching_on_provider_specific_optional_params"`
	PublicModelGroups                             []string          `yaml:"public_model_groups"`
}

// GeneralSettings is general_settings (litellm.md §2.4): proxy-level settings.
type GeneralSettings struct {
	// Auth and database.
	MasterKey                     string            `yaml:"master_key"`
	DatabaseURL                   string            `yaml:"database_url"`
	DatabaseConnectionPoolLimit   *int              `yaml:"database_connection_pool_limit"`
	DatabaseConnectionTimeout     *Duration         `yaml:"database_connection_timeout"`
	AllowRequestsOnDBUnavailable  *bool             `yaml:"allow_requests_on_db_unavailable"`
	CustomAuth                    string            `yaml:"custom_auth"`
	CustomAuthRunCommonChecks     *bool             `yaml:"custom_auth_run_common_checks"`
	EnableJWTAuth                 *bool             `yaml:"enable_jwt_auth"`
	LiteLLMJWTAuth                map[string]any    `yaml:"litellm_jwtauth"`
	EnableOAuth2Auth              *bool             `yaml:"enable_oauth2_auth"`
	EnableOAuth2ProxyAuth         *bool             `yaml:"enable_oauth2_proxy_auth"`
	OAuth2ConfigMappings          map[string]string `yaml:"oauth2_config_mappings"`
	LiteLLMKeyHeaderName          string            `yaml:"litellm_key_header_name"`
	UserAPIKeyCacheTTL            *Duration         `yaml:"user_api_key_cache_ttl"`
	AllowedIPs                    []string          `yaml:"allowed_ips"`
	UseXForwardedFor              *bool             `yaml:"use_x_forwarded_for"`
	EnforceUserParam              *bool             `yaml:"enforce_user_param"`
	EnforcedParams                []string          `yaml:"enforced_params"`
	RejectClientsideMetadataTags  *bool             `yaml:"reject_clientside_metadata_tags"`
	AllowClientSideCredentials    *bool             `yaml:"allow_client_side_credentials"`
	AllowedClientSideAPIBaseHosts []string          `yaml:"allowed_client_side_api_base_hosts"` // Switchboard's: hosts a request's own api_base may name
	ForwardClientHeadersToLLMAPI  *bool             `yaml:"forward_client_headers_to_llm_api"`
	ForwardOpenAIOrgID            *bool             `yaml:"forward_openai_org_id"`
	ForwardLLMProviderAuthHeaders *bool             `yaml:"forward_llm_provider_auth_headers"`
	DefaultTeamDisabled           *bool             `yaml:"default_team_disabled"`
	UIAccessMode                  any               `yaml:"ui_access_mode"` // "admin_only" or a mapping
	UserHeaderMappings            any               `yaml:"user_header_mappings"`
	RolePermissions               []map[string]any  `yaml:"role_permissions"`
	EnforceRBAC                   *bool             `yaml:"enforce_rbac"`
	CustomKeyGenerate             string            `yaml:"custom_key_generate"`
	CustomSSO                     string            `yaml:"custom_sso"`
	AllowUserAuth                 *bool             `yaml:"allow_user_auth"`
	DisableMasterKeyReturn        *bool             `yaml:"disable_master_key_return"`
	DisableResponsesIDSecurity    *bool             `yaml:"disable_responses_id_security"`
	ServiceAccountSettings        any               `yaml:"service_account_settings"`
	UserMCPManagementMode         string            `yaml:"user_mcp_management_mode"`
	LiteLLMLicense                string            `yaml:"litellm_license"`

	// Secret managers.
	KeyManagementSystem   string `yaml:"key_management_system"`
	KeyManagementSettings any    `yaml:"key_management_settings"`
	UseAzureKeyVault      *bool  `yaml:"use_azure_key_vault"`
	UseGoogleKMS          *bool  `yaml:"use_google_kms"`

	// Spend and database writes.
	ProxyBatchWriteAt                 *Duration `yaml:"proxy_batch_write_at"`
	ProxyBatchPollingInterval         *Duration `yaml:"proxy_batch_polling_interval"`
	UseRedisTransactionBuffer         *bool     `yaml:"use_redis_transaction_buffer"`
	DisableSpendLogs                  *bool     `yaml:"disable_spend_logs"`
	DisableErrorLogs                  *bool     `yaml:"disable_error_logs"`
	DisableSpendUpdates               *bool     `yaml:"disable_spend_updates"`
	StorePromptsInSpendLogs           *bool     `yaml:"store_prompts_in_spend_logs"`
	MaximumSpendLogsRetentionPeriod   *Duration `yaml:"maximum_spend_logs_retention_period"`
	MaximumSpendLogsRetentionInterval *Duration `yaml:"maximum_spend_logs_retention_interval"`
	MaximumSpendLogsCleanupCron       string    `yaml:"maximum_spend_logs_cleanup_cron"`
	ProxyBudgetReschedulerMinTime     *Duration `yaml:"proxy_budget_rescheduler_min_time"`
	ProxyBudgetReschedulerMaxTime     *Duration `yaml:"proxy_budget_rescheduler_max_time"`
	DisableResetBudget                *bool     `yaml:"disable_reset_budget"`
	TokenRateLimitType                string    `yaml:"token_rate_limit_type"`
	DisableAddingMasterKeyHashToDB    *bool     `yaml:"disable_adding_master_key_hash_to_db"`
	DisablePrismaSchemaUpdate         *bool     `yaml:"disable_prisma_schema_update"`
	StoreModelInDB                    *bool     `yaml:"store_model_in_db"`
	SupportedDBObjects                []string  `yaml:"supported_db_objects"`

	// Concurrency and sizes.
	MaxParallelRequests                        *int  `yaml:"max_parallel_requests"`
	GlobalMaxParallelRequests                  *int  `yaml:"global_max_parallel_requests"`
	DisableRetryOnMaxParallelRequestLimitError *bool `yaml:"disable_retry_on_max_parallel_request_limit_error"`
	// MaxRequestSizeMB caps request bodies; 0 (the default) means "use the
	// server's built-in limit", not "unlimited".
	MaxRequestSizeMB  int `yaml:"max_request_size_mb"`
	MaxResponseSizeMB int `yaml:"max_response_size_mb"` // 0 = no limit set

	// Health checks and alerting.
	BackgroundHealthChecks   *bool          `yaml:"background_health_checks"`
	HealthCheckInterval      *Duration      `yaml:"health_check_interval"`
	HealthCheckConcurrency   *int           `yaml:"health_check_concurrency"`
	HealthCheckDetails       *bool          `yaml:"health_check_details"`
	UseSharedHealthCheck     *bool          `yaml:"use_shared_health_check"`
	EnableHealthCheckRouting *bool          `yaml:"enable_health_check_routing"`
	Alerting                 []string       `yaml:"alerting"`
	AlertingThreshold        *Duration      `yaml:"alerting_threshold"`
	AlertTypes               []string       `yaml:"alert_types"`
	AlertToWebhookURL        map[string]any `yaml:"alert_to_webhook_url"` // string or list of strings per alert type
	AlertingArgs             map[string]any `yaml:"alerting_args"`
	SpendReportFrequency     *Duration      `yaml:"spend_report_frequency"`

	// Model defaults.
	CompletionModel      string `yaml:"completion_model"`
	EmbeddingModel       string `yaml:"embedding_model"`
	ImageGenerationModel string `yaml:"image_generation_model"`
	ModerationModel      string `yaml:"moderation_model"`
	InferModelFromKeys   *bool  `yaml:"infer_model_from_keys"`

	// Routes.
	PublicRoutes                          []string         `yaml:"public_routes"`
	AdminOnlyRoutes                       []string         `yaml:"admin_only_routes"`
	AllowedRoutes                         []string         `yaml:"allowed_routes"`
	PassThroughEndpoints                  []map[string]any `yaml:"pass_through_endpoints"`
	UseClientCredentialsPassThroughRoutes *bool            `yaml:"use_client_credentials_pass_through_routes"`
}

// Credential is one credential_list entry, referenced from
// litellm_params.litellm_credential_name.
type Credential struct {
	CredentialName   string         `yaml:"credential_name"`
	CredentialValues map[string]any `yaml:"credential_values"`
	CredentialInfo   map[string]any `yaml:"credential_info"`
}

// Warning is a known LiteLLM key Switchboard parses but does not act on yet,
// or a soft issue that does not stop the config from loading.
type Warning struct {
	File    string
	Line    int
	Path    string // dotted key path, e.g. "litellm_settings.callbacks"
	Message string
}

// String formats w as "file:line: path: message".
func (w Warning) String() string { return location(w.File, w.Line, 0, w.Path) + w.Message }

// Problem is one error in a config file.
type Problem struct {
	File    string
	Line    int
	Column  int
	Path    string // e.g. "model_list[2].litellm_params.api_bsae"
	Message string
}

// String formats p as "file:line:col: path: message".
func (p Problem) String() string { return location(p.File, p.Line, p.Column, p.Path) + p.Message }

// Problems is every error found in a config; Load and Parse return it as a
// *Problems.
type Problems []Problem

// Error lists every problem on its own line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// location renders the "file:line:col: path: " prefix, leaving out the parts
// that are unknown (a problem found in no particular file, a path-less
// syntax error).
func location(file string, line, col int, path string) string {
	var b strings.Builder
	if file != "" {
		b.WriteString(file)
		if line > 0 {
			b.WriteString(":" + strconv.Itoa(line))
			if col > 0 {
				b.WriteString(":" + strconv.Itoa(col))
			}
		}
		b.WriteString(": ")
	}
	if path != "" {
		b.WriteString(path)
		b.WriteString(": ")
	}
	return b.String()
}

// UnmarshalYAML accepts "group" or {model: group, hidden: bool}.
func (a *AliasTarget) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			a.Model = n.Value
			return nil
		}
	case yaml.MappingNode:
		var m struct {
			Model  string `yaml:"model"`
			Hidden bool   `yaml:"hidden"`
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; k != "model" && k != "hidden" {
				return fmt.Errorf("unknown key %q in a model_group_alias entry (expected model, hidden)", k)
			}
		}
		if err := n.Decode(&m); err != nil {
			return fmt.Errorf("expected {model: <group>, hidden: true|false}")
		}
		a.Model, a.Hidden = m.Model, m.Hidden
		return nil
	}
	return fmt.Errorf("expected a model group name or {model: <group>, hidden: true|false}")
}
