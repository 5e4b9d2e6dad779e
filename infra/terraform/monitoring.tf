# Alerting on the two ways a date or message can go wrong without anyone noticing (RULES §0):
#  1. a structured log line for a blocked/failed date or cleanup (status blocked|failed, or the
#     "COVERAGE VALIDATION FAILED" message) — logs are JSON lines parsed into jsonPayload;
#  2. a message waiting on any <topic>-dlq subscription (it exhausted its 5 delivery attempts).

locals {
  # Gen2 functions log as their Cloud Run service (name derived from the function name).
  function_services = [
    for fn in keys(local.functions) :
    basename(google_cloudfunctions2_function.function[fn].service_config[0].service)
  ]

  # Logging query language: OR binds tighter than AND, so every group is parenthesised.
  blocked_or_failed_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=(${join(" OR ", [for s in local.function_services : "\"${s}\""])})",
    "(jsonPayload.status=(\"blocked\" OR \"failed\") OR jsonPayload.message:\"COVERAGE VALIDATION FAILED\")",
  ])

  dlq_subscription_regex = join("|", [for sub in google_pubsub_subscription.dlq : sub.name])
}

resource "google_logging_metric" "blocked_or_failed" {
  name        = "pcf/blocked_or_failed_dates"
  description = "PCF dates (or cleanups) that ended blocked or failed, from the functions' structured logs."
  filter      = local.blocked_or_failed_filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "PCF blocked/failed dates"

    labels {
      key         = "status"
      value_type  = "STRING"
      description = "status field of the log line (blocked / failed)."
    }
    labels {
      key         = "service"
      value_type  = "STRING"
      description = "Cloud Run service (function) that logged it."
    }
  }

  label_extractors = {
    status  = "EXTRACT(jsonPayload.status)"
    service = "EXTRACT(resource.labels.service_name)"
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "blocked_or_failed" {
  display_name          = "PCF: date blocked or failed"
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A PCF date ended **blocked** (coverage below ${var.coverage_block_pct} %) or **failed**, or a
      cleanup failed. It is not checkpointed. Find the date and run_id with
      `jsonPayload.status=("blocked" OR "failed")` in Logs Explorer, inspect
      `${var.datasets["orchestration"]}.backfill_ledger`, fix the input, then rerun with
      `{"rerun": "failed", ...}` on the ${local.topics["backfill_requests"]} topic.
    EOT
  }

  conditions {
    display_name = "blocked/failed log lines > 0"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.blocked_or_failed.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.status"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "PCF: messages in a dead-letter queue"
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A message exhausted its ${local.delivery.max_delivery_attempts} delivery attempts and was
      dead-lettered to a `<topic>${local.delivery.dlq_suffix}` topic. Pull it from the matching
      `<topic>${local.delivery.dlq_suffix}-sub` subscription
      (`gcloud pubsub subscriptions pull <sub> --limit=10`), read the function's ERROR logs for
      its message id, fix the cause and republish the payload to the original topic.
    EOT
  }

  conditions {
    display_name = "undelivered messages on a -dlq subscription > 0"

    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=monitoring.regex.full_match(\"${local.dlq_subscription_regex}\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.label.subscription_id"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.api]
}
