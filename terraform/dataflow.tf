locals {
  flex_template_image     = "${var.region}-docker.pkg.dev/${var.project_id}/${var.artifact_registry_repository_id}/${var.flex_template_image_name}"
  # In the template bucket, which the worker account can read but not write (storage.tf, iam.tf).
  flex_template_gcs_path  = coalesce(var.flex_template_gcs_path, "gs://${google_storage_bucket.templates.name}/templates/${var.flex_template_image_name}.json")
  worker_ip_configuration = var.use_public_ips ? "WORKER_IP_PUBLIC" : "WORKER_IP_PRIVATE"

  # The pipeline's own flags, shared by the flex template job and the direct launch command.
  # No timestamp_attribute: the read then stamps elements with Pub/Sub's publish time. Dataflow's native read
  # parses a timestamp attribute before the pipeline sees the message, so one unparseable event_time would
  # stall the read for good, out of the dead letter's reach.
  pipeline_parameters = {
    input_subscription = google_pubsub_subscription.pipeline.id
    sink               = "bigquery"
    bq_project         = var.project_id
    bq_dataset         = google_bigquery_dataset.datasets["orders"].dataset_id
    bq_location        = google_bigquery_dataset.datasets["orders"].location
    dead_letter_topic  = google_pubsub_topic.topics["dead_letter"].id
  }

  # `terraform output -raw dataflow_launch_command` prints this, ready to paste at the repo root.
  launch_command = join(" \\\n  ", concat(
    [
      "python streaming_job.py",
      "--runner DataflowRunner",
      "--project ${var.project_id}",
      "--region ${var.region}",
      "--job_name ${var.job_name}",
      "--temp_location ${local.temp_location}",
      "--staging_location ${local.staging_location}",
      "--service_account_email ${google_service_account.dataflow_worker.email}",
      "--setup_file ./setup.py",
      "--streaming",
      "--enable_streaming_engine",
      "--max_num_workers ${var.max_workers}",
    ],
    var.machine_type == null ? [] : ["--machine_type ${var.machine_type}"],
    var.network == null ? [] : ["--network ${var.network}"],
    var.subnetwork == null ? [] : ["--subnetwork ${var.subnetwork}"],
    var.use_public_ips ? [] : ["--no_use_public_ips"],
    local.cmek_enabled ? ["--dataflow_kms_key ${var.kms_key_name}"] : [],
    [for flag, value in local.pipeline_parameters : "--${flag} ${value}"],
  ))
}

resource "google_artifact_registry_repository" "flex_templates" {
  project       = var.project_id
  location      = var.region
  repository_id = var.artifact_registry_repository_id
  format        = "DOCKER"
  description   = "Flex template launcher images of the orders streaming pipeline."
  kms_key_name  = var.kms_key_name
  labels        = local.labels

  depends_on = [google_project_service.enabled, google_kms_crypto_key_iam_member.service_agents]
}

# Optional: run the job from the flex template (build it first, see terraform/README.md). A streaming
# job is replaced, not updated, when its arguments change; on destroy it is drained (var.on_delete).
resource "google_dataflow_flex_template_job" "orders" {
  provider = google-beta
  count    = var.deploy_dataflow_job ? 1 : 0

  project                 = var.project_id
  region                  = var.region
  name                    = var.job_name
  container_spec_gcs_path = local.flex_template_gcs_path
  parameters              = local.pipeline_parameters

  service_account_email   = google_service_account.dataflow_worker.email
  temp_location           = local.temp_location
  staging_location        = local.staging_location
  enable_streaming_engine = true
  max_workers             = var.max_workers
  machine_type            = var.machine_type
  network                 = var.network
  subnetwork              = var.subnetwork
  ip_configuration        = local.worker_ip_configuration
  kms_key_name            = var.kms_key_name
  on_delete               = var.on_delete
  labels                  = local.labels

  lifecycle {
    # A spec in the Dataflow bucket could be rewritten by the very account that runs the job.
    precondition {
      condition     = !startswith(local.flex_template_gcs_path, "gs://${google_storage_bucket.dataflow.name}/")
      error_message = "flex_template_gcs_path must not be in the Dataflow bucket, which the worker account can write: leave it null (the template bucket) or name another read-only bucket."
    }
  }

  depends_on = [
    google_project_iam_member.dataflow_worker,
    google_pubsub_subscription_iam_member.worker_subscription,
    google_pubsub_topic_iam_member.worker_dead_letter_publisher,
    google_bigquery_dataset_iam_member.worker_data_editor,
    google_storage_bucket_iam_member.worker_bucket,
    google_storage_bucket_iam_member.worker_template_reader,
    google_artifact_registry_repository_iam_member.worker_image_reader,
    google_bigquery_table.tables,
  ]
}
