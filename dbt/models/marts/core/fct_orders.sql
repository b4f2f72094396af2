{#- On BigQuery: incremental MERGE of the orders whose snapshot changed since the last run, partitioned by
    purchase day. Elsewhere: a plain table (is_incremental() is then always false). -#}
{{
    config(
        materialized='incremental' if target.type == 'bigquery' else 'table',
        unique_key='order_id',
        incremental_strategy='merge' if target.type == 'bigquery' else none,
        on_schema_change='append_new_columns' if target.type == 'bigquery' else none,
        partition_by={'field': 'purchase_date', 'data_type': 'date', 'granularity': 'day'}
            if target.type == 'bigquery' else none,
        cluster_by=['order_id'] if target.type == 'bigquery' else none,
    )
}}

with

orders as (

    select * from {{ ref('stg_orders_rt__orders') }}
    {% if is_incremental() %}
    -- items and payments change only with a new snapshot of their order, which rewrites the orders row
    where ingested_at >= (select {{ timestamp_minus('max(ingested_at)', 1, 'hour') }} from {{ this }})
    {% endif %}

),

order_items as (

    select * from {{ ref('int_order_items_summed_to_orders') }}

),

order_payments as (

    select * from {{ ref('int_order_payments_summed_to_orders') }}

),

final as (

    select
        orders.order_id,
        orders.customer_id,
        orders.customer_unique_id,
        orders.customer_zip_code_prefix,
        orders.customer_city,
        orders.customer_state,
        orders.order_status,
        {{ is_sale('orders.order_status') }} as is_sale,
        orders.purchased_at,
        {{ local_date('orders.purchased_at') }} as purchase_date,
        orders.approved_at,
        orders.delivered_to_carrier_at,
        orders.delivered_to_customer_at,
        orders.estimated_delivery_at,
        coalesce(order_items.item_count, 0) as item_count,
        coalesce(order_items.distinct_product_count, 0) as distinct_product_count,
        coalesce(order_items.seller_count, 0) as seller_count,
        coalesce(order_items.items_value, 0) as items_value,
        coalesce(order_items.freight_value, 0) as freight_value,
        {{ revenue('order_items.items_value', 'order_items.freight_value') }} as order_value,
        coalesce(order_payments.payment_count, 0) as payment_count,
        coalesce(order_payments.payment_total, 0) as payment_total,
        order_payments.max_installments,
        {{ days_between('orders.purchased_at', 'orders.delivered_to_customer_at') }} as delivery_days,
        -- Olist promises a delivery day (local midnight): delivered any time that local day is on time
        case
            when orders.delivered_to_customer_at is null then null
            else {{ local_date('orders.delivered_to_customer_at') }}
                > {{ local_date('orders.estimated_delivery_at') }}
        end as is_late,
        orders.channel,
        orders.review_score,
        orders.review_created_at,
        orders.review_answered_at,
        orders.review_comment_message is not null as has_review_comment,
        coalesce(orders.schema_version, 1) as schema_version,
        orders.last_event_type,
        orders.snapshot_sequence,
        orders.last_event_at,
        orders.ingested_at

    from orders
    left join order_items
        on orders.order_id = order_items.order_id
    left join order_payments
        on orders.order_id = order_payments.order_id

)

select * from final
