resource "google_pubsub_topic" "orders" {
  project                    = var.project_id
  name                       = var.topic_name
  message_retention_duration = var.topic_message_retention_duration
  kms_key_name               = var.kms_key_name
  labels                     = local.labels

  depends_on = [google_project_service.enabled, google_kms_crypto_key_iam_member.service_agents]
}

resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project_id
  name                       = var.dead_letter_topic_name
  message_retention_duration = var.topic_message_retention_duration
  kms_key_name               = var.kms_key_name
  labels                     = local.labels

  depends_on = [google_project_service.enabled, google_kms_crypto_key_iam_member.service_agents]
}

resource "google_pubsub_subscription" "pipeline" {
  project = var.project_id
  name    = var.subscription_name
  topic   = google_pubsub_topic.orders.id
  labels  = local.labels

  ack_deadline_seconds       = var.subscription_ack_deadline_seconds
  message_retention_duration = var.subscription_message_retention_duration
  retain_acked_messages      = false
  enable_message_ordering    = var.enable_message_ordering

  # The job reads this subscription for as long as it runs: it must never expire while idle.
  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = var.retry_minimum_backoff
    maximum_backoff = var.retry_maximum_backoff
  }

  # Messages the pipeline keeps failing to ack (e.g. a poison message that crashes a worker) end here
  # instead of blocking their ordering key forever. Messages the pipeline rejects itself are dead-lettered
  # by the pipeline, to the same topic and to the dead-letter table.
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

resource "google_pubsub_subscription" "dead_letter" {
  project = var.project_id
  name    = var.dead_letter_subscription_name
  topic   = google_pubsub_topic.dead_letter.id
  labels  = local.labels

  ack_deadline_seconds       = 60
  message_retention_duration = var.subscription_message_retention_duration

  expiration_policy {
    ttl = ""
  }
}

# Dead-lettering is done by the Pub/Sub service agent: without these two grants Pub/Sub keeps
# redelivering instead of forwarding (the console shows "dead letter permissions missing").
resource "google_pubsub_topic_iam_member" "dead_letter_publisher_service_agent" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent

  depends_on = [google_project_service_identity.agents]
}

resource "google_pubsub_subscription_iam_member" "pipeline_subscriber_service_agent" {
  project      = var.project_id
  subscription = google_pubsub_subscription.pipeline.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent

  depends_on = [google_project_service_identity.agents]
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = toset(var.publisher_members)

  project = var.project_id
  topic   = google_pubsub_topic.orders.name
  role    = "roles/pubsub.publisher"
  member  = each.value
}
