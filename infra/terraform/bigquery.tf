# Datasets keyed like the schema files' "dataset" field; tables from infra/schemas/*.json
# (schema, partitioning, clustering and deletion_protection all come from the file).
#
# Only what this product owns is created: the tables with "owner": "pcf" (output, ledger, cleanup
# log) and the datasets not listed in var.upstream_datasets (precompute output, orchestration,
# backup, staging). Upstream datasets and tables are inputs, read through data sources so a plan
# fails early, with the missing name, when one does not exist. create_upstream_tables = true
# (sandbox projects only) creates them from the same schema files instead.

locals {
  day_ms = 24 * 60 * 60 * 1000

  # Backups of cleaned rows expire after backup_expiration_days (RULES §5: 30 days); staging
  # tables are per-date scratch space, gone after a day. Other datasets keep tables forever.
  dataset_table_expiration_ms = {
    backup  = var.backup_expiration_days * local.day_ms
    staging = var.staging_table_expiration_days * local.day_ms
  }

  dataset_descriptions = {
    reference     = "PCF inputs: the game schedule (produced upstream)."
    analytics     = "PCF inputs: player game summaries and the upcoming_* context tables."
    precompute    = "PCF zone analyses (inputs) and the player_composite_factors output."
    orchestration = "PCF backfill ledger and cleanup run log."
    backup        = "PCF cleanup backups of stale upcoming_* rows (expire automatically)."
    staging       = "PCF per-date staging tables used for atomic MERGE swaps (expire after a day)."
  }

  # Dataset id per key, whether created here or referenced (IAM below works on either).
  dataset_ids = merge(
    { for key, ds in data.google_bigquery_dataset.upstream : key => ds.dataset_id },
    { for key, ds in google_bigquery_dataset.dataset : key => ds.dataset_id },
  )
}

resource "google_bigquery_dataset" "dataset" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption is sufficient for this data (public NBA box scores and derived factors); CMEK is not a requirement of this product.
  for_each = local.created_datasets

  dataset_id                  = each.value
  location                    = var.bigquery_location
  description                 = lookup(local.dataset_descriptions, each.key, "PCF dataset ${each.key}.")
  default_table_expiration_ms = lookup(local.dataset_table_expiration_ms, each.key, null)
  delete_contents_on_destroy  = false
  labels                      = local.labels

  depends_on = [google_project_service.api]
}

# Upstream datasets: must exist (the plan fails with their name otherwise).
data "google_bigquery_dataset" "upstream" {
  for_each = local.referenced_datasets

  project    = var.project
  dataset_id = each.value
}

resource "google_bigquery_table" "table" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption is sufficient for this data (public NBA box scores and derived factors); CMEK is not a requirement of this product.
  #checkov:skip=CKV_GCP_121:deletion_protection is set per table by its schema file: true for every table this product owns (output, ledger, cleanup log); false only for upstream tables a sandbox creates (create_upstream_tables).
  for_each = local.created_tables

  dataset_id          = local.dataset_ids[each.value.dataset]
  table_id            = each.value.table
  description         = each.value.description
  schema              = jsonencode(each.value.schema)
  clustering          = length(each.value.clustering) > 0 ? each.value.clustering : null
  deletion_protection = each.value.deletion_protection
  labels              = local.labels

  time_partitioning {
    type  = each.value.time_partitioning.type
    field = each.value.time_partitioning.field
  }

  depends_on = [google_bigquery_dataset.dataset]
}

# Upstream tables in upstream datasets: inputs this product reads (and cleanup_upcoming trims);
# never created, changed or destroyed by Terraform. The plan fails early when one is missing.
# (Upstream tables in a dataset created here — the zone analyses in precompute — are loaded by
# their pipeline later; the functions report them missing until then.)
data "google_bigquery_table" "upstream" {
  for_each = var.create_upstream_tables ? {} : {
    for key, t in local.upstream_tables : key => t if contains(keys(local.referenced_datasets), t.dataset)
  }

  project    = var.project
  dataset_id = local.dataset_ids[each.value.dataset]
  table_id   = each.value.table
}
