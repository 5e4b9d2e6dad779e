# Defaults mirror shared/config.py Settings (tests/infra asserts they stay equal).

variable "environment" {
  type        = string
  description = "Environment name (dev, prod, ...): labels every resource; pick the matching environments/<env>.* files."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,20}$", var.environment))
    error_message = "environment must be a short lowercase name such as dev or prod."
  }
}

variable "project" {
  type        = string
  description = "Google Cloud project id to deploy into (PCF_PROJECT)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a Google Cloud project id (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  type        = string
  description = "Region for the functions, their Eventarc triggers, the source bucket and the scheduler job (PCF_REGION)."
  default     = "us-central1"
}

variable "bigquery_location" {
  type        = string
  description = "BigQuery location of every dataset (PCF_BIGQUERY_LOCATION)."
  default     = "US"
}

variable "datasets" {
  type        = map(string)
  description = "Dataset name per dataset key used by infra/schemas/*.json (PCF_DATASET_<KEY>)."
  default = {
    reference     = "nba_reference"
    analytics     = "nba_analytics"
    precompute    = "nba_precompute"
    orchestration = "nba_orchestration"
    backup        = "nba_backup"
    staging       = "pcf_staging"
  }

  validation {
    condition = (
      length(setsubtract(["reference", "analytics", "precompute", "orchestration", "backup", "staging"], keys(var.datasets))) == 0
      && alltrue([for name in values(var.datasets) : can(regex("^[A-Za-z0-9_]+$", name)) && length(name) <= 1024])
    )
    error_message = "datasets needs the keys reference, analytics, precompute, orchestration, backup and staging, with valid BigQuery dataset names."
  }
}

variable "calculation_version" {
  type        = string
  description = "Version tag written with every output row and used by rerun=missing (PCF_CALCULATION_VERSION)."
  default     = "v1_4factors"
}

variable "fallback_threshold" {
  type        = number
  description = "UPCG/PGS player ratio below which process_date falls back to context synthesized from PGS (PCF_FALLBACK_THRESHOLD)."
  default     = 0.9

  validation {
    condition     = var.fallback_threshold > 0 && var.fallback_threshold <= 1
    error_message = "fallback_threshold must be in (0, 1]."
  }
}

variable "coverage_block_pct" {
  type        = number
  description = "Coverage percentage below which a date is blocked and not checkpointed (PCF_COVERAGE_BLOCK_PCT)."
  default     = 90

  validation {
    condition     = var.coverage_block_pct >= 0 && var.coverage_block_pct <= 100
    error_message = "coverage_block_pct must be between 0 and 100."
  }
}

variable "coverage_warn_pct" {
  type        = number
  description = "Coverage percentage below which a date passes with a warning (PCF_COVERAGE_WARN_PCT)."
  default     = 95

  validation {
    condition     = var.coverage_warn_pct >= 0 && var.coverage_warn_pct <= 100
    error_message = "coverage_warn_pct must be between 0 and 100."
  }
}

variable "bootstrap_days" {
  type        = number
  description = "Days at the start of a season marked as bootstrap dates by dispatch_backfill (PCF_BOOTSTRAP_DAYS)."
  default     = 14
}

variable "max_dates_per_request" {
  type        = number
  description = "Most game dates a single BackfillRequest may fan out (PCF_MAX_DATES_PER_REQUEST)."
  default     = 400
}

variable "chunk_size" {
  type        = number
  description = "Game dates per ProcessDate message: planned, computed, audited and published with a constant number of BigQuery jobs (PCF_CHUNK_SIZE)."
  default     = 50
}

variable "ttl_days" {
  type        = number
  description = "Age in days after which upcoming_* rows are stale and cleaned (PCF_TTL_DAYS)."
  default     = 7
}

variable "cleanup_tables" {
  type        = list(string)
  description = "Allow-list of tables cleanup_upcoming may clean (PCF_CLEANUP_TABLES, passed as a JSON list); it gets dataEditor on exactly these tables."
  default     = ["upcoming_player_game_context", "upcoming_team_game_context"]

  validation {
    condition     = length(var.cleanup_tables) > 0 && alltrue([for t in var.cleanup_tables : startswith(t, "upcoming_")])
    error_message = "cleanup_tables must list upcoming_* tables only (the cleanup may delete rows from them)."
  }
}

variable "stall_lease_minutes" {
  type        = number
  description = "Minutes after which an in-flight ledger row counts as stalled (PCF_STALL_LEASE_MINUTES)."
  default     = 30
}

variable "cleanup_lease_minutes" {
  type        = number
  description = "Minutes a started cleanup holds its lease before another run may take over (PCF_CLEANUP_LEASE_MINUTES)."
  default     = 30
}

variable "cleanup_max_fraction" {
  type        = number
  description = "Runaway guard: refuse a cleanup deleting more than this fraction of a table (PCF_CLEANUP_MAX_FRACTION)."
  default     = 0.5
}

variable "cleanup_max_rows" {
  type        = number
  description = "Runaway guard: refuse a cleanup deleting more than this many rows (PCF_CLEANUP_MAX_ROWS)."
  default     = 100000
}

