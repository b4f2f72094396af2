with

sale_items as (

    select * from {{ ref('int_sale_items_joined_to_products_and_sellers') }}

),

monthly as (

    select
        purchase_month as month_start,
        product_id,
        category_name,
        count(*) as units_sold,
        count(distinct order_id) as order_count,
        sum(price) as revenue

    from sale_items
    group by purchase_month, product_id, category_name

),

final as (

    select
        *,
        rank() over (partition by month_start order by revenue desc, units_sold desc) as revenue_rank

    from monthly

)

select * from final
