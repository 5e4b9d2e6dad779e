# One gen2 function per topology.functions entry. Source: the staged folder build/<function>/
# (main.py + the import closure of shared/ + infra json + requirements.txt, made by
# infra/build.sh), zipped and uploaded by Terraform under its content hash, so a code change
# redeploys the function and nothing else ever uploads or deploys one.
#
# No event_trigger: each function is invoked by the push subscriptions pubsub.tf declares (one
# per trigger, with the retry and dead-letter policy of topology.delivery and an OIDC token of
# the function's invoker service account). functions-framework turns the push body into the same
# google.cloud.pubsub.topic.v1.messagePublished CloudEvent an Eventarc trigger delivers
# (tests/infra/test_infra_push_envelope.py).

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Access logs of a bucket holding only build artifacts (function zips) add cost without audit value; Cloud Audit Logs still record admin access.
  name     = coalesce(var.source_bucket_name, "${var.project}-pcf-functions-source")
  location = var.region
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  # Old zips are never read again once a newer version of the function is deployed.
  lifecycle_rule {
    condition {
      num_newer_versions = 5
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

data "archive_file" "source" {
  for_each = local.functions

  type        = "zip"
  source_dir  = "${local.build_dir}/${each.key}"
  output_path = "${local.build_dir}/${each.key}.zip"
}

resource "google_storage_bucket_object" "source" {
  for_each = local.functions

  name   = "${each.key}/${data.archive_file.source[each.key].output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source[each.key].output_path
}

resource "google_cloudfunctions2_function" "function" {
  for_each = local.functions

  name        = each.key
  location    = var.region
  description = each.value.description
  labels      = local.labels

  build_config {
    runtime         = var.runtime
    entry_point     = "handle"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source[each.key].name
      }
    }
  }

  service_config {
    # process_date: var.process_date_max_instances (default 2) — BigQuery runs at most
    # 2 concurrent mutating DML statements per table (20 queued) and each instance MERGEs
    # into player_composite_factors. The others take topology.functions.<fn>.max_instances.
    max_instance_count               = local.max_instances[each.key]
    min_instance_count               = 0
    max_instance_request_concurrency = 1 # one message per instance: the DML bound above holds
    available_memory                 = each.value.memory
    timeout_seconds                  = each.value.timeout_seconds
    ingress_settings                 = "ALLOW_INTERNAL_ONLY" # Pub/Sub push from this project is internal traffic
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.runtime[each.key].email
    environment_variables            = local.function_env
  }

  # The build SA's roles must have propagated before Cloud Build runs as it.
  depends_on = [
    google_project_service.api,
    time_sleep.iam_propagation,
  ]
}
