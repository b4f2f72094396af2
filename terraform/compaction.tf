# The changelog compaction: a BigQuery scheduled query (BigQuery Data Transfer Service) that folds the
# order_snapshots changelog into orders, order_items and order_payments every var.compaction_schedule. Its
# script is terraform/sql/compaction.sql, rendered from beam_pipelines/sinks/compaction_sql.py; by hand:
# `python -m beam_pipelines.compaction --bq_project P --bq_dataset orders_rt`.

# The identity the scheduled query runs as: not the person who applied Terraform, so the schedule keeps
# working when their credentials change, and not the Dataflow worker, so each holds only what it uses.
resource "google_service_account" "compaction" {
  project      = var.project_id
  account_id   = var.compaction_service_account_id
  display_name = "Orders changelog compaction (BigQuery scheduled query)"
  description  = "Runs the scheduled compaction of ${var.dataset_id}.order_snapshots into orders, order_items and order_payments."

  depends_on = [google_project_service.enabled]
}

locals {
  compaction_member = "serviceAccount:${google_service_account.compaction.email}"
}

# Least privilege: the script's reads, MERGE/DELETE/INSERT statements and its transaction touch only the
# orders dataset's tables (its temporary tables live in the script's own session).
resource "google_bigquery_dataset_iam_member" "compaction_data_editor" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.datasets["orders"].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.compaction_member
}

# Run query jobs billed to this project (the role exists only at project level).
resource "google_project_iam_member" "compaction_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = local.compaction_member
}

# The Data Transfer Service agent mints the compaction account's tokens to start each run. The provider's
# documentation of google_bigquery_data_transfer_config (hashicorp/terraform-provider-google,
# website/docs/r/bigquery_data_transfer_config.html.markdown, "Example Usage - Bigquerydatatransfer Config
# Scheduled Query") grants this agent roles/iam.serviceAccountTokenCreator, on the whole project there
# (older versions of that page: roles/iam.serviceAccountShortTermTokenMinter). Granted here on this one
# account only, so the agent cannot act as any other account of the project. The agent's own role,
# roles/bigquerydatatransfer.serviceAgent, is granted by Google when the agent is created (main.tf creates
# it: google_project_service_identity.agents).
resource "google_service_account_iam_member" "compaction_token_creator" {
  service_account_id = google_service_account.compaction.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.datatransfer_service_agent

  depends_on = [google_project_service_identity.agents]
}

# A script (DECLARE, BEGIN TRANSACTION, MERGE, COMMIT): no destination dataset or table, which BigQuery
# refuses for DML. No encryption_configuration either: it only sets a destination table's key; the tables
# the script writes already carry kms_key_name (bigquery.tf). Whoever applies this needs
# iam.serviceAccounts.actAs on the compaction account (service_account_name: "requires that requesting user
# calling this API has permissions to act as this service account", same provider page); owners have it.
# Failed runs show in the transfer's run history and in Cloud Logging; the next run retries the same rows.
resource "google_bigquery_data_transfer_config" "compaction" {
  project              = var.project_id
  display_name         = "${var.dataset_id} changelog compaction"
  location             = google_bigquery_dataset.datasets["orders"].location
  data_source_id       = "scheduled_query"
  schedule             = var.compaction_schedule
  service_account_name = google_service_account.compaction.email

  params = {
    query = templatefile("${local.sql_dir}/compaction.sql", local.sql_template_vars)
  }

  depends_on = [
    google_project_service.enabled,
    google_bigquery_table.tables,
    google_bigquery_dataset_iam_member.compaction_data_editor,
    google_project_iam_member.compaction_job_user,
    google_service_account_iam_member.compaction_token_creator,
  ]
}
