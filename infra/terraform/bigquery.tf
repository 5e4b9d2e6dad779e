# Datasets keyed like the schema files' "dataset" field; tables from infra/schemas/*.json
# (schema, partitioning, clustering and deletion_protection all come from the file).

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
}

resource "google_bigquery_dataset" "dataset" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption is sufficient for this data (public NBA box scores and derived factors); CMEK is not a requirement of this product.
  for_each = local.datasets

  dataset_id                  = each.value
  location                    = var.bigquery_location
  description                 = lookup(local.dataset_descriptions, each.key, "PCF dataset ${each.key}.")
  default_table_expiration_ms = lookup(local.dataset_table_expiration_ms, each.key, null)
  delete_contents_on_destroy  = false
  labels                      = local.labels

  depends_on = [google_project_service.api]
}

resource "google_bigquery_table" "table" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption is sufficient for this data (public NBA box scores and derived factors); CMEK is not a requirement of this product.
  #checkov:skip=CKV_GCP_121:deletion_protection is set per table by its schema file: true for the output, ledger and cleanup log, false for upstream-owned inputs that may be recreated.
  for_each = local.tables

  dataset_id          = google_bigquery_dataset.dataset[each.value.dataset].dataset_id
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
}
