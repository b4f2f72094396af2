with

order_items as (

    select * from {{ ref('fct_order_items') }}
    where is_sale

),

sellers as (

    select * from {{ ref('dim_sellers') }}

),

final as (

    select
        {{ month_start('order_items.purchased_at') }} as month_start,
        order_items.seller_id,
        sellers.seller_city,
        sellers.seller_state,
        count(distinct order_items.order_id) as order_count,
        count(*) as units_sold,
        sum(order_items.price) as revenue,
        sum(order_items.freight_value) as freight_value,
        sum(order_items.price) / count(*) as average_item_price

    from order_items
    inner join sellers on order_items.seller_id = sellers.seller_id
    group by 1, 2, 3, 4

)

select * from final
