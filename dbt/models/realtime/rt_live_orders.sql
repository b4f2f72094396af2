-- Current state of the orders bought in the last var rt_live_orders_days days. The filter is on the
-- partition column (order_purchase_timestamp, renamed purchased_at in staging): BigQuery reads only those
-- partitions. Items and payments (clustered by order_id) are read through the per-order summaries.
with

orders as (

    select * from {{ ref('stg_orders_rt__orders') }}
    where purchased_at >= {{ timestamp_ago(var('rt_live_orders_days'), 'day') }}

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
        orders.customer_unique_id,
        orders.customer_city,
        orders.customer_state,
        orders.order_status,
        {{ is_open('orders.order_status') }} as is_open,
        orders.purchased_at,
        orders.estimated_delivery_at,
        orders.delivered_to_customer_at,
        coalesce(order_items.item_count, 0) as item_count,
        {{ revenue('order_items.items_value', 'order_items.freight_value') }} as order_value,
        coalesce(order_payments.payment_total, 0) as payment_total,
        orders.last_event_type,
        orders.snapshot_sequence,
        orders.last_event_at,
        orders.ingested_at,
        {{ dbt.datediff('orders.last_event_at', 'orders.ingested_at', 'second') }} as ingest_lag_seconds,
        {{ dbt.datediff('orders.ingested_at', dbt.current_timestamp(), 'second') }} as seconds_since_update

    from orders
    left join order_items on orders.order_id = order_items.order_id
    left join order_payments on orders.order_id = order_payments.order_id

)

select * from final
