-- One row per failed message. BigQuery's streaming-insert dedup is best effort and a redelivered message
-- can be dead-lettered again, so rows are deduplicated on dead_letter_id, keeping the earliest.
-- BigQuery cost: a filter on dead_lettered_at above this view cannot prune partitions through the window
-- function (the earliest row may lie outside the filter); dead letters are rare, and only the columns a
-- query reads are scanned.
with

source as (

    select * from {{ source('orders_rt', 'order_events_dead_letter') }}

),

renamed as (

    select
        -- rows written before the column existed: a Pub/Sub message still has the identity it would get
        coalesce(dead_letter_id, {{ dbt.concat(["'pubsub:'", "message_id"]) }}) as dead_letter_id,
        message_id,
        event_id,
        {{ adapter.quote('timestamp') }} as dead_lettered_at,
        -- whatever a broken message claimed: a non-number becomes NULL instead of failing the view
        {{ dbt.safe_cast('schema_version', dbt.type_int()) }} as schema_version,
        error_stage,
        error_kind,
        error_message,
        error_path,
        payload_string,
        payload_size_bytes,
        payload_sha256,
        payload_truncated,
        stacktrace

    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by dead_letter_id
            order by dead_lettered_at, error_stage, error_kind
        ) as occurrence

    from renamed

),

deduplicated as (

    select
        dead_letter_id,
        message_id,
        event_id,
        dead_lettered_at,
        schema_version,
        error_stage,
        error_kind,
        error_message,
        error_path,
        payload_string,
        payload_size_bytes,
        payload_sha256,
        payload_truncated,
        stacktrace

    from ranked
    -- a row without any identity (a file backfilled before dead_letter_id existed) matches no other: kept
    where dead_letter_id is null or occurrence = 1

)

select * from deduplicated
