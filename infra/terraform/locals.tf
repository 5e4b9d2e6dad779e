# Everything that names a topic, function, dataset, table or alert is read from the repo's single
# definitions (infra/topology.json, infra/schemas/*.json, infra/alerts.json) — never retyped here.
locals {
  infra_dir = abspath("${path.module}/..")
  repo_root = abspath("${path.module}/../..")
  build_dir = var.build_dir != null ? abspath(var.build_dir) : "${local.repo_root}/build"

  topology  = jsondecode(file("${local.infra_dir}/topology.json"))
  delivery  = local.topology.delivery
  topics    = local.topology.topics    # topic key => topic name (Settings.topic_<key>)
  functions = local.topology.functions # function key == functions/<key>/ == function name
  schedule  = local.topology.schedule

  # <topic>-dlq for every topic (key => DLQ topic name).
  dlq_topics = { for key, name in local.topics : key => "${name}${local.delivery.dlq_suffix}" }

  # ---- triggers: one push subscription per (function, trigger) of the topology ----------------
  # A trigger is a topic key ("process_date") or a dead-letter topic ("process_date-dlq", the key
  # plus delivery.dlq_suffix); a function has "trigger_topic" or a "trigger_topics" list.
  function_triggers = {
    for fn, cfg in local.functions : fn => try(tolist(cfg.trigger_topics), [cfg.trigger_topic])
  }
  trigger_subscriptions = merge([
    for fn, triggers in local.function_triggers : {
      for trigger in triggers : "${fn}/${trigger}" => {
        function  = fn
        trigger   = trigger
        dlq       = endswith(trigger, local.delivery.dlq_suffix)
        topic_key = trimsuffix(trigger, local.delivery.dlq_suffix)
        # Subscription name: <topic name>-to-<function-with-dashes>, e.g. pcf-process-date-to-process-date.
        name = "${endswith(trigger, local.delivery.dlq_suffix) ? local.dlq_topics[trimsuffix(trigger, local.delivery.dlq_suffix)] : local.topics[trigger]}-to-${replace(fn, "_", "-")}"
      }
    }
  ]...)

  # ---- tables: only the product's own by default ---------------------------------------------
  # One table per schema file, keyed by the file's stem (== table name). "owner": "pcf" tables are
  # created and owned here; "upstream" tables are inputs produced by other pipelines: Terraform
  # only reads them (data sources, so a plan fails early when one is missing) unless
  # create_upstream_tables = true (a sandbox project with no upstream pipeline).
  schema_files = fileset("${local.infra_dir}/schemas", "*.json")
  tables = {
    for f in local.schema_files :
    trimsuffix(f, ".json") => jsondecode(file("${local.infra_dir}/schemas/${f}"))
  }
  owned_tables    = { for k, t in local.tables : k => t if t.owner == "pcf" }
  upstream_tables = { for k, t in local.tables : k => t if t.owner != "pcf" }
  created_tables  = var.create_upstream_tables ? local.tables : local.owned_tables

  datasets = var.datasets # dataset key => dataset name (Settings.dataset_<key>)
  # Datasets created here: all but the upstream ones (unless the sandbox creates everything).
  created_datasets = {
    for key, name in local.datasets : key => name
    if var.create_upstream_tables || !contains(var.upstream_datasets, key)
  }
  referenced_datasets = {
    for key, name in local.datasets : key => name if !contains(keys(local.created_datasets), key)
  }

  # BigQuery allows at most 2 concurrent mutating DML statements per table (20 queued), and
  # every process_date instance MERGEs into player_composite_factors: its ceiling is a variable.
  max_instances = {
    for fn, cfg in local.functions :
    fn => fn == "process_date" ? var.process_date_max_instances : cfg.max_instances
  }

  # Service account ids: 6-30 chars of [a-z0-9-]; one runtime and one invoker identity per function.
  runtime_account_ids = { for fn in keys(local.functions) : fn => "pcf-${replace(fn, "_", "-")}" }
  invoker_account_ids = { for fn in keys(local.functions) : fn => "pcf-${replace(fn, "_", "-")}-inv" }

  # ---- least-privilege BigQuery grants, all derived from the topology -----------------------
  # writes_tables (schema-file tables the function writes) → dataEditor on each of those tables;
  # writes_datasets with none of those tables (staging, backup: tables created at run time)
  # → dataEditor on the dataset; reads_datasets → dataViewer on the dataset unless it already
  # has dataEditor there. A function without writes_tables gets dataEditor on writes_datasets.
  table_datasets = {
    for fn, cfg in local.functions : fn => distinct([for t in try(cfg.writes_tables, []) : local.tables[t].dataset])
  }
  editor_datasets = {
    for fn, cfg in local.functions : fn => [for ds in cfg.writes_datasets : ds if !contains(local.table_datasets[fn], ds)]
  }
  table_writers = merge([
    for fn, cfg in local.functions : {
      for t in try(cfg.writes_tables, []) : "${fn}/${t}" => { function = fn, table = t, dataset = local.tables[t].dataset }
    }
  ]...)
  dataset_writers = merge([
    for fn, dss in local.editor_datasets : { for ds in dss : "${fn}/${ds}" => { function = fn, dataset = ds } }
  ]...)
  dataset_readers = merge([
    for fn, cfg in local.functions : {
      for ds in cfg.reads_datasets : "${fn}/${ds}" => { function = fn, dataset = ds }
      if !contains(local.editor_datasets[fn], ds)
    }
  ]...)
  topic_publishers = merge([
    for fn, cfg in local.functions : {
      for topic in cfg.publishes : "${fn}/${topic}" => { function = fn, topic = topic }
    }
  ]...)

  pubsub_service_agent    = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  scheduler_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"

  # The environment every function reads (Settings, env prefix PCF_). Every Settings field that
  # matters in the cloud is here; the local-only ones (data_dir, local_workers, duckdb_memory_mb,
  # render_processes, bigquery_api_endpoint) are not. tests/infra checks this against
  # Settings.model_fields.
  function_env = merge(
    {
      PCF_PROJECT                = var.project
      PCF_REGION                 = var.region
      PCF_WAREHOUSE              = "bigquery://${var.project}"
      PCF_BUS                    = "pubsub"
      PCF_BIGQUERY_LOCATION      = var.bigquery_location
      PCF_CALCULATION_VERSION    = var.calculation_version
      PCF_FALLBACK_THRESHOLD     = tostring(var.fallback_threshold)
      PCF_COVERAGE_BLOCK_PCT     = tostring(var.coverage_block_pct)
      PCF_COVERAGE_WARN_PCT      = tostring(var.coverage_warn_pct)
      PCF_BOOTSTRAP_DAYS         = tostring(var.bootstrap_days)
      PCF_MAX_DATES_PER_REQUEST  = tostring(var.max_dates_per_request)
      PCF_CHUNK_SIZE             = tostring(var.chunk_size)
      PCF_TTL_DAYS               = tostring(var.ttl_days)
      PCF_CLEANUP_TABLES         = jsonencode(var.cleanup_tables)
      PCF_CLEANUP_MAX_FRACTION   = tostring(var.cleanup_max_fraction)
      PCF_CLEANUP_MAX_ROWS       = tostring(var.cleanup_max_rows)
      PCF_BACKUP_EXPIRATION_DAYS = tostring(var.backup_expiration_days)
      PCF_STALL_LEASE_MINUTES    = tostring(var.stall_lease_minutes)
      PCF_CLEANUP_LEASE_MINUTES  = tostring(var.cleanup_lease_minutes)
      PCF_LOG_LEVEL              = var.log_level
      PCF_LOG_FORMAT             = "json" # Cloud Logging parses JSON lines into jsonPayload (alerts match it)
    },
    { for key, name in local.datasets : "PCF_DATASET_${upper(key)}" => name },
    { for key, name in local.topics : "PCF_TOPIC_${upper(key)}" => name },
  )

  # Alert kinds (shared/messages.py ALERT_KINDS) and what each means: one policy per kind.
  alert_kinds = jsondecode(file("${local.infra_dir}/alerts.json")).kinds

  labels = merge({ app = "pcf" }, var.labels, { env = var.environment })
}
