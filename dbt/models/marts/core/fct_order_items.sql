{{
    config(
        partition_by={'field': 'purchase_date', 'data_type': 'date', 'granularity': 'day'}
            if target.type == 'bigquery' else none,
        cluster_by=['product_id', 'seller_id'] if target.type == 'bigquery' else none,
    )
}}

with

order_items as (

    select * from {{ ref('stg_orders_rt__order_items') }}

),

orders as (

    select * from {{ ref('stg_orders_rt__orders') }}

),

final as (

    select
        order_items.order_item_key,
        order_items.order_id,
        order_items.order_item_id,
        order_items.product_id,
        order_items.seller_id,
        orders.customer_unique_id,
        orders.customer_state,
        orders.customer_city,
        orders.order_status,
        {{ is_sale('orders.order_status') }} as is_sale,
        orders.purchased_at,
        {{ local_date('orders.purchased_at') }} as purchase_date,
        order_items.shipping_limit_at,
        order_items.price,
        order_items.freight_value,
        {{ revenue('order_items.price', 'order_items.freight_value') }} as line_value

    from order_items
    left join orders
        on order_items.order_id = orders.order_id

)

select * from final
