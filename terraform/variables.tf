# ---------------------------------------------------------------------------------------------------------
# Project and location
# ---------------------------------------------------------------------------------------------------------

variable "project_id" {
  type        = string
  description = "ID of the Google Cloud project that holds every resource (it must already exist, with billing)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project ID: 6-30 lowercase letters, digits or hyphens."
  }
}

variable "region" {
  type        = string
  description = "Region of the Dataflow job, the staging bucket, the Artifact Registry repository and (by default) the BigQuery dataset."
  default     = "us-central1"
}

variable "bigquery_location" {
  type        = string
  description = "Location of the BigQuery dataset, e.g. US or southamerica-east1. Null means the same as region, which keeps one CMEK key usable everywhere."
  default     = null
}

variable "labels" {
  type        = map(string)
  description = "Labels added to every resource that takes labels (app=olist-realtime-orders is always set)."
  default     = {}
}

variable "enable_apis" {
  type        = bool
  description = "Enable the Google APIs this deployment needs (Pub/Sub, BigQuery, Dataflow, Storage, Compute, IAM, Artifact Registry, Cloud Build, and Cloud KMS when kms_key_name is set). APIs are left enabled on destroy."
  default     = true
}

# ---------------------------------------------------------------------------------------------------------
# Pub/Sub (names are shared with the pipeline's defaults: change them in both places or nowhere)
# ---------------------------------------------------------------------------------------------------------

variable "topic_name" {
  type        = string
  description = "Pub/Sub topic the publishers send order snapshots to."
  default     = "orders"
}

variable "topic_message_retention_duration" {
  type        = string
  description = "How long the orders topic keeps messages (seconds, with an s suffix), so a subscription can seek back and replay. Max 31 days."
  default     = "604800s"
}

variable "subscription_name" {
  type        = string
  description = "Pub/Sub subscription the Dataflow pipeline reads (--input_subscription)."
  default     = "orders-pipeline"
}

variable "subscription_ack_deadline_seconds" {
  type        = number
  description = "Ack deadline of the pipeline subscription in seconds (Dataflow extends it while it works on a message)."
  default     = 60

  validation {
    condition     = var.subscription_ack_deadline_seconds >= 10 && var.subscription_ack_deadline_seconds <= 600
    error_message = "subscription_ack_deadline_seconds must be between 10 and 600."
  }
}

variable "subscription_message_retention_duration" {
  type        = string
  description = "How long the pipeline and dead-letter subscriptions keep unacknowledged messages (seconds, with an s suffix; 10 minutes to 7 days)."
  default     = "604800s"
}

variable "enable_message_ordering" {
  type        = bool
  description = "Deliver messages with the same ordering key (order_id) in publish order. The upsert does not rely on it (_sequence decides), it only reduces stale events."
  default     = true
}

variable "retry_minimum_backoff" {
  type        = string
  description = "Minimum delay before Pub/Sub redelivers a message of the pipeline subscription that was nacked or whose lease expired (seconds, with an s suffix). On Dataflow this only paces messages the job hands back (e.g. a worker shutting down): Dataflow retries messages its pipeline fails on itself, without nacking."
  default     = "10s"
}

variable "retry_maximum_backoff" {
  type        = string
  description = "Maximum delay before Pub/Sub redelivers a message of the pipeline subscription that was nacked or whose lease expired (seconds, with an s suffix, at most 600s). See retry_minimum_backoff for what it applies to on Dataflow."
  default     = "600s"
}

variable "dead_letter_topic_name" {
  type        = string
  description = "Pub/Sub topic the pipeline publishes the messages it rejects to (--dead_letter_topic), with error_* attributes; they always land in the order_events_dead_letter table too. The pipeline subscription has no dead-letter policy: on Dataflow one would not catch poison messages (see pubsub.tf)."
  default     = "orders-dead-letter"
}

variable "dead_letter_subscription_name" {
  type        = string
  description = "Pull subscription on the dead-letter topic, so the pipeline's dead letters are kept for inspection and replay."
  default     = "orders-dead-letter-sub"
}

variable "publisher_members" {
  type        = list(string)
  description = "IAM members (e.g. user:ana@example.com, serviceAccount:...) allowed to publish to the orders topic."
  default     = []
}

# ---------------------------------------------------------------------------------------------------------
# BigQuery
# ---------------------------------------------------------------------------------------------------------

variable "dataset_id" {
  type        = string
  description = "BigQuery dataset for the upserted tables, the dead-letter table and the reference tables (--bq_dataset)."
  default     = "orders_rt"
}

variable "analytics_dataset_id" {
  type        = string
  description = "BigQuery dataset dbt builds its models into (DBT_BIGQUERY_DATASET in dbt/profiles.yml)."
  default     = "orders_analytics"
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy or replace the BigQuery tables. Set false (and apply) before terraform destroy."
  default     = true
}

variable "delete_contents_on_destroy" {
  type        = bool
  description = "Let terraform destroy delete the dataset even if it still holds tables (e.g. ones dbt created)."
  default     = false
}

# ---------------------------------------------------------------------------------------------------------
# Changelog compaction (BigQuery scheduled query, compaction.tf)
# ---------------------------------------------------------------------------------------------------------

variable "compaction_schedule" {
  type        = string
  description = "How often the scheduled query folds the order_snapshots changelog into orders, order_items and order_payments, in the Data Transfer Service's schedule syntax (UTC), e.g. every 60 minutes or every 2 hours. Keep it far below the changelog's 7-day partition expiration (schemas/tables.json): rows that expire before a compaction are lost. Readers of the *_current views see every snapshot whatever the schedule; a longer one only leaves them a longer tail to read."
  default     = "every 60 minutes"

  validation {
    condition     = trimspace(var.compaction_schedule) != ""
    error_message = "compaction_schedule must not be empty (e.g. every 60 minutes)."
  }
}

