output "project_id" {
  description = "Project that holds the deployment."
  value       = var.project_id
}

output "region" {
  description = "Region of the Dataflow job and the buckets."
  value       = var.region
}

output "topic" {
  description = "Orders topic, as projects/P/topics/T (where publishers send snapshots)."
  value       = google_pubsub_topic.topics["orders"].id
}

output "input_subscription" {
  description = "Pipeline subscription, as projects/P/subscriptions/S: the value of --input_subscription."
  value       = google_pubsub_subscription.pipeline.id
}

output "dead_letter_topic" {
  description = "Dead-letter topic, as projects/P/topics/T: the value of --dead_letter_topic. The pipeline publishes each message it rejects there, as well as writing it to the order_events_dead_letter table; no subscription forwards to it."
  value       = google_pubsub_topic.topics["dead_letter"].id
}

output "dead_letter_subscription" {
  description = "Subscription on the dead-letter topic, as projects/P/subscriptions/S: the pipeline's dead letters, kept for inspection and replay."
  value       = google_pubsub_subscription.dead_letter.id
}

output "dataset_id" {
  description = "BigQuery dataset: the value of --bq_dataset."
  value       = google_bigquery_dataset.datasets["orders"].dataset_id
}

output "bigquery_location" {
  description = "Location of the BigQuery dataset (dbt's profile needs it)."
  value       = google_bigquery_dataset.datasets["orders"].location
}

output "analytics_dataset_id" {
  description = "BigQuery dataset for dbt's models."
  value       = google_bigquery_dataset.datasets["analytics"].dataset_id
}

output "table_ids" {
  description = "Every table created from schemas/, by name, as project.dataset.table."
  value       = { for name, table in google_bigquery_table.tables : name => "${table.project}.${table.dataset_id}.${table.table_id}" }
}

output "current_view_ids" {
  description = "The exact current-state views (compacted table + changelog tail), by name, as project.dataset.view: query these rather than orders, order_items and order_payments."
  value       = { for name, view in google_bigquery_table.current_views : name => "${view.project}.${view.dataset_id}.${view.table_id}" }
}

output "compaction_transfer_config" {
  description = "The scheduled compaction query, as projects/P/locations/L/transferConfigs/ID; its runs are listed under Scheduled queries in the BigQuery console."
  value       = google_bigquery_data_transfer_config.compaction.name
}

output "compaction_service_account_email" {
  description = "Service account the scheduled compaction runs as (dataEditor on the orders dataset, jobUser on the project)."
  value       = google_service_account.compaction.email
}

output "replay_service_account_email" {
  description = "Service account dead-letter replays run as (python -m beam_pipelines.replay): reads order_events_dead_letter, appends to dead_letter_replays, publishes to the orders topic. Operators in replay_operator_members impersonate it."
  value       = google_service_account.replay.email
}

output "bucket" {
  description = "Bucket for Dataflow staging and temp files (the worker account writes there)."
  value       = google_storage_bucket.dataflow.name
}

output "template_bucket" {
  description = "Bucket for the flex template spec: written by whoever builds the template, only read by the worker account."
  value       = google_storage_bucket.templates.name
}

output "temp_location" {
  description = "Value of --temp_location."
  value       = local.temp_location
}

output "staging_location" {
  description = "Value of --staging_location."
  value       = local.staging_location
}

output "service_account_email" {
  description = "Dataflow worker service account: the value of --service_account_email."
  value       = google_service_account.dataflow_worker.email
}

output "flex_template_image" {
  description = "Artifact Registry image (without tag) to build the flex template launcher into."
  value       = local.flex_template_image
}

output "flex_template_gcs_path" {
  description = "gs:// path, in the template bucket, where gcloud dataflow flex-template build writes the template spec."
  value       = local.flex_template_gcs_path
}

output "dataflow_launch_command" {
  description = "Command that launches the streaming job on Dataflow straight from the repo root (no template needed)."
  value       = local.launch_command
}

output "dataflow_job_id" {
  description = "ID of the Terraform-managed flex template job, or null when deploy_dataflow_job is false."
  value       = one(google_dataflow_flex_template_job.orders[*].job_id)
}

output "dbt_env" {
  description = "Environment for `python -m warehouse.dbt_runner build --target bigquery` (eval it in a shell)."
  value = join("\n", [
    "export DBT_BIGQUERY_PROJECT=${var.project_id}",
    "export DBT_BIGQUERY_DATASET=${google_bigquery_dataset.datasets["analytics"].dataset_id}",
    "export DBT_BIGQUERY_LOCATION=${google_bigquery_dataset.datasets["analytics"].location}",
    "export ORDERS_RT_SCHEMA=${google_bigquery_dataset.datasets["orders"].dataset_id}",
  ])
}
