-- Purchases of the last 24 hours by local clock hour (var reporting_timezone). The filter is on the partition
-- column (UTC instants: the last 24 hours are the same in every zone).
with

orders as (

    select * from {{ ref('stg_orders_rt__orders') }}
    where purchased_at >= {{ timestamp_ago(24, 'hour') }}

),

order_items as (

    select * from {{ ref('int_order_items_summed_to_orders') }}

),

final as (

    select
        {{ local_hour_start('orders.purchased_at') }} as hour_start,
        count(*) as order_count,
        sum(case when {{ is_sale('orders.order_status') }} then 1 else 0 end) as sale_count,
        sum(
            case
                when {{ is_sale('orders.order_status') }}
                    then {{ revenue('order_items.items_value', 'order_items.freight_value') }}
                else 0
            end
        ) as revenue,
        sum(coalesce(order_items.item_count, 0)) as item_count

    from orders
    left join order_items on orders.order_id = order_items.order_id
    group by {{ local_hour_start('orders.purchased_at') }}

)

select * from final
