# Topics from topology.topics, each with a <name>-dlq dead-letter topic and a pull subscription
# on the DLQ so dead letters are kept (and can be inspected / replayed) for up to 7 days.
#
# Delivery policy (topology.delivery): every subscription that feeds a function retries with
# exponential backoff 10 s … 600 s and dead-letters to <topic>-dlq after 5 delivery attempts.
# The subscriptions that feed the functions are created and owned by Eventarc (one per
# google_cloudfunctions2_function event_trigger); the provider exposes only retry_policy on the
# trigger, not the subscription's dead_letter_policy / backoff. infra/deploy.sh therefore applies
# them to each Eventarc subscription after every deploy (`infra/deploy.sh dead-letter` after a
# plain `terraform apply`):
#   gcloud pubsub subscriptions update <eventarc-sub> --dead-letter-topic=<topic>-dlq
#     --max-delivery-attempts=5 --min-retry-delay=10s --max-retry-delay=600s --ack-deadline=600
# and grants the Pub/Sub service agent roles/pubsub.subscriber on that subscription (the
# publisher grant on each -dlq topic is declared in iam.tf).

resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption is sufficient for these control messages (dates and run ids, no personal data); CMEK is not a requirement of this product.
  for_each = local.topics

  name   = each.value
  labels = local.labels

  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic" "dlq" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption is sufficient for dead-lettered control messages; CMEK is not a requirement of this product.
  for_each = local.dlq_topics

  name   = each.value
  labels = local.labels

  depends_on = [google_project_service.api]
}

# Pull subscription per DLQ: without a subscription, messages published to a topic are dropped.
resource "google_pubsub_subscription" "dlq" {
  for_each = local.dlq_topics

  name   = "${each.value}-sub"
  topic  = google_pubsub_topic.dlq[each.key].id
  labels = local.labels

  ack_deadline_seconds       = 60
  message_retention_duration = "${var.dead_letter_retention_days * 86400}s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = "" # never expire for inactivity: a quiet DLQ is the normal state
  }
}

# Alerts (blocked/failed dates, refused/failed cleanups) are published to pcf-alerts and have
# no function behind them: this pull subscription keeps them for operators and integrations.
resource "google_pubsub_subscription" "alerts" {
  name   = "${local.topics["alerts"]}-sub"
  topic  = google_pubsub_topic.topic["alerts"].id
  labels = local.labels

  ack_deadline_seconds       = local.delivery.ack_deadline_seconds
  message_retention_duration = "${var.dead_letter_retention_days * 86400}s"

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "${local.delivery.minimum_backoff_seconds}s"
    maximum_backoff = "${local.delivery.maximum_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dlq["alerts"].id
    max_delivery_attempts = local.delivery.max_delivery_attempts
  }
}