variable "compaction_service_account_id" {
  type        = string
  description = "Account ID (the part before @) of the service account the scheduled compaction runs as."
  default     = "orders-compaction"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.compaction_service_account_id))
    error_message = "compaction_service_account_id must be 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

# ---------------------------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------------------------

variable "bucket_name" {
  type        = string
  description = "Name of the Dataflow staging/temp bucket (the worker account writes there). Null means <project_id>-orders-dataflow."
  default     = null
}

variable "template_bucket_name" {
  type        = string
  description = "Name of the bucket that holds the flex template spec (the worker account only reads it). Null means <project_id>-orders-templates."
  default     = null
}

variable "temp_retention_days" {
  type        = number
  description = "Days after which objects under tmp/ in the Dataflow bucket are deleted."
  default     = 7
}

variable "noncurrent_version_retention_days" {
  type        = number
  description = "Days a replaced or deleted object version is kept in the Dataflow and template buckets before it is purged."
  default     = 7
}

variable "bucket_force_destroy" {
  type        = bool
  description = "Let terraform destroy delete the Dataflow and template buckets even when they still hold objects."
  default     = false
}

variable "access_log_bucket" {
  type        = string
  description = "Existing bucket that receives the Dataflow and template buckets' usage logs. Null turns usage logs off (Cloud Audit Logs still record access)."
  default     = null
}

# ---------------------------------------------------------------------------------------------------------
# IAM
# ---------------------------------------------------------------------------------------------------------

variable "service_account_id" {
  type        = string
  description = "Account ID (the part before @) of the Dataflow worker service account."
  default     = "orders-dataflow-worker"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.service_account_id))
    error_message = "service_account_id must be 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "job_launcher_members" {
  type        = list(string)
  description = "IAM members allowed to launch jobs as the worker service account (roles/iam.serviceAccountUser on that account only). Project owners can already."
  default     = []
}

variable "replay_service_account_id" {
  type        = string
  description = "Account ID (the part before @) of the service account dead-letter replays run as (python -m beam_pipelines.replay, terraform/replay.tf)."
  default     = "orders-dead-letter-replay"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.replay_service_account_id))
    error_message = "replay_service_account_id must be 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "replay_operator_members" {
  type        = list(string)
  description = "IAM members (e.g. group:data-oncall@example.com) allowed to run dead-letter replays by impersonating the replay service account (roles/iam.serviceAccountTokenCreator on that account only)."
  default     = []
}

# ---------------------------------------------------------------------------------------------------------
# Customer-managed encryption (optional)
# ---------------------------------------------------------------------------------------------------------

variable "kms_key_name" {
  type        = string
  description = "Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) that encrypts the topics, dataset, tables, bucket, image repository and Dataflow job. Its location must match region and bigquery_location. Null uses Google-managed keys."
  default     = null
}

variable "manage_kms_key_iam" {
  type        = bool
  description = "Grant the Google service agents (Pub/Sub, BigQuery, Storage, Artifact Registry, Dataflow, Compute) encrypt/decrypt on kms_key_name. Turn off when a key admin grants them outside this configuration."
  default     = true
}

# ---------------------------------------------------------------------------------------------------------
# Dataflow
# ---------------------------------------------------------------------------------------------------------

variable "artifact_registry_repository_id" {
  type        = string
  description = "Docker repository in Artifact Registry that holds the flex template launcher image."
  default     = "orders-dataflow"
}

variable "flex_template_image_name" {
  type        = string
  description = "Image name (without tag) of the flex template launcher inside the Artifact Registry repository."
  default     = "orders-streaming"
}

variable "flex_template_gcs_path" {
  type        = string
  description = "gs:// path of the flex template spec written by gcloud dataflow flex-template build. Null means gs://<template bucket>/templates/orders-streaming.json. Never in the Dataflow bucket, which the worker account can write."
  default     = null
}

variable "deploy_dataflow_job" {
  type        = bool
  description = "Launch the streaming job from the flex template with Terraform. Leave false until the template is built (see terraform/README.md)."
  default     = false
}

variable "job_name" {
  type        = string
  description = "Name of the Dataflow streaming job."
  default     = "orders-streaming"
}

variable "max_workers" {
  type        = number
  description = "Upper bound of Dataflow autoscaling."
  default     = 3
}

variable "machine_type" {
  type        = string
  description = "Worker machine type, e.g. n2-standard-2. Null lets Dataflow choose."
  default     = null
}

variable "network" {
  type        = string
  description = "VPC network for the workers. Null means the project's default network."
  default     = null
}

variable "subnetwork" {
  type        = string
  description = "Subnetwork for the workers, as regions/REGION/subnetworks/NAME or a full URL. Null lets Dataflow pick the network's subnet in region."
  default     = null
}

variable "use_public_ips" {
  type        = bool
  description = "Give workers public IPs. Workers pip-install the project's dependencies from PyPI, so private workers need Cloud NAT (and Private Google Access) on their subnet."
  default     = true
}

variable "on_delete" {
  type        = string
  description = "What terraform destroy does to the running job: drain (finish in-flight data) or cancel."
  default     = "drain"

  validation {
    condition     = contains(["drain", "cancel"], var.on_delete)
    error_message = "on_delete must be drain or cancel."
  }
}
