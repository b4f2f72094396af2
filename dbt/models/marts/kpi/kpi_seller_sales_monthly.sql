with

sale_items as (

    select * from {{ ref('int_sale_items_joined_to_products_and_sellers') }}

),

final as (

    select
        purchase_month as month_start,
        seller_id,
        seller_city,
        seller_state,
        count(distinct order_id) as order_count,
        count(*) as units_sold,
        sum(price) as revenue,
        sum(freight_value) as freight_value,
        sum(price) / count(*) as average_item_price

    from sale_items
    group by purchase_month, seller_id, seller_city, seller_state

)

select * from final
