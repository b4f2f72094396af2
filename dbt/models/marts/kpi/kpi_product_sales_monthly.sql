with

order_items as (

    select * from {{ ref('fct_order_items') }}
    where is_sale

),

products as (

    select * from {{ ref('dim_products') }}

),

monthly as (

    select
        {{ month_start('order_items.purchased_at') }} as month_start,
        order_items.product_id,
        products.category_name,
        count(*) as units_sold,
        count(distinct order_items.order_id) as order_count,
        sum(order_items.price) as revenue

    from order_items
    inner join products on order_items.product_id = products.product_id
    group by 1, 2, 3

),

final as (

    select
        *,
        rank() over (partition by month_start order by revenue desc, units_sold desc) as revenue_rank

    from monthly

)

select * from final
