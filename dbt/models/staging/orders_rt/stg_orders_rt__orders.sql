with

source as (

    select * from {{ source('orders_rt', 'orders') }}

),

renamed as (

    select
        order_id,
        customer_id,
        customer_unique_id,
        customer_zip_code_prefix,
        customer_city,
        customer_state,
        order_status,
        -- a plain rename keeps BigQuery's partition pruning on order_purchase_timestamp through this view
        order_purchase_timestamp as purchased_at,
        order_approved_at as approved_at,
        order_delivered_carrier_date as delivered_to_carrier_at,
        order_delivered_customer_date as delivered_to_customer_at,
        order_estimated_delivery_date as estimated_delivery_at,
        -- schema version 2 (null on version 1 snapshots): the sales channel and the customer's review
        channel,
        review_id,
        review_score,
        review_comment_title,
        review_comment_message,
        review_creation_date as review_created_at,
        review_answer_timestamp as review_answered_at,
        _schema_version as schema_version,
        _event_type as last_event_type,
        _quality_flags as quality_flags,
        _sequence as snapshot_sequence,
        _event_id as last_event_id,
        _event_time as last_event_at,
        _ingested_at as ingested_at

    from source

)

select * from renamed
