-- "Last N weeks" ends at the latest purchase in the warehouse (as_of_date): live data make it today, a
-- backfill of history still shows its last weeks instead of nothing.
with

order_items as (

    select * from {{ ref('fct_order_items') }}
    where is_sale

),

products as (

    select * from {{ ref('dim_products') }}

),

as_of as (

    select max(purchase_date) as as_of_date from order_items

),

windows as (

    {% for weeks in [4, 12, 24, 52] %}
    select {{ weeks }} as window_weeks
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

windowed as (

    select
        windows.window_weeks,
        as_of.as_of_date,
        order_items.product_id,
        products.category_name,
        count(*) as units_sold,
        sum(order_items.price) as revenue

    from order_items
    cross join as_of
    cross join windows
    inner join products on order_items.product_id = products.product_id
    where {{ dbt.datediff('order_items.purchase_date', 'as_of.as_of_date', 'day') }} < windows.window_weeks * 7
    group by 1, 2, 3, 4

),

final as (

    select
        *,
        rank() over (partition by window_weeks order by revenue desc, units_sold desc) as revenue_rank

    from windowed

)

select * from final
