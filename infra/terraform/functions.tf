# The four Pub/Sub-triggered gen2 functions, one per topology.functions entry. Source: the
# staged folder build/<function>/ (main.py + shared/ + requirements.txt, made by infra/build.sh),
# zipped and uploaded under its content hash so a code change redeploys the function.

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
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.runtime[each.key].email
    environment_variables            = local.function_env
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = google_pubsub_topic.topic[each.value.trigger_topic].id
    retry_policy          = "RETRY_POLICY_RETRY" # transient failures raise and are redelivered (ARCHITECTURE §Contracts)
    service_account_email = google_service_account.trigger[each.key].email
  }

  depends_on = [
    google_project_service.api,
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_artifact_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_service_account_iam_member.pubsub_agent_token_creator,
  ]
}
