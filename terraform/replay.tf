# Dead-letter replay: `python -m beam_pipelines.replay --bq_project P --bq_dataset D --topic T --execute` runs as
# its own service account, which the operators in var.replay_operator_members impersonate
# (`gcloud auth application-default login --impersonate-service-account $(terraform output -raw
# replay_service_account_email)`). Not the Dataflow worker, not the compaction: each holds only what it uses,
# and every replay shows in the audit logs under this one identity.

resource "google_service_account" "replay" {
  project      = var.project_id
  account_id   = var.replay_service_account_id
  display_name = "Orders dead-letter replay"
  description  = "Runs python -m beam_pipelines.replay: reads ${var.dataset_id}.order_events_dead_letter, appends to ${var.dataset_id}.dead_letter_replays, publishes to ${var.topic_name}."

  depends_on = [google_project_service.enabled]
}

locals {
  replay_member = "serviceAccount:${google_service_account.replay.email}"
  # Least privilege, per table rather than on the dataset: replay reads the dead letters (never changes them:
  # streamed rows cannot be updated) and reads and appends to its own log, nothing else of the dataset.
  replay_table_roles = tomap({
    order_events_dead_letter = "roles/bigquery.dataViewer"
    dead_letter_replays      = "roles/bigquery.dataEditor"
  })
}

resource "google_bigquery_table_iam_member" "replay" {
  for_each = local.replay_table_roles

  project    = var.project_id
  dataset_id = google_bigquery_dataset.datasets["orders"].dataset_id
  table_id   = google_bigquery_table.tables[each.key].table_id
  role       = each.value
  member     = local.replay_member
}

# The selection is a query job billed to this project (the role exists only at project level).
resource "google_project_iam_member" "replay_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = local.replay_member
}

resource "google_pubsub_topic_iam_member" "replay" {
  for_each = toset([
    "roles/pubsub.publisher", # republish the dead letters
    "roles/pubsub.viewer",    # the start-up check reads the topic (pubsub.topics.get) before publishing anything
  ])

  project = var.project_id
  topic   = google_pubsub_topic.topics["orders"].name
  role    = each.value
  member  = local.replay_member
}

# Who may run replays: they mint short-lived tokens for the replay account (impersonation), on that account only.
resource "google_service_account_iam_member" "replay_operators" {
  for_each = toset(var.replay_operator_members)

  service_account_id = google_service_account.replay.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = each.value
}