variable "backup_expiration_days" {
  type        = number
  description = "Days a cleanup backup table is kept; also the backup dataset's default table expiration (PCF_BACKUP_EXPIRATION_DAYS)."
  default     = 30
}

variable "log_level" {
  type        = string
  description = "Log level of the functions (PCF_LOG_LEVEL)."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "process_date_max_instances" {
  type        = number
  description = "Max instances of process_date. BigQuery runs at most 2 concurrent mutating DML statements per table (20 more queue), and every instance MERGEs into player_composite_factors; keep this at 2 unless you accept queued DML."
  default     = 2

  validation {
    condition     = var.process_date_max_instances >= 1 && var.process_date_max_instances <= 20
    error_message = "process_date_max_instances must be between 1 and 20 (2 concurrent + queued DML per table)."
  }
}

variable "runtime" {
  type        = string
  description = "Cloud Functions runtime of every function."
  default     = "python311"
}

variable "build_dir" {
  type        = string
  description = "Folder holding the staged functions (infra/build.sh output, build/<function>/); null = <repo>/build."
  default     = null
}

variable "source_bucket_name" {
  type        = string
  description = "Name of the bucket holding the zipped function sources; null = <project>-pcf-functions-source."
  default     = null
}

variable "dead_letter_retention_days" {
  type        = number
  description = "How long dead-lettered messages are kept on each <topic>-dlq subscription (days, max 7)."
  default     = 7

  validation {
    condition     = var.dead_letter_retention_days >= 1 && var.dead_letter_retention_days <= 7
    error_message = "dead_letter_retention_days must be between 1 and 7 (Pub/Sub's maximum retention)."
  }
}

variable "staging_table_expiration_days" {
  type        = number
  description = "Default table expiration of the staging dataset (per-date staging tables are disposable)."
  default     = 1
}

variable "enable_apis" {
  type        = bool
  description = "Enable the Google APIs this deployment needs (never disabled on destroy)."
  default     = true
}

variable "labels" {
  type        = map(string)
  description = "Extra labels put on every labelable resource (app = pcf is always set)."
  default     = {}
}

# ---- who is alerted -------------------------------------------------------------------------

variable "notification_channels" {
  type = object({
    emails         = optional(list(string), [])
    slack_channels = optional(list(string), [])
    existing       = optional(list(string), [])
  })
  description = "Where alerts go (at least one): e-mail addresses and/or Slack channels (\"#pcf-alerts\"; needs slack_auth_token) for which channels are created, and/or ids of existing channels (projects/<p>/notificationChannels/<id>)."

  validation {
    condition = (
      length(var.notification_channels.emails) + length(var.notification_channels.slack_channels) + length(var.notification_channels.existing) > 0
    )
    error_message = "notification_channels needs at least one e-mail, Slack channel or existing channel id: an alert nobody receives is not an alert."
  }
  validation {
    condition     = alltrue([for e in var.notification_channels.emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "notification_channels.emails must be e-mail addresses."
  }
  validation {
    condition     = alltrue([for c in var.notification_channels.slack_channels : can(regex("^#[a-z0-9_-]{1,80}$", c))])
    error_message = "notification_channels.slack_channels must be Slack channel names such as \"#pcf-alerts\"."
  }
  validation {
    condition     = alltrue([for id in var.notification_channels.existing : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", id))])
    error_message = "notification_channels.existing must be ids like projects/<project>/notificationChannels/<number>."
  }
}

variable "slack_auth_token" {
  type        = string
  description = "OAuth token of the Google Cloud Monitoring Slack app; required when notification_channels.slack_channels is set (pass as TF_VAR_slack_auth_token, never in a file)."
  default     = null
  sensitive   = true
}

variable "backlog_age_alert_seconds" {
  type        = number
  description = "Alert when the oldest unacknowledged message on a function's trigger subscription is older than this."
  default     = 1800

  validation {
    condition     = var.backlog_age_alert_seconds >= 60
    error_message = "backlog_age_alert_seconds must be at least 60."
  }
}

variable "function_5xx_alert_threshold" {
  type        = number
  description = "Alert when a function answers more than this many 5xx responses in 15 minutes (each transient failure is one 5xx, then redelivered)."
  default     = 20
}

# ---- what Terraform owns ----------------------------------------------------------------------

variable "upstream_datasets" {
  type        = list(string)
  description = "Dataset keys produced by upstream pipelines: referenced (must exist), never created. Add precompute if its dataset already exists."
  default     = ["reference", "analytics"]

  validation {
    condition     = alltrue([for k in var.upstream_datasets : contains(["reference", "analytics", "precompute", "orchestration", "backup", "staging"], k)])
    error_message = "upstream_datasets must be dataset keys (reference, analytics, precompute, orchestration, backup, staging)."
  }
}

variable "create_upstream_tables" {
  type        = bool
  description = "Sandbox only: also create the upstream datasets and tables (schedule, player game summaries, zone analyses, upcoming_*) from infra/schemas. Never on a project fed by the real upstream pipelines."
  default     = false
}
