with

source as (

    select * from {{ source('orders_rt', 'order_events_dead_letter') }}

),

renamed as (

    select
        -- a plain rename keeps BigQuery's partition pruning on the timestamp column through this view
        {{ adapter.quote('timestamp') }} as dead_lettered_at,
        event_id,
        -- whatever a broken message claimed: a non-number becomes NULL instead of failing the view
        {{ dbt.safe_cast('schema_version', dbt.type_int()) }} as schema_version,
        error_stage,
        error_kind,
        error_message,
        error_path,
        payload_string,
        stacktrace

    from source

)

select * from renamed
