# Everything that names a topic, function, dataset or table is read from the repo's single
# definitions (infra/topology.json, infra/schemas/*.json) — never retyped here.
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

  # One table per schema file, keyed by the file's stem (== table name).
  schema_files = fileset("${local.infra_dir}/schemas", "*.json")
  tables = {
    for f in local.schema_files :
    trimsuffix(f, ".json") => jsondecode(file("${local.infra_dir}/schemas/${f}"))
  }

  datasets = var.datasets # dataset key => dataset name (Settings.dataset_<key>)

  # BigQuery allows at most 2 concurrent mutating DML statements per table (20 queued), and
  # every process_date instance MERGEs into player_composite_factors: its ceiling is a variable.
  max_instances = {
    for fn, cfg in local.functions :
    fn => fn == "process_date" ? var.process_date_max_instances : cfg.max_instances
  }

  # Service account ids: 6-30 chars of [a-z0-9-]; one runtime and one trigger identity per function.
  runtime_account_ids = { for fn in keys(local.functions) : fn => "pcf-${replace(fn, "_", "-")}" }
  trigger_account_ids = { for fn in keys(local.functions) : fn => "pcf-${replace(fn, "_", "-")}-trg" }

  # Least-privilege grants flattened to "<function>/<target>" => {function, target}.
  dataset_writers = merge([
    for fn, cfg in local.functions : {
      for ds in cfg.writes_datasets : "${fn}/${ds}" => { function = fn, dataset = ds }
    }
  ]...)
  # dataEditor already includes read access, so a dataset a function writes gets no viewer grant.
  dataset_readers = merge([
    for fn, cfg in local.functions : {
      for ds in cfg.reads_datasets : "${fn}/${ds}" => { function = fn, dataset = ds }
      if !contains(cfg.writes_datasets, ds)
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
  # matters in the cloud is here; the local-only ones (data_dir, local_workers,
  # bigquery_api_endpoint) are not. tests/infra checks this against Settings.model_fields.
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
      PCF_TTL_DAYS               = tostring(var.ttl_days)
      PCF_CLEANUP_TABLES         = jsonencode(var.cleanup_tables)
      PCF_CLEANUP_MAX_FRACTION   = tostring(var.cleanup_max_fraction)
      PCF_CLEANUP_MAX_ROWS       = tostring(var.cleanup_max_rows)
      PCF_BACKUP_EXPIRATION_DAYS = tostring(var.backup_expiration_days)
      PCF_LOG_LEVEL              = var.log_level
    },
    { for key, name in local.datasets : "PCF_DATASET_${upper(key)}" => name },
    { for key, name in local.topics : "PCF_TOPIC_${upper(key)}" => name },
  )

  labels = merge({ app = "pcf" }, var.labels)
}
